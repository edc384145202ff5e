"""A tone language: speech that a fake recogniser really recognises, from the audio alone.

Each word of :data:`WORDS` is a pure tone of its own pitch (``BASE_HZ`` + ``STEP_HZ`` x its
index), ``WORD_SECONDS`` long, words ``GAP_SECONDS`` apart; an utterance ends after
``END_SILENCE`` seconds of silence. :func:`speak` renders words as 16 kHz mono frames;
:class:`ToneDecoder` turns pushed PCM back into words with their times, and says when an
utterance ended. The fakes of the cloud services (and :class:`ToneSTT`) decode what they
were sent with it, so a test that loses audio sees missing words, and one that replays audio
twice sees duplicated words: the assertion is on the words a listener would read.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Never

import numpy as np
import numpy.typing as npt
from livekit import rtc
from livekit.agents import APIConnectOptions, stt, utils, vad
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr

from interpreter.errors import ProviderError
from languages import Language

__all__ = [
    "MEETING",
    "RATE",
    "WORDS",
    "DecodedWord",
    "EnergyVAD",
    "Heard",
    "ToneDecoder",
    "ToneSTT",
    "recognise_speech",
    "speak",
    "transcribe",
    "words_of",
]

RATE = 16000
WINDOW = 800
"""Samples per analysis window (50 ms)."""
BASE_HZ = 300.0
STEP_HZ = 100.0
WORD_SECONDS = 0.25
GAP_SECONDS = 0.15
END_SILENCE = 0.5
LEVEL = 0.3
_THRESHOLD = 0.02
"""RMS (full scale 1.0) from which a window holds a word."""

WORDS: tuple[str, ...] = (
    "hello",
    "everyone",
    "welcome",
    "to",
    "the",
    "meeting",
    "today",
    "we",
    "discuss",
    "budget",
    "and",
    "plans",
    "for",
    "next",
    "year",
    "thank",
    "you",
    "hola",
    "a",
    "todos",
    "bienvenidos",
    "reunion",
    "hoy",
    "hablamos",
    "del",
    "presupuesto",
    "gracias",
    "nimbus",
    "release",
    "is",
    "ready",
    "now",
)


MEETING: tuple[str, ...] = (
    "hello everyone welcome to the meeting",
    "today we discuss the budget",
    "and plans for next year",
    "thank you",
)
"""A short meeting in the tone language (four utterances, 10.5 s with the pauses)."""


def _frequency(index: int) -> float:
    return BASE_HZ + STEP_HZ * index


def speak(
    utterances: Sequence[Sequence[str] | str],
    *,
    lead: float = 0.3,
    pause: float = 1.0,
    frame_ms: int = 20,
) -> list[rtc.AudioFrame]:
    """``utterances`` (word lists, or strings split on spaces) as 16 kHz mono frames:
    ``lead`` s of silence, then each utterance followed by ``pause`` s of silence."""
    t = np.arange(round(WORD_SECONDS * RATE)) / RATE
    ramp = np.minimum(1.0, np.minimum(t, WORD_SECONDS - t) / 0.01)
    pieces = [np.zeros(round(lead * RATE))]
    for utterance in utterances:
        words = utterance.split() if isinstance(utterance, str) else list(utterance)
        for i, word in enumerate(words):
            if i:
                pieces.append(np.zeros(round(GAP_SECONDS * RATE)))
            pieces.append(LEVEL * ramp * np.sin(2 * np.pi * _frequency(WORDS.index(word)) * t))
        pieces.append(np.zeros(round(pause * RATE)))
    pcm = (np.concatenate(pieces) * 32767).astype(np.int16)
    n = RATE * frame_ms // 1000
    pcm = np.concatenate([pcm, np.zeros(-len(pcm) % n, np.int16)])
    return [rtc.AudioFrame(pcm[i : i + n].tobytes(), RATE, 1, n) for i in range(0, len(pcm), n)]


@dataclass(frozen=True, slots=True)
class DecodedWord:
    """A word heard, with its start and end in seconds of the audio pushed."""

    text: str
    start: float
    end: float


@dataclass
class ToneDecoder:
    """Incremental recogniser of the tone language.

    :meth:`push` takes 16-bit PCM and returns what happened: ``("word", DecodedWord)`` for each
    word completed, ``("end", words)`` when an utterance's trailing silence reached
    ``END_SILENCE``. :attr:`words` holds the open utterance's words so far.
    """

    words: list[DecodedWord] = field(default_factory=list)
    position: int = 0
    _pending: npt.NDArray[np.int16] = field(default_factory=lambda: np.zeros(0, np.int16))
    _current: tuple[int, int, int] | None = None  # word index, first window, last window
    _silent: int = 0

    @property
    def seconds(self) -> float:
        """Audio pushed so far."""
        return (self.position + len(self._pending)) / RATE

    def push(self, pcm: bytes | npt.NDArray[np.int16]) -> list[tuple[str, Any]]:
        samples = np.frombuffer(pcm, np.int16) if isinstance(pcm, bytes) else pcm
        self._pending = np.concatenate([self._pending, samples])
        out: list[tuple[str, Any]] = []
        while len(self._pending) >= WINDOW:
            window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            out += self._window(window.astype(np.float64) / 32768.0)
            self.position += WINDOW
        return out

    def flush(self) -> list[tuple[str, Any]]:
        """End of audio: close the open word and utterance."""
        out = self._close_word()
        if self.words:
            out.append(("end", list(self.words)))
            self.words.clear()
        return out

    def _window(self, x: npt.NDArray[np.float64]) -> list[tuple[str, Any]]:
        index = self.position // WINDOW
        if math.sqrt(float(np.mean(x * x))) < _THRESHOLD:
            out = self._close_word()
            self._silent += 1
            if self.words and self._silent * WINDOW >= END_SILENCE * RATE:
                out.append(("end", list(self.words)))
                self.words.clear()
            return out
        self._silent = 0
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        peak = float(np.argmax(spectrum)) * RATE / len(x)
        word = round((peak - BASE_HZ) / STEP_HZ)
        if not 0 <= word < len(WORDS):
            return self._close_word()
        out = []
        if self._current is not None and self._current[0] != word:
            out = self._close_word()
        if self._current is None:
            self._current = (word, index, index)
        else:
            self._current = (word, self._current[1], index)
        return out

    def _close_word(self) -> list[tuple[str, Any]]:
        if self._current is None:
            return []
        word, first, last = self._current
        self._current = None
        if last - first < 1:  # a single window: an edge of a word cut by a replay boundary
            return []
        decoded = DecodedWord(WORDS[word], first * WINDOW / RATE, (last + 1) * WINDOW / RATE)
        self.words.append(decoded)
        return [("word", decoded)]


def transcribe(pcm: bytes | npt.NDArray[np.int16]) -> list[DecodedWord]:
    """Every word of a whole recording."""
    decoder = ToneDecoder()
    events = decoder.push(pcm) + decoder.flush()
    return [value for kind, value in events if kind == "word"]


class ToneSTT(stt.STT[Never]):
    """A streaming STT that recognises the tone language, with knobs for failure.

    Events per utterance: ``START_OF_SPEECH`` at its first word, an ``INTERIM_TRANSCRIPT``
    after each word, ``FINAL_TRANSCRIPT`` and ``END_OF_SPEECH`` after ``END_SILENCE`` s of
    silence (or at the end of input). Times are stream audio plus ``start_time_offset``.

    Knobs (settable at any time, read by each new stream): ``language`` of every transcript;
    ``fail_after`` words heard by a stream make it raise ``error`` (a
    :class:`ProviderError` by default), ``failures`` times; ``stall`` makes streams swallow
    audio and say nothing; ``refuse`` makes new streams fail at once; ``delay`` s before each
    final. ``streams`` counts the streams opened, ``heard`` the seconds each was pushed.
    """

    def __init__(
        self,
        *,
        name: str = "tone",
        language: str = "en",
        fail_after: int | None = None,
        failures: int = 1,
        error: Exception | None = None,
        stall: bool = False,
        refuse: bool = False,
        delay: float = 0.0,
        interim_results: bool = True,
    ) -> None:
        super().__init__(
            capabilities=stt.STTCapabilities(streaming=True, interim_results=interim_results)
        )
        self.name = name
        self.language = language
        self.fail_after = fail_after
        self.failures = failures
        self.error = error
        self.stall = stall
        self.refuse = refuse
        self.delay = delay
        self.streams = 0
        self.heard: list[float] = []
        self.vocabularies: list[dict[Language, tuple[str, ...]]] = []
        self.languages: list[tuple[tuple[Language, ...] | None, Language | None]] = []

    @property
    def provider(self) -> str:
        return self.name

    def set_vocabulary(self, terms: Mapping[Language, Sequence[str]]) -> None:
        self.vocabularies.append({lang: tuple(t) for lang, t in terms.items()})

    def update_languages(
        self, *, allowed: Sequence[Language] | None, prior: Language | None
    ) -> None:
        self.languages.append((tuple(allowed) if allowed is not None else None, prior))

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        raise NotImplementedError("ToneSTT only streams")

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> _ToneStream:
        self.streams += 1
        self.heard.append(0.0)
        return _ToneStream(stt=self, conn_options=conn_options, number=len(self.heard) - 1)


class _ToneStream(stt.RecognizeStream):
    def __init__(self, *, stt: ToneSTT, conn_options: APIConnectOptions, number: int) -> None:
        super().__init__(stt=stt, conn_options=conn_options)
        self._tone = stt
        self._number = number

    def _fail(self) -> Exception:
        fake = self._tone
        return fake.error or ProviderError(f"{fake.name} failed", retryable=True)

    async def _run(self) -> None:
        fake = self._tone
        if fake.refuse:
            raise self._fail()
        decoder = ToneDecoder()
        heard_words = 0
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                continue
            fake.heard[self._number] += item.samples_per_channel / item.sample_rate
            events = decoder.push(item.data.tobytes())
            if fake.stall:
                continue
            for kind, value in events:
                if kind == "word":
                    heard_words += 1
                    if fake.fail_after is not None and fake.failures > 0:
                        if heard_words > fake.fail_after:
                            fake.failures -= 1
                            raise self._fail()
                    self._interim(decoder.words)
                else:
                    await self._final(value)
        if fake.stall:
            await asyncio.Event().wait()
        for kind, value in decoder.flush():
            if kind == "end":
                await self._final(value)

    def _data(self, words: Sequence[DecodedWord]) -> stt.SpeechData:
        offset = self.start_time_offset
        return stt.SpeechData(
            language=self._tone.language,  # type: ignore[arg-type]  # normalised by SpeechData
            text=" ".join(w.text for w in words),
            start_time=offset + words[0].start,
            end_time=offset + words[-1].end,
            confidence=0.9,
        )

    def _interim(self, words: Sequence[DecodedWord]) -> None:
        if len(words) == 1:
            self._event_ch.send_nowait(stt.SpeechEvent(stt.SpeechEventType.START_OF_SPEECH))
        self._event_ch.send_nowait(
            stt.SpeechEvent(
                stt.SpeechEventType.INTERIM_TRANSCRIPT, alternatives=[self._data(words)]
            )
        )

    async def _final(self, words: Sequence[DecodedWord]) -> None:
        if self._tone.delay:
            await asyncio.sleep(self._tone.delay)
        self._event_ch.send_nowait(
            stt.SpeechEvent(stt.SpeechEventType.FINAL_TRANSCRIPT, alternatives=[self._data(words)])
        )
        self._event_ch.send_nowait(stt.SpeechEvent(stt.SpeechEventType.END_OF_SPEECH))


def words_of(texts: Iterable[str]) -> list[str]:
    """Every word of ``texts``, in order."""
    return [word for text in texts for word in text.split()]


class EnergyVAD(vad.VAD):
    """A VAD by frame energy, for the tone language (no model): speech starts at the first
    loud frame and ends after ``END_SILENCE`` s of quiet frames; ``END_OF_SPEECH`` carries the
    utterance's frames, its ``speech_duration``, and ``timestamp`` in audio seconds."""

    def __init__(self, *, silence: float = END_SILENCE) -> None:
        super().__init__(capabilities=vad.VADCapabilities(update_interval=0.02))
        self.silence = silence

    def stream(self) -> vad.VADStream:
        return _EnergyVADStream(self)


