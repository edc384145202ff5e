/* The interpreter console (console.html), opened from an organizer's invite link
 * `/console#room=R&token=JWT`. The one module that knows console.html's element ids.
 *
 * What the interpreter hears: the floor (every human speaker's original microphone) or a relay
 * (one language channel, exactly as a listener of that language hears it: translator tracks,
 * the interpreter live on it, originals ducked). What goes out: the microphone, published under
 * the name of the language voiced (the listeners' rule picks it by that name), muted while not
 * live. Who is live is the server's decision (booth.js): the console asks, shows the answer and
 * follows it; it never decides alone, so two consoles cannot both believe they are on air.
 *
 * The token stays in the URL fragment (never sent to a server by the browser) so that a reload
 * keeps the console; the JWT is decoded here only to show who the link is for.
 */

import { CaptionBoard, listenForCaptions } from './captions.js';
import { LevelBar, microphoneRefused } from './audio.js';
import {
  BoothClient, decodeToken, languageList, liveLanguageIn, pendingFor, pendingFrom,
} from './booth.js';
import { Ducker } from './ducking.js';
import { bearer, fetchJson } from './http.js';
import { loadProtocol } from './protocol.js';
import { MeetingRoom } from './room.js';

const LIVEKIT_CLIENT = './vendor/livekit-client.esm.js';
const FLOOR = ''; // the input select's value for the floor
const STORE = 'interpreter.console.'; // localStorage key prefix

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};

/** The console's state, for a debugging console (and the browser tests' hook, which imports
 * this module: tests/browser/console_hook.mjs). */
export const interpreterConsole = {
  protocol: null,
  languageNames: new Map(), // code -> name in its own language
  me: null, // {identity, name, room, languages: [a, b]} from the invite token
  token: null,
  room: null, // MeetingRoom
  booth: null, // BoothClient
  ducker: null,
  captions: null,
  input: FLOOR, // FLOOR or the relay language
  outgoing: '', // the language my microphone is published as
  live: '', // the language I am live on ('' when not)
  volume: 1,
  coughing: false,
  coughMuted: false, // the cough button muted an open microphone
  micMeter: null,
  micPeak: 0,
  seenLive: { attribute: '', booth: '' }, // the last value each source reported
  micQueue: Promise.resolve(),
};
const cons = interpreterConsole;

// ---------------------------------------------------------------- notices
/** Show `text` in one of the fixed notice slots of console.html (empty: hide it). */
function notice(slot, text, code) {
  const node = $(`notice-${slot}`);
  node.querySelector('.notice-text').textContent = text || '';
  node.hidden = !text;
  if (code) node.dataset.code = code;
  else delete node.dataset.code;
}

function reason(error) {
  if (error && error.kind === 'unreachable') return 'the web server is unreachable';
  return (error && error.message) || String(error);
}

function stop(text) {
  $('console-view').hidden = true;
  $('start-view').hidden = false;
  $('start-message').textContent = text;
}

// ---------------------------------------------------------------- languages and people
function languageName(code) {
  return cons.languageNames.get(String(code || '').toLowerCase()) || code;
}

function pairOf(participant) {
  return languageList(participant.attributes[cons.protocol.attributes.interpreter_languages]);
}

/** My source language: the other one of my pair. */
function sourceLanguage() {
  return cons.me.languages.find((code) => code !== cons.outgoing) || cons.outgoing;
}

function nameOf(identity) {
  const listed = ((cons.booth && cons.booth.doc && cons.booth.doc.interpreters) || [])
    .find((i) => i.identity === identity);
  if (listed && listed.name) return listed.name;
  return cons.room ? cons.room.displayName(identity) : identity;
}

function participant(identity) {
  const { room } = cons;
  if (!room || !room.lk) return null;
  if (identity === room.identity) return room.local;
  return room.lk.remoteParticipants.get(identity) || null;
}

/** Interpreters in the room, me first (as this console knows me), then the others: from the
 * booth's list, else from the room's attributes. */
function interpreters() {
  const { room, protocol, me } = cons;
  const self = { identity: me.identity, name: me.name, languages: me.languages, live: cons.live };
  const doc = cons.booth && cons.booth.doc;
  const others = doc && Array.isArray(doc.interpreters)
    ? doc.interpreters.filter((i) => i.identity !== me.identity)
    : room.remotes().filter((p) => protocol.isInterpreter(p)).map((p) => ({
      identity: p.identity,
      name: p.name || p.identity,
      languages: pairOf(p),
      live: protocol.liveLanguageOf(p) || '',
    }));
  return [self, ...others];
}

