/* A LiveKit room as one person of this system takes part in it: which audio to hear, and who
 * interprets whom. Reusable by any page: it touches no element but the audio sink it is given,
 * and reports through events.
 *
 * Audio rule (the listener policy): every human speaker's microphone (the original); from each
 * translator agent, the one track named with a language that matches mine (exact name first);
 * from a human interpreter, their track in my language while they are live on it.
 *
 * Events (CustomEvent, `detail` as listed):
 *   change              participants, tracks, attributes or speakers changed (re-render)
 *   track               {track, publication, participant, interpretation} audio now playing
 *   trackended          {track, participant}
 *   reconnecting, reconnected
 *   disconnected        {byUser} after the room was connected
 *   playback            {allowed} whether the browser lets the page play sound
 *   mediaerror          {error} microphone or device trouble
 */

export class MeetingRoom extends EventTarget {
  /**
   * @param {object} options
   * @param {object} options.LK        the livekit-client module
   * @param {import('./protocol.js').Protocol} options.protocol
   * @param {HTMLElement} options.audioSink  where audio elements go (hidden)
   * @param {(room: MeetingRoom, participant, publication) => boolean} [options.wants]
   *        the subscription policy (default: the listener policy above)
   */
  constructor({ LK, protocol, audioSink, wants }) {
    super();
    this.LK = LK;
    this.protocol = protocol;
    this.audioSink = audioSink;
    this.wants = wants || ((room, p, pub) => room.listenerWants(p, pub));
    this.lk = null;
    this.grant = null;
    this.language = null;
    this.languageSince = 0;
    this.connected = false;
    this.textHandlers = new Map();
  }

  get identity() { return this.grant && this.grant.identity; }

  get roomName() { return this.grant && this.grant.room; }

  get token() { return this.grant && this.grant.token; }

  get role() { return this.grant && this.grant.role; }

  get local() { return this.lk && this.lk.localParticipant; }

