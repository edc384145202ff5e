from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc

from interpreter import tasks
from interpreter.pacing import Pacing
from interpreter.testing.checks import eventually, metric_value
from interpreter.testing.fakes import FakeAudioSource, FakeClock, FakeRoom, FakeTTS
from interpreter.voice_channel import OUTPUT_RATE, TrailTrimmer, VoiceChannel, VoiceUnit
from languages import Language


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


def test_the_silence_before_the_first_word_is_cut_to_twenty_milliseconds() -> None:
    # the voice is heard as soon as it sounds; a pause inside the unit stays whole
    trimmer = TrailTrimmer(keep=0.1, lead=0.02)
    lead, voice, pause = [frame(0.0)] * 7, [frame(0.3)] * 10, [frame(0.0)] * 7
    played: list[rtc.AudioFrame] = []
    for f in lead + voice + pause + voice:
        played += trimmer.push(f)
    played += trimmer.end()
    assert seconds(played) == pytest.approx(0.02 + 0.1 + 0.07 + 0.1)
    assert [bytes(f.data) for f in played[:2]] == [bytes(frame(0.0).data)] * 2
    assert bytes(played[2].data) == bytes(frame(0.3).data)


def test_quiet_speech_is_not_taken_for_silence() -> None:
    trimmer = TrailTrimmer(keep=0.0)
    played = trimmer.push(frame(0.02)) + trimmer.end()  # about -37 dBFS RMS
    assert seconds(played) == 0.01


# --- the channel on fakes ------------------------------------------------------------------------


def channel(
    room: FakeRoom,
    voice: FakeTTS,
    clock: FakeClock,
    language: str = "pt-BR",
    *,
    source: FakeAudioSource | None = None,
) -> tuple[VoiceChannel, FakeAudioSource]:
    source = source or FakeAudioSource()
    ch = VoiceChannel(
        room=room,  # type: ignore[arg-type]
        language=Language(language),
        tts=voice,
        pacing=Pacing(max_lag=4.0, relaxed=1.0, full_speed=2.5, max_speed=1.3),
        clock=clock,
        audio_source=lambda: source,
    )
    return ch, source


async def test_the_track_is_named_with_its_language_and_units_are_voiced_in_order() -> None:
    room, clock, voice = FakeRoom(), FakeClock(), FakeTTS(seconds=0.1)
    ch, source = channel(room, voice, clock)
    await ch.start()
    try:
        assert room.local_participant.published == ["pt-BR"]
        for i in range(3):
            ch.say(VoiceUnit(segment_id=f"s{i}", text=f"unit {i}", speech_end=clock()))
        # each unit ends with the framework's 10 ms end-of-segment marker
        played = 0.3 + 3 * 0.01
        await eventually(lambda: len(voice.spoken) == 3 and source.seconds >= played - 1e-6)
        await asyncio.sleep(0.02)
        assert [text for text, _ in voice.spoken] == ["unit 0", "unit 1", "unit 2"]
        assert source.seconds == pytest.approx(played)
        assert all(f.sample_rate == OUTPUT_RATE for f in source.frames)
    finally:
        await ch.aclose()
    assert room.local_participant.published == []
    assert voice.closed


@pytest.mark.parametrize(("voiced", "silence"), [(0.2, 0.5), (1.0, 0.3)])
async def test_a_voiced_unit_keeps_a_tenth_of_a_second_of_silence_and_goes_out_in_whole_frames(
    voiced: float, silence: float
) -> None:
    # silence is judged in 10 ms pieces, but the audio source gets a handful of frames of at
    # most 200 ms, not one call per piece
    room, clock, voice = FakeRoom(), FakeClock(), FakeTTS(seconds=voiced, silence=silence)
    ch, source = channel(room, voice, clock)
    await ch.start()
    try:
        ch.say(VoiceUnit(segment_id="s", text="hola", speech_end=clock()))
        await eventually(lambda: bool(voice.spoken) and source.seconds >= voiced + 0.1 - 1e-6)
        await asyncio.sleep(0.02)
        assert source.seconds == pytest.approx(voiced + 0.1)
        assert len(source.frames) <= 4 + 10 * voiced  # 10 ms pieces would be 100 per second
        assert max(f.samples_per_channel for f in source.frames) <= OUTPUT_RATE // 5
    finally:
        await ch.aclose()


