"""The TTS chain against the real ``azure.TTS`` and ``openai.TTS`` plugins on loopback fakes:
each unit is heard whole, from one provider, whatever fails and however it fails.

Each fake speaks a tone of its own (Azure 440 Hz, OpenAI 660 Hz, the embedded fake 220 Hz)
for a duration that grows with the text, so the audio itself says who spoke and whether the
whole unit was heard.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from interpreter import metrics
from interpreter.errors import ProviderError
from interpreter.providers.cloud_tts import azure_tts, openai_tts
from interpreter.providers.failover import AUTH_COOLDOWN, COOLDOWN, ProviderHealth
from interpreter.providers.local_tts import LocalTTS
from interpreter.providers.tts_fallback import FallbackTTS, TTSBudget, TTSMember
from interpreter.testing.checks import eventually
from interpreter.testing.cloud.azure_tts import AZURE_FREQUENCY, AzureTTSFake
from interpreter.testing.cloud.openai_http import OPENAI_FREQUENCY, OpenAIFake
from interpreter.testing.fakes import FakeAudioSource, FakeClock, FakeRoom, FakeTTS
from interpreter.voice_channel import VoiceChannel, VoiceUnit
from languages import Language

TEXT = "Tom & Jerry <3: the results are ready, and we ship today."
EMBEDDED_SECONDS = 2.5
EMBEDDED_FREQUENCY = 220.0
FAST = TTSBudget(connect=1.0, read=0.75, total=3.0, per_char=0.01)
TOLERANCE = 0.03  # seconds: frame rounding of the plugins' emitters


@pytest.fixture
async def azure() -> AsyncIterator[AzureTTSFake]:
    async with AzureTTSFake() as fake:
        yield fake


@pytest.fixture
async def oai() -> AsyncIterator[OpenAIFake]:
    async with OpenAIFake() as fake:
        yield fake


def chain(
    azure: AzureTTSFake,
    oai: OpenAIFake,
    *,
    embedded: FakeTTS | None = None,
    clock: FakeClock | None = None,
    health: ProviderHealth | None = None,
    budget: TTSBudget = FAST,
) -> FallbackTTS:
    members = [
        TTSMember(
            "azure",
            azure_tts(
                language="es",
                speaker="alice",
                key=azure.key,
                region=None,
                endpoint=azure.endpoint,
            ),
        ),
        TTSMember(
            "openai",
            openai_tts(language="es", speaker="alice", api_key=oai.key, base_url=oai.base_url),
        ),
        TTSMember("embedded", embedded or FakeTTS(seconds=EMBEDDED_SECONDS), local=True),
    ]
    return FallbackTTS(
        members=members,
        language="es",
        budget=budget,
        health=health,
        monotonic=clock or FakeClock(),
    )


async def voice(tts: FallbackTTS, text: str = TEXT) -> rtc.AudioFrame:
    frames = [event.frame async for event in tts.synthesize(text)]
    return rtc.combine_audio_frames(frames)


def pitch(frame: rtc.AudioFrame) -> float:
    """The dominant frequency of ``frame`` (Hz)."""
    samples = np.frombuffer(frame.data, dtype=np.int16).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(samples.size, 1 / frame.sample_rate)[np.argmax(spectrum)])


def heard(frame: rtc.AudioFrame) -> tuple[float, float]:
    """(pitch rounded to 10 Hz, duration) of what was voiced."""
    return round(pitch(frame), -1), frame.duration


async def test_a_healthy_primary_voices_the_whole_unit(
    azure: AzureTTSFake, oai: OpenAIFake
) -> None:
    tts = chain(azure, oai)
    audio = await voice(tts)
    assert audio.sample_rate == 48000
    tone, seconds = heard(audio)
    assert tone == AZURE_FREQUENCY
    assert seconds == pytest.approx(azure.seconds_for(TEXT), abs=TOLERANCE)
    # the text reached Azure intact: the SSML was escaped, so it parsed
    assert [s.text for s in azure.syntheses] == [TEXT]
    assert tts.last_served == "azure"
    assert not oai.requests
    await tts.aclose()


@pytest.mark.parametrize(
    "fault", ["refused", "401", "403", "429", "500", "cut", "stall", "hang", "malformed"]
)
async def test_any_primary_failure_is_heard_whole_from_the_next_provider(
    azure: AzureTTSFake, oai: OpenAIFake, fault: str
) -> None:
    tts = chain(azure, oai)
    if fault == "refused":
        await azure.refuse()
    else:
        azure.fault = fault  # type: ignore[assignment]
    started = time.monotonic()
    audio = await voice(tts)
    elapsed = time.monotonic() - started
    tone, seconds = heard(audio)
    assert tone == OPENAI_FREQUENCY
    # exactly OpenAI's whole unit: no piece of Azure's partial answer before it
    assert seconds == pytest.approx(oai.seconds_for(TEXT), abs=TOLERANCE)
    assert tts.last_served == "openai"
    # a stall costs the read timeout, a hung request the read timeout too; the rest is fast
    assert elapsed < FAST.read + 1.5
    await tts.aclose()


@pytest.mark.parametrize("fault", ["cut", "stall", "500", "malformed"])
async def test_every_cloud_provider_down_the_embedded_voice_speaks_the_unit(
    azure: AzureTTSFake, oai: OpenAIFake, fault: str
) -> None:
    tts = chain(azure, oai)
    azure.fault = fault  # type: ignore[assignment]
    oai.fault = fault  # type: ignore[assignment]
    audio = await voice(tts)
    tone, seconds = heard(audio)
    assert tone == EMBEDDED_FREQUENCY
    assert seconds == pytest.approx(EMBEDDED_SECONDS, abs=TOLERANCE)
    assert tts.last_served == "embedded"
    await tts.aclose()


async def test_when_every_provider_fails_nothing_is_voiced(
    azure: AzureTTSFake, oai: OpenAIFake
) -> None:
    tts = chain(azure, oai, embedded=FakeTTS(seconds=1.0, failures=1))
    azure.fault = "cut"
    await oai.refuse()
    frames: list[rtc.AudioFrame] = []
    with pytest.raises(ProviderError, match="every tts provider failed"):
        async for event in tts.synthesize(TEXT):
            frames.append(event.frame)
    assert frames == []  # not a partial body as if it were the unit
    await tts.aclose()


async def test_rejected_credentials_are_not_retried_in_a_loop(
    azure: AzureTTSFake, oai: OpenAIFake
) -> None:
    clock = FakeClock()
    tts = chain(azure, oai, clock=clock)
    azure.fault = "401"
    for _ in range(5):
        tone, _seconds = heard(await voice(tts))
        assert tone == OPENAI_FREQUENCY
        clock.advance(10.0)
    assert len(azure.requests) == 1  # one 401, then Azure rests
    azure.fault = None  # the key was fixed
    clock.advance(AUTH_COOLDOWN)
    tone, _seconds = heard(await voice(tts))
    assert tone == AZURE_FREQUENCY
    assert len(azure.requests) == 2
    await tts.aclose()


async def test_a_provider_that_recovers_serves_again_after_its_cool_down(
    azure: AzureTTSFake, oai: OpenAIFake
) -> None:
    clock = FakeClock()
    tts = chain(azure, oai, clock=clock)
    await azure.refuse()
    assert heard(await voice(tts))[0] == OPENAI_FREQUENCY
    await azure.accept()
    # still resting: the next unit does not wait on Azure
    assert heard(await voice(tts))[0] == OPENAI_FREQUENCY
    assert not azure.requests
    clock.advance(COOLDOWN)
    tone, seconds = heard(await voice(tts))
    assert tone == AZURE_FREQUENCY
    assert seconds == pytest.approx(azure.seconds_for(TEXT), abs=TOLERANCE)
    await tts.aclose()


async def test_cool_downs_are_shared_by_every_channel(azure: AzureTTSFake, oai: OpenAIFake) -> None:
    health = ProviderHealth()
    clock = FakeClock()
    first, second = (chain(azure, oai, clock=clock, health=health) for _ in range(2))
    azure.fault = "500"
    assert heard(await voice(first))[0] == OPENAI_FREQUENCY
    assert heard(await voice(second))[0] == OPENAI_FREQUENCY
    assert len(azure.requests) == 1
    await first.aclose()
    await second.aclose()


async def test_the_speaking_rate_reaches_every_provider(
    azure: AzureTTSFake, oai: OpenAIFake
) -> None:
    embedded = FakeTTS(seconds=1.0)
    tts = chain(azure, oai, embedded=embedded)
    tts.update_options(speed=1.3)
    await voice(tts)
    azure.fault = "500"
    await voice(tts)
    assert azure.syntheses[0].prosody_rate == "1.3"
    assert oai.calls("/v1/audio/speech")[0].body["speed"] == 1.3
    assert embedded.speed == 1.3
    await tts.aclose()


async def test_the_language_track_plays_each_unit_whole_through_a_failure(
    azure: AzureTTSFake, oai: OpenAIFake
) -> None:
    room, clock, source = FakeRoom(), FakeClock(), FakeAudioSource()
    tts = chain(azure, oai, clock=clock, budget=TTSBudget())  # no stalls here: a loaded box
    channel = VoiceChannel(
        room=room,  # type: ignore[arg-type]
        language=Language("es"),
        tts=tts,
        clock=clock,
        audio_source=lambda: source,
    )
    units = ["Buenos días a todos.", "Los resultados están listos.", "Lo enviamos hoy."]
    azure.inject([None, "cut"])  # the second unit's body breaks a quarter of the way in
    await channel.start()
    try:
        for i, text in enumerate(units):
            channel.say(VoiceUnit(segment_id=f"s{i}", text=text, speech_end=clock()))
        whole = azure.seconds_for(units[0]) + oai.seconds_for(units[1]) + oai.seconds_for(units[2])
        await eventually(lambda: source.seconds >= whole)
        await asyncio.sleep(0.05)
        # every unit whole, once, and nothing of the broken body
        assert source.seconds == pytest.approx(whole, abs=3 * TOLERANCE)
    finally:
        await channel.aclose()


@pytest.mark.model
async def test_with_every_cloud_provider_down_the_real_embedded_voice_speaks_in_full(
    azure: AzureTTSFake, oai: OpenAIFake
) -> None:
    text = "Los resultados están listos y lo enviamos hoy."
    reference = LocalTTS(language="es", voice_seed="alice")
    expected = rtc.combine_audio_frames([e.frame async for e in reference.synthesize(text)])
    members = [
        TTSMember(
            "azure",
            azure_tts(
                language="es", speaker="alice", key=azure.key, region=None, endpoint=azure.endpoint
            ),
        ),
        TTSMember(
            "openai",
            openai_tts(language="es", speaker="alice", api_key=oai.key, base_url=oai.base_url),
        ),
        TTSMember("embedded", LocalTTS(language="es", voice_seed="alice"), local=True),
    ]
    tts = FallbackTTS(members=members, language="es", budget=FAST)
    azure.fault = "cut"
    await oai.refuse()
    audio = await voice(tts, text)
    assert tts.last_served == "embedded"
    assert audio.duration == pytest.approx(expected.duration, abs=TOLERANCE)
    await tts.aclose()
    await reference.aclose()


def test_a_failing_provider_rests_longer_each_time_and_a_bad_key_rests_for_minutes() -> None:
    health = ProviderHealth(cooldown=5.0, max_cooldown=60.0, auth_cooldown=300.0)
    rests = [health.failed("azure", "refused", now=0.0) for _ in range(6)]
    assert rests == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
    assert not health.available("azure", 59.0)
    assert health.available("azure", 60.0)
    assert health.succeeded("azure")  # it had been failing
    assert health.failed("azure", "stall", now=100.0) == 5.0  # a success starts over
    assert health.failed("openai", "auth", now=0.0) == 300.0
    assert health.available("embedded", 0.0)


def test_failures_are_named_from_a_fixed_vocabulary() -> None:
    from livekit.agents import APIConnectionError, APIStatusError, APITimeoutError

    from interpreter.providers.failover import IncompleteError, StalledError, failure_reason

    def wrapped(cause: BaseException) -> ProviderError:
        error = ProviderError("engine failed")
        error.__cause__ = cause
        return error

    assert failure_reason(APIStatusError("no", status_code=401)) == "auth"
    assert failure_reason(wrapped(APIStatusError("no", status_code=403))) == "auth"
    assert failure_reason(APIStatusError("busy", status_code=500)) == "status"
    assert failure_reason(wrapped(ConnectionRefusedError())) == "refused"
    assert failure_reason(StalledError()) == "stall"
    assert failure_reason(IncompleteError()) == "partial"
    assert failure_reason(APITimeoutError()) == "timeout"
    assert failure_reason(wrapped(ValueError("Expecting value"))) == "malformed"
    assert failure_reason(APIConnectionError()) == "connection"
    assert failure_reason(RuntimeError("?")) == "error"


def _count(metric: Any, *labels: str) -> float:
    return float(metric.labels(*labels)._value.get())


async def test_fallbacks_are_counted_with_their_reason_and_no_key_reaches_the_logs(
    azure: AzureTTSFake, oai: OpenAIFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tts = chain(azure, oai)
    before = {
        "cut": _count(metrics.PROVIDER_FALLBACKS, "tts", "azure", "partial"),
        "auth": _count(metrics.PROVIDER_FALLBACKS, "tts", "openai", "auth"),
        "served": _count(metrics.PROVIDER_SERVED, "tts", "embedded", "es"),
    }
    azure.fault = "cut"
    oai.fault = "401"
    await voice(tts)
    assert _count(metrics.PROVIDER_FALLBACKS, "tts", "azure", "partial") == before["cut"] + 1
    assert _count(metrics.PROVIDER_FALLBACKS, "tts", "openai", "auth") == before["auth"] + 1
    assert _count(metrics.PROVIDER_SERVED, "tts", "embedded", "es") == before["served"] + 1
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "tts provider failed, trying the next" in logged
    assert azure.key not in logged and oai.key not in logged
    assert "Jerry" not in logged  # nor the text spoken
    await tts.aclose()
