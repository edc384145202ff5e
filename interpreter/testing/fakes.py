"""Fakes of the interfaces the runtime is built on, for unit tests and benches.

Each fake subclasses the real interface where there is one (livekit-agents' ``stt.STT`` and
``tts.TTS``, our :class:`~interpreter.translation.TranslationEngine`, ``rtc.AudioSource``) and
has knobs for failure and delay. The room fakes expose the part of ``rtc.Room`` /
``rtc.LocalParticipant`` the runtime uses and record everything published.

* :class:`FakeSTT`: a streaming STT that plays a script of speech events, each when the
  stream has heard the audio up to the event's ``at`` (speaker audio time), so a test
  decides what is recognised and when, without a model.
* :class:`FakeTTS`: real 48 kHz PCM of a chosen duration (a tone, then optional silence).
* :class:`FakeTranslation`: ``"[es] text"``, deterministic.
* :class:`FakeRoom`, :class:`FakeLocalParticipant`, :class:`FakeRemoteParticipant`.
* :class:`FakeAudioSource`: records what a language track would play, without real-time
  pacing. :class:`FakeTranscripts`: a transcript writer in memory. :class:`FakeClock`.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Never

import numpy as np
from livekit import rtc
from livekit.agents import APIConnectOptions, stt, tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr

from captions.segments import Caption
from captions.store import AppliedTerm, Meeting
from interpreter.errors import ProviderError
from interpreter.translation.engine import TranslationEngine, TranslationRequest
from languages import Language, normalize_language, pairs_among

__all__ = [
    "FakeAudioSource",
    "FakeClock",
    "FakeLocalParticipant",
    "FakeRemoteParticipant",
    "FakeRemotePublication",
    "FakeRoom",
    "FakeSTT",
    "FakeStack",
    "FakeTTS",
    "FakeTranscripts",
    "FakeTranslation",
    "Published",
    "Scripted",
    "TextStream",
    "audio_frames",
    "feed",
    "final",
    "interim",
]

STT_RATE = 16000
TTS_RATE = 48000


# --- time ---------------------------------------------------------------------------------------
class FakeClock:
    """A clock that moves only when told: ``clock()`` is the time, ``advance()`` moves it."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- STT ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Scripted:
    """A speech event the fake STT emits once it has heard ``at`` seconds of audio."""

    at: float
    event: stt.SpeechEvent


def _speech(
    kind: stt.SpeechEventType,
    text: str,
    language: str,
    start: float,
    end: float,
    at: float | None,
    unstable: str,
) -> Scripted:
    data = stt.SpeechData(
        language=language,  # type: ignore[arg-type]  # SpeechData normalises a str
        text=text,
        start_time=start,
        end_time=end,
        confidence=0.9,
        metadata={"unstable_text": unstable} if unstable else None,
    )
    return Scripted(at=end if at is None else at, event=stt.SpeechEvent(kind, alternatives=[data]))


def interim(
    text: str,
    *,
    language: str,
    start: float,
    end: float,
    at: float | None = None,
    unstable: str = "",
) -> Scripted:
    """An interim transcript of speech from ``start`` to ``end`` (emitted at ``end`` unless
    ``at`` says otherwise); ``unstable`` is the not-yet-agreed tail."""
    return _speech(stt.SpeechEventType.INTERIM_TRANSCRIPT, text, language, start, end, at, unstable)


def final(
    text: str, *, language: str, start: float, end: float, at: float | None = None
) -> Scripted:
    """A final transcript (a committed unit) of speech from ``start`` to ``end``."""
    return _speech(stt.SpeechEventType.FINAL_TRANSCRIPT, text, language, start, end, at, "")


