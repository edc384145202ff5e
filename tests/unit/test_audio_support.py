"""The signal comparison the media tests rely on must tell matching audio from other audio."""

from __future__ import annotations

import numpy as np

from interpreter.testing.audio import active_span, aligned_correlation


def _speechlike(seed: int, seconds: float = 2.0, rate: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    envelope = (np.sin(2 * np.pi * 3 * t) > 0).astype(np.float32)
    tone = np.sin(2 * np.pi * rng.uniform(120, 300) * t) + 0.3 * rng.standard_normal(len(t))
    return (0.3 * envelope * tone).astype(np.float32)


def test_delayed_copy_correlates() -> None:
    a = _speechlike(1)
    delayed = np.concatenate([np.zeros(3210, dtype=np.float32), a, np.zeros(500, np.float32)])
    assert aligned_correlation(a, delayed) > 0.99


def test_other_audio_does_not_correlate() -> None:
    assert aligned_correlation(_speechlike(1), _speechlike(2)) < 0.5


def test_active_span_ignores_silence() -> None:
    rate = 16000
    a = np.concatenate(
        [np.zeros(rate, np.float32), _speechlike(3, 1.0), np.zeros(rate, np.float32)]
    )
    start, end = active_span(a, rate)
    # the 3 Hz envelope's last burst ends 5/6 s into the second of sound
    assert abs(start - rate) <= rate // 50
    assert abs(end - (rate + 5 * rate // 6)) <= rate // 50


def _bursts(seed: int, seconds: float, rate: int = 16000) -> np.ndarray:
    """Noise in bursts of random length: nothing in it repeats, unlike a steady tone."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * rate), np.float32)
    pos = 0
    while pos < len(out):
        size = int(rng.uniform(0.1, 0.4) * rate)
        out[pos : pos + size] = 0.3 * rng.standard_normal(len(out[pos : pos + size]))
        pos += size + int(rng.uniform(0.05, 0.2) * rate)
    return out


def test_a_jitter_buffer_drifting_the_timing_still_correlates() -> None:
    # what a receiver's jitter buffer does over a clip: 40 ms stretches that add up to 0.2 s
    rate = 16000
    a = _bursts(4, seconds=5.0)
    parts, gap = [], np.zeros(rate // 25, np.float32)
    for k in range(5):
        parts += [a[k * rate : (k + 1) * rate], gap]
    stretched = np.concatenate(parts)
    assert aligned_correlation(a, stretched) > 0.8
    assert aligned_correlation(_bursts(5, seconds=5.0), stretched) < 0.5


def test_a_long_concealment_inserted_at_once_costs_one_window_only() -> None:
    # a busy receiver's jitter buffer may insert a quarter second of concealment in one go
    rate = 16000
    a = _bursts(5, seconds=5.0)
    cut = int(1.7 * rate)
    gap = np.zeros(rate // 4, dtype=np.float32)
    stretched = np.concatenate([np.zeros(rate // 3, np.float32), a[:cut], gap, a[cut:]])
    assert aligned_correlation(a, stretched) > 0.8
    assert aligned_correlation(_bursts(6, seconds=5.0), stretched) < 0.5
