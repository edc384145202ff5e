"""One speaker's interpretation pipeline: audio -> STT -> units -> translation -> captions, voice.

The speaker's microphone is pushed into a streaming STT. Every ``FINAL_TRANSCRIPT`` is a
*unit* (the STT commits stable sentences while a person is still talking, so a monologue is
interpreted as it goes). A unit is captioned in its own language, then handed to one *lane* per
target language, which translates units in order, publishes the translated caption and queues
the translation on that language's :class:`~interpreter.voice_channel.VoiceChannel`. A failure
in one lane is logged and counted; the other lanes and the captions carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from livekit import rtc
from livekit.agents import stt, tts, utils

from captions import Caption, CaptionsError
from captions.live import CaptionPublisher
from captions.store import Meeting, TranscriptWriter
from interpreter import metrics
from interpreter.errors import InterpreterError, LanguageError, UnknownLanguageError
from interpreter.voice_channel import VoiceChannel, VoiceUnit
from languages import Language, normalize_language

__all__ = ["SourceUnit", "SpeakerPipeline", "Translator"]

logger = logging.getLogger("interpreter.pipeline")

STT_RATE = 16000
TRANSLATION_TIMEOUT = 10.0
CONTEXT_UNITS = 2


class Translator(Protocol):
    """What the pipeline needs of a translation engine (the router implements it)."""

    async def translate(
        self,
        text: str,
        *,
        source: Language,
        target: Language,
        context: Sequence[str] = (),
        glossary: Mapping[str, str] | None = None,
    ) -> str: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceUnit:
    """A committed piece of what the speaker said."""

    segment_id: str
    text: str
    language: Language
    start: float
    end: float
    speech_end: float  # wall clock
    context: tuple[str, ...]


class _AudioClock:
    """Maps seconds of speaker audio to the wall clock (audio arrives in real time)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.heard = 0.0
        self._wall_at_heard = clock()

    def advance(self, seconds: float) -> None:
        self.heard += seconds
        self._wall_at_heard = self._clock()

    def wall(self, audio_seconds: float) -> float:
        return self._wall_at_heard - (self.heard - audio_seconds)


class _Lane:
    """Translation, captions and voice for one target language, unit after unit."""

    def __init__(self, pipeline: SpeakerPipeline, language: Language, voice: VoiceChannel) -> None:
        self.language = language
        self.voice = voice
        self._pipeline = pipeline
        self._queue: utils.aio.Chan[SourceUnit] = utils.aio.Chan()
        self._task = asyncio.create_task(self._run(), name=f"lane-{language}")

    def put(self, unit: SourceUnit) -> None:
        if not self._queue.closed:
            self._queue.send_nowait(unit)

    async def aclose(self) -> None:
        self._queue.close()
        await utils.aio.cancel_and_wait(self._task)
        await self.voice.aclose()

    async def _run(self) -> None:
        async for unit in self._queue:
            if unit.language == self.language:
                continue  # listeners of this language hear and read the original
            try:
                await self._translate(unit)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                metrics.STAGE_ERRORS.labels("translation", self.language).inc()
                logger.error(
                    "translation failed",
                    extra={
                        "segment_id": unit.segment_id,
                        "source_language": unit.language,
                        "language": self.language,
                        "error": type(e).__name__,
                        "retryable": getattr(e, "retryable", False),
                    },
                )

    async def _translate(self, unit: SourceUnit) -> None:
        p = self._pipeline
        text = await asyncio.wait_for(
            p.translator.translate(
                unit.text, source=unit.language, target=self.language, context=unit.context
            ),
            TRANSLATION_TIMEOUT,
        )
        translated_at = p.clock()
        metrics.TRANSLATION_DONE.labels(self.language).observe(translated_at - unit.speech_end)
        caption = p.caption(unit, language=self.language, text=text)
        await p.record(caption)
        await p.captions.publish(caption)
        published_at = p.clock()
        metrics.CAPTION_PUBLISHED.labels(self.language, "true").observe(
            published_at - unit.speech_end
        )
        self.voice.say(
            VoiceUnit(segment_id=caption.segment_id, text=text, speech_end=unit.speech_end)
        )
        logger.info(
            "unit translated",
            extra={
                "segment_id": unit.segment_id,
                "source_language": unit.language,
                "language": self.language,
                "speech_end": round(unit.speech_end, 3),
                "translated_after": round(translated_at - unit.speech_end, 3),
                "published_after": round(published_at - unit.speech_end, 3),
            },
        )