class FakeSTT(stt.STT[Never]):
    """A streaming STT that plays ``script`` against the audio it is given.

    The script is shared by the streams of this STT: each event is emitted by the stream that
    hears audio up to its ``at`` (the stream's ``start_time_offset`` plus what was pushed into
    it), so a replacement stream carries on where a failed one stopped.

    Knobs: ``delay`` seconds before each event (recognition latency); ``fail_at`` makes the
    stream that reaches that audio time fail with a :class:`ProviderError`, ``failures`` times.
    ``options`` records every ``update_options`` call, ``vocabularies`` every
    ``set_vocabulary`` call.
    """

    def __init__(
        self,
        script: Iterable[Scripted] = (),
        *,
        delay: float = 0.0,
        fail_at: float | None = None,
        failures: int = 1,
    ) -> None:
        super().__init__(
            capabilities=stt.STTCapabilities(streaming=True, interim_results=True),
        )
        self.pending: list[Scripted] = sorted(script, key=lambda s: s.at)
        self.delay = delay
        self.fail_at = fail_at
        self.failures = failures
        self.streams: list[FakeRecognizeStream] = []
        self.options: list[dict[str, Any]] = []
        self.vocabularies: list[dict[Language, tuple[str, ...]]] = []

    @property
    def provider(self) -> str:
        return "fake"

    def update_options(self, **options: Any) -> None:
        self.options.append(options)

    def set_vocabulary(self, terms: Mapping[Language, Sequence[str]]) -> None:
        self.vocabularies.append({lang: tuple(t) for lang, t in terms.items()})

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        raise NotImplementedError("FakeSTT only streams")

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> FakeRecognizeStream:
        s = FakeRecognizeStream(stt=self, conn_options=conn_options)
        self.streams.append(s)
        return s


class FakeRecognizeStream(stt.RecognizeStream):
    def __init__(self, *, stt: FakeSTT, conn_options: APIConnectOptions) -> None:
        super().__init__(stt=stt, conn_options=conn_options)
        self._fake = stt
        self.heard = 0.0

    async def _run(self) -> None:
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                continue
            self.heard += item.samples_per_channel / item.sample_rate
            now = self.start_time_offset + self.heard
            fake = self._fake
            if fake.fail_at is not None and fake.failures > 0 and now >= fake.fail_at:
                fake.failures -= 1
                raise ProviderError("fake STT failure", retryable=False)
            while fake.pending and fake.pending[0].at <= now + 1e-9:
                scripted = fake.pending.pop(0)
                if fake.delay:
                    await asyncio.sleep(fake.delay)
                self._event_ch.send_nowait(scripted.event)


def audio_frames(
    seconds: float, *, frame_ms: int = 100, rate: int = STT_RATE
) -> list[rtc.AudioFrame]:
    """``seconds`` of 16 kHz mono silence in frames of ``frame_ms`` (what an STT is fed)."""
    n = rate * frame_ms // 1000
    count = math.ceil(round(seconds * 1000) / frame_ms)
    silence = bytes(2 * n)
    return [rtc.AudioFrame(silence, rate, 1, n) for _ in range(count)]


# --- TTS ----------------------------------------------------------------------------------------
class FakeTTS(tts.TTS[Never]):
    """Speaks every text as ``seconds`` of a 220 Hz tone at ``level``, then ``silence``
    seconds of silence, 48 kHz mono.

    Knobs: ``delay`` before the audio; ``failures`` makes that many syntheses fail with a
    :class:`ProviderError`. ``spoken`` records ``(text, speed)`` for every synthesis, the speed
    being the one last set with ``update_options``.
    """

    def __init__(
        self,
        *,
        seconds: float = 0.2,
        silence: float = 0.0,
        level: float = 0.3,
        delay: float = 0.0,
        failures: int = 0,
    ) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=TTS_RATE,
            num_channels=1,
        )
        self.seconds = seconds
        self.silence = silence
        self.level = level
        self.delay = delay
        self.failures = failures
        self.speed = 1.0
        self.spoken: list[tuple[str, float]] = []
        self.closed = False

    @property
    def provider(self) -> str:
        return "fake"

    def update_options(self, *, speed: float | None = None) -> None:
        if speed is not None:
            self.speed = speed

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _FakeChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def pcm(self) -> bytes:
        """The audio of one synthesis."""
        t = np.arange(round(self.seconds * TTS_RATE)) / TTS_RATE
        tone = (self.level * 32767 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)
        tail = np.zeros(round(self.silence * TTS_RATE), dtype=np.int16)
        return np.concatenate([tone, tail]).tobytes()

    async def aclose(self) -> None:
        self.closed = True


class _FakeChunkedStream(tts.ChunkedStream):
    def __init__(self, *, tts: FakeTTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._fake = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        fake = self._fake
        fake.spoken.append((self._input_text, fake.speed))
        if fake.delay:
            await asyncio.sleep(fake.delay)
        if fake.failures > 0:
            fake.failures -= 1
            raise ProviderError("fake TTS failure", retryable=False)
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=TTS_RATE,
            num_channels=1,
            mime_type="audio/pcm",
        )
        output_emitter.push(fake.pcm())
        output_emitter.flush()