/** Who is live on `language` (identity), from the booth, else from the room. */
function holderOf(language) {
  const doc = cons.booth && cons.booth.doc;
  if (doc && doc.live) return doc.live[language] || '';
  if (cons.live === language) return cons.me.identity;
  const p = cons.room.remotes().find((r) => cons.protocol.isInterpreter(r)
    && cons.protocol.liveLanguageOf(r) === language);
  return p ? p.identity : '';
}

// ---------------------------------------------------------------- live state
/** Two sources say whether I am live: my `interpreter.live` attribute (pushed by the room)
 * and the booth document (polled, and returned by each action). Whichever changed last wins,
 * so a quick answer to an action is shown at once and a later change from either side too. */
function observeLive(source, value) {
  const language = value || '';
  if (cons.seenLive[source] === language) return;
  cons.seenLive[source] = language;
  if (language === cons.live) return;
  const was = cons.live;
  cons.live = language;
  // the room said it first: the booth (who holds what now) is fetched at once, not at the poll
  if (source === 'attribute' && cons.booth) cons.booth.refresh().catch(() => {});
  onLiveChanged(was, language);
}

function onLiveChanged(was, now) {
  if (now) {
    cons.outgoing = now;
    renderDirection();
    micTask(async () => {
      await cons.room.publishMicrophone(now);
      if (!cons.coughing) await cons.room.muteMicrophone(false);
    });
  } else if (was) {
    cons.coughMuted = false;
    micTask(() => cons.room.muteMicrophone(true));
  }
  render();
}

// ---------------------------------------------------------------- microphone
/** Microphone changes one after another (publish, republish, mute), never interleaved. */
function micTask(task) {
  cons.micQueue = cons.micQueue.then(task).catch((e) => {
    console.error('microphone', e);
    micProblem(e);
  }).finally(render);
  return cons.micQueue;
}

function micPublication() {
  const { room } = cons;
  return (room && room.lk && room.microphoneOf(room.local)) || null;
}

function micOpen() {
  const pub = micPublication();
  return Boolean(pub && pub.track && !pub.isMuted);
}

function micProblem(error) {
  notice('mic', microphoneRefused(error)
    ? 'Microphone access was denied: nobody can hear you. Allow the microphone for this site '
      + 'in your browser, then reload the console.'
    : `The microphone does not work: ${reason(error)}.`);
}

function startMicMeter() {
  stopMicMeter();
  const pub = micPublication();
  if (!pub || !pub.track) return;
  cons.micMeter = new LevelBar(pub.track.mediaStreamTrack, $('mic-level'), {
    onLevel: (rms) => { cons.micPeak = Math.max(cons.micPeak, rms); },
  });
}

function stopMicMeter() {
  if (!cons.micMeter) return;
  cons.micMeter.close();
  cons.micMeter = null;
}

function toggleMic() {
  const open = !micOpen();
  cons.coughMuted = false;
  micTask(() => cons.room.muteMicrophone(!open));
}

function coughStart() {
  if (cons.coughing || !cons.room || !cons.room.connected) return;
  cons.coughing = true;
  cons.coughMuted = micOpen();
  if (cons.coughMuted) micTask(() => cons.room.muteMicrophone(true));
  render();
}

function coughEnd() {
  if (!cons.coughing) return;
  cons.coughing = false;
  if (cons.coughMuted) {
    cons.coughMuted = false;
    micTask(() => cons.room.muteMicrophone(false));
  }
  render();
}