class SpeakerPipeline:
    """Interprets one speaker into the current target languages."""

    def __init__(
        self,
        *,
        room: rtc.Room,
        speaker_identity: str,
        speaker_name: str,
        stt: stt.STT[Any],
        translator: Translator,
        tts_factory: Callable[[Language], tts.TTS[Any]],
        captions: CaptionPublisher,
        transcripts: TranscriptWriter | None = None,
        meeting: Meeting | None = None,
        interpreter: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.speaker_identity = speaker_identity
        self.speaker_name = speaker_name
        self.translator = translator
        self.captions = captions
        self.transcripts = transcripts
        self.meeting = meeting
        self.interpreter = interpreter
        self.clock = clock
        # Segment ids must differ between two runs of a translator for the same speaker (a
        # restarted agent) or the store's upsert would overwrite the earlier lines.
        self._id_prefix = f"{speaker_identity}-{secrets.token_hex(3)}"
        self._room = room
        self._stt = stt
        self._tts_factory = tts_factory
        self._lanes: dict[Language, _Lane] = {}
        self._audio = _AudioClock(clock)
        self._unit_count = 0
        self._track_sid = ""
        self._recent: deque[str] = deque(maxlen=CONTEXT_UNITS)
        self._last_interim = ""
        self._targets_lock = asyncio.Lock()

    @property
    def targets(self) -> frozenset[Language]:
        return frozenset(self._lanes)

    async def set_targets(self, targets: frozenset[Language]) -> None:
        """Publish a track (and start a lane) for each new target; close dropped ones."""
        async with self._targets_lock:
            for lang in sorted(set(self._lanes) - targets):
                await self._lanes.pop(lang).aclose()
            for lang in sorted(targets - set(self._lanes)):
                try:
                    voice = VoiceChannel(
                        room=self._room,
                        language=lang,
                        tts=self._tts_factory(lang),
                        clock=self.clock,
                    )
                except (InterpreterError, LanguageError) as e:
                    metrics.STAGE_ERRORS.labels("tts", lang).inc()
                    logger.error(
                        "no voice for target language",
                        extra={"language": lang, "error": e.message},
                    )
                    continue
                await voice.start()
                self._lanes[lang] = _Lane(self, lang, voice)

    def caption(self, unit: SourceUnit, *, language: Language, text: str) -> Caption:
        translated = language != unit.language
        return Caption(
            segment_id=f"{unit.segment_id}:{language}" if translated else unit.segment_id,
            source_segment_id=unit.segment_id,
            speaker_identity=self.speaker_identity,
            speaker_name=self.speaker_name,
            track_sid=self._track_sid,
            language=language,
            source_language=unit.language,
            text=text,
            final=True,
            start=unit.start,
            end=unit.end,
            wall_time=unit.speech_end,
        )

    async def record(self, caption: Caption) -> None:
        """Store a final caption before it is published (a crash loses nothing anyone saw).

        A store that stays unavailable after its own retries is logged and counted; the
        caption is still published, so listeners keep their captions during an outage.
        """
        if self.transcripts is None or self.meeting is None:
            return
        try:
            if caption.translated:
                engine = str(getattr(self.translator, "name", ""))
                await self.transcripts.save_translation(self.meeting, caption, engine=engine)
            else:
                await self.transcripts.save_segment(
                    self.meeting, caption, interpreter=self.interpreter
                )
        except CaptionsError as e:
            metrics.STAGE_ERRORS.labels("transcript", caption.language).inc()
            logger.error(
                "transcript write failed",
                extra={
                    "segment_id": caption.segment_id,
                    "language": caption.language,
                    "error": e.message,
                    "retryable": e.retryable,
                },
            )

    async def run(self, track: rtc.Track, *, track_sid: str) -> None:
        """Interpret ``track`` until it ends (unsubscribed, unpublished, speaker gone)."""
        self._track_sid = track_sid
        audio = rtc.AudioStream.from_track(track=track, sample_rate=STT_RATE, num_channels=1)
        stream = self._stt.stream()
        stream.start_time_offset = self._audio.heard

        async def forward() -> None:
            try:
                async for ev in audio:
                    stream.push_frame(ev.frame)
                    self._audio.advance(ev.frame.samples_per_channel / ev.frame.sample_rate)
            finally:
                with contextlib.suppress(RuntimeError):
                    stream.end_input()

        forwarder = asyncio.create_task(forward(), name="speaker-audio")
        try:
            async for event in stream:
                await self._on_speech_event(event)
        finally:
            await utils.aio.cancel_and_wait(forwarder)
            await stream.aclose()
            await audio.aclose()

    async def _on_speech_event(self, event: stt.SpeechEvent) -> None:
        if not event.alternatives:
            return
        data = event.alternatives[0]
        if event.type == stt.SpeechEventType.INTERIM_TRANSCRIPT:
            await self._on_interim(data)
        elif event.type == stt.SpeechEventType.FINAL_TRANSCRIPT and data.text.strip():
            await self._on_final(data)

    def _segment_id(self) -> str:
        return f"{self._id_prefix}-{self._unit_count + 1}"

    def _language_of(self, data: stt.SpeechData) -> Language | None:
        try:
            return normalize_language(str(data.language))
        except UnknownLanguageError:
            logger.warning("STT returned an unknown language; unit dropped")
            return None

    async def _on_interim(self, data: stt.SpeechData) -> None:
        unstable = str(data.metadata.get("unstable_text", "")) if data.metadata else ""
        text = " ".join(t for t in (data.text.strip(), unstable.strip()) if t)
        language = self._language_of(data)
        if not text or text == self._last_interim or language is None:
            return
        self._last_interim = text
        caption = Caption(
            segment_id=self._segment_id(),
            source_segment_id=self._segment_id(),
            speaker_identity=self.speaker_identity,
            speaker_name=self.speaker_name,
            track_sid=self._track_sid,
            language=language,
            source_language=language,
            text=text,
            final=False,
            start=data.start_time,
            end=data.end_time,
            wall_time=self._audio.wall(data.end_time),
        )
        await self.captions.publish(caption)

    async def _on_final(self, data: stt.SpeechData) -> None:
        language = self._language_of(data)
        if language is None:
            return
        speech_end = self._audio.wall(data.end_time)
        metrics.STT_FINAL.labels(language).observe(self.clock() - speech_end)
        metrics.UNITS.labels(language).inc()
        unit = SourceUnit(
            segment_id=self._segment_id(),
            text=data.text.strip(),
            language=language,
            start=data.start_time,
            end=data.end_time,
            speech_end=speech_end,
            context=tuple(self._recent),
        )
        self._unit_count += 1
        self._last_interim = ""
        self._recent.append(unit.text)
        caption = self.caption(unit, language=language, text=unit.text)
        await self.record(caption)
        await self.captions.publish(caption)
        metrics.CAPTION_PUBLISHED.labels(language, "false").observe(self.clock() - speech_end)
        for lane in self._lanes.values():
            lane.put(unit)

    async def aclose(self) -> None:
        async with self._targets_lock:
            lanes, self._lanes = list(self._lanes.values()), {}
        for lane in lanes:
            await lane.aclose()