class FakeAudioSource(rtc.AudioSource):
    """A language track's audio source that records frames instead of playing them out.

    Knob: ``real_time`` makes each capture take as long as its frame lasts (as a real source
    with a full queue does), so a test can stop a unit mid-playback. ``cleared`` counts the
    calls of ``clear_queue`` (what it would have discarded is not known here).
    """

    def __init__(self, *, real_time: bool = False) -> None:
        super().__init__(TTS_RATE, 1)
        self.frames: list[rtc.AudioFrame] = []
        self.real_time = real_time
        self.cleared = 0

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        self.frames.append(frame)
        if self.real_time:
            await asyncio.sleep(frame.samples_per_channel / frame.sample_rate)

    def clear_queue(self) -> None:
        self.cleared += 1

    @property
    def seconds(self) -> float:
        return sum(f.samples_per_channel / f.sample_rate for f in self.frames)


# --- translation --------------------------------------------------------------------------------
class FakeTranslation(TranslationEngine):
    """Translates ``text`` into ``"[<target>] text"`` for every pair among ``languages``.

    Knobs: ``delay`` seconds per call; ``timeout`` makes a call longer than that fail as an
    LLM engine does (a retryable :class:`ProviderError` after ``timeout`` s); ``failures``
    makes that many calls raise ``error`` (a :class:`ProviderError` by default; any exception
    to imitate a bug). ``calls`` records ``(text, source, target)``.
    """

    def __init__(
        self,
        *,
        name: str = "fake",
        languages: Iterable[str] = ("en", "es", "fr", "de", "pt-BR"),
        delay: float = 0.0,
        timeout: float | None = None,
        failures: int = 0,
        error: Exception | None = None,
    ) -> None:
        super().__init__(name=name, pairs=pairs_among(languages))
        self.delay = delay
        self.timeout = timeout
        self.failures = failures
        self.error = error
        self.calls: list[tuple[str, Language, Language]] = []

    async def _translate(self, request: TranslationRequest) -> str:
        text, source, target = request.text, request.source, request.target
        self.check_pair(source, target)
        self.calls.append((text, source, target))
        if self.timeout is not None and self.delay > self.timeout:
            await asyncio.sleep(self.timeout)
            raise ProviderError(f"{self._name} timed out", retryable=True)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures > 0:
            self.failures -= 1
            raise self.error or ProviderError(f"{self._name} failed", retryable=True)
        return f"[{normalize_language(target)}] {text}"


# --- transcripts --------------------------------------------------------------------------------
class FakeTranscripts:
    """A transcript writer in memory; ``failures`` makes that many writes raise ``error``;
    each write takes ``delay`` seconds first."""

    def __init__(
        self,
        *,
        log: list[tuple[str, str]] | None = None,
        failures: int = 0,
        error: Exception | None = None,
        delay: float = 0.0,
    ) -> None:
        self.segments: list[tuple[Caption, bool]] = []
        self.segment_engines: dict[str, str] = {}
        """The recogniser named for each stored source segment, by segment id."""
        self.translations: list[tuple[Caption, str]] = []
        self.terms: dict[str, tuple[AppliedTerm, ...]] = {}
        """The glossary terms of each stored translation, by its segment id."""
        self.log = log if log is not None else []
        self.failures = failures
        self.error = error
        self.delay = delay
        self.closed = False

    async def _maybe_fail(self) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures > 0:
            self.failures -= 1
            raise self.error or ValueError("fake store failure")

    async def save_segment(
        self, meeting: Meeting, caption: Caption, *, interpreter: bool = False, engine: str = ""
    ) -> None:
        await self._maybe_fail()
        self.segments.append((caption, interpreter))
        self.segment_engines[caption.segment_id] = engine
        self.log.append(("stored", caption.segment_id))

    async def save_translation(
        self,
        meeting: Meeting,
        caption: Caption,
        *,
        engine: str = "",
        terms: Sequence[AppliedTerm] = (),
    ) -> None:
        await self._maybe_fail()
        self.translations.append((caption, engine))
        self.terms[caption.segment_id] = tuple(terms)
        self.log.append(("stored", caption.segment_id))

    async def aclose(self) -> None:
        self.closed = True