class _EnergyVADStream(vad.VADStream):
    def __init__(self, owner: EnergyVAD) -> None:
        self._owner = owner
        super().__init__(owner)

    def _event(self, kind: vad.VADEventType, **kwargs: Any) -> vad.VADEvent:
        return vad.VADEvent(type=kind, samples_index=0, **kwargs)

    async def _main_task(self) -> None:
        heard = speech = silence = 0.0
        frames: list[rtc.AudioFrame] = []

        def end() -> None:
            self._event_ch.send_nowait(
                self._event(
                    vad.VADEventType.END_OF_SPEECH,
                    timestamp=heard,
                    speech_duration=speech,
                    silence_duration=silence,
                    frames=frames,
                )
            )

        async for item in self._input_ch:
            if not isinstance(item, rtc.AudioFrame):
                continue
            seconds = item.samples_per_channel / item.sample_rate
            heard += seconds
            x = np.frombuffer(item.data, np.int16).astype(np.float64) / 32768.0
            loud = x.size > 0 and math.sqrt(float(np.mean(x * x))) >= _THRESHOLD
            if loud and not frames:
                start = self._event(
                    vad.VADEventType.START_OF_SPEECH,
                    timestamp=heard,
                    speech_duration=0.0,
                    silence_duration=0.0,
                    frames=[item],
                )
                self._event_ch.send_nowait(start)
            if not frames and not loud:
                continue
            frames.append(item)
            speech, silence = (
                (speech + silence + seconds, 0.0) if loud else (speech, silence + seconds)
            )
            if silence >= self._owner.silence:
                end()
                frames, speech, silence = [], 0.0, 0.0
        if frames:
            end()