function wireCough() {
  const button = $('cough');
  button.addEventListener('pointerdown', (e) => {
    try {
      button.setPointerCapture(e.pointerId); // the release counts even off the button
    } catch (err) {
      // a synthetic pointer: no capture, pointerup still ends the cough
    }
    coughStart();
  });
  for (const type of ['pointerup', 'pointercancel', 'lostpointercapture']) {
    button.addEventListener(type, coughEnd);
  }
  button.addEventListener('keydown', (e) => {
    if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) coughStart();
    if (e.key === ' ' || e.key === 'Enter') e.preventDefault();
  });
  button.addEventListener('keyup', (e) => {
    if (e.key === ' ' || e.key === 'Enter') coughEnd();
  });
  // hold C anywhere but in a form field
  const typing = (target) => target && target.closest && target.closest('input, select, textarea');
  document.addEventListener('keydown', (e) => {
    if (e.key.toLowerCase() !== 'c' || e.repeat || e.ctrlKey || e.metaKey || e.altKey) return;
    if (typing(e.target)) return;
    coughStart();
  });
  document.addEventListener('keyup', (e) => {
    if (e.key.toLowerCase() === 'c') coughEnd();
  });
  window.addEventListener('blur', coughEnd);
}

// ---------------------------------------------------------------- booth actions
const VERBS = {
  take: 'take the channel',
  release: 'release the channel',
  offer: 'hand over',
  request: 'request the channel',
  accept: 'accept',
  decline: 'decline',
  direction: 'switch direction',
};

/** A refusal of the booth in the interpreter's terms (names and languages, not identities and
 * codes) for the conflicts a busy booth runs into; the server's own message otherwise. */
function explain(language, error) {
  const holder = holderOf(language);
  const lang = languageName(language);
  switch (error && error.code) {
    case 'booth_taken':
      return holder && holder !== cons.me.identity
        ? `${nameOf(holder)} is live on ${lang}; use Request to ask for it` : reason(error);
    case 'already_live':
      return `you are already live on ${languageName(cons.live)}: release it or switch direction`;
    case 'booth_free':
      return `nobody is live on ${lang}: use Take`;
    case 'not_live':
      return `you are not live on ${lang}`;
    case 'stale':
      return 'the booth changed meanwhile, so this hand-over no longer applies';
    case 'no_pending':
      return 'that offer or request is no longer waiting (it may have expired)';
    default:
      return reason(error);
  }
}

/** POST one booth action; the answer (the booth after it) is shown at once. Errors go to the
 * booth notice (see explain). Resolves with the document or null. */
async function act(action, language, to) {
  const buttons = document.querySelectorAll('.booth-actions button, .pending button');
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const doc = await cons.booth.act(action, language, to);
    notice('booth', '');
    onBooth(doc);
    return doc;
  } catch (e) {
    notice('booth', `Could not ${VERBS[action] || action}: ${explain(language, e)}.`, e.code);
    cons.booth.refresh().catch(() => {});
    return null;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    render();
  }
}

/** Go on air: the microphone opens first, so the first word after the server's yes is heard;
 * a refusal closes it again (unless it was open before). */
async function goLive(action, language, to) {
  const wasOpen = micOpen();
  if (!wasOpen && !cons.coughing) await micTask(() => cons.room.muteMicrophone(false));
  const doc = await act(action, language, to);
  if (!wasOpen && liveLanguageIn(doc, cons.me.identity) === '' && !cons.live) {
    micTask(() => cons.room.muteMicrophone(true));
  }
}

function take() {
  return goLive('take', cons.outgoing);
}

function release() {
  if (cons.live) act('release', cons.live);
}

function handOver() {
  const to = $('partner').value;
  if (cons.live && to) act('offer', cons.live, to);
}

function request() {
  act('request', cons.outgoing);
}

function firstPendingForMe() {
  return pendingFor(cons.booth && cons.booth.doc, cons.me.identity)[0] || null;
}

function accept() {
  const item = firstPendingForMe();
  if (!item) return;
  if (item.kind === 'offer') goLive('accept', item.language, item.from);
  else act('accept', item.language, item.from);
}

function decline() {
  const item = firstPendingForMe();
  if (item) act('decline', item.language, item.from);
}

/** Interpret into `language` from now on: while live, the server moves me (one step); either
 * way the microphone is published again under the new name. */
async function switchDirection(language) {
  if (language === cons.outgoing) return;
  if (cons.live) {
    const doc = await act('direction', language);
    if (!doc) {
      renderDirection();
      return;
    }
  }
  cons.outgoing = language;
  localStorage.setItem(`${STORE}${cons.me.identity}.outgoing`, language);
  renderDirection();
  micTask(() => cons.room.publishMicrophone(language));
}

function onBooth(doc) {
  observeLive('booth', liveLanguageIn(doc, cons.me.identity));
  render();
}

