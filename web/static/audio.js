/* Web Audio helpers: one AudioContext per page, level meters on media tracks, and the bar that
 * shows a microphone's level (the meeting page and the interpreter console both draw one). */

let context = null;

/** The page's AudioContext (created on first use: call it from a click, so it may play). */
export function audioContext() {
  if (!context) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    context = new Ctx();
  }
  if (context.state === 'suspended') context.resume().catch(() => {});
  return context;
}

/** The RMS level (0..1) of a MediaStreamTrack, read on demand. */
export class LevelMeter {
  constructor(mediaStreamTrack) {
    const ctx = audioContext();
    this.analyser = null;
    if (!ctx || !mediaStreamTrack) return;
    this.source = ctx.createMediaStreamSource(new MediaStream([mediaStreamTrack]));
    this.analyser = ctx.createAnalyser();
    this.analyser.fftSize = 1024;
    this.source.connect(this.analyser);
    this.buffer = new Float32Array(this.analyser.fftSize);
  }

  level() {
    if (!this.analyser) return 0;
    this.analyser.getFloatTimeDomainData(this.buffer);
    let sum = 0;
    for (const v of this.buffer) sum += v * v;
    return Math.sqrt(sum / this.buffer.length);
  }

  close() {
    if (this.source) this.source.disconnect();
    this.analyser = null;
  }
}

const BAR_MS = 100;

/** A track's level drawn as the width of `fill` (about -60..0 dBFS onto 0..100 %) every
 * 100 ms; `onLevel(rms)` hears every reading (a page keeps its peak). */
export class LevelBar {
  constructor(mediaStreamTrack, fill, { onLevel = () => {} } = {}) {
    this.track = mediaStreamTrack;
    this.fill = fill;
    this.meter = new LevelMeter(mediaStreamTrack);
    this.timer = setInterval(() => {
      const rms = this.meter.level();
      const pct = Math.max(0, Math.min(100, (20 * Math.log10(rms + 1e-9) + 60) * (100 / 60)));
      this.fill.style.width = `${pct.toFixed(0)}%`;
      onLevel(rms);
    }, BAR_MS);
  }

  close() {
    clearInterval(this.timer);
    this.meter.close();
    this.fill.style.width = '0%';
  }
}

/** Whether a getUserMedia failure means the person (or the browser) refused the microphone,
 * rather than there being none that works. */
export function microphoneRefused(error) {
  const name = (error && error.name) || '';
  return name === 'NotAllowedError' || name === 'SecurityError'
    || /permission|denied/i.test(String(error && error.message));
}
