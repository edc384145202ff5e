"""A meeting through the real server with cloud STT and TTS on loopback fakes that fail
mid-meeting: the listener keeps its captions and its voice, and the transcript is complete.

The worker runs the configured chains (``INTERPRETER_STT=assemblyai,azure`` or
``assemblyai,openai``, ``INTERPRETER_TTS=azure,openai``, the embedded engines last) against
the wire-level fakes of :mod:`interpreter.testing.cloud`, so the real plugin code runs. The
speaker speaks the tone language (:mod:`interpreter.testing.cloud.tones`), which every fake
recogniser really decodes from the audio it gets: a lost stretch of audio is a lost word, a
stretch replayed twice a doubled one. Translation into Spanish goes through the embedded
router (the tone language's words are English words).

With OpenAI as the second recogniser, the fallback hears nothing: ``OpenAISTT`` cuts
utterances with the worker's Silero VAD, which finds no speech in pure tones (none at all
over :data:`~interpreter.testing.cloud.tones.MEETING`, measured), as it would reject a noise
the energy detector calls speech. That run checks that the chain still hands the audio back
to AssemblyAI once it recovers (it used to wait for a boundary that link never gives, and
lost every later utterance); the Azure run checks that a fallback that hears serves the
captions in the meantime.
"""

from __future__ import annotations

import asyncio
import io
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import webvtt
from aiohttp import web
from livekit import rtc

from interpreter.testing.clients import ListeningClient, ReceivedCaption, Speaker, join_listener
from interpreter.testing.cloud.assemblyai_ws import AssemblyAIFake
from interpreter.testing.cloud.azure_tts import AZURE_FREQUENCY, AzureTTSFake
from interpreter.testing.cloud.azure_usp import AzureSpeechFake
from interpreter.testing.cloud.openai_http import OPENAI_FREQUENCY, OpenAIFake
from interpreter.testing.cloud.openai_stt import OpenAITranscriptionFake
from interpreter.testing.cloud.tones import RATE, speak
from interpreter.testing.livekit import (
    LiveKitFixture,
    WorkerProcess,
    metric_sum,
    server_of_its_own,
    wait_for,
)

READY = 60.0
AZURE_KEY = "test-azure-key"
UTTERANCES = (
    "hello everyone welcome to the meeting",
    "today we discuss the budget and plans",
    "for next year",
    "thank you",
    "the release is ready now",
)
CUT_AFTER_WORDS = 8
"""AssemblyAI's first connection closes (1011) at the ninth word: the third of the second
utterance, mid-utterance."""
TTS_FAULT_AFTER = 2
"""Azure's third synthesis request answers 500, its fourth (after the cool-down) is cut
mid-body: from the third unit on, OpenAI voices every unit."""
PAUSE = 3.0
"""Seconds of silence after each utterance (a unit's voice is over before the next)."""
QUIET = 0.3
"""Seconds below the loudness threshold that separate two voiced units (a unit's tone has
none; a receiver short of CPU may lose a few tens of milliseconds of it)."""


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _pcm(utterance: str) -> np.ndarray:
    """``utterance`` in the tone language, then ``PAUSE`` s of silence, as float samples."""
    frames = speak([utterance], lead=0.0, pause=PAUSE)
    pcm = np.concatenate([np.frombuffer(f.data, np.int16) for f in frames])
    return pcm.astype(np.float32) / 32768.0


def _voiced(listener: ListeningClient, identity: str, track: str) -> list[tuple[float, float]]:
    """The voiced stretches of ``identity``'s ``track``, in order: (seconds, tone in Hz).

    A stretch ends at ``QUIET`` s of quiet or where the tone changes (Azure's fake speaks
    440 Hz, OpenAI's 660 Hz: told apart per 10 ms by zero crossings); anything else loud
    (an embedded voice) is 0 Hz. Stretches under 0.1 s (codec edges) are left out."""
    runs: list[list[float]] = []  # [samples, tone]
    quiet = QUIET * RATE
    for _, chunk in listener.audio.get((identity, track), []):
        if not len(chunk) or float(np.sqrt(np.mean(chunk**2))) < 0.02:
            quiet += len(chunk)
            continue
        crossings = int(np.count_nonzero(np.diff(np.signbit(chunk))))
        pitch = crossings * RATE / (2 * len(chunk))
        tone = min((AZURE_FREQUENCY, OPENAI_FREQUENCY), key=lambda f: abs(f - pitch))
        tone = tone if abs(tone - pitch) < 80 else 0.0
        if runs and quiet < QUIET * RATE and runs[-1][1] == tone:
            runs[-1][0] += len(chunk)
        else:
            runs.append([float(len(chunk)), tone])
        quiet = 0
    return [(n / RATE, tone) for n, tone in runs if n / RATE >= 0.1]