// ---------------------------------------------------------------- input: floor or relay
/** Floor: every human speaker's original microphone; no agent, no interpreter. */
function floorWants(room, p, pub) {
  const { LK, protocol } = room;
  if (pub.kind !== LK.Track.Kind.Audio || p.isAgent || protocol.isInterpreter(p)) return false;
  return pub.source === LK.Track.Source.Microphone || pub.source === LK.Track.Source.Unknown;
}

function consoleWants(room, p, pub) {
  return cons.input === FLOOR ? floorWants(room, p, pub) : room.listenerWants(p, pub);
}

/** Hear the floor or relay `language`. A relay asks the server for my language attribute, so
 * the translators voice that language for me too; back on the floor it is my source language. */
async function switchInput(value) {
  const { room } = cons;
  const language = value === FLOOR ? sourceLanguage() : value;
  $('input').disabled = true;
  try {
    if (room.language !== language) {
      const result = await fetchJson('/api/language', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...bearer(cons.token) },
        body: JSON.stringify({ language }),
      });
      cons.input = value === FLOOR ? FLOOR : result.language;
      room.setLanguage(result.language);
    } else {
      cons.input = value;
      room.applySubscriptions();
    }
    notice('input', '');
  } catch (e) {
    notice('input', `Could not switch the input: ${reason(e)}.`, e.code);
  } finally {
    $('input').value = cons.input;
    $('input').disabled = false;
    render();
  }
}

/** The input volume on top of what the ducker sets (originals lowered under a relay). */
function applyVolume(track, p) {
  const { room, ducker } = cons;
  const base = room.isInterpretation(p)
    ? ducker.interpretationVolume() : ducker.original(p.identity).volume;
  track.setVolume(base * cons.volume);
}

function onVolume() {
  cons.volume = Number($('volume').value) / 100;
  localStorage.setItem(`${STORE}volume`, $('volume').value);
  $('volume-value').textContent = `${$('volume').value} %`;
  for (const p of cons.room.remotes()) {
    const pub = cons.room.playing(p);
    if (pub) applyVolume(pub.track, p);
  }
}

// ---------------------------------------------------------------- rendering
function renderDirection() {
  for (const input of document.querySelectorAll('#direction-choices input')) {
    input.checked = input.value === cons.outgoing;
  }
}

function buildDirection() {
  const box = $('direction-choices');
  box.replaceChildren();
  for (const code of cons.me.languages) {
    const id = `out-${code}`;
    const input = el('input');
    input.type = 'radio';
    input.name = 'outgoing';
    input.id = id;
    input.value = code;
    input.addEventListener('change', () => { if (input.checked) switchDirection(code); });
    const label = el('label', null, languageName(code));
    label.htmlFor = id;
    label.lang = code;
    box.append(input, label);
  }
  renderDirection();
}

function buildInputs(languages) {
  const select = $('input');
  select.replaceChildren();
  const floor = el('option', null, 'Floor (the speakers)');
  floor.value = FLOOR;
  select.appendChild(floor);
  const relay = el('optgroup');
  relay.label = 'Relay';
  for (const lang of languages) {
    const option = el('option', null, `Relay: ${lang.name}`);
    option.value = lang.code;
    relay.appendChild(option);
  }
  select.appendChild(relay);
  select.value = cons.input;
}

function renderLiveState() {
  const node = $('onair');
  const live = cons.live;
  const text = live ? `Live — ${languageName(live)}` : 'Not live';
  if ($('live-state').textContent !== text) $('live-state').textContent = text;
  node.classList.toggle('is-live', Boolean(live));
  let detail;
  const holder = holderOf(cons.outgoing);
  const doc = cons.booth && cons.booth.doc;
  if (live) {
    const machine = doc && doc.voices && doc.voices[live] === 'machine';
    if (!micOpen()) {
      detail = cons.coughing ? 'Coughing: your microphone is muted.'
        : 'Your microphone is muted: after a few seconds the machine voice takes over.';
    } else if (machine) {
      detail = 'The machine voice still covers this channel.';
    } else {
      detail = `Listeners of ${languageName(live)} hear you.`;
    }
  } else if (holder) {
    detail = `${nameOf(holder)} is live on ${languageName(cons.outgoing)}.`;
  } else {
    detail = `Nobody is live on ${languageName(cons.outgoing)}: listeners hear the machine voice.`;
  }
  if ($('live-detail').textContent !== detail) $('live-detail').textContent = detail;
}

