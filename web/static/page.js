/* The meeting page (index.html): join form, controls, participant list and banners, wired to
 * the room, captions, ducking and transcript modules. The one module that knows index.html's
 * element ids.
 */

import { CaptionBoard, listenForCaptions } from './captions.js';
import { audioContext, LevelBar, microphoneRefused } from './audio.js';
import { languageList } from './booth.js';
import { Ducker } from './ducking.js';
import { bearer, fetchJson } from './http.js';
import { loadProtocol, primaryOf } from './protocol.js';
import { MeetingRoom } from './room.js';
import { TranscriptPanel } from './transcripts.js';

const LIVEKIT_CLIENT = './vendor/livekit-client.esm.js';
const UNAVAILABLE_AFTER_MS = 15000; // no track in my language from a speaker's translator
const STORE = 'interpreter.'; // localStorage key prefix

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};

/** What the page is made of, for a debugging console (and the browser tests' hook, which
 * imports this module: tests/browser/page_hook.mjs). */
export const meetingPage = {
  protocol: null,
  languages: [], // [{code, name, english}]
  room: null, // MeetingRoom
  ducker: null,
  captions: null,
  transcripts: null,
  micMeter: null,
  micPeak: 0,
  missing: new Set(), // speakers without interpretation into my language
};
const page = meetingPage;

// ---------------------------------------------------------------- banners
function banner(id, text, kind, action) {
  let node = document.querySelector(`[data-banner="${id}"]`);
  if (!text) {
    if (node) node.remove();
    return;
  }
  if (!node) {
    node = el('div', 'banner');
    node.dataset.banner = id;
    $('banners').appendChild(node);
  }
  node.className = `banner ${kind || 'info'}`;
  node.textContent = text;
  if (action) {
    const button = el('button', 'banner-action', action.label);
    button.type = 'button';
    button.addEventListener('click', action.run);
    node.appendChild(button);
  }
}

function clearBanners() {
  $('banners').replaceChildren();
}

// ---------------------------------------------------------------- languages
function findLanguage(code) {
  const wanted = String(code || '').toLowerCase();
  return page.languages.find((l) => l.code.toLowerCase() === wanted);
}

function languageName(code) {
  const hit = findLanguage(code);
  return hit ? hit.name : code;
}

function fillLanguageSelect(select, selected) {
  select.replaceChildren();
  for (const lang of page.languages) {
    const label = lang.name.toLowerCase() === lang.english.toLowerCase()
      ? lang.name : `${lang.name} — ${lang.english}`;
    const option = el('option', null, label);
    option.value = lang.code;
    option.lang = lang.code;
    select.appendChild(option);
  }
  select.value = selected;
}

function guessLanguage() {
  const saved = localStorage.getItem(`${STORE}language`);
  if (saved && findLanguage(saved)) return findLanguage(saved).code;
  // the browser's "en-US" means English: regional variants only when chosen on purpose
  for (const w of navigator.languages || [navigator.language]) {
    const hit = findLanguage(primaryOf(w)) || findLanguage(w);
    if (hit) return hit.code;
  }
  return 'en';
}

// ---------------------------------------------------------------- join form
function showJoinError(text) {
  const node = $('join-error');
  node.textContent = text || '';
  node.hidden = !text;
}

function resetJoinButton() {
  $('join').disabled = false;
  $('join').textContent = 'Join';
}

/** Name and room from the link or the last visit, at once and without overwriting what the
 * person has typed meanwhile (the rest of the form waits for the server). */
function prefillForm() {
  const params = new URLSearchParams(location.search);
  for (const field of ['name', 'room']) {
    if (!$(field).value) {
      $(field).value = params.get(field) || localStorage.getItem(`${STORE}${field}`) || '';
    }
  }
}

async function loadForm() {
  const params = new URLSearchParams(location.search);
  const [config, languages, protocol] = await Promise.all([
    fetchJson('/api/config'), fetchJson('/api/languages'), loadProtocol(fetchJson),
  ]);
  page.protocol = protocol;
  page.languages = languages.languages;
  $('name').maxLength = config.max_name_length;
  $('room').maxLength = protocol.roomName.max_length;
  const role = params.get('role') || localStorage.getItem(`${STORE}role`);
  if (protocol.roles.client.includes(role)) {
    document.querySelector(`input[name="role"][value="${role}"]`).checked = true;
  }
  fillLanguageSelect($('language'), params.get('language') || guessLanguage());
  if (!$('language').value) $('language').value = 'en';
}