# --- room ---------------------------------------------------------------------------------------
@dataclass
class TextStream:
    """One text stream sent by the local participant."""

    topic: str
    attributes: dict[str, str]
    sender_identity: str | None
    text: str = ""
    closed: bool = False


@dataclass
class Published:
    """A track the local participant published (``unpublished`` once it was taken down)."""

    sid: str
    name: str
    track: rtc.LocalTrack
    unpublished: bool = False


class _FakeTextWriter:
    def __init__(self, record: TextStream) -> None:
        self._record = record

    async def write(self, text: str) -> None:
        self._record.text += text

    async def aclose(self, *args: Any, **kwargs: Any) -> None:
        self._record.closed = True


@dataclass
class _FakeLocalPublication:
    sid: str
    name: str


class FakeLocalParticipant:
    """The part of ``rtc.LocalParticipant`` the runtime uses, recording what it publishes.

    Knobs: ``publish_failures`` / ``attribute_failures`` / ``stream_failures`` make that many
    calls of ``publish_track`` / ``set_attributes`` / ``stream_text`` raise. ``log`` (shared
    with a :class:`FakeTranscripts` if given) records ``("published", segment_id)`` for every
    final caption text stream (``("interim", segment_id)`` for an interim one), in order.
    """

    def __init__(
        self, *, identity: str = "translator-ana", log: list[tuple[str, str]] | None = None
    ) -> None:
        self.identity = identity
        self.attributes: dict[str, str] = {}
        self.attribute_history: list[dict[str, str]] = []
        self.tracks: list[Published] = []
        self.text_streams: list[TextStream] = []
        self.data: list[tuple[bytes, str]] = []
        self.log = log if log is not None else []
        self.publish_failures = 0
        self.attribute_failures = 0
        self.stream_failures = 0
        self._sids = itertools.count(1)

    @property
    def published(self) -> list[str]:
        """Names of the tracks published now."""
        return [t.name for t in self.tracks if not t.unpublished]

    async def publish_track(
        self, track: rtc.LocalTrack, options: rtc.TrackPublishOptions | None = None
    ) -> _FakeLocalPublication:
        if self.publish_failures > 0:
            self.publish_failures -= 1
            raise RuntimeError("fake publish_track failure")
        sid = f"TR_{next(self._sids)}"
        self.tracks.append(Published(sid=sid, name=track.name, track=track))
        return _FakeLocalPublication(sid=sid, name=track.name)

    async def unpublish_track(self, track_sid: str) -> None:
        for t in self.tracks:
            if t.sid == track_sid:
                t.unpublished = True

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        if self.attribute_failures > 0:
            self.attribute_failures -= 1
            raise RuntimeError("fake set_attributes failure")
        self.attributes.update(attributes)
        self.attribute_history.append(dict(attributes))

    async def stream_text(
        self,
        *,
        destination_identities: list[str] | None = None,
        topic: str = "",
        attributes: dict[str, str] | None = None,
        stream_id: str | None = None,
        reply_to_id: str | None = None,
        total_size: int | None = None,
        sender_identity: str | None = None,
    ) -> _FakeTextWriter:
        if self.stream_failures > 0:
            self.stream_failures -= 1
            raise RuntimeError("fake stream_text failure")
        record = TextStream(
            topic=topic, attributes=dict(attributes or {}), sender_identity=sender_identity
        )
        self.text_streams.append(record)
        final = record.attributes.get("lk.transcription_final") == "true"
        self.log.append(
            ("published" if final else "interim", record.attributes.get("lk.segment_id", ""))
        )
        return _FakeTextWriter(record)

    async def publish_data(
        self,
        payload: bytes | str,
        *,
        reliable: bool = True,
        destination_identities: list[str] | None = None,
        topic: str = "",
    ) -> None:
        self.data.append((payload.encode() if isinstance(payload, str) else payload, topic))


@dataclass
class FakeRemotePublication:
    """A track a remote participant publishes; ``set_subscribed`` is recorded."""

    sid: str
    source: rtc.TrackSource.ValueType = rtc.TrackSource.SOURCE_MICROPHONE
    subscribed: bool = False
    name: str = "microphone"
    kind: rtc.TrackKind.ValueType = rtc.TrackKind.KIND_AUDIO
    muted: bool = False

    def set_subscribed(self, subscribed: bool) -> None:
        self.subscribed = subscribed