function renderActions() {
  const live = cons.live;
  const holder = holderOf(cons.outgoing);
  const takenByOther = Boolean(holder && holder !== cons.me.identity);
  $('take').hidden = Boolean(live) || takenByOther;
  $('request').hidden = Boolean(live) || !takenByOther;
  $('release').hidden = !live;
  const group = $('handover-group');
  group.hidden = !live;
  if (live) {
    const select = $('partner');
    const previous = select.value;
    // a partner live on the other language is busy: they could not accept
    const partners = interpreters().filter((i) => i.identity !== cons.me.identity
      && (i.languages || []).includes(live) && !i.live);
    const key = partners.map((i) => `${i.identity}\t${i.name}`).join('\n');
    if (select.dataset.key !== key) { // rebuilt only when it changes: it may be open
      select.dataset.key = key;
      select.replaceChildren(...partners.map((i) => {
        const option = el('option', null, i.name || i.identity);
        option.value = i.identity;
        return option;
      }));
      if (partners.some((i) => i.identity === previous)) select.value = previous;
    }
    $('partner-label').hidden = !partners.length;
    select.hidden = !partners.length;
    $('no-partner').hidden = Boolean(partners.length);
    $('handover').disabled = !partners.length;
  }
}

function renderPending() {
  const doc = cons.booth && cons.booth.doc;
  const mine = pendingFor(doc, cons.me.identity)[0];
  $('pending').hidden = !mine;
  if (mine) {
    const who = nameOf(mine.from);
    const what = languageName(mine.language);
    const text = mine.kind === 'offer'
      ? `${who} offers you ${what}: accept to go live.`
      : `${who} asks to take over ${what}.`;
    const expires = mine.expires_in ? ` (${Math.max(0, Math.round(mine.expires_in))} s left)` : '';
    $('pending-text').textContent = text + expires;
    $('pending').dataset.kind = mine.kind;
  }
  const sent = pendingFrom(doc, cons.me.identity)[0];
  $('waiting').hidden = !sent;
  if (sent) {
    const what = sent.kind === 'offer' ? `Offered ${languageName(sent.language)} to`
      : `Asked for ${languageName(sent.language)} from`;
    $('waiting').textContent = `${what} ${nameOf(sent.to)}; waiting for an answer`
      + `${sent.expires_in ? ` (${Math.max(0, Math.round(sent.expires_in))} s left)` : ''}.`;
  }
}

/** Two open microphones on a language while one interpreter is live on it: the passive one
 * should mute (a booth's red light). Someone live on the other language is working, not
 * passive. */
function renderDoubleMic() {
  let warning = '';
  for (const language of cons.me.languages) {
    if (!holderOf(language)) continue;
    const open = interpreters().filter((i) => (i.languages || []).includes(language))
      .filter((i) => {
        const p = participant(i.identity);
        return (!i.live || i.live === language) && p && cons.room.isMicOpen(p);
      });
    if (open.length >= 2) {
      warning = `Two microphones are open on ${languageName(language)}: `
        + `${open.map((i) => (i.identity === cons.me.identity ? 'yours' : i.name)).join(' and ')}. `
        + 'The interpreter who is not live should mute.';
      break;
    }
  }
  const node = $('double-mic');
  if (node.textContent !== warning) node.textContent = warning;
  node.hidden = !warning;
}

function renderMic() {
  const pub = micPublication();
  const open = micOpen();
  const button = $('mic');
  button.setAttribute('aria-pressed', String(open));
  button.textContent = open ? 'Microphone on' : 'Microphone off';
  button.classList.toggle('on', open);
  button.disabled = !pub;
  const cough = $('cough');
  cough.setAttribute('aria-pressed', String(cons.coughing));
  cough.classList.toggle('held', cons.coughing);
  cough.disabled = !pub;
  // one meter per capture: a republished track keeps its MediaStreamTrack, and its meter
  if (pub && pub.track && (!cons.micMeter || cons.micMeter.track !== pub.track.mediaStreamTrack)) {
    startMicMeter();
  }
}