async function onJoin(event) {
  event.preventDefault();
  showJoinError('');
  clearBanners();
  const name = $('name').value.trim();
  const roomName = $('room').value.trim();
  const language = $('language').value;
  const role = document.querySelector('input[name="role"]:checked').value;
  const passcode = $('passcode-field').hidden ? '' : $('passcode').value;
  if (!name) return showJoinError('Please enter your name.');
  if (!roomName) return showJoinError('Please enter the room name.');
  audioContext(); // created inside the click, it may play sound (autoplay rules)
  $('join').disabled = true;
  $('join').textContent = 'Joining…';
  let grant;
  try {
    grant = await fetchJson('/api/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        room: roomName, name, language, role, ...(passcode ? { passcode } : {}),
      }),
    });
  } catch (e) {
    resetJoinButton();
    if (e.kind === 'unreachable') {
      return showJoinError('Cannot reach the web server. Check your connection and try again.');
    }
    if (e.code === 'passcode_required' || e.code === 'wrong_passcode') {
      // the room has a passcode (set by its organizer): ask for it, then join again
      $('passcode-field').hidden = false;
      $('passcode').focus();
      return showJoinError(e.code === 'wrong_passcode'
        ? 'That passcode is not right. Check it with the organizer and try again.'
        : 'This room needs a passcode. Enter the one the organizer gave you.');
    }
    return showJoinError(`Could not join: ${e.message}`);
  }
  localStorage.setItem(`${STORE}name`, name);
  localStorage.setItem(`${STORE}room`, roomName);
  localStorage.setItem(`${STORE}language`, grant.language);
  localStorage.setItem(`${STORE}role`, role);
  try {
    await page.room.connect(grant);
  } catch (e) {
    resetJoinButton();
    showJoinError('Cannot reach the meeting server. It may be down or blocked by a firewall; '
      + 'try again in a moment.');
    console.error('connect failed', e);
    return undefined;
  }
  return enterMeeting(grant);
}

// ---------------------------------------------------------------- meeting
async function enterMeeting(grant) {
  page.missing.clear();
  $('join-view').hidden = true;
  $('meeting-view').hidden = false;
  const label = $('room-label');
  label.textContent = `Room ${grant.room}`;
  label.hidden = false;
  fillLanguageSelect($('hear'), grant.language);
  $('captions-language').textContent = `in ${languageName(grant.language)}`;
  page.captions.setLanguage(grant.language);
  const url = new URL(location.href);
  url.searchParams.set('room', grant.room);
  history.replaceState(null, '', url);
  resetJoinButton();
  page.ducker.start();
  renderParticipants();
  const speaks = grant.role === page.protocol.roles.participant;
  $('mic-control').hidden = !speaks;
  if (speaks) await enableMic(true);
  page.transcripts.start(grant.room, grant.token);
}

function leftMeeting() {
  stopMicMeter();
  page.ducker.stop();
  page.transcripts.stop();
}

async function leave() {
  leftMeeting();
  await page.room.disconnect();
  clearBanners();
  backToForm();
}

function backToForm() {
  $('meeting-view').hidden = true;
  $('join-view').hidden = false;
  $('room-label').hidden = true;
  resetJoinButton();
  page.captions.clear();
}

function onDisconnected({ byUser }) {
  leftMeeting();
  if (!byUser) {
    banner('connection', 'You were disconnected from the meeting.', 'error', {
      label: 'Rejoin', run: () => { clearBanners(); backToForm(); },
    });
  }
}

// ---------------------------------------------------------------- language switch
async function switchLanguage() {
  const { room } = page;
  const wanted = $('hear').value;
  if (!room.connected || wanted === room.language) return;
  const previous = room.language;
  $('hear').disabled = true;
  try {
    const result = await fetchJson('/api/language', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...bearer(room.token) },
      body: JSON.stringify({ language: wanted }),
    });
    page.missing.clear();
    localStorage.setItem(`${STORE}language`, result.language);
    $('captions-language').textContent = `in ${languageName(result.language)}`;
    banner('language', '');
    page.captions.setLanguage(result.language);
    room.setLanguage(result.language);
  } catch (e) {
    $('hear').value = previous;
    const why = e.kind === 'unreachable' ? 'the web server is unreachable' : e.message;
    banner('language', `Could not switch language: ${why}.`, 'error');
  } finally {
    $('hear').disabled = false;
  }
}

