from __future__ import annotations

import numpy as np
from livekit import rtc

from interpreter.voice_channel import OUTPUT_RATE, TrailTrimmer


def frame(level: float, ms: int = 10) -> rtc.AudioFrame:
    n = OUTPUT_RATE * ms // 1000
    t = np.arange(n) / OUTPUT_RATE
    pcm = (level * 32767 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)
    return rtc.AudioFrame(pcm.tobytes(), OUTPUT_RATE, 1, n)


def seconds(frames: list[rtc.AudioFrame]) -> float:
    return sum(f.samples_per_channel for f in frames) / OUTPUT_RATE


def test_the_silence_after_the_last_word_is_cut_to_a_tenth_of_a_second() -> None:
    trimmer = TrailTrimmer(keep=0.1)
    played: list[rtc.AudioFrame] = []
    for f in [frame(0.3)] * 50 + [frame(0.0)] * 40:  # 0.5 s of voice, 0.4 s of silence
        played += trimmer.push(f)
    played += trimmer.end()
    assert seconds(played) == 0.6


def test_pauses_inside_a_unit_are_kept_whole() -> None:
    trimmer = TrailTrimmer(keep=0.1)
    unit = [frame(0.3)] * 20 + [frame(0.0)] * 30 + [frame(0.3)] * 20 + [frame(0.0)] * 5
    played: list[rtc.AudioFrame] = []
    for f in unit:
        played += trimmer.push(f)
    played += trimmer.end()
    assert seconds(played) == seconds(unit)
    # and nothing is reordered
    assert [bytes(f.data) for f in played] == [bytes(f.data) for f in unit]


def test_quiet_speech_is_not_taken_for_silence() -> None:
    trimmer = TrailTrimmer(keep=0.0)
    played = trimmer.push(frame(0.02)) + trimmer.end()  # about -37 dBFS RMS
    assert seconds(played) == 0.01
