"""One speaker's interpretation pipeline: audio -> STT -> units -> translation -> captions, voice.

The speaker's microphone is pushed into a streaming STT. Every ``FINAL_TRANSCRIPT`` is a
*unit* (the STT commits stable sentences while a person is still talking, so a monologue is
interpreted as it goes). A unit is captioned in its own language, then handed to one *lane* per
target language, which translates units in order, publishes the translated caption and queues
the translation on that language's :class:`~interpreter.voice_channel.VoiceChannel`.

Nothing in one unit stops the speaker's interpretation: a failure of any stage (translation,
the transcript store, publishing, voicing) is logged and counted, and the next unit goes on; a
failure in one lane leaves the other lanes and the source captions alone; a failed STT stream
is replaced by a new one on the same audio.

A target language a human interpreter voices is *covered* (:meth:`SpeakerPipeline.set_covered`):
its lane stops voicing at once, and neither translates, captions nor voices; it holds its units
back instead (the last ``HELD_SECONDS`` of speech). When the human stops, the units whose
speech ended after they stopped are interpreted and voiced as usual (pacing skips those too
late to voice), and the older ones, which the human voiced, are dropped.

A speaker who is a human interpreter is captioned only while live on a language
(:meth:`SpeakerPipeline.set_interpreter_live`), in that language, and stored as interpretation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from livekit import rtc
from livekit.agents import stt, tts, utils

from captions import Caption, CaptionsError
from captions.live import CaptionPublisher
from captions.protocol import segment_run_prefix, source_segment_id, translated_segment_id
from captions.store import AppliedTerm, Meeting, TranscriptWriter
from glossary import Glossary
from glossary.enforcement import CheckedTerm, check_terms, engine_terms, required_terms
from interpreter import metrics
from interpreter.errors import InterpreterError, LanguageError, UnknownLanguageError
from interpreter.pacing import Pacing
from interpreter.tasks import count_failure, spawn
from interpreter.translation.engine import Translation, TranslationEngine, TranslationRequest
from interpreter.voice_channel import AudioSourceFactory, VoiceChannel, VoiceUnit
from languages import Language, normalize_language

__all__ = ["HELD_SECONDS", "TRANSLATION_TIMEOUT", "HeldUnits", "SourceUnit", "SpeakerPipeline"]

logger = logging.getLogger("interpreter.pipeline")

STT_RATE = 16000
TRANSLATION_TIMEOUT = 12.0
"""Seconds a unit's translation may take, fallbacks included: the router gives a preferred LLM
(whose own timeout is 10 s) what is left after keeping 2 s for the embedded fallback."""
CONTEXT_UNITS = 2
STT_RESTART_DELAY = 0.5
"""Seconds before a failed STT stream is replaced (doubling while it keeps failing)."""
STT_RESTART_MAX_DELAY = 30.0
STT_BACKLOG = 30.0
"""Seconds of audio kept for the next STT stream while none is open."""
HELD_SECONDS = 30.0
"""Seconds of speech a covered lane holds back: a unit whose speech ended longer than this
before the newest one's is dropped."""


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


@dataclass(frozen=True, slots=True)
class HeldUnits:
    """What a lane did with the units it held back while a human voiced its language."""

    replayed: int
    """Units whose speech ended after the human stopped: interpreted now."""
    dropped: int
    """Units the human voiced (or too many to hold): never interpreted."""


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


def _stage_failed(
    stage: str, language: str, e: Exception, *, segment_id: str, **extra: object
) -> None:
    """Log and count a failure of one stage for one unit; the caller carries on."""
    metrics.STAGE_ERRORS.labels(stage, language).inc()
    expected = isinstance(e, (InterpreterError, CaptionsError, LanguageError))
    logger.error(
        f"{stage} failed",
        exc_info=None if expected else e,
        extra={
            **extra,
            "segment_id": segment_id,
            "language": language,
            "error": type(e).__name__,
            "retryable": getattr(e, "retryable", False),
        },
    )