function checkAvailability() {
  const { room } = page;
  if (!room.connected) return;
  const missing = new Set([...room.uninterpreted(UNAVAILABLE_AFTER_MS), ...page.missing]);
  const names = room.speakers().filter((p) => missing.has(p.identity))
    .map((p) => room.displayName(p.identity));
  if (names.length) {
    banner('language', `No interpretation into ${languageName(room.language)} from `
      + `${names.join(', ')} yet; you hear the original.`, 'warning');
  } else {
    banner('language', '');
  }
}

/** Who voices my language now: "Interpreted by <name>" while an interpreter is live on it
 * and no translator lists it in its `interpreter.languages` (the machine is not covering),
 * "Machine interpretation" while a translator voices it, else nothing to say. */
function renderVoiceLabel() {
  const { room, protocol } = page;
  const mine = (code) => protocol.matches(code, room.language);
  const machine = room.remotes().some((p) => protocol.isTranslator(p)
    && languageList(p.attributes[protocol.attributes.interpreter_languages]).some(mine));
  const human = room.remotes().find((p) => protocol.isInterpreter(p)
    && mine(protocol.liveLanguageOf(p)));
  let text = '';
  if (human && !machine) text = `Interpreted by ${human.name || human.identity}`;
  else if (machine) text = 'Machine interpretation';
  const label = $('voice-label');
  if (label.textContent !== text) label.textContent = text; // announced once per change
  label.classList.toggle('human', Boolean(human && !machine));
  label.hidden = !text;
}

// ---------------------------------------------------------------- participants
function renderParticipants() {
  const { room, protocol } = page;
  if (!room.connected) return;
  const list = $('participants');
  list.replaceChildren();
  for (const p of room.people()) {
    const local = p === room.local;
    const li = el('li', 'person');
    li.dataset.identity = p.identity;
    li.appendChild(el('span', 'person-name', (p.name || p.identity) + (local ? ' (you)' : '')));
    const lang = protocol.languageOf(p);
    const meta = el('span', 'person-lang', lang ? languageName(lang) : '');
    if (lang) meta.title = `hears ${languageName(lang)}`;
    li.appendChild(meta);
    const badges = el('span', 'badges');
    if (protocol.roleOf(p) === protocol.roles.listener) {
      badges.appendChild(el('span', 'badge', 'listening'));
    }
    if (protocol.isInterpreter(p)) {
      const live = protocol.liveLanguageOf(p);
      badges.appendChild(el('span', live ? 'badge live' : 'badge',
        live ? `interpreter, live on ${languageName(live)}` : 'interpreter'));
    }
    if (room.isMuted(p)) badges.appendChild(el('span', 'badge', 'muted'));
    if (p.isSpeaking) badges.appendChild(el('span', 'badge speaking', 'speaking'));
    const original = !local && page.ducker.originals.get(p.identity);
    if (original && original.ducked) badges.appendChild(el('span', 'badge interpreting', 'interpreted'));
    li.appendChild(badges);
    list.appendChild(li);
  }
  renderVoiceLabel();
  checkAvailability();
}

// ---------------------------------------------------------------- microphone
async function enableMic(on) {
  const button = $('mic');
  let enabled = on;
  try {
    await page.room.setMicrophone(on);
    banner('mic', '');
  } catch (e) {
    micProblem(e);
    enabled = false;
  }
  button.setAttribute('aria-pressed', String(enabled));
  button.textContent = enabled ? 'Microphone on' : 'Microphone off';
  button.classList.toggle('on', enabled);
  stopMicMeter();
  if (enabled) startMicMeter();
  renderParticipants();
}

function micProblem(error) {
  const text = microphoneRefused(error)
    ? 'Microphone access was denied. You can still listen; allow the microphone for this '
      + 'site in your browser, then press the microphone button.'
    : 'No working microphone was found. You can still listen.';
  banner('mic', text, 'error');
}

