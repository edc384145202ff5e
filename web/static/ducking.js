/* Ducking: while a speaker's interpretation is audible, that speaker's original is lowered to
 * the balance's level (15 % by default) and restored, slowly, when the interpretation stops.
 *
 * Events (CustomEvent on the Ducker):
 *   audible  {speaker}                    an interpretation of `speaker` is playing (each tick)
 *   volume   {speaker, volume, ducked}    the original's volume or state changed
 */

import { LevelMeter } from './audio.js';

const TICK_MS = 50;
const VOICE_THRESHOLD = 0.01; // RMS of the interpretation that counts as "playing"
const HOLD_MS = 700; // keep ducking through short pauses between words
const ATTACK = 0.35; // volume change per tick while ducking (fast)
const RELEASE = 0.06; // volume change per tick while restoring (slow)

export class Ducker extends EventTarget {
  /** @param {import('./room.js').MeetingRoom} room */
  constructor(room, { balance = 85 } = {}) {
    super();
    this.room = room;
    this.balance = balance; // 0..100: 100 = interpretation only, 0 = original only
    this.meters = new Map(); // track sid -> LevelMeter
    this.originals = new Map(); // speaker identity -> {volume, lastVoiceAt, ducked}
    this.timer = null;
    room.addEventListener('track', (e) => this.onTrack(e.detail));
    room.addEventListener('trackended', (e) => this.forgetTrack(e.detail.track));
    room.addEventListener('left', (e) => this.originals.delete(e.detail.participant.identity));
    room.addEventListener('disconnected', () => this.stop());
  }

  start() {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    for (const meter of this.meters.values()) meter.close();
    this.meters.clear();
    this.originals.clear();
  }

  /** The original's level while ducked (0..1). */
  duckedVolume() {
    return (100 - this.balance) / 100;
  }

  interpretationVolume() {
    return Math.min(1, this.balance / 50);
  }

  setBalance(balance) {
    this.balance = balance;
    for (const p of this.room.remotes()) {
      if (!this.room.isInterpretation(p)) continue;
      for (const pub of this.room.audioPublications(p)) {
        if (pub.track) pub.track.setVolume(this.interpretationVolume());
      }
    }
  }

  original(identity) {
    let d = this.originals.get(identity);
    if (!d) {
      d = { volume: 1, lastVoiceAt: -Infinity, ducked: false };
      this.originals.set(identity, d);
    }
    return d;
  }

  onTrack({ track, participant, interpretation }) {
    this.meters.set(track.sid, new LevelMeter(track.mediaStreamTrack));
    track.setVolume(interpretation ? this.interpretationVolume()
      : this.original(participant.identity).volume);
  }

  forgetTrack(track) {
    const meter = this.meters.get(track.sid);
    if (meter) meter.close();
    this.meters.delete(track.sid);
  }

  levelOf(pub) {
    const meter = pub && pub.track && this.meters.get(pub.track.sid);
    return meter ? meter.level() : 0;
  }

  tick() {
    const now = performance.now();
    for (const speaker of this.room.speakers()) {
      const d = this.original(speaker.identity);
      const voiced = this.room.interpretationsOf(speaker)
        .some((pub) => this.levelOf(pub) > VOICE_THRESHOLD);
      if (voiced) {
        d.lastVoiceAt = now;
        this.dispatchEvent(new CustomEvent('audible', { detail: { speaker: speaker.identity } }));
      }
      const interpreting = now - d.lastVoiceAt < HOLD_MS;
      const target = interpreting ? this.duckedVolume() : 1;
      const step = target < d.volume ? ATTACK : RELEASE;
      const next = Math.abs(target - d.volume) <= step
        ? target : d.volume + Math.sign(target - d.volume) * step;
      if (interpreting === d.ducked && next === d.volume) continue;
      d.ducked = interpreting;
      d.volume = next;
      const original = this.room.playing(speaker);
      if (original) original.track.setVolume(next);
      this.dispatchEvent(new CustomEvent('volume', {
        detail: { speaker: speaker.identity, volume: next, ducked: interpreting },
      }));
    }
  }
}
