// The browser tests' view into the meeting page: injected by the driver (driver.cjs) after each
// navigation, never served by the web app. It imports the page's own module instance and
// exposes window.interpreterPage.snapshot(), plus what only the tests measure: join click ->
// first audible interpretation, the lowest volume each original reached, duck events.
import { meetingPage, ready } from '/static/page.js';

const measured = {
  joinClickedAt: null,
  firstInterpretationAt: null,
  lowest: new Map(), // speaker -> lowest original volume
  duckEvents: [],
};

await ready;
document.getElementById('join-form').addEventListener('submit', () => {
  measured.joinClickedAt = performance.now();
  measured.firstInterpretationAt = null;
}, true);
if (meetingPage.ducker) {
  meetingPage.ducker.addEventListener('audible', () => {
    if (measured.firstInterpretationAt === null) measured.firstInterpretationAt = performance.now();
  });
  let last = new Map();
  meetingPage.ducker.addEventListener('volume', ({ detail }) => {
    const { speaker, volume, ducked } = detail;
    measured.lowest.set(speaker, Math.min(measured.lowest.get(speaker) ?? 1, volume));
    if (last.get(speaker) !== ducked) {
      last.set(speaker, ducked);
      measured.duckEvents.push({ speaker, at: performance.now(), ducked });
    }
  });
}

window.interpreterPage = {
  snapshot() {
    const { room, ducker } = meetingPage;
    const subscribed = [];
    for (const p of room ? room.remotes() : []) {
      for (const pub of room.audioPublications(p)) {
        if (pub.isSubscribed) subscribed.push({ participant: p.identity, track: pub.trackName });
      }
    }
    const originals = {};
    for (const [identity, d] of ducker ? ducker.originals : []) {
      originals[identity] = {
        volume: d.volume, ducked: d.ducked, lowest: measured.lowest.get(identity) ?? d.volume,
      };
    }
    const { joinClickedAt, firstInterpretationAt } = measured;
    return {
      joined: Boolean(room && room.lk && room.lk.state === 'connected'),
      identity: room && room.identity,
      language: room && room.language,
      subscribed,
      originals,
      duckEvents: measured.duckEvents.slice(),
      captions: Array.from(document.querySelectorAll('#captions .caption')).map((row) => ({
        speaker: row.dataset.speaker,
        language: row.dataset.language,
        final: row.classList.contains('final'),
        earlier: row.classList.contains('earlier'),
        text: row.querySelector('.text').textContent,
      })),
      joinToInterpretationMs: firstInterpretationAt === null || joinClickedAt === null
        ? null : firstInterpretationAt - joinClickedAt,
      micPeak: meetingPage.micPeak,
      banners: Array.from(document.querySelectorAll('#banners .banner')).map((b) => b.dataset.banner),
    };
  },
};
