// The browser tests' view into the interpreter console: injected by the driver (driver.cjs)
// after navigation, never served by the web app. It imports the console's own module instance
// and exposes window.interpreterPage.snapshot() (what test_console.py asserts on).
import { interpreterConsole, ready } from '/static/console.js';

const $ = (id) => document.getElementById(id);

function snapshot() {
  const cons = interpreterConsole;
  const { room } = cons;
  const pub = (room && room.lk && room.microphoneOf(room.local)) || null;
  const subscribed = [];
  for (const p of room ? room.remotes() : []) {
    for (const publication of room.audioPublications(p)) {
      if (publication.isSubscribed) {
        subscribed.push({
          participant: p.identity,
          track: publication.trackName,
          volume: publication.track ? publication.track.getVolume() : null,
        });
      }
    }
  }
  const visible = (id) => !$(id).hidden;
  return {
    connected: Boolean(room && room.lk && room.lk.state === 'connected'),
    identity: cons.me && cons.me.identity,
    languages: cons.me && cons.me.languages,
    input: cons.input,
    outgoing: cons.outgoing,
    live: cons.live,
    liveText: $('live-state').textContent,
    detail: $('live-detail').textContent,
    mic: pub ? { name: pub.trackName, muted: pub.isMuted, sid: pub.trackSid } : null,
    coughing: cons.coughing,
    micPeak: cons.micPeak,
    booth: cons.booth && cons.booth.doc,
    buttons: ['take', 'request', 'release', 'handover-group']
      .filter((id) => visible(id)),
    pending: visible('pending') ? $('pending-text').textContent : null,
    waiting: visible('waiting') ? $('waiting').textContent : null,
    warning: visible('double-mic') ? $('double-mic').textContent : null,
    notices: Array.from(document.querySelectorAll('.banners > [id^=notice-]'))
      .filter((n) => !n.hidden)
      .map((n) => ({
        slot: n.id.slice('notice-'.length),
        code: n.dataset.code || null,
        text: n.textContent.trim(),
      })),
    subscribed,
    captions: Array.from(document.querySelectorAll('#captions .caption')).map((row) => ({
      speaker: row.dataset.speaker,
      language: row.dataset.language,
      text: row.querySelector('.text').textContent,
    })),
    start: $('start-view').hidden ? null : $('start-message').textContent,
  };
}

await ready;
window.interpreterPage = { snapshot };