function startMicMeter() {
  const track = page.room.microphoneTrack();
  if (!track) return;
  page.micMeter = new LevelBar(track.mediaStreamTrack, $('mic-level'), {
    onLevel: (rms) => { page.micPeak = Math.max(page.micPeak, rms); },
  });
}

function stopMicMeter() {
  if (page.micMeter) {
    page.micMeter.close();
    page.micMeter = null;
  }
}

// ---------------------------------------------------------------- controls
function onBalance() {
  const balance = Number($('balance').value);
  localStorage.setItem(`${STORE}balance`, String(balance));
  page.ducker.setBalance(balance);
  $('balance-value').textContent = `original at ${Math.round(page.ducker.duckedVolume() * 100)} %`;
}

function onCaptionSize() {
  const size = Number($('caption-size').value);
  localStorage.setItem(`${STORE}captionSize`, String(size));
  $('captions').style.setProperty('--caption-size', `${size}px`);
}

// ---------------------------------------------------------------- start
function build(LK) {
  const room = new MeetingRoom({ LK, protocol: page.protocol, audioSink: $('audio-sink') });
  page.room = room;
  page.ducker = new Ducker(room);
  page.captions = new CaptionBoard({
    container: $('captions'),
    emptyNotice: $('captions-empty'),
    announcer: $('caption-announcer'),
    jumpButton: $('jump-latest'),
    matches: (a, b) => page.protocol.matches(a, b),
    displayName: (identity) => room.displayName(identity),
    languageName,
    onMissingTranslation: (speaker) => { page.missing.add(speaker); checkAvailability(); },
    onTranslation: (speaker) => { if (page.missing.delete(speaker)) checkAvailability(); },
  });
  page.transcripts = new TranscriptPanel({
    section: $('transcripts'),
    list: $('transcript-links'),
    languageName,
    onError: (text) => banner('transcript', text, 'error'),
  });
  listenForCaptions(room, page.protocol, (caption) => page.captions.show(caption));

  room.addEventListener('change', renderParticipants);
  room.addEventListener('disconnected', (e) => onDisconnected(e.detail));
  room.addEventListener('reconnecting', () => banner('connection',
    'Connection lost. Reconnecting…', 'warning'));
  room.addEventListener('reconnected', () => banner('connection', ''));
  room.addEventListener('left', (e) => page.missing.delete(e.detail.participant.identity));
  room.addEventListener('mediaerror', (e) => micProblem(e.detail.error));
  room.addEventListener('playback', (e) => {
    if (e.detail.allowed) {
      banner('audio', '');
      return;
    }
    banner('audio', 'Your browser blocked sound.', 'warning', {
      label: 'Enable sound', run: () => room.startAudio().then(() => banner('audio', '')),
    });
  });
  const shown = new Map(); // speaker -> ducked, as the participant list shows it
  page.ducker.addEventListener('volume', ({ detail }) => {
    if (shown.get(detail.speaker) === detail.ducked) return;
    shown.set(detail.speaker, detail.ducked);
    renderParticipants();
  });

  $('join-form').addEventListener('submit', onJoin);
  $('leave').addEventListener('click', leave);
  $('mic').addEventListener('click', () => {
    enableMic($('mic').getAttribute('aria-pressed') !== 'true');
  });
  $('hear').addEventListener('change', switchLanguage);
  $('balance').addEventListener('input', onBalance);
  $('caption-size').addEventListener('input', onCaptionSize);
  const balance = localStorage.getItem(`${STORE}balance`);
  if (balance !== null) $('balance').value = balance;
  const size = localStorage.getItem(`${STORE}captionSize`);
  if (size !== null) $('caption-size').value = size;
  onBalance();
  onCaptionSize();
  $('join').disabled = false;
}

async function start() {
  prefillForm();
  let LK;
  try {
    LK = await import(LIVEKIT_CLIENT);
  } catch (e) {
    showJoinError('The page could not load its LiveKit library (web/static/vendor is missing: '
      + 'run scripts/fetch_web_assets.sh).');
    $('join').disabled = true;
    return;
  }
  try {
    await loadForm();
  } catch (e) {
    showJoinError('Cannot reach the web server. Check your connection and reload the page.');
    $('join').disabled = true;
    return;
  }
  build(LK);
}

/** Resolves when the page is ready to join (or has said why it cannot). */
export const ready = start();