def _export(worker: WorkerProcess, room: str, lang: str) -> list[str]:
    vtt = worker.cli("transcript", "export", "--room", room, "--lang", lang, "--format", "vtt")
    cues = webvtt.from_buffer(io.StringIO(vtt.stdout)).captions
    return [" ".join(c.text.split()) for c in cues]


class _OpenAI(OpenAIFake):
    """One OpenAI-compatible server for every stage (``INTERPRETER_OPENAI_URL`` is shared):
    chat, speech, and transcriptions."""

    def __init__(self, *, key: str) -> None:
        super().__init__(key=key)
        self.transcription = OpenAITranscriptionFake(key=key)

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_post("/v1/audio/transcriptions", self.transcription._transcribe)


@pytest.mark.parametrize("second", ["azure", "openai"])
async def test_cloud_providers_failing_mid_meeting_lose_no_caption_and_no_voice(
    livekit_server: LiveKitFixture, tmp_path: Path, output_dir: Path, second: str
) -> None:
    began = time.monotonic()
    async with (
        AssemblyAIFake(key="test-assemblyai-key") as assemblyai,
        AzureSpeechFake(key=AZURE_KEY) as azure_stt,
        AzureTTSFake(key=AZURE_KEY) as azure_tts,
        _OpenAI(key="test-openai-key") as openai,
    ):
        assemblyai.cut_after_words = CUT_AFTER_WORDS
        assemblyai.inject(["cut"])  # the first connection dies mid-utterance
        azure_tts.inject([None] * TTS_FAULT_AFTER + ["500", "cut"])
        env = {
            "INTERPRETER_STT": f"assemblyai,{second}",
            "INTERPRETER_TTS": "azure,openai",
            "ASSEMBLYAI_API_KEY": assemblyai.key,
            "INTERPRETER_ASSEMBLYAI_URL": assemblyai.url,
            "AZURE_SPEECH_KEY": AZURE_KEY,
            "INTERPRETER_AZURE_STT_URL": azure_stt.host,
            "INTERPRETER_AZURE_TTS_URL": azure_tts.endpoint,
            "OPENAI_API_KEY": openai.key,
            "INTERPRETER_OPENAI_URL": openai.base_url,
        }
        logs = output_dir / f"cloud-{second}"
        logs.mkdir(exist_ok=True)
        shutil.rmtree(logs / "worker-data", ignore_errors=True)  # this meeting's transcript only
        # a server of its own: the session's worker (embedded stack) must not take this speaker
        with server_of_its_own(livekit_server, output_dir / "cloud-livekit-server.log") as server:
            worker = WorkerProcess(server, logs / "worker.log", env=env)
            try:
                seen = await _meeting(server, worker, azure_tts)
                exposed = await asyncio.to_thread(worker.metrics)
            finally:
                worker.stop()
        sources, translations = seen

        # the listener's captions: one final per utterance, its words in order, none lost
        # or doubled, through the STT failover; a translation of each
        assert [_words(c.text) for c in sources] == [u.split() for u in UTTERANCES]
        assert len(translations) == len(UTTERANCES)
        assert all(c.text.strip() for c in translations)
        assert assemblyai.connections >= 2, "AssemblyAI was never probed again"
        # the fallbacks were counted, and who served what
        fallbacks, served = (
            "interpreter_provider_fallbacks_total",
            "interpreter_provider_served_total",
        )
        assert metric_sum(exposed, fallbacks, stage="stt", provider="assemblyai") >= 1
        assert metric_sum(exposed, fallbacks, stage="tts", provider="azure") >= 1
        if second == "azure":  # AssemblyAI before the cut and after it recovered, Azure between
            assert azure_stt.connections >= 1, "the STT never fell back to Azure"
            assert metric_sum(exposed, served, stage="stt", provider="assemblyai") >= 2
            assert metric_sum(exposed, served, stage="stt", provider="azure") >= 1
        else:  # OpenAI heard nothing: AssemblyAI, back, transcribed what it missed
            assert not openai.transcription.requests
            assert metric_sum(exposed, served, stage="stt") == len(UTTERANCES)
            assert metric_sum(exposed, served, stage="stt", provider="assemblyai") == len(
                UTTERANCES
            )
        assert metric_sum(exposed, served, stage="tts", provider="azure") == TTS_FAULT_AFTER
        assert metric_sum(exposed, served, stage="tts", provider="openai") >= 1
        assert metric_sum(exposed, served, stage="tts", provider="embedded") == 0
        log = worker.log()
        assert "STT provider failed; replaying into the next" in log
        assert "STT provider back" in log  # the chain left the fallback for AssemblyAI
        assert "tts provider failed, trying the next" in log
        assert "Traceback" not in log, "an unhandled exception in the worker"

        # the transcript holds every caption the listener saw, once
        english = await asyncio.to_thread(_export, worker, "cloud", "original")
        spanish = await asyncio.to_thread(_export, worker, "cloud", "es")
        assert [_words(t) for t in english] == [u.split() for u in UTTERANCES]
        assert spanish == [" ".join(c.text.split()) for c in translations]
    took = time.monotonic() - began
    print(f"\ncloud meeting: {took:.1f}s; {len(azure_tts.requests)} Azure TTS requests")
    assert took < 90