function renderPartners() {
  const list = $('partners');
  list.replaceChildren();
  for (const i of interpreters()) {
    const me = i.identity === cons.me.identity;
    const li = el('li', 'person');
    li.dataset.identity = i.identity;
    li.appendChild(el('span', 'person-name', (i.name || i.identity) + (me ? ' (you)' : '')));
    const pair = (i.languages || []).map(languageName).join(' ⇄ ');
    li.appendChild(el('span', 'person-lang', pair));
    const badges = el('span', 'badges');
    badges.appendChild(i.live ? el('span', 'badge live', `live on ${languageName(i.live)}`)
      : el('span', 'badge', 'not live'));
    const p = participant(i.identity);
    if (!p) badges.appendChild(el('span', 'badge', 'not connected'));
    else if (cons.room.isMicOpen(p)) badges.appendChild(el('span', 'badge speaking', 'mic open'));
    else badges.appendChild(el('span', 'badge', 'mic muted'));
    li.appendChild(badges);
    list.appendChild(li);
  }
}

function render() {
  if (!cons.room || !cons.room.connected) return;
  observeLive('attribute', cons.protocol.liveLanguageOf(cons.room.local));
  renderLiveState();
  renderActions();
  renderPending();
  renderDoubleMic();
  renderMic();
  renderPartners();
}


// ---------------------------------------------------------------- start
function readLink() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { roomName: params.get('room') || '', token: params.get('token') || '' };
}

function build(LK) {
  const room = new MeetingRoom({
    LK, protocol: cons.protocol, audioSink: $('audio-sink'), wants: consoleWants,
  });
  cons.room = room;
  cons.ducker = new Ducker(room);
  room.addEventListener('track', (e) => applyVolume(e.detail.track, e.detail.participant));
  cons.ducker.addEventListener('volume', ({ detail }) => {
    const p = room.lk && room.lk.remoteParticipants.get(detail.speaker);
    const pub = room.playing(p);
    if (pub) applyVolume(pub.track, p);
  });
  cons.captions = new CaptionBoard({
    container: $('captions'),
    emptyNotice: $('captions-empty'),
    jumpButton: $('jump-latest'),
    matches: (a, b) => cons.protocol.matches(a, b),
    displayName: (identity) => room.displayName(identity),
    languageName,
  });
  listenForCaptions(room, cons.protocol, (caption) => {
    // the speakers' own words only: no translation, nothing an interpreter said
    if (caption.translated || caption.speaker === room.identity) return;
    const p = room.lk && room.lk.remoteParticipants.get(caption.speaker);
    if (p && cons.protocol.isInterpreter(p)) return;
    cons.captions.show(caption);
  });
  cons.booth = new BoothClient({ room: cons.me.room, token: cons.token, fetchJson });
  cons.booth.addEventListener('change', (e) => {
    if ($('notice-booth').dataset.code === 'poll') notice('booth', '');
    onBooth(e.detail.doc);
  });
  cons.booth.addEventListener('error', (e) => {
    const { error } = e.detail;
    const text = error.status === 404
      ? 'This server keeps no booth: taking a channel is not possible here.'
      : `The booth state is not up to date: ${reason(error)}.`;
    if (!$('notice-booth').dataset.code) notice('booth', text, 'poll');
  });

  room.addEventListener('change', render);
  room.addEventListener('mediaerror', (e) => micProblem(e.detail.error));
  room.addEventListener('reconnecting', () => {
    notice('connection', 'Connection lost. Reconnecting…');
  });
  room.addEventListener('reconnected', () => notice('connection', ''));
  room.addEventListener('disconnected', ({ detail }) => {
    cons.booth.stop();
    stopMicMeter();
    if (!detail.byUser) {
      notice('connection', 'You were disconnected from the booth.');
      $('reconnect').hidden = false;
    }
  });
  room.addEventListener('playback', (e) => {
    notice('audio', e.detail.allowed ? '' : 'Your browser blocked sound.');
  });
  $('enable-sound').addEventListener('click', () => {
    room.startAudio().then(() => notice('audio', ''));
  });
  $('reconnect').addEventListener('click', () => location.reload());
  $('take').addEventListener('click', take);
  $('release').addEventListener('click', release);
  $('handover').addEventListener('click', handOver);
  $('request').addEventListener('click', request);
  $('accept').addEventListener('click', accept);
  $('decline').addEventListener('click', decline);
  $('mic').addEventListener('click', toggleMic);
  $('input').addEventListener('change', () => switchInput($('input').value));
  $('volume').addEventListener('input', onVolume);
  $('leave').addEventListener('click', leave);
  wireCough();
  const volume = localStorage.getItem(`${STORE}volume`);
  if (volume !== null) $('volume').value = volume;
}