class _Lane:
    """Translation, captions and voice for one target language, unit after unit."""

    def __init__(
        self,
        pipeline: SpeakerPipeline,
        language: Language,
        voice: VoiceChannel,
        *,
        covered: bool = False,
    ) -> None:
        self.language = language
        self.voice = voice
        self.covered = False
        self._pipeline = pipeline
        self._queue: utils.aio.Chan[SourceUnit] = utils.aio.Chan()
        self._held: deque[SourceUnit] = deque()
        self._overflow = 0
        if covered:
            self.cover()
        self._task = spawn(self._run(), task="lane", name=f"lane-{language}")

    def put(self, unit: SourceUnit) -> None:
        if not self._queue.closed:
            self._queue.send_nowait(unit)

    def cover(self) -> None:
        """A human voices the language: silence the voice now, hold units from now on."""
        self.covered = True
        self.voice.silence()

    def uncover(self, since: float | None) -> HeldUnits:
        """The human stopped voicing at ``since`` (wall clock, like ``speech_end``; ``None``:
        unknown, everything held is interpreted): interpret the units held since then."""
        self.covered = False
        self.voice.resume()
        # units still queued came after the held ones; none of them was voiced either
        pending = [*self._held]
        while not self._queue.empty():
            unit = self._queue.recv_nowait()
            if unit.language != self.language:  # (the lane skips those anyway)
                pending.append(unit)
        self._held.clear()
        replay = [u for u in pending if since is None or u.speech_end >= since]
        dropped = len(pending) - len(replay) + self._overflow
        self._overflow = 0
        if not self._queue.closed:
            for unit in replay:
                self._queue.send_nowait(unit)
        return HeldUnits(replayed=len(replay), dropped=dropped)

    def _hold(self, unit: SourceUnit) -> None:
        self._held.append(unit)
        while self._held[0].speech_end < unit.speech_end - HELD_SECONDS:
            self._held.popleft()
            self._overflow += 1

    async def aclose(self) -> None:
        self._queue.close()
        await utils.aio.cancel_and_wait(self._task)
        await self.voice.aclose()

    async def _run(self) -> None:
        async for unit in self._queue:
            if unit.language == self.language:
                continue  # listeners of this language hear and read the original
            if self.covered:
                self._hold(unit)
                continue
            try:
                await self._interpret(unit)
            except Exception as e:  # a bug in one unit must not end the lane
                _stage_failed("lane", self.language, e, segment_id=unit.segment_id)

    async def _interpret(self, unit: SourceUnit) -> None:
        p = self._pipeline
        glossary = p.glossary
        required = (
            required_terms(glossary.pair(unit.language, self.language), unit.text)
            if glossary is not None
            else ()
        )
        try:
            request = TranslationRequest(
                text=unit.text,
                source=unit.language,
                target=self.language,
                context=unit.context,
                glossary=engine_terms(required) if required else None,
            )
            result = await p.translation.translate_request(request, within=p.translation_timeout)
        except Exception as e:
            _stage_failed(
                "translation",
                self.language,
                e,
                segment_id=unit.segment_id,
                source_language=unit.language,
            )
            return
        if self.covered:  # a human took the language while this unit was being translated
            self._hold(unit)
            return
        translated_at = p.clock()
        metrics.TRANSLATION_DONE.labels(self.language).observe(translated_at - unit.speech_end)
        checked = check_terms(required, result.text, self.language)
        self._count_terms(checked, segment_id=unit.segment_id, engine=result.engine)
        caption = p.caption(unit, language=self.language, text=result.text)
        await p.record(
            caption,
            translation=result,
            terms=[AppliedTerm(c.term.source, c.term.target, c.found) for c in checked],
        )
        if not await p.publish(caption):
            return
        if self.covered:
            return  # covered while the caption went out: a silenced voice would drop it
        published_at = p.clock()
        metrics.CAPTION_PUBLISHED.labels(self.language, "true").observe(
            published_at - unit.speech_end
        )
        self.voice.say(
            VoiceUnit(segment_id=caption.segment_id, text=result.text, speech_end=unit.speech_end)
        )
        logger.info(
            "unit translated",
            extra={
                "segment_id": unit.segment_id,
                "source_language": unit.language,
                "language": self.language,
                "engine": result.engine,
                "speech_end": round(unit.speech_end, 3),
                "translated_after": round(translated_at - unit.speech_end, 3),
                "published_after": round(published_at - unit.speech_end, 3),
            },
        )

    def _count_terms(self, checked: Sequence[CheckedTerm], *, segment_id: str, engine: str) -> None:
        if not checked:
            return
        misses = sum(not c.found for c in checked)
        metrics.GLOSSARY_TERMS.labels(self.language).inc(len(checked))
        if misses:
            metrics.GLOSSARY_MISSES.labels(self.language).inc(misses)
            logger.warning(
                "glossary terms missing from a translation",
                extra={
                    "segment_id": segment_id,
                    "language": self.language,
                    "engine": engine,
                    "terms": len(checked),
                    "misses": misses,
                },
            )


