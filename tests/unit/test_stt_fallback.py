"""The STT chain that loses nothing: replay into the next provider, stall watchdog, return to
the primary, no retry loop on a refused key, every provider down.

The providers are :class:`~interpreter.testing.cloud.tones.ToneSTT` fakes that recognise the
tone language from the audio they get, so a lost or replayed-twice stretch of audio shows as
missing or repeated words in the finals the caller reads.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import APIStatusError, stt

from interpreter.providers.stt_fallback import (
    ChainState,
    FallbackSTT,
    FallbackTimings,
    classify_failure,
)
from interpreter.testing.cloud.tones import MEETING, Heard, ToneSTT, recognise_speech, speak
from languages import Language

FAST = FallbackTimings(
    stall_after=0.4, connect_timeout=1.0, probe_after=0.3, probe_max=1.0, tick=0.02
)


async def transcribe(
    recogniser: stt.STT[Any],
    utterances: Sequence[str],
    *,
    pace: float = 0.004,
    at: Callable[[float], None] | None = None,
) -> list[Heard]:
    return await recognise_speech(recogniser, utterances, pace=pace, at=at)


def chain(*links: ToneSTT, timings: FallbackTimings = FAST) -> FallbackSTT:
    return FallbackSTT(chain=[(link.name, link) for link in links], timings=timings)


async def test_a_healthy_primary_serves_every_utterance_once() -> None:
    primary, embedded = ToneSTT(name="cloud"), ToneSTT(name="embedded")
    finals = await transcribe(chain(primary, embedded), MEETING)
    assert [f.text for f in finals] == list(MEETING)
    assert {f.provider for f in finals} == {"cloud"}
    assert embedded.streams == 0
    assert all(a.end <= b.start for a, b in itertools.pairwise(finals))


async def test_a_failure_mid_utterance_replays_the_words_spoken_before_it() -> None:
    # the primary dies after the third word of the first utterance
    primary = ToneSTT(name="cloud", fail_after=3)
    embedded = ToneSTT(name="embedded")
    finals = await transcribe(chain(primary, embedded), MEETING)
    assert [f.text for f in finals] == list(MEETING)
    assert finals[0].provider == "embedded"
    # the replay started at the beginning of the kept audio, not at the failure
    assert embedded.heard[0] > 2.0


async def test_refused_connection_goes_to_the_fallback_at_once() -> None:
    primary = ToneSTT(name="cloud", refuse=True)
    embedded = ToneSTT(name="embedded")
    began = time.monotonic()
    finals = await transcribe(chain(primary, embedded), list(MEETING[:2]))
    assert [f.text for f in finals] == list(MEETING[:2])
    assert {f.provider for f in finals} == {"embedded"}
    assert time.monotonic() - began < 10


async def test_a_silent_provider_is_declared_stalled_and_nothing_is_lost() -> None:
    primary = ToneSTT(name="cloud", stall=True)
    embedded = ToneSTT(name="embedded")
    finals = await transcribe(chain(primary, embedded), MEETING)
    assert [f.text for f in finals] == list(MEETING)
    assert finals[0].provider == "embedded"


async def test_the_primary_serves_again_after_it_recovers_at_an_utterance_boundary() -> None:
    primary = ToneSTT(name="cloud", fail_after=1, failures=1)
    embedded = ToneSTT(name="embedded")
    finals = await transcribe(chain(primary, embedded), MEETING, pace=0.006)
    assert [f.text for f in finals] == list(MEETING)
    assert finals[0].provider == "embedded"
    assert finals[-1].provider == "cloud"  # the probe found it healthy; switched at a boundary


async def test_a_refused_key_is_not_retried_in_a_loop() -> None:
    error = APIStatusError("unauthorized", status_code=401)
    primary = ToneSTT(name="cloud", refuse=True, error=error)
    embedded = ToneSTT(name="embedded")
    finals = await transcribe(chain(primary, embedded), MEETING)
    assert [f.text for f in finals] == list(MEETING)
    assert primary.streams == 1  # not probed again within the auth back-off


async def test_every_provider_down_keeps_the_audio_until_one_is_back() -> None:
    primary = ToneSTT(name="cloud", refuse=True)
    embedded = ToneSTT(name="embedded", refuse=True)

    def heal(seconds: float) -> None:
        if seconds >= 3.0:
            embedded.refuse = False

    finals = await transcribe(chain(primary, embedded), MEETING, pace=0.006, at=heal)
    assert [f.text for f in finals] == list(MEETING)
    assert {f.provider for f in finals} == {"embedded"}


async def test_every_provider_down_to_the_end_ends_the_stream_without_an_error() -> None:
    primary = ToneSTT(name="cloud", refuse=True)
    embedded = ToneSTT(name="embedded", fail_after=0, failures=1000)
    timings = FallbackTimings(stall_after=0.4, probe_after=0.1, probe_max=0.2, tick=0.02)
    recogniser = chain(primary, embedded, timings=timings)
    frames = speak(["thank you"])
    stream = recogniser.stream()
    for frame in frames:
        stream.push_frame(frame)
    stream.end_input()
    async with asyncio.timeout(5):
        finals = [e async for e in stream if e.type == stt.SpeechEventType.FINAL_TRANSCRIPT]
    await stream.aclose()
    assert finals == []


async def test_languages_and_vocabulary_reach_every_provider() -> None:
    primary, embedded = ToneSTT(name="cloud"), ToneSTT(name="embedded")
    recogniser = chain(primary, embedded)
    recogniser.update_options(
        allowed_languages=[Language("en"), Language("es")], language_prior=Language("es")
    )
    recogniser.update_options(
        allowed_languages=[Language("en"), Language("es")], language_prior=Language("es")
    )
    recogniser.set_vocabulary({Language("en"): ["Nimbus"]})
    assert primary.languages[-1] == ((Language("en"), Language("es")), Language("es"))
    assert len(primary.languages) == 1  # told once: the second call changed nothing
    assert embedded.vocabularies == [{Language("en"): ("Nimbus",)}]


async def test_an_unreliable_language_is_identified_from_the_text() -> None:
    primary = ToneSTT(name="cloud", language="en")
    embedded = ToneSTT(name="embedded")
    recogniser = FallbackSTT(
        chain=[("cloud", primary), ("embedded", embedded)],
        allowed_languages=[Language("en"), Language("es")],
        language_prior=Language("en"),
        trust={"cloud": "none"},
        timings=FAST,
    )
    finals = await transcribe(recogniser, ["hola a todos bienvenidos", "hello everyone welcome"])
    assert [(f.text, f.language) for f in finals] == [
        ("hola a todos bienvenidos", "es"),
        ("hello everyone welcome", "en"),
    ]


def test_a_locale_is_mapped_to_the_room_language() -> None:
    from interpreter.providers.stt_fallback import _room_language

    assert _room_language("es-ES", (Language("en"), Language("es"))) == "es"
    assert _room_language("pt-BR", (Language("pt-BR"),)) == "pt-BR"
    assert _room_language("fr-FR", (Language("en"),)) is None
    assert _room_language("", None) is None


def test_the_chain_backs_off_and_comes_back() -> None:
    state = ChainState(links=2, timings=FallbackTimings(probe_after=1.0, probe_max=4.0))
    assert state.choose(now=0.0) == 0
    state.failed(0, "refused", now=0.0)
    assert state.choose(now=0.0) == 1
    state.active = 1
    assert state.to_probe(now=0.5) == []
    assert state.to_probe(now=1.0) == [0]
    state.probe_failed(0, "refused", now=1.0)
    assert state.to_probe(now=2.5) == []  # the wait doubled
    assert state.to_probe(now=3.0) == [0]
    state.recovered(0)
    assert state.better() == 0
    state.failed(0, "auth", now=10.0)
    assert state.to_probe(now=300.0) == []  # a refused key waits minutes
    state.failed(1, "error", now=10.0)
    assert state.choose(now=10.0) is None
    assert state.choose(now=11.0) == 1  # the first retry due serves without a probe


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (APIStatusError("x", status_code=401), "auth"),
        (APIStatusError("x", status_code=500), "status"),
        (APIStatusError("x", status_code=1011), "closed"),
        (ConnectionRefusedError(), "refused"),
        (TimeoutError(), "timeout"),
        (RuntimeError("Azure STT canceled: Authentication error (401)"), "auth"),
        (RuntimeError("WS_OPEN_ERROR_UNDERLYING_IO_OPEN_FAILED"), "refused"),
    ],
)
def test_failures_are_classified(error: BaseException, kind: str) -> None:
    assert classify_failure(error) == kind


@pytest.mark.model
async def test_the_real_whisper_fallback_gets_the_words_spoken_before_the_failure(
    tmp_path: Path,
) -> None:
    from interpreter.providers.whisper_stt import WhisperSTT
    from interpreter.testing.audio import read_wav, speak_to_wav

    samples, _ = read_wav(
        speak_to_wav("Thank you all for coming to the meeting today.", tmp_path / "en.wav")
    )
    pcm = (np.concatenate([np.zeros(4800), samples, np.zeros(24000)]) * 32767).astype(np.int16)
    whisper = WhisperSTT(allowed_languages=[Language("en"), Language("es")])
    whisper.prewarm()
    primary = ToneSTT(name="cloud", stall=True)  # takes the audio, never answers
    recogniser = FallbackSTT(
        chain=[("cloud", primary), ("embedded", whisper)],
        allowed_languages=[Language("en"), Language("es")],
        timings=FAST,
    )
    stream = recogniser.stream()
    n = 320
    for i in range(0, len(pcm) - n + 1, n):
        stream.push_frame(rtc.AudioFrame(pcm[i : i + n].tobytes(), 16000, 1, n))
        await asyncio.sleep(0.005)
    stream.end_input()
    async with asyncio.timeout(60):
        finals = [
            e.alternatives[0]
            async for e in stream
            if e.type == stt.SpeechEventType.FINAL_TRANSCRIPT and e.alternatives
        ]
    await stream.aclose()
    said = " ".join(f.text for f in finals).lower()
    assert "thank" in said and "coming" in said and "meeting" in said, said
    assert {(f.metadata or {})["stt_provider"] for f in finals} == {"embedded"}
    assert {str(f.language) for f in finals} == {"en"}


def test_the_watchdog_needs_a_stretch_of_unanswered_speech() -> None:
    from interpreter.providers.stt_fallback import _Watchdog

    timings = FallbackTimings(stall_after=2.0, stall_speech=1.0)
    cough = _Watchdog.of(timings)
    cough.audio(0.3, speech=True, now=0.0)
    cough.audio(5.0, speech=False, now=0.3)
    assert not cough.stalled(10.0)  # a cough and silence: nothing to answer
    talk = _Watchdog.of(timings)
    for i in range(20):
        talk.audio(0.1, speech=True, now=i * 0.1)
    assert not talk.stalled(1.9)
    assert talk.stalled(2.0)
    talk.answered()
    assert not talk.stalled(10.0)


async def test_a_fallback_whose_own_vad_hears_nothing_hands_back_to_the_recovered_primary() -> None:
    # the second link answers per utterance (no interim results, so no stall watchdog) and
    # its own VAD rejects what the energy detector calls speech (OpenAI transcription behind
    # Silero, fed tones): it says nothing at all. Once the primary is back, the chain must
    # not wait for a boundary that link will never give: it replays the audio into the
    # primary, and nothing is lost
    primary = ToneSTT(name="cloud", fail_after=8, failures=1)
    deaf = ToneSTT(name="deaf", stall=True, interim_results=False)
    embedded = ToneSTT(name="embedded")
    finals = await transcribe(chain(primary, deaf, embedded), MEETING, pace=0.006)
    assert [f.text for f in finals] == list(MEETING)
    assert {f.provider for f in finals} == {"cloud"}
    assert deaf.streams >= 1 and embedded.streams == 0