@dataclass
class FakeRemoteParticipant:
    identity: str
    attributes: dict[str, str] = field(default_factory=dict)
    name: str = ""
    kind: rtc.ParticipantKind.ValueType = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD
    track_publications: dict[str, FakeRemotePublication] = field(default_factory=dict)


class FakeRoom(rtc.EventEmitter[str]):
    """The part of ``rtc.Room`` the runtime uses. People join, change attributes, publish and
    leave through the helpers, which emit the events a real room would."""

    def __init__(
        self, *, name: str = "room", metadata: str = "", local: FakeLocalParticipant | None = None
    ) -> None:
        super().__init__()
        self.name = name
        self.metadata = metadata
        self.local_participant = local or FakeLocalParticipant()
        self.remote_participants: dict[str, FakeRemoteParticipant] = {}
        self.connected = True
        self._sids = itertools.count(1)

    def isconnected(self) -> bool:
        return self.connected

    def join(
        self,
        identity: str,
        *,
        language: str | None = None,
        attributes: Mapping[str, str] | None = None,
        agent: bool = False,
        name: str = "",
    ) -> FakeRemoteParticipant:
        attrs = dict(attributes or {})
        if language is not None:
            attrs["language"] = language
        p = FakeRemoteParticipant(
            identity=identity,
            attributes=attrs,
            name=name,
            kind=(
                rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
                if agent
                else rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD
            ),
        )
        self.remote_participants[identity] = p
        self.emit("participant_connected", p)
        return p

    def leave(self, identity: str) -> None:
        p = self.remote_participants.pop(identity)
        self.emit("participant_disconnected", p)

    def set_attributes(self, identity: str, attributes: Mapping[str, str]) -> None:
        p = self.remote_participants[identity]
        p.attributes.update(attributes)
        self.emit("participant_attributes_changed", dict(attributes), p)

    def publish_microphone(
        self, identity: str, *, name: str = "microphone", muted: bool = False
    ) -> FakeRemotePublication:
        p = self.remote_participants[identity]
        pub = FakeRemotePublication(sid=f"TR_mic{next(self._sids)}", name=name, muted=muted)
        p.track_publications[pub.sid] = pub
        self.emit("track_published", pub, p)
        return pub

    def set_muted(self, identity: str, muted: bool = True) -> None:
        """Mute (or unmute) every track ``identity`` publishes, one event per track."""
        p = self.remote_participants[identity]
        for pub in p.track_publications.values():
            if pub.muted != muted:
                pub.muted = muted
                self.emit("track_muted" if muted else "track_unmuted", p, pub)

    def unpublish(self, identity: str) -> None:
        """Take down every track ``identity`` publishes."""
        p = self.remote_participants[identity]
        for sid in list(p.track_publications):
            self.emit("track_unpublished", p.track_publications.pop(sid), p)


# --- providers ----------------------------------------------------------------------------------
class FakeStack:
    """Providers for a speaker agent: one :class:`FakeSTT`, one :class:`FakeTranslation`, and a
    :class:`FakeTTS` per language (kept in ``voices``)."""

    def __init__(
        self,
        *,
        stt: FakeSTT | None = None,
        translation: TranslationEngine | None = None,
        tts_seconds: float = 0.1,
    ) -> None:
        self.stt_instance = stt or FakeSTT()
        self.translation_engine = translation or FakeTranslation()
        self.tts_seconds = tts_seconds
        self.voices: dict[Language, FakeTTS] = {}

    def stt(self, *, allowed: Iterable[Language], prior: Language | None) -> FakeSTT:
        return self.stt_instance

    def recognisable(self, languages: Iterable[Language]) -> tuple[Language, ...]:
        return tuple(sorted(languages))

    def translation(self) -> TranslationEngine:
        return self.translation_engine

    def tts(self, language: Language, *, speaker: str) -> FakeTTS:
        voice = FakeTTS(seconds=self.tts_seconds)
        self.voices[language] = voice
        return voice


async def feed(
    frames: Iterable[rtc.AudioFrame], *, pace: float = 0.0
) -> AsyncIterator[rtc.AudioFrame]:
    """``frames`` as an audio stream, ``pace`` seconds apart (0: as fast as they are taken)."""
    for frame in frames:
        if pace:
            await asyncio.sleep(pace)
        else:
            await asyncio.sleep(0)
        yield frame