  /** Handle text streams on `topic` in every room this object connects to. */
  handleText(topic, handler) {
    this.textHandlers.set(topic, handler);
    if (this.lk) this.lk.registerTextStreamHandler(topic, handler);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Join with a grant from POST /api/token ({url, token, identity, room, role, language}). */
  async connect(grant) {
    const { LK } = this;
    this.grant = grant;
    this.language = grant.language;
    this.languageSince = performance.now();
    const room = new LK.Room({ adaptiveStream: false, dynacast: false, disconnectOnPageLeave: true });
    this.lk = room;
    const changed = () => this.emit('change');
    const resubscribe = () => { this.applySubscriptions(); changed(); };
    const E = LK.RoomEvent;
    room
      .on(E.ParticipantConnected, resubscribe)
      .on(E.ParticipantDisconnected, (p) => { this.emit('left', { participant: p }); changed(); })
      .on(E.TrackPublished, resubscribe)
      .on(E.TrackUnpublished, changed)
      .on(E.TrackSubscribed, (track, pub, p) => this.onTrackSubscribed(track, pub, p))
      .on(E.TrackUnsubscribed, (track, pub, p) => this.onTrackUnsubscribed(track, pub, p))
      .on(E.TrackMuted, changed)
      .on(E.TrackUnmuted, changed)
      .on(E.ParticipantAttributesChanged, resubscribe)
      .on(E.ParticipantNameChanged, changed)
      .on(E.ActiveSpeakersChanged, changed)
      .on(E.Reconnecting, () => this.emit('reconnecting'))
      .on(E.Reconnected, () => { this.applySubscriptions(); this.emit('reconnected'); })
      .on(E.Disconnected, (reason) => this.onDisconnected(room, reason))
      .on(E.MediaDevicesError, (error) => this.emit('mediaerror', { error }))
      .on(E.AudioPlaybackStatusChanged, () => {
        this.emit('playback', { allowed: room.canPlaybackAudio });
      });
    for (const [topic, handler] of this.textHandlers) room.registerTextStreamHandler(topic, handler);
    try {
      await room.connect(grant.url, grant.token, { autoSubscribe: false });
    } catch (e) {
      this.release();
      throw e;
    }
    this.connected = true;
    this.applySubscriptions();
    room.startAudio().catch(() => {});
    changed();
  }

  /** Allow sound after the browser blocked it (call from a click). */
  startAudio() {
    return this.lk ? this.lk.startAudio() : Promise.resolve();
  }

  onDisconnected(room, reason) {
    if (room !== this.lk || !this.connected) return; // a failed connect is the caller's to report
    const byUser = reason === this.LK.DisconnectReason.CLIENT_INITIATED;
    this.release();
    this.emit('disconnected', { byUser });
  }

  release() {
    this.connected = false;
    this.lk = null;
    if (this.audioSink) this.audioSink.replaceChildren();
  }

  async disconnect() {
    const room = this.lk;
    this.release();
    if (room) await room.disconnect();
  }

  /** Hear `language` from now on (the attribute itself is changed by the server). */
  setLanguage(language) {
    this.language = language;
    this.languageSince = performance.now();
    this.applySubscriptions();
    this.emit('change');
  }

  // ------------------------------------------------------------------ who is who
  remotes() {
    return this.lk ? Array.from(this.lk.remoteParticipants.values()) : [];
  }

  /** The humans in the room, me first. */
  people() {
    if (!this.lk) return [];
    return [this.lk.localParticipant, ...this.remotes().filter((p) => !p.isAgent)];
  }

  speakers() {
    return this.remotes().filter((p) => !p.isAgent && !this.protocol.isInterpreter(p));
  }

  translatorOf(speakerIdentity) {
    return this.remotes().find((p) => this.protocol.isTranslator(p)
      && this.protocol.speakerOfAgent(p) === speakerIdentity) || null;
  }

  displayName(identity) {
    if (!this.lk) return identity;
    if (identity === this.lk.localParticipant.identity) {
      return this.lk.localParticipant.name || identity;
    }
    const p = this.lk.remoteParticipants.get(identity);
    return (p && p.name) || identity;
  }

  audioPublications(p) {
    return Array.from(p.trackPublications.values())
      .filter((pub) => pub.kind === this.LK.Track.Kind.Audio);
  }

  /** Of `publications`, the one that serves a listener of my language best. */
  bestTrack(publications) {
    const language = this.language;
    if (!language) return null;
    const exact = publications.find((pub) => pub.trackName === language);
    if (exact) return exact;
    const matching = publications.filter((pub) => this.protocol.matches(pub.trackName, language));
    matching.sort((a, b) => a.trackName.localeCompare(b.trackName));
    return matching[0] || null;
  }

  // ------------------------------------------------------------------ subscriptions
  listenerWants(p, pub) {
    const { LK, protocol } = this;
    if (pub.kind !== LK.Track.Kind.Audio) return false;
    if (protocol.isTranslator(p)) return pub === this.bestTrack(this.audioPublications(p));
    if (p.isAgent) return false;
    if (protocol.isInterpreter(p)) {
      const live = protocol.liveLanguageOf(p);
      return Boolean(live && protocol.matches(live, this.language))
        && pub === this.bestTrack(this.audioPublications(p));
    }
    return pub.source === LK.Track.Source.Microphone || pub.source === LK.Track.Source.Unknown;
  }

  isInterpretation(p) {
    return this.protocol.isTranslator(p) || this.protocol.isInterpreter(p);
  }

  applySubscriptions() {
    for (const p of this.remotes()) {
      for (const pub of this.audioPublications(p)) {
        const want = this.wants(this, p, pub);
        if (pub.isDesired !== want) pub.setSubscribed(want);
      }
    }
  }

  onTrackSubscribed(track, pub, p) {
    if (track.kind !== this.LK.Track.Kind.Audio) return;
    if (!this.wants(this, p, pub)) { pub.setSubscribed(false); return; }
    const media = track.attach();
    media.dataset.participant = p.identity;
    media.dataset.track = pub.trackName;
    if (this.audioSink) this.audioSink.appendChild(media);
    this.emit('track', {
      track, publication: pub, participant: p, interpretation: this.isInterpretation(p),
    });
    this.emit('change');
  }

  onTrackUnsubscribed(track, pub, p) {
    track.detach().forEach((m) => m.remove());
    this.emit('trackended', { track, participant: p });
    this.emit('change');
  }

  /** The playing track of `p` this policy wants, or null. */
  playing(p) {
    if (!p) return null;
    for (const pub of this.audioPublications(p)) {
      if (pub.isSubscribed && pub.track && this.wants(this, p, pub)) return pub;
    }
    return null;
  }

  /** What interprets `speaker` for me now: their translator's track, or a live interpreter's
   * on my language (who interprets whoever has the floor). */
  interpretationsOf(speaker) {
    const found = [];
    const agent = this.playing(this.translatorOf(speaker.identity));
    if (agent) found.push(agent);
    for (const p of this.remotes()) {
      if (this.protocol.isInterpreter(p) && p !== speaker) {
        const pub = this.playing(p);
        if (pub) found.push(pub);
      }
    }
    return found;
  }

  /** Speakers whose translator publishes nothing in my language (after `graceMs` on it). */
  uninterpreted(graceMs) {
    const waited = performance.now() - this.languageSince > graceMs;
    if (!waited) return [];
    const missing = [];
    for (const p of this.speakers()) {
      if (this.protocol.matches(this.protocol.languageOf(p), this.language)) continue;
      const translator = this.translatorOf(p.identity);
      if (!translator || !this.audioPublications(p).length) continue;
      if (!this.bestTrack(this.audioPublications(translator))) missing.push(p.identity);
    }
    return missing;
  }

  // ------------------------------------------------------------------ microphone
  async setMicrophone(on) {
    await this.lk.localParticipant.setMicrophoneEnabled(on);
  }

  microphoneTrack() {
    const pub = this.lk && this.lk.localParticipant.getTrackPublication(this.LK.Track.Source.Microphone);
    return pub && pub.track ? pub.track : null;
  }

  /** The microphone publication of `p` (local or remote), or undefined. */
  microphoneOf(p) {
    return this.audioPublications(p).find((pub) => pub.source === this.LK.Track.Source.Microphone);
  }

  isMuted(p) {
    const mic = this.microphoneOf(p);
    return Boolean(mic && mic.isMuted);
  }

  /** Whether `p` has a microphone published and unmuted. */
  isMicOpen(p) {
    const mic = this.microphoneOf(p);
    return Boolean(mic && !mic.isMuted);
  }

  /** Publish my microphone as a track named `name` (an interpreter's track carries the
   * language they voice). Already published under another name: the same capture is
   * unpublished and published again under `name`, muted or not as it was, so the level meter
   * and the device stay; a new capture starts `muted` if asked. Returns the publication. */
  async publishMicrophone(name, { captureOptions, muted = false } = {}) {
    const { LK } = this;
    const local = this.lk.localParticipant;
    const current = local.getTrackPublication(LK.Track.Source.Microphone);
    if (current && current.track && current.trackName === name) return current;
    let track;
    if (current && current.track) {
      track = current.track;
      await local.unpublishTrack(track, false);
    } else {
      track = await LK.createLocalAudioTrack(captureOptions);
      if (muted) await track.mute(); // published muted: never open for an instant
    }
    const publication = await local.publishTrack(track, {
      name, source: LK.Track.Source.Microphone,
    });
    this.emit('change');
    return publication;
  }

  /** Mute or unmute my published microphone (the track stays published). */
  async muteMicrophone(muted) {
    const pub = this.lk && this.microphoneOf(this.lk.localParticipant);
    if (!pub || !pub.track) return;
    if (muted) await pub.mute();
    else await pub.unmute();
    this.emit('change');
  }
}