@dataclass(frozen=True, slots=True)
class Heard:
    """A final transcript as the caller of an STT reads it."""

    text: str
    language: str
    provider: str
    start: float
    end: float
    received: float
    """Wall clock (``time.monotonic``) when it arrived."""


async def recognise_speech(
    recogniser: stt.STT[Any],
    utterances: Sequence[Sequence[str] | str],
    *,
    pace: float = 0.004,
    at: Callable[[float], None] | None = None,
    limit: float = 30.0,
) -> list[Heard]:
    """Speak ``utterances`` into a stream of ``recogniser`` (20 ms frames, ``pace`` s apart;
    0.02 is real time) and return its finals; ``at(audio_seconds)`` runs before each frame
    (to inject a failure at a point of the speech); ``limit`` s for it all."""
    import time

    frames = speak(utterances)
    stream = recogniser.stream()

    async def push() -> None:
        for i, frame in enumerate(frames):
            if at is not None:
                at(i * 0.02)
            stream.push_frame(frame)
            await asyncio.sleep(pace)
        stream.end_input()

    pusher = asyncio.create_task(push())
    finals: list[Heard] = []
    try:
        async with asyncio.timeout(limit):
            async for event in stream:
                if event.type == stt.SpeechEventType.FINAL_TRANSCRIPT and event.alternatives:
                    data = event.alternatives[0]
                    finals.append(
                        Heard(
                            text=data.text,
                            language=str(data.language),
                            provider=str((data.metadata or {}).get("stt_provider", "")),
                            start=data.start_time,
                            end=data.end_time,
                            received=time.monotonic(),
                        )
                    )
    finally:
        pusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pusher
        await stream.aclose()
    return finals