async def test_under_lag_the_voice_speeds_up_and_stale_units_are_skipped_and_counted() -> None:
    room, clock, voice = FakeRoom(), FakeClock(), FakeTTS(seconds=0.05)
    ch, _ = channel(room, voice, clock, "es")
    skipped = metric_value("interpreter_voice_skipped_total", target_language="es")
    sped_up = metric_value("interpreter_voice_speedup_total", target_language="es")
    await ch.start()
    try:
        now = clock()
        ch.say(VoiceUnit(segment_id="on-time", text="a", speech_end=now - 0.5))
        ch.say(VoiceUnit(segment_id="late", text="b", speech_end=now - 1.75))
        ch.say(VoiceUnit(segment_id="later", text="c", speech_end=now - 3.0))
        ch.say(VoiceUnit(segment_id="stale", text="d", speech_end=now - 4.5))
        ch.say(VoiceUnit(segment_id="next", text="e", speech_end=now))
        await eventually(lambda: len(voice.spoken) == 4)
        assert voice.spoken == [("a", 1.0), ("b", 1.15), ("c", 1.3), ("e", 1.0)]
        assert metric_value("interpreter_voice_skipped_total", target_language="es") == skipped + 1
        assert metric_value("interpreter_voice_speedup_total", target_language="es") == sped_up + 2
    finally:
        await ch.aclose()


async def test_a_failed_unit_is_counted_and_the_next_one_is_voiced() -> None:
    room, clock, voice = FakeRoom(), FakeClock(), FakeTTS(seconds=0.05, failures=1)
    ch, source = channel(room, voice, clock, "fr")
    before = metric_value("interpreter_stage_errors_total", stage="tts", language="fr")
    await ch.start()
    try:
        ch.say(VoiceUnit(segment_id="s1", text="un", speech_end=clock()))
        ch.say(VoiceUnit(segment_id="s2", text="deux", speech_end=clock()))
        await eventually(lambda: len(voice.spoken) == 2 and source.seconds >= 0.06)
        await asyncio.sleep(0.02)
        assert (
            metric_value("interpreter_stage_errors_total", stage="tts", language="fr") == before + 1
        )
        assert source.seconds == pytest.approx(0.05 + 0.01)  # one unit and its end marker
    finally:
        await ch.aclose()


async def test_publishing_the_track_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "RETRY_FIRST_DELAY", 0.001)
    room, clock, voice = FakeRoom(), FakeClock(), FakeTTS()
    room.local_participant.publish_failures = 2
    before = metric_value("interpreter_retries_total", operation="publish_track")
    ch, _ = channel(room, voice, clock, "de")
    await ch.start()
    try:
        assert room.local_participant.published == ["de"]
        assert metric_value("interpreter_retries_total", operation="publish_track") == before + 2
    finally:
        await ch.aclose()


async def test_a_track_that_never_publishes_raises_after_bounded_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks, "RETRY_FIRST_DELAY", 0.001)
    room, clock, voice = FakeRoom(), FakeClock(), FakeTTS()
    room.local_participant.publish_failures = 100
    ch, _ = channel(room, voice, clock, "de")
    with pytest.raises(RuntimeError):
        await ch.start()
    await ch.aclose()
    assert room.local_participant.publish_failures == 100 - tasks.RETRY_ATTEMPTS


def test_held_silence_in_long_frames_is_cut_to_the_limit() -> None:
    trimmer = TrailTrimmer(keep=0.1)
    played = trimmer.push(frame(0.3, ms=200))
    for f in [frame(0.0, ms=200)] * 3:
        played += trimmer.push(f)
    played += trimmer.end()
    assert seconds(played) == pytest.approx(0.3)


async def test_silencing_stops_the_unit_mid_playback_drops_the_queue_and_keeps_the_track() -> None:
    room, clock, voice = FakeRoom(), FakeClock(), FakeTTS(seconds=1.0)
    ch, source = channel(room, voice, clock, "en", source=FakeAudioSource(real_time=True))
    await ch.start()
    try:
        ch.say(VoiceUnit(segment_id="s1", text="one", speech_end=clock()))
        ch.say(VoiceUnit(segment_id="s2", text="two", speech_end=clock()))
        await eventually(lambda: source.seconds >= 0.2)
        assert ch.silence() == 2  # the unit being voiced and the queued one
        assert ch.silenced and source.cleared == 1
        frames, cut = len(source.frames), source.seconds
        await asyncio.sleep(0.3)
        assert len(source.frames) == frames  # no frame after the silence
        assert source.seconds < 0.5
        assert [text for text, _ in voice.spoken] == ["one"]  # the queued unit is gone
        assert room.local_participant.published == ["en"]  # silent, still published
        ch.say(VoiceUnit(segment_id="s3", text="three", speech_end=clock()))  # dropped
        ch.resume()
        ch.say(VoiceUnit(segment_id="s4", text="four", speech_end=clock()))
        await eventually(lambda: [t for t, _ in voice.spoken] == ["one", "four"])
        await eventually(lambda: source.seconds >= cut + 1.0 - 1e-6)  # voiced whole
    finally:
        await ch.aclose()


async def test_silencing_an_idle_channel_cuts_nothing() -> None:
    room, clock, voice = FakeRoom(), FakeClock(), FakeTTS(seconds=0.05)
    ch, source = channel(room, voice, clock, "en")
    await ch.start()
    try:
        assert ch.silence() == 0
        assert source.cleared == 1
    finally:
        await ch.aclose()
