/* Web Audio helpers: one AudioContext per page, and level meters on media tracks. */

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