async def _meeting(
    server: LiveKitFixture, worker: WorkerProcess, azure_tts: AzureTTSFake
) -> tuple[list[ReceivedCaption], list[ReceivedCaption]]:
    rooms: list[rtc.Room] = []
    pablo: ListeningClient | None = None
    try:
        pablo = await join_listener(
            server,
            "cloud",
            "pablo",
            "es",
            want_track=lambda pub, p: p.identity == "translator-ben" and pub.name == "es",
        )
        listener = pablo
        rooms.append(listener.room)
        ben_room = await server.connect("cloud", "ben", name="Ben", attributes={"language": "en"})
        rooms.append(ben_room)
        ben = Speaker(ben_room)
        await ben.publish()
        await wait_for(
            lambda: ("translator-ben", "es") in listener.audio,
            within=READY,
            what="translator-ben's Spanish track",
        )
        await wait_for(worker.settled, within=READY, what="the worker's idle process")
        await ben.silence(0.5)
        for utterance in UTTERANCES:
            await ben.play(_pcm(utterance))
        await wait_for(
            lambda: len(listener.finals(language="es", translated=True)) >= len(UTTERANCES),
            within=20,
            what="a Spanish caption for every utterance",
        )
        await asyncio.sleep(4)  # the last unit's voice
        sources = pablo.finals(language="en", translated=False)
        translations = pablo.finals(language="es", translated=True)
        # each unit was voiced once and whole (a body cut mid-way would be a quarter of it;
        # both fakes speak 0.06 s a character), in order: Azure before its failure, OpenAI
        # (the fallback) for the unit Azure failed and the later ones (Azure resting, or
        # failing again)
        voiced = _voiced(listener, "translator-ben", "es")
        print("voiced units:", ", ".join(f"{s:.2f}s at {f:.0f} Hz" for s, f in voiced))
        expected = [
            (
                azure_tts.seconds_for(c.text),
                AZURE_FREQUENCY if number < TTS_FAULT_AFTER else OPENAI_FREQUENCY,
            )
            for number, c in enumerate(translations)
        ]
        assert [f for _, f in voiced] == [f for _, f in expected], "voices in the wrong order"
        for number, ((seconds, _), (want, _)) in enumerate(zip(voiced, expected, strict=True)):
            text = translations[number].text
            assert abs(seconds - want) <= max(0.3, 0.25 * want), (
                f"unit {number + 1} ({text!r}): {seconds:.2f}s of voice for {want:.2f}s"
            )
        return sources, translations
    finally:
        if pablo is not None:
            await pablo.aclose()
        for r in rooms:
            await r.disconnect()
