/* The meeting page: join form, captions in my language, interpretation audio with ducking.
 *
 * Audio rule: subscribe to every human speaker's microphone (the original) and, from each
 * translator agent (identity "translator-<speaker>"), only to the track named with my language.
 * While a speaker's interpretation is audible, that speaker's original is lowered to the
 * balance slider's level (15 % by default) and restored when the interpretation stops.
 */
'use strict';

(function () {
  const LK = window.LivekitClient;
  const TRANSLATOR_PREFIX = 'translator-';
  const CAPTION_TOPIC = 'lk.transcription';
  const LEVEL_INTERVAL_MS = 50;
  const VOICE_THRESHOLD = 0.01; // RMS of the interpretation that counts as "playing"
  const DUCK_HOLD_MS = 700; // keep ducking through short pauses between words
  const DUCK_ATTACK = 0.35; // volume change per tick while ducking (fast)
  const DUCK_RELEASE = 0.06; // volume change per tick while restoring (slow)
  const UNAVAILABLE_AFTER_MS = 15000; // no track in my language from a speaker's translator
  const TRANSLATION_WAIT_MS = 6000; // no interpretation of a final sentence
  const TRANSCRIPT_REFRESH_MS = 20000;
  const MAX_CAPTIONS = 300;

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const state = {
    config: null,
    languages: [], // [{code, name, english}]
    room: null,
    token: null,
    identity: null,
    roomName: null,
    role: null,
    language: null,
    balance: 85,
    audioContext: null,
    meters: new Map(), // track sid -> {analyser, buffer}
    duck: new Map(), // speaker identity -> {volume, lastVoiceAt}
    duckEvents: [], // {speaker, at, volume} when a speaker's original is lowered/restored
    firstInterpretationAt: null, // performance.now() when interpretation was first audible
    joinClickedAt: null,
    inMeeting: false,
    captions: new Map(), // row key (source segment id) -> {row, text, final, translated}
    stickToBottom: true,
    micLoop: null,
    levelLoop: null,
    transcriptTimer: null,
    languageSince: 0,
    missing: new Set(), // speakers without interpretation into my language
  };

  // ---------------------------------------------------------------- small helpers
  function primary(code) {
    return String(code || '').split('-')[0].toLowerCase();
  }

  function sameLanguage(a, b) {
    if (!a || !b) return false;
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    if (x === y) return true;
    // "pt" serves "pt-BR" and back; two different regions or scripts do not match
    return primary(x) === primary(y) && (!x.includes('-') || !y.includes('-'));
  }

  function languageName(code) {
    const hit = state.languages.find((l) => l.code.toLowerCase() === String(code).toLowerCase());
    return hit ? hit.name : code;
  }

  function isTranslator(p) {
    return Boolean(p && p.isAgent && (p.attributes['interpreter.source']
      || p.identity.startsWith(TRANSLATOR_PREFIX)));
  }

  function translatorSource(p) {
    return p.attributes['interpreter.source'] || p.identity.slice(TRANSLATOR_PREFIX.length);
  }

  function translatorOf(speakerIdentity) {
    if (!state.room) return null;
    for (const p of state.room.remoteParticipants.values()) {
      if (isTranslator(p) && translatorSource(p) === speakerIdentity) return p;
    }
    return null;
  }

  function displayName(identity) {
    if (!state.room) return identity;
    if (identity === state.room.localParticipant.identity) {
      return state.room.localParticipant.name || identity;
    }
    const p = state.room.remoteParticipants.get(identity);
    return (p && p.name) || identity;
  }

  function audioPublications(p) {
    return Array.from(p.trackPublications.values()).filter((pub) => pub.kind === LK.Track.Kind.Audio);
  }

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

  // ---------------------------------------------------------------- join form
  async function fetchJson(url, options) {
    let response;
    try {
      response = await fetch(url, options);
    } catch (e) {
      const err = new Error('unreachable');
      err.kind = 'unreachable';
      throw err;
    }
    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      body = null;
    }
    if (!response.ok) {
      const err = new Error((body && body.message) || `HTTP ${response.status}`);
      err.kind = 'refused';
      err.status = response.status;
      err.code = body && body.error;
      throw err;
    }
    return body;
  }

  function fillLanguageSelect(select, selected) {
    select.replaceChildren();
    for (const lang of state.languages) {
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
    const find = (code) => state.languages.find((l) => l.code.toLowerCase() === code.toLowerCase());
    const saved = localStorage.getItem('interpreter.language');
    if (saved && find(saved)) return find(saved).code;
    // the browser's "en-US" means English: regional variants only when chosen on purpose
    for (const w of navigator.languages || [navigator.language]) {
      const hit = find(primary(w)) || find(w);
      if (hit) return hit.code;
    }
    return 'en';
  }

  async function loadForm() {
    const params = new URLSearchParams(location.search);
    $('name').value = params.get('name') || localStorage.getItem('interpreter.name') || '';
    $('room').value = params.get('room') || localStorage.getItem('interpreter.room') || '';
    const role = params.get('role') || localStorage.getItem('interpreter.role');
    if (role === 'listener' || role === 'participant') {
      document.querySelector(`input[name="role"][value="${role}"]`).checked = true;
    }
    try {
      const [config, languages] = await Promise.all([
        fetchJson('/api/config'), fetchJson('/api/languages'),
      ]);
      state.config = config;
      state.languages = languages.languages;
      const chosen = params.get('language') || guessLanguage();
      fillLanguageSelect($('language'), chosen);
      if (!$('language').value) $('language').value = 'en';
    } catch (e) {
      showJoinError('Cannot reach the web server. Check your connection and reload the page.');
      $('join').disabled = true;
    }
  }

  function showJoinError(text) {
    const node = $('join-error');
    node.textContent = text || '';
    node.hidden = !text;
  }

  async function onJoin(event) {
    event.preventDefault();
    showJoinError('');
    clearBanners();
    state.joinClickedAt = performance.now();
    state.firstInterpretationAt = null;
    const name = $('name').value.trim();
    const roomName = $('room').value.trim();
    const language = $('language').value;
    const role = document.querySelector('input[name="role"]:checked').value;
    if (!name) return showJoinError('Please enter your name.');
    if (!roomName) return showJoinError('Please enter the room name.');
    // an AudioContext created inside the click may play sound (autoplay rules)
    ensureAudioContext();
    $('join').disabled = true;
    $('join').textContent = 'Joining…';
    let grant;
    try {
      grant = await fetchJson('/api/token', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ room: roomName, name, language, role }),
      });
    } catch (e) {
      resetJoinButton();
      if (e.kind === 'unreachable') {
        return showJoinError('Cannot reach the web server. Check your connection and try again.');
      }
      return showJoinError(`Could not join: ${e.message}`);
    }
    localStorage.setItem('interpreter.name', name);
    localStorage.setItem('interpreter.room', roomName);
    localStorage.setItem('interpreter.language', grant.language);
    localStorage.setItem('interpreter.role', role);
    try {
      await connect(grant);
    } catch (e) {
      resetJoinButton();
      await leave(false);
      showJoinError('Cannot reach the meeting server. It may be down or blocked by a firewall; '
        + 'try again in a moment.');
      console.error('connect failed', e);
    }
  }

  function resetJoinButton() {
    $('join').disabled = false;
    $('join').textContent = 'Join';
  }

  // ---------------------------------------------------------------- room
  async function connect(grant) {
    state.token = grant.token;
    state.identity = grant.identity;
    state.roomName = grant.room;
    state.role = grant.role;
    state.language = grant.language;
    state.languageSince = performance.now();
    const room = new LK.Room({ adaptiveStream: false, dynacast: false, disconnectOnPageLeave: true });
    state.room = room;
    room
      .on(LK.RoomEvent.ParticipantConnected, () => { applySubscriptions(); renderParticipants(); })
      .on(LK.RoomEvent.ParticipantDisconnected, (p) => { forgetParticipant(p); renderParticipants(); })
      .on(LK.RoomEvent.TrackPublished, () => { applySubscriptions(); renderParticipants(); })
      .on(LK.RoomEvent.TrackUnpublished, () => renderParticipants())
      .on(LK.RoomEvent.TrackSubscribed, onTrackSubscribed)
      .on(LK.RoomEvent.TrackUnsubscribed, onTrackUnsubscribed)
      .on(LK.RoomEvent.TrackMuted, () => renderParticipants())
      .on(LK.RoomEvent.TrackUnmuted, () => renderParticipants())
      .on(LK.RoomEvent.ParticipantAttributesChanged, () => { applySubscriptions(); renderParticipants(); })
      .on(LK.RoomEvent.ParticipantNameChanged, () => renderParticipants())
      .on(LK.RoomEvent.ActiveSpeakersChanged, () => renderParticipants())
      .on(LK.RoomEvent.Reconnecting, () => banner('connection',
        'Connection lost. Reconnecting…', 'warning'))
      .on(LK.RoomEvent.Reconnected, () => { banner('connection', ''); applySubscriptions(); })
      .on(LK.RoomEvent.Disconnected, onDisconnected)
      .on(LK.RoomEvent.MediaDevicesError, (e) => micProblem(e))
      .on(LK.RoomEvent.AudioPlaybackStatusChanged, () => {
        if (!room.canPlaybackAudio) {
          banner('audio', 'Your browser blocked sound.', 'warning', {
            label: 'Enable sound', run: () => room.startAudio().then(() => banner('audio', '')),
          });
        } else {
          banner('audio', '');
        }
      });
    room.registerTextStreamHandler(CAPTION_TOPIC, onCaptionStream);

    await room.connect(grant.url, grant.token, { autoSubscribe: false });
    state.inMeeting = true;
    showMeeting();
    applySubscriptions();
    renderParticipants();
    startLevelLoop();
    room.startAudio().catch(() => {});
    $('mic-control').hidden = state.role !== 'participant';
    if (state.role === 'participant') await enableMic(true);
    refreshTranscripts();
    state.transcriptTimer = setInterval(refreshTranscripts, TRANSCRIPT_REFRESH_MS);
  }

  function showMeeting() {
    $('join-view').hidden = true;
    $('meeting-view').hidden = false;
    const label = $('room-label');
    label.textContent = `Room ${state.roomName}`;
    label.hidden = false;
    fillLanguageSelect($('hear'), state.language);
    $('captions-language').textContent = `in ${languageName(state.language)}`;
    const url = new URL(location.href);
    url.searchParams.set('room', state.roomName);
    history.replaceState(null, '', url);
    resetJoinButton();
  }

  function onDisconnected(reason) {
    if (!state.room || !state.inMeeting) return; // a failed connect is reported by onJoin
    const left = reason === LK.DisconnectReason.CLIENT_INITIATED;
    cleanupRoom();
    if (!left) {
      banner('connection', 'You were disconnected from the meeting.', 'error', {
        label: 'Rejoin', run: () => { clearBanners(); backToForm(); },
      });
    }
  }

  async function leave(showForm) {
    const room = state.room;
    cleanupRoom();
    if (room) await room.disconnect();
    if (showForm !== false) {
      clearBanners();
      backToForm();
    }
  }

  function cleanupRoom() {
    state.inMeeting = false;
    clearInterval(state.levelLoop);
    clearInterval(state.micLoop);
    clearInterval(state.transcriptTimer);
    state.levelLoop = state.micLoop = state.transcriptTimer = null;
    state.meters.clear();
    state.duck.clear();
    state.room = null;
    $('audio-sink').replaceChildren();
  }

  function backToForm() {
    $('meeting-view').hidden = true;
    $('join-view').hidden = false;
    $('room-label').hidden = true;
    resetJoinButton();
    clearCaptions();
  }

  // ---------------------------------------------------------------- subscriptions and audio
  function interpretsInto(p) {
    // a human interpreter (role=interpreter) voices the languages in interpreter.languages
    const voiced = (p.attributes['interpreter.languages'] || p.attributes.language || '')
      .split(',').map((code) => code.trim()).filter(Boolean);
    return voiced.some((code) => sameLanguage(code, state.language));
  }

  function wantsTrack(p, pub) {
    if (pub.kind !== LK.Track.Kind.Audio) return false;
    if (isTranslator(p)) return pub.trackName.toLowerCase() === state.language.toLowerCase();
    if (p.isAgent) return false;
    if (p.attributes.role === 'interpreter') return interpretsInto(p);
    return pub.source === LK.Track.Source.Microphone || pub.source === LK.Track.Source.Unknown;
  }

  function applySubscriptions() {
    if (!state.room) return;
    for (const p of state.room.remoteParticipants.values()) {
      for (const pub of audioPublications(p)) {
        const want = wantsTrack(p, pub);
        if (pub.isDesired !== want) pub.setSubscribed(want);
      }
    }
    checkAvailability();
  }

  function onTrackSubscribed(track, pub, p) {
    if (track.kind !== LK.Track.Kind.Audio) return;
    if (!wantsTrack(p, pub)) { pub.setSubscribed(false); return; }
    const media = track.attach();
    media.dataset.participant = p.identity;
    media.dataset.track = pub.trackName;
    $('audio-sink').appendChild(media);
    watchLevel(track);
    if (isTranslator(p)) {
      track.setVolume(interpretationVolume());
    } else {
      const d = duckState(p.identity);
      track.setVolume(d.volume);
    }
    renderParticipants();
  }

  function onTrackUnsubscribed(track, pub, p) {
    track.detach().forEach((m) => m.remove());
    state.meters.delete(track.sid);
    renderParticipants();
  }

  function forgetParticipant(p) {
    state.duck.delete(p.identity);
    state.missing.delete(p.identity);
  }

  function ensureAudioContext() {
    if (!state.audioContext) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      state.audioContext = new Ctx();
    }
    if (state.audioContext.state === 'suspended') state.audioContext.resume().catch(() => {});
    return state.audioContext;
  }

  function watchLevel(track) {
    const ctx = ensureAudioContext();
    if (!ctx || !track.mediaStreamTrack) return;
    const source = ctx.createMediaStreamSource(new MediaStream([track.mediaStreamTrack]));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
    state.meters.set(track.sid, { analyser, source, buffer: new Float32Array(analyser.fftSize) });
  }

  function levelOf(sid) {
    const meter = state.meters.get(sid);
    if (!meter) return 0;
    meter.analyser.getFloatTimeDomainData(meter.buffer);
    let sum = 0;
    for (const v of meter.buffer) sum += v * v;
    return Math.sqrt(sum / meter.buffer.length);
  }

  function interpretationVolume() {
    return Math.min(1, state.balance / 50);
  }

  function duckedVolume() {
    return (100 - state.balance) / 100;
  }

  function duckState(identity) {
    let d = state.duck.get(identity);
    if (!d) {
      d = { volume: 1, lowest: 1, lastVoiceAt: -Infinity, ducked: false };
      state.duck.set(identity, d);
    }
    return d;
  }

  function subscribedAudio(p, predicate) {
    for (const pub of audioPublications(p)) {
      if (pub.isSubscribed && pub.track && predicate(pub)) return pub;
    }
    return null;
  }

  function levelTick() {
    if (!state.room) return;
    const now = performance.now();
    for (const p of state.room.remoteParticipants.values()) {
      if (p.isAgent) continue;
      const original = subscribedAudio(p, (pub) => wantsTrack(p, pub));
      const d = duckState(p.identity);
      const translator = translatorOf(p.identity);
      const interp = translator && subscribedAudio(translator, (pub) => wantsTrack(translator, pub));
      if (interp && levelOf(interp.track.sid) > VOICE_THRESHOLD) {
        d.lastVoiceAt = now;
        if (state.firstInterpretationAt === null) {
          state.firstInterpretationAt = now;
          console.info('interpretation audible', Math.round(now - (state.joinClickedAt || now)), 'ms after join');
        }
      }
      const interpreting = now - d.lastVoiceAt < DUCK_HOLD_MS;
      const target = interpreting ? duckedVolume() : 1;
      const step = target < d.volume ? DUCK_ATTACK : DUCK_RELEASE;
      const next = Math.abs(target - d.volume) <= step ? target : d.volume + Math.sign(target - d.volume) * step;
      if (interpreting !== d.ducked) {
        d.ducked = interpreting;
        state.duckEvents.push({ speaker: p.identity, at: now, ducked: interpreting });
        if (state.duckEvents.length > 200) state.duckEvents.shift();
        renderParticipants();
      }
      if (next !== d.volume) {
        d.volume = next;
        d.lowest = Math.min(d.lowest, next);
        if (original) original.track.setVolume(next);
      }
    }
  }

  function startLevelLoop() {
    clearInterval(state.levelLoop);
    state.levelLoop = setInterval(levelTick, LEVEL_INTERVAL_MS);
  }

  function onBalance() {
    state.balance = Number($('balance').value);
    localStorage.setItem('interpreter.balance', String(state.balance));
    $('balance-value').textContent = `original at ${Math.round(duckedVolume() * 100)} %`;
    if (!state.room) return;
    for (const p of state.room.remoteParticipants.values()) {
      if (!isTranslator(p)) continue;
      for (const pub of audioPublications(p)) {
        if (pub.track) pub.track.setVolume(interpretationVolume());
      }
    }
  }

  // ---------------------------------------------------------------- language
  async function switchLanguage() {
    const wanted = $('hear').value;
    if (!state.room || wanted === state.language) return;
    const previous = state.language;
    $('hear').disabled = true;
    try {
      const result = await fetchJson('/api/language', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${state.token}` },
        body: JSON.stringify({ language: wanted }),
      });
      state.language = result.language;
      state.languageSince = performance.now();
      state.missing.clear();
      localStorage.setItem('interpreter.language', result.language);
      $('captions-language').textContent = `in ${languageName(state.language)}`;
      banner('language', '');
      markCaptionsStale();
      applySubscriptions();
      renderParticipants();
    } catch (e) {
      $('hear').value = previous;
      const why = e.kind === 'unreachable' ? 'the web server is unreachable' : e.message;
      banner('language', `Could not switch language: ${why}.`, 'error');
    } finally {
      $('hear').disabled = false;
    }
  }

  function checkAvailability() {
    if (!state.room) return;
    const missing = [];
    const waited = performance.now() - state.languageSince > UNAVAILABLE_AFTER_MS;
    for (const p of state.room.remoteParticipants.values()) {
      if (p.isAgent) continue;
      if (state.missing.has(p.identity)) {
        missing.push(displayName(p.identity));
        continue;
      }
      if (sameLanguage(p.attributes.language, state.language)) continue;
      const translator = translatorOf(p.identity);
      if (!translator || !audioPublications(p).length) continue;
      const has = audioPublications(translator).some((pub) => wantsTrack(translator, pub));
      if (!has && waited) missing.push(displayName(p.identity));
    }
    if (missing.length) {
      banner('language', `No interpretation into ${languageName(state.language)} from `
        + `${missing.join(', ')} yet; you hear the original.`, 'warning');
    } else {
      banner('language', '');
    }
  }

  // ---------------------------------------------------------------- captions
  async function onCaptionStream(reader, participantInfo) {
    const attrs = reader.info.attributes || {};
    let text;
    try {
      text = await reader.readAll();
    } catch (e) {
      return;
    }
    showCaption({
      speaker: participantInfo.identity,
      segmentId: attrs['lk.segment_id'] || reader.info.id,
      final: attrs['lk.transcription_final'] === 'true',
      language: attrs.language || '',
      sourceLanguage: attrs.source_language || attrs.language || '',
      translated: attrs.translated === 'true',
      text,
    });
  }

  function sourceId(c) {
    const suffix = `:${c.language}`;
    return c.translated && c.segmentId.endsWith(suffix)
      ? c.segmentId.slice(0, -suffix.length) : c.segmentId;
  }

  function showCaption(c) {
    if (!state.language || !c.text.trim()) return;
    const mine = sameLanguage(c.language, state.language);
    if (c.translated && !mine) return; // someone else's language
    const key = sourceId(c);
    let entry = state.captions.get(key);
    if (entry && entry.mine && !mine) return; // never replace my language by the original
    if (entry && entry.final && entry.mine && !c.final) return;
    const stick = state.stickToBottom;
    if (!entry) {
      entry = { row: el('div', 'caption'), speaker: c.speaker };
      const who = el('span', 'speaker', displayName(c.speaker));
      const body = el('span', 'text');
      const tag = el('span', 'lang-tag');
      entry.row.append(who, tag, body);
      entry.body = body;
      entry.tag = tag;
      $('captions').appendChild(entry.row);
      $('captions-empty').hidden = true;
      state.captions.set(key, entry);
      trimCaptions();
    }
    entry.mine = mine;
    entry.final = c.final;
    entry.language = c.language;
    entry.body.textContent = c.text;
    entry.body.lang = c.language;
    entry.tag.textContent = mine ? '' : c.language;
    entry.tag.title = mine ? '' : `original, ${languageName(c.language)}`;
    entry.row.classList.toggle('interim', !c.final || !mine);
    entry.row.classList.toggle('original', !mine);
    entry.row.classList.toggle('final', c.final && mine);
    entry.row.dataset.language = c.language;
    entry.row.dataset.speaker = c.speaker;
    if (c.final && mine) announce(`${displayName(c.speaker)}: ${c.text}`);
    if (c.translated && state.missing.delete(c.speaker)) checkAvailability();
    if (c.final && !mine) expectTranslation(key, c.speaker);
    if (stick) scrollToBottom();
  }

  function expectTranslation(key, speaker) {
    // a final sentence in another language should be followed by its interpretation into
    // mine; when it is not, there is none for this pair (no engine or voice for it)
    const language = state.language;
    setTimeout(() => {
      const entry = state.captions.get(key);
      if (state.language !== language || !entry || entry.mine) return;
      state.missing.add(speaker);
      checkAvailability();
    }, TRANSLATION_WAIT_MS);
  }

  function trimCaptions() {
    while (state.captions.size > MAX_CAPTIONS) {
      const [key, entry] = state.captions.entries().next().value;
      entry.row.remove();
      state.captions.delete(key);
    }
  }

  function markCaptionsStale() {
    // earlier captions stay readable; new ones arrive in the new language
    for (const entry of state.captions.values()) entry.row.classList.add('earlier');
    state.captions.clear();
    if (!$('captions-empty').hidden) return;
    const divider = el('p', 'caption-divider', `Now in ${languageName(state.language)}`);
    $('captions').appendChild(divider);
    if (state.stickToBottom) scrollToBottom();
  }

  function clearCaptions() {
    state.captions.clear();
    $('captions').replaceChildren($('captions-empty'));
    $('captions-empty').hidden = false;
    $('caption-announcer').replaceChildren();
  }

  function announce(text) {
    const region = $('caption-announcer');
    region.appendChild(el('p', null, text));
    while (region.childNodes.length > 5) region.firstChild.remove();
  }

  function scrollToBottom() {
    const box = $('captions');
    box.scrollTop = box.scrollHeight;
    state.stickToBottom = true;
    $('jump-latest').hidden = true;
  }

  function onCaptionScroll() {
    const box = $('captions');
    state.stickToBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 24;
    $('jump-latest').hidden = state.stickToBottom;
  }

  function onCaptionSize() {
    const size = Number($('caption-size').value);
    localStorage.setItem('interpreter.captionSize', String(size));
    $('captions').style.setProperty('--caption-size', `${size}px`);
  }

  // ---------------------------------------------------------------- participants
  function renderParticipants() {
    if (!state.room) return;
    const list = $('participants');
    const people = [state.room.localParticipant,
      ...Array.from(state.room.remoteParticipants.values()).filter((p) => !p.isAgent)];
    list.replaceChildren();
    for (const p of people) {
      const local = p === state.room.localParticipant;
      const li = el('li', 'person');
      li.dataset.identity = p.identity;
      const name = el('span', 'person-name', (p.name || p.identity) + (local ? ' (you)' : ''));
      const lang = p.attributes.language;
      const meta = el('span', 'person-lang', lang ? languageName(lang) : '');
      if (lang) meta.title = `hears ${languageName(lang)}`;
      li.append(name, meta);
      const badges = el('span', 'badges');
      if (p.attributes.role === 'listener') badges.appendChild(el('span', 'badge', 'listening'));
      const mic = audioPublications(p).find((pub) => pub.source === LK.Track.Source.Microphone);
      if (mic && mic.isMuted) badges.appendChild(el('span', 'badge', 'muted'));
      if (p.isSpeaking) badges.appendChild(el('span', 'badge speaking', 'speaking'));
      if (!local) {
        const d = state.duck.get(p.identity);
        if (d && d.ducked) badges.appendChild(el('span', 'badge interpreting', 'interpreted'));
      }
      li.appendChild(badges);
      list.appendChild(li);
    }
    checkAvailability();
  }

  // ---------------------------------------------------------------- microphone
  async function enableMic(on) {
    const button = $('mic');
    try {
      await state.room.localParticipant.setMicrophoneEnabled(on);
      banner('mic', '');
    } catch (e) {
      micProblem(e);
      on = false;
    }
    button.setAttribute('aria-pressed', String(on));
    button.textContent = on ? 'Microphone on' : 'Microphone off';
    button.classList.toggle('on', on);
    clearInterval(state.micLoop);
    state.micLoop = null;
    $('mic-level').style.width = '0%';
    if (on) startMicMeter();
    renderParticipants();
  }

  function micProblem(error) {
    const name = (error && error.name) || '';
    const denied = name === 'NotAllowedError' || name === 'SecurityError'
      || /permission|denied/i.test(String(error && error.message));
    const text = denied
      ? 'Microphone access was denied. You can still listen; allow the microphone for this '
        + 'site in your browser, then press the microphone button.'
      : 'No working microphone was found. You can still listen.';
    banner('mic', text, 'error');
  }

  function startMicMeter() {
    const pub = state.room.localParticipant.getTrackPublication(LK.Track.Source.Microphone);
    const ctx = ensureAudioContext();
    if (!pub || !pub.track || !ctx) return;
    const source = ctx.createMediaStreamSource(new MediaStream([pub.track.mediaStreamTrack]));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
    const buffer = new Float32Array(analyser.fftSize);
    state.micLoop = setInterval(() => {
      analyser.getFloatTimeDomainData(buffer);
      let sum = 0;
      for (const v of buffer) sum += v * v;
      const rms = Math.sqrt(sum / buffer.length);
      // about -60 dBFS .. 0 dBFS onto 0..100 %
      const pct = Math.max(0, Math.min(100, (20 * Math.log10(rms + 1e-9) + 60) * (100 / 60)));
      $('mic-level').style.width = `${pct.toFixed(0)}%`;
      state.micPeak = Math.max(state.micPeak || 0, rms);
    }, 100);
  }

  // ---------------------------------------------------------------- transcripts
  async function refreshTranscripts() {
    if (!state.room) return;
    const base = `/api/rooms/${encodeURIComponent(state.roomName)}/transcript`;
    const auth = { Authorization: `Bearer ${state.token}` };
    let body;
    try {
      const response = await fetch(`${base}/languages`, { headers: auth });
      if (!response.ok) throw new Error(String(response.status));
      body = await response.json();
    } catch (e) {
      $('transcripts').hidden = true; // not available (yet): nothing to offer
      return;
    }
    const raw = Array.isArray(body) ? body : (body.languages || []);
    const codes = raw.map((x) => (typeof x === 'string' ? x : x.code || x.language)).filter(Boolean);
    const list = $('transcript-links');
    list.replaceChildren();
    for (const code of codes) {
      const li = el('li');
      const label = code === 'original' ? 'Original' : languageName(code);
      li.appendChild(el('span', 'transcript-lang', label));
      for (const format of ['vtt', 'srt']) {
        const a = el('a', 'download', format.toUpperCase());
        a.href = `${base}.${format}?lang=${encodeURIComponent(code)}`;
        a.setAttribute('aria-label', `Download the ${label} transcript as ${format.toUpperCase()}`);
        a.addEventListener('click', (ev) => { ev.preventDefault(); download(a.href, code, format, auth); });
        li.appendChild(a);
      }
      list.appendChild(li);
    }
    $('transcripts').hidden = codes.length === 0;
  }

  async function download(url, code, format, headers) {
    try {
      const response = await fetch(url, { headers });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const blob = await response.blob();
      const link = el('a');
      link.href = URL.createObjectURL(blob);
      link.download = `${state.roomName}-${code}.${format}`;
      document.body.appendChild(link);
      link.click();
      setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
    } catch (e) {
      banner('transcript', `The transcript could not be downloaded (${e.message}).`, 'error');
    }
  }

  // ---------------------------------------------------------------- start
  function init() {
    if (!LK) {
      showJoinError('The page could not load its LiveKit library (web/static/vendor is missing: '
        + 'run scripts/fetch_web_assets.sh).');
      $('join').disabled = true;
      return;
    }
    $('join-form').addEventListener('submit', onJoin);
    $('leave').addEventListener('click', () => leave(true));
    $('mic').addEventListener('click', () => {
      enableMic($('mic').getAttribute('aria-pressed') !== 'true');
    });
    $('hear').addEventListener('change', switchLanguage);
    $('balance').addEventListener('input', onBalance);
    $('caption-size').addEventListener('input', onCaptionSize);
    $('captions').addEventListener('scroll', onCaptionScroll);
    $('jump-latest').addEventListener('click', scrollToBottom);
    const balance = localStorage.getItem('interpreter.balance');
    if (balance !== null) $('balance').value = balance;
    const size = localStorage.getItem('interpreter.captionSize');
    if (size !== null) $('caption-size').value = size;
    onBalance();
    onCaptionSize();
    loadForm();
  }

  // read-only view of the page's state, for the browser tests and for debugging
  window.interpreterPage = {
    snapshot() {
      const room = state.room;
      const subscribed = [];
      if (room) {
        for (const p of room.remoteParticipants.values()) {
          for (const pub of audioPublications(p)) {
            if (pub.isSubscribed) subscribed.push({ participant: p.identity, track: pub.trackName });
          }
        }
      }
      const originals = {};
      for (const [identity, d] of state.duck) {
        originals[identity] = { volume: d.volume, lowest: d.lowest, ducked: d.ducked };
      }
      return {
        joined: Boolean(room && room.state === 'connected'),
        identity: state.identity,
        language: state.language,
        subscribed,
        originals,
        duckEvents: state.duckEvents.slice(),
        captions: Array.from(document.querySelectorAll('#captions .caption')).map((row) => ({
          speaker: row.dataset.speaker,
          language: row.dataset.language,
          final: row.classList.contains('final'),
          earlier: row.classList.contains('earlier'),
          text: row.querySelector('.text').textContent,
        })),
        joinToInterpretationMs: state.firstInterpretationAt === null || state.joinClickedAt === null
          ? null : state.firstInterpretationAt - state.joinClickedAt,
        micPeak: state.micPeak || 0,
        banners: Array.from(document.querySelectorAll('#banners .banner')).map((b) => b.dataset.banner),
      };
    },
  };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