async function leave() {
  const { room } = cons;
  if (cons.live) await act('release', cons.live);
  cons.booth.stop();
  stopMicMeter();
  await room.disconnect();
  stop('You left the booth. Open the invite link again to come back.');
}

async function start() {
  const { roomName, token } = readLink();
  if (!roomName || !token) {
    stop('This console link is incomplete: it needs the room and the invite token. '
      + 'Ask the organizer for your invite link.');
    return;
  }
  let claims;
  try {
    claims = decodeToken(token);
  } catch (e) {
    stop('This console link carries no valid invite token. Ask the organizer for a new link.');
    return;
  }
  if (claims.expiresAt && claims.expiresAt < Date.now()) {
    stop('This invite has expired. Ask the organizer for a new link.');
    return;
  }
  if (claims.room && claims.room !== roomName) {
    stop(`This invite is for room ${claims.room}, not ${roomName}. `
      + 'Ask the organizer for your link.');
    return;
  }
  let LK;
  let config;
  let languages;
  try {
    LK = await import(LIVEKIT_CLIENT);
  } catch (e) {
    stop('The console could not load its LiveKit library (web/static/vendor is missing: '
      + 'run scripts/fetch_web_assets.sh).');
    return;
  }
  try {
    [config, languages, cons.protocol] = await Promise.all([
      fetchJson('/api/config'), fetchJson('/api/languages'), loadProtocol(fetchJson),
    ]);
  } catch (e) {
    stop('Cannot reach the web server. Check your connection and reload the console.');
    return;
  }
  const { attributes, roles } = cons.protocol;
  if (claims.attributes[attributes.role] !== roles.interpreter) {
    stop('This link is not an interpreter invite. Listeners and speakers join on the meeting '
      + 'page.');
    return;
  }
  for (const lang of languages.languages) {
    cons.languageNames.set(lang.code.toLowerCase(), lang.name);
  }
  const pair = languageList(claims.attributes[attributes.interpreter_languages]);
  const language = claims.attributes[attributes.language] || pair[0];
  cons.token = token;
  cons.me = { identity: claims.identity, name: claims.name, room: roomName, languages: pair };
  const saved = localStorage.getItem(`${STORE}${claims.identity}.outgoing`);
  // the invite's `language` is what I hear: I voice the other one of my pair
  cons.outgoing = pair.includes(saved) ? saved
    : (pair.find((code) => code !== language) || pair[0]);
  build(LK);
  buildDirection();
  buildInputs(languages.languages);
  $('room-label').textContent = `Room ${roomName}`;
  $('room-label').hidden = false;
  $('me-label').textContent = `${claims.name} · ${pair.map(languageName).join(' ⇄ ')}`;
  $('me-label').hidden = false;
  $('start-message').textContent = 'Connecting to the room…';
  try {
    await cons.room.connect({
      url: config.livekit_url, token, identity: claims.identity, room: roomName,
      role: roles.interpreter, language,
    });
  } catch (e) {
    console.error('connect failed', e);
    stop('Cannot reach the meeting server, or the invite was refused. Try again in a moment; '
      + 'if it keeps failing, ask the organizer for a new link.');
    return;
  }
  $('start-view').hidden = true;
  $('console-view').hidden = false;
  cons.captions.setLanguage(sourceLanguage());
  cons.ducker.start();
  onVolume();
  const liveNow = cons.protocol.liveLanguageOf(cons.room.local) || '';
  if (liveNow) cons.outgoing = liveNow;
  renderDirection();
  await micTask(() => cons.room.publishMicrophone(cons.outgoing, { muted: !liveNow }));
  cons.booth.start();
  render();
}

// another invite link pasted into this tab: open that one (the page would not reload itself)
window.addEventListener('hashchange', () => location.reload());

/** Resolves when the console is connected (or has said why it cannot). */
export const ready = start();