class SpeakerPipeline:
    """Interprets one speaker into the current target languages.

    Args:
        room: the agent's room (its local participant publishes the language tracks).
        translation: the translation engine (the router in production).
        tts_factory: a TTS for a target language.
        captions: publishes captions into the room.
        transcripts, meeting: where final captions are stored before they are published.
        interpreter: the speaker is a human interpreter (their transcripts say so).
        clock: wall clock (seconds).
        pacing: how each language track keeps up with the speaker.
        translation_timeout: seconds one unit's translation may take, fallbacks included.
        audio_source: makes the audio source of a language track (a test records frames).
        glossary: the room's glossary (its terms found in a unit are enforced in translation
            and checked in the output); :attr:`glossary` can be replaced at any time, and the
            next unit uses the new one.
    """

    def __init__(
        self,
        *,
        room: rtc.Room,
        speaker_identity: str,
        speaker_name: str,
        stt: stt.STT[Any],
        translation: TranslationEngine,
        tts_factory: Callable[[Language], tts.TTS[Any]],
        captions: CaptionPublisher,
        transcripts: TranscriptWriter | None = None,
        meeting: Meeting | None = None,
        interpreter: bool = False,
        clock: Callable[[], float] = time.time,
        pacing: Pacing | None = None,
        translation_timeout: float = TRANSLATION_TIMEOUT,
        audio_source: AudioSourceFactory | None = None,
        glossary: Glossary | None = None,
    ) -> None:
        self.glossary = glossary
        self.speaker_identity = speaker_identity
        self.speaker_name = speaker_name
        self.translation = translation
        self.translation_timeout = translation_timeout
        self.captions = captions
        self.transcripts = transcripts
        self.meeting = meeting
        self.interpreter = interpreter
        self.clock = clock
        self._run_prefix = segment_run_prefix(speaker_identity)
        self._room = room
        self._stt = stt
        self._tts_factory = tts_factory
        self._pacing = pacing
        self._audio_source = audio_source
        self._lanes: dict[Language, _Lane] = {}
        self._audio = _AudioClock(clock)
        self._unit_count = 0
        self._track_sid = ""
        self._recent: deque[str] = deque(maxlen=CONTEXT_UNITS)
        self._last_interim = ""
        self._targets_lock = asyncio.Lock()
        self._unvoiceable: set[Language] = set()
        self._covered: frozenset[Language] = frozenset()
        self._interpreter_live: Language | None = None

    @property
    def targets(self) -> frozenset[Language]:
        """The languages with a running lane (a published track)."""
        return frozenset(self._lanes)

    async def set_targets(self, targets: frozenset[Language]) -> None:
        """Publish a track (and start a lane) for each new target; close dropped ones.

        A target whose track cannot be published (after the voice channel's retries) is left
        out and tried again on the next call; one without a voice is left out for good.
        """
        async with self._targets_lock:
            for lang in sorted(set(self._lanes) - targets):
                await self._lanes.pop(lang).aclose()
            for lang in sorted(targets - set(self._lanes) - self._unvoiceable):
                try:
                    voice = VoiceChannel(
                        room=self._room,
                        language=lang,
                        tts=self._tts_factory(lang),
                        pacing=self._pacing,
                        clock=self.clock,
                        audio_source=self._audio_source,
                    )
                except (InterpreterError, LanguageError) as e:
                    self._unvoiceable.add(lang)
                    metrics.STAGE_ERRORS.labels("tts", lang).inc()
                    logger.error(
                        "no voice for target language",
                        extra={"language": lang, "error": e.message},
                    )
                    continue
                try:
                    await voice.start()
                except Exception as e:
                    await voice.aclose()
                    _stage_failed("track", lang, e, segment_id="")
                    continue
                self._lanes[lang] = _Lane(self, lang, voice, covered=lang in self._covered)

    @property
    def covered(self) -> frozenset[Language]:
        """The languages a human interpreter voices now (their lanes are silent)."""
        return self._covered

    def set_covered(
        self, covered: frozenset[Language], *, since: Mapping[Language, float] | None = None
    ) -> dict[Language, HeldUnits]:
        """Silence the lanes of ``covered`` languages, and resume the others.

        A newly covered lane stops voicing at once (the unit being voiced is cut, its track
        stays published) and holds its units. A lane no longer covered interprets the units
        it held whose speech ended at or after ``since[language]`` (seconds on :attr:`clock`,
        the wall clock ``speech_end`` is on: when the human stopped voicing); the older ones
        are dropped (a language missing from ``since`` interprets all it held). Languages
        without a lane are remembered: their lane starts covered.

        Returns what each resumed lane did with its held units.
        """
        self._covered = frozenset(covered)
        resumed: dict[Language, HeldUnits] = {}
        for lang, lane in self._lanes.items():
            if lang in covered and not lane.covered:
                lane.cover()
            elif lang not in covered and lane.covered:
                resumed[lang] = lane.uncover((since or {}).get(lang))
        return resumed

    @property
    def interpreter_live(self) -> Language | None:
        """The language an interpreter speaker is live on (``None``: not live)."""
        return self._interpreter_live

    def set_interpreter_live(self, language: Language | None) -> None:
        """An interpreter speaker is live on ``language`` (``None``: not live).

        Only while live is their speech captioned, in that language, and stored as
        interpretation; otherwise it is dropped (it is not part of the meeting).
        """
        if language == self._interpreter_live:
            return
        self._interpreter_live = language
        logger.info(
            "interpreter live: speech captioned"
            if language is not None
            else "interpreter not live: speech not captioned",
            extra={"language": language or ""},
        )

    def caption(self, unit: SourceUnit, *, language: Language, text: str) -> Caption:
        translated = language != unit.language
        return Caption(
            segment_id=(
                translated_segment_id(unit.segment_id, language) if translated else unit.segment_id
            ),
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

    async def record(
        self,
        caption: Caption,
        *,
        translation: Translation | None = None,
        terms: Sequence[AppliedTerm] = (),
        recogniser: str = "",
    ) -> None:
        """Store a final caption before it is published (a crash loses nothing anyone saw).

        ``translation`` names the engine that produced a translated caption, ``terms`` the
        glossary terms it had to contain, ``recogniser`` the STT provider that heard a source
        caption. The agent's store is a :class:`~interpreter.transcript_queue.TranscriptQueue`:
        while the database is away it keeps the caption for later and returns at once. Any
        failure of the store (a refused line, or an unexpected error) is logged and counted,
        and never raised: the caption is still published, so listeners keep their captions
        during an outage.
        """
        if self.transcripts is None or self.meeting is None:
            return
        try:
            if caption.translated:
                engine = translation.engine if translation is not None else self.translation.name
                await self.transcripts.save_translation(
                    self.meeting, caption, engine=engine, terms=terms
                )
            else:
                await self.transcripts.save_segment(
                    self.meeting, caption, interpreter=self.interpreter, engine=recogniser
                )
        except Exception as e:
            _stage_failed("transcript", caption.language, e, segment_id=caption.segment_id)

    async def publish(self, caption: Caption) -> bool:
        """Publish ``caption``; a failure is logged and counted (returns ``False``)."""
        try:
            await self.captions.publish(caption)
        except Exception as e:
            _stage_failed("caption", caption.language, e, segment_id=caption.segment_id)
            return False
        return True

    async def run(self, track: rtc.Track, *, track_sid: str) -> None:
        """Interpret ``track`` until it ends (unsubscribed, unpublished, speaker gone)."""
        audio = rtc.AudioStream.from_track(track=track, sample_rate=STT_RATE, num_channels=1)
        try:
            await self.interpret(_frames(audio), track_sid=track_sid)
        finally:
            await audio.aclose()

    async def interpret(self, audio: AsyncIterable[rtc.AudioFrame], *, track_sid: str) -> None:
        """Interpret 16 kHz mono ``audio`` until it ends.

        An STT stream that fails is logged, counted and replaced by a new one (after a delay
        that doubles while it keeps failing); the audio goes on into the new stream.
        """
        self._track_sid = track_sid
        current: list[stt.RecognizeStream] = []
        # audio heard while no stream is open (between a failure and its replacement) goes
        # into the next stream, so no speech is lost to a restart
        backlog: deque[rtc.AudioFrame] = deque()
        backlog_seconds = 0.0
        audio_done = asyncio.Event()

        async def forward() -> None:
            nonlocal backlog_seconds
            try:
                async for frame in audio:
                    seconds = frame.samples_per_channel / frame.sample_rate
                    self._audio.advance(seconds)
                    if current:
                        with contextlib.suppress(RuntimeError):  # a stream that just failed
                            current[-1].push_frame(frame)
                    elif backlog_seconds < STT_BACKLOG:
                        backlog.append(frame)
                        backlog_seconds += seconds
            finally:
                audio_done.set()
                if current:
                    with contextlib.suppress(RuntimeError):
                        current[-1].end_input()

        forwarder = spawn(forward(), task="speaker-audio", name="speaker-audio")
        delay = STT_RESTART_DELAY
        try:
            while True:
                stream = self._stt.stream()
                stream.start_time_offset = self._audio.heard - backlog_seconds
                while backlog:
                    stream.push_frame(backlog.popleft())
                backlog_seconds = 0.0
                current[:] = [stream]
                if audio_done.is_set():
                    stream.end_input()
                try:
                    async for event in stream:
                        if await self._on_speech_event(event):
                            delay = STT_RESTART_DELAY
                    if audio_done.is_set():
                        return  # the stream ended with its input: the audio is over
                    raise RuntimeError("the STT stream ended before its audio")
                except Exception as e:
                    if audio_done.is_set():
                        raise
                    count_failure("stt", e)
                finally:
                    current.clear()
                    await stream.aclose()
                await asyncio.sleep(delay)
                delay = min(delay * 2, STT_RESTART_MAX_DELAY)
        finally:
            await utils.aio.cancel_and_wait(forwarder)

    async def _on_speech_event(self, event: stt.SpeechEvent) -> bool:
        """Handle one STT event; ``True`` when it committed a unit. Never raises: whatever goes
        wrong with one event is logged and counted, and the next event is handled."""
        if not event.alternatives:
            return False
        data = event.alternatives[0]
        try:
            if event.type == stt.SpeechEventType.INTERIM_TRANSCRIPT:
                await self._on_interim(data)
            elif event.type == stt.SpeechEventType.FINAL_TRANSCRIPT and data.text.strip():
                await self._on_final(data)
                return True
        except Exception as e:
            _stage_failed("unit", str(data.language), e, segment_id=self._segment_id())
        return False

    def _segment_id(self) -> str:
        return source_segment_id(self._run_prefix, self._unit_count + 1)

    def _language_of(self, data: stt.SpeechData) -> Language | None:
        """The language of a transcript; ``None`` drops it."""
        if self.interpreter:
            return self._interpreter_live  # recognised in that language only; not live: dropped
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
        await self.publish(caption)

    async def _on_final(self, data: stt.SpeechData) -> None:
        language = self._language_of(data)
        if language is None:
            return
        speech_end = self._audio.wall(data.end_time)
        stt_final = self.clock() - speech_end
        metrics.STT_FINAL.labels(language).observe(stt_final)
        metrics.UNITS.labels(language).inc()
        details = data.metadata or {}
        logger.info(
            "unit committed",
            extra={
                "segment_id": self._segment_id(),
                "source_language": language,
                "speech_end": round(speech_end, 3),
                "stt_final_after": round(stt_final, 3),
                # what ended the unit, and the decode that heard it (from the STT, if it says)
                "commit": details.get("commit", ""),
                "speculative": bool(details.get("speculative", False)),
                "decode_seconds": details.get("decode_seconds", ""),
            },
        )
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
        await self.record(
            caption, recogniser=str(details.get("stt_provider") or self._stt.provider)
        )
        if await self.publish(caption):
            metrics.CAPTION_PUBLISHED.labels(language, "false").observe(self.clock() - speech_end)
        for lane in self._lanes.values():
            lane.put(unit)

    async def aclose(self) -> None:
        async with self._targets_lock:
            lanes, self._lanes = list(self._lanes.values()), {}
        for lane in lanes:
            await lane.aclose()


async def _frames(audio: rtc.AudioStream) -> AsyncIterator[rtc.AudioFrame]:
    async for ev in audio:
        yield ev.frame
