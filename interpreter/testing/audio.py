"""Real audio for tests: espeak-ng and Piper speech, WAV I/O, and signal comparison."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

Float = NDArray[np.float32]


def speak_to_wav(text: str, path: Path, *, voice: str = "en", rate: int = 16000) -> Path:
    """Render ``text`` with espeak-ng and resample it to ``rate`` Hz mono 16-bit."""
    raw = path.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    samples, src_rate = read_wav(raw)
    write_wav(path, resample(samples, src_rate, rate), rate)
    raw.unlink()
    return path


def read_wav(path: Path) -> tuple[Float, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2, "16-bit PCM expected"
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        if w.getnchannels() > 1:
            data = data.reshape(-1, w.getnchannels()).mean(axis=1).astype(np.int16)
        return (data.astype(np.float32) / 32768.0), w.getframerate()


def write_wav(path: Path, samples: Float, rate: int) -> None:
    pcm = np.clip(samples * 32768.0, -32768, 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def piper_speech(text: str, *, rate: int = 16000) -> Float:
    """``text`` read by the packaged English Piper voice (far more natural than espeak-ng's
    English, which Whisper often mishears), resampled to ``rate`` Hz."""
    from interpreter.providers.piper_tts import load_piper_voice

    voice = load_piper_voice()
    parts = [
        resample(chunk.audio_float_array.astype(np.float32), chunk.sample_rate, rate)
        for chunk in voice.synthesize(text)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def resample(samples: Float, src: int, dst: int) -> Float:
    """Band-limited enough for tests: linear interpolation on a fine grid."""
    if src == dst:
        return samples
    n = round(len(samples) * dst / src)
    x_old = np.arange(len(samples)) / src
    x_new = np.arange(n) / dst
    return np.interp(x_new, x_old, samples).astype(np.float32)


def active_span(samples: Float, rate: int, *, threshold_db: float = -40.0) -> tuple[int, int]:
    """First and last sample of the part louder than ``threshold_db`` (10 ms windows)."""
    win = rate // 100
    n = len(samples) // win
    if n == 0:
        return 0, 0
    rms = np.sqrt(np.mean(samples[: n * win].reshape(n, win) ** 2, axis=1) + 1e-12)
    loud = np.nonzero(20 * np.log10(rms) > threshold_db)[0]
    if len(loud) == 0:
        return 0, 0
    return int(loud[0] * win), int((loud[-1] + 1) * win)


def aligned_correlation(sent: Float, received: Float, *, rate: int = 16000) -> float:
    """Normalised cross-correlation of ``sent`` with ``received`` after alignment.

    Where the first second of ``sent`` lies in ``received`` comes from a cross-correlation. A
    real-time receiver's jitter buffer then stretches and shrinks the timing mid-stream (by
    tens of milliseconds, and the shifts add up over a clip; on a busy machine it may also
    insert a few hundred milliseconds of concealment at once), so each 0.5 s window is
    re-aligned within +-60 ms of where the previous clear match was, and a window with no clear
    match there is searched for within +-400 ms (re-acquiring after a long insertion; the
    window that holds the insertion itself still scores low). The result is the
    energy-weighted mean of the windows' correlations (1.0 = identical waveforms).
    """
    a = sent - sent.mean()
    b = received - received.mean()
    win = rate // 2
    near, far = (rate * 60) // 1000, (rate * 400) // 1000
    head = a[: 2 * win]  # where the first second of what was sent is in what was received
    size = 1 << int(np.ceil(np.log2(len(head) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(head, size)), size)
    lag = int(np.argmax(corr[: len(b)]))
    total = weight = 0.0
    for start in range(0, len(a) - win + 1, win):
        ref = a[start : start + win]
        energy = float(np.dot(ref, ref))
        if energy <= 0:
            continue
        best, best_lag = _best_match(ref, b, lag + start, near)
        if best < 0.5:
            best, best_lag = max((best, best_lag), _best_match(ref, b, lag + start, far))
        if best >= 0.5:  # a clear match: follow the drift from there
            lag = best_lag - start
        total += best * energy
        weight += energy
    return total / weight if weight else 0.0


def _best_match(ref: Float, b: Float, at: int, slack: int) -> tuple[float, int]:
    """The best normalised correlation of ``ref`` with ``b`` within ``at`` +- ``slack``
    samples, and where it is."""
    lo, hi = max(0, at - slack), min(len(b) - len(ref), at + slack)
    if hi < lo:
        return 0.0, at
    span = b[lo : hi + len(ref)]
    dots = np.correlate(span, ref, mode="valid")
    energies = np.convolve(span * span, np.ones(len(ref)), mode="valid")
    norms = np.sqrt(np.maximum(energies, 0.0)) * float(np.linalg.norm(ref))
    scores = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)
    i = int(np.argmax(scores))
    return float(scores[i]), lo + i
