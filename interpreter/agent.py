"""The per-speaker agent: one speaker's translator in its room, and the job that runs it.

LiveKit dispatches a *publisher* job for every participant who publishes a track. The job
joins the room as ``translator-<speaker identity>`` (:func:`captions.protocol.agent_identity`),
subscribes to that speaker's microphone only, follows which languages the others want
(:class:`~interpreter.demand.LanguageDemand`), and interprets the speaker into each of them
(:class:`~interpreter.pipeline.SpeakerPipeline`). While a human interpreter voices one of
those languages (:class:`~interpreter.takeover.Takeover`), the agent's voice for it is silent
and the language is left out of its ``interpreter.languages`` attribute; it resumes when the
human stops.

:class:`SpeakerAgent` takes its room, providers and clocks as arguments, so tests drive it with
the fakes of :mod:`interpreter.testing.fakes`; :func:`speaker_agent_session` is the job
entrypoint that builds it from a ``JobContext``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from livekit import rtc
from livekit.agents import AutoSubscribe, JobContext, stt, tts, utils
from livekit.agents.job import JobAcceptArguments

from captions.live import CaptionPublisher, meeting_of
from captions.protocol import (
    ATTR_INTERPRETER_LANGUAGES,
    ATTR_INTERPRETER_LIVE,
    ATTR_LANGUAGE,
    ATTR_ROLE,
    ATTR_SOURCE,
    ATTR_WORKER,
    ROLE_INTERPRETER,
    agent_identity,
)
from captions.store import Meeting, TranscriptStore, database_url
from glossary import Glossary, GlossaryError, GlossaryStoreError
from glossary.store import GlossaryStore
from interpreter import metrics
from interpreter.config import Settings, load_settings
from interpreter.demand import (
    DEMAND_LINGER,
    DEMAND_POLL,
    LanguageDemand,
    RoomMember,
    room_languages,
)
from interpreter.errors import UnknownLanguageError
from interpreter.pacing import Pacing
from interpreter.pipeline import TRANSLATION_TIMEOUT, HeldUnits, SpeakerPipeline
from interpreter.takeover import MUTE_GRACE, CoverChange, Seat, Takeover
from interpreter.tasks import count_failure, retry, spawn
from interpreter.transcript_queue import TranscriptQueue, Transcripts
from interpreter.translation.engine import TranslationEngine
from interpreter.voice_channel import AudioSourceFactory
from languages import Language, all_languages, normalize_language

__all__ = [
    "GLOSSARY_POLL",
    "AgentTunings",
    "ConnectionWatch",
    "JobSpeaker",
    "Providers",
    "RoomGlossaries",
    "SpeakerAgent",
    "Transcripts",
    "agent_join_arguments",
    "speaker_agent_session",
    "speaker_of_job",
]

logger = logging.getLogger("interpreter.agent")

GLOSSARY_POLL = 2.0
"""Seconds between two looks at the room's glossary revision (a change applies within this)."""
SPEAKER_WAIT = 10.0
"""Seconds a relaunched translator waits for its speaker to be in the room."""


class Providers(Protocol):
    """What the agent needs of the provider stack (:class:`~interpreter.stack.EmbeddedStack`)."""

    def stt(self, *, allowed: Iterable[Language], prior: Language | None) -> stt.STT[Any]: ...

    def recognisable(self, languages: Iterable[Language]) -> tuple[Language, ...]: ...

    def translation(self) -> TranslationEngine: ...

    def tts(self, language: Language, *, speaker: str) -> tts.TTS[Any]: ...


class RoomGlossaries(Protocol):
    """Where the agent finds its room's glossary (:class:`glossary.store.GlossaryStore`)."""

    async def revision(self, room: str) -> int | None: ...

    async def load(self, room: str) -> tuple[int, Glossary] | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentTunings:
    """The agent's timings; each default lives with the class or module that uses it."""

    pacing: Pacing = field(default_factory=Pacing)
    demand_linger: float = DEMAND_LINGER
    demand_poll: float = DEMAND_POLL
    translation_timeout: float = TRANSLATION_TIMEOUT
    glossary_poll: float = GLOSSARY_POLL
    mute_grace: float = MUTE_GRACE

    @classmethod
    def from_settings(cls, settings: Settings) -> AgentTunings:
        """The defaults, overridden by whatever ``settings`` set."""
        return cls(
            pacing=settings.pacing(),
            demand_linger=_given(settings.demand_linger, DEMAND_LINGER),
            demand_poll=_given(settings.demand_poll, DEMAND_POLL),
            translation_timeout=_given(settings.translation_timeout, TRANSLATION_TIMEOUT),
            mute_grace=_given(settings.mute_grace, MUTE_GRACE),
        )


def _given(value: float | None, default: float) -> float:
    return default if value is None else value


def agent_join_arguments(
    speaker_identity: str, speaker_name: str = "", *, worker: str = ""
) -> JobAcceptArguments:
    """How the agent of ``speaker_identity`` joins: identity, display name, attributes;
    ``worker`` is the presence name of the worker that runs it (see
    :class:`interpreter.worker.OrphanSweep`)."""
    attributes = {ATTR_SOURCE: speaker_identity, ATTR_INTERPRETER_LANGUAGES: ""}
    if worker:
        attributes[ATTR_WORKER] = worker
    return JobAcceptArguments(
        name=f"Translator ({speaker_name or speaker_identity})",
        identity=agent_identity(speaker_identity),
        metadata="",
        attributes=attributes,
    )


def _declared_language(
    attributes: Mapping[str, str] | None, attribute: str = ATTR_LANGUAGE
) -> Language | None:
    """The language an attribute names (``language`` unless told); ``None`` if empty or
    unknown."""
    code = (attributes or {}).get(attribute, "")
    if not code:
        return None
    try:
        return normalize_language(code)
    except UnknownLanguageError:
        return None


class SpeakerAgent:
    """The live state of one speaker's agent in its room.

    It feeds room events to the demand and carries out its answers: a track and a lane per
    target language, the ``interpreter.languages`` attribute saying which. It feeds the room's
    interpreters to the takeover and carries out its answers too: a language a human voices is
    silenced at once and left out of the attribute. An interpreter-role speaker is captioned
    while live on a language, never translated. ``on_speaker_left`` is called when the speaker
    disconnects (the job ends).
    """

    def __init__(
        self,
        *,
        room: rtc.Room,
        speaker_identity: str,
        speaker_name: str = "",
        speaker_attributes: Mapping[str, str] | None = None,
        providers: Providers,
        transcripts: Transcripts | None = None,
        glossaries: RoomGlossaries | None = None,
        meeting: Meeting | None = None,
        tunings: AgentTunings | None = None,
        on_speaker_left: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        audio_source: AudioSourceFactory | None = None,
    ) -> None:
        self.room = room
        self.speaker = speaker_identity
        self.providers = providers
        self.transcripts = transcripts
        self.glossaries = glossaries
        self._glossary_revision: int | None = None
        self.tunings = tunings or AgentTunings()
        self._on_speaker_left = on_speaker_left
        self._clock = clock
        self._monotonic = monotonic
        self.takeover = Takeover(grace=self.tunings.mute_grace)
        self.demand = LanguageDemand(
            speaker_identity=speaker_identity, linger=self.tunings.demand_linger
        )
        present = room.remote_participants.get(speaker_identity)
        self.speaker_language = _declared_language(
            dict(present.attributes) if present else speaker_attributes
        )
        self.stt = providers.stt(
            allowed=self._room_wide_languages(room_languages(room.metadata or "")),
            prior=self.speaker_language,
        )
        self.pipeline = SpeakerPipeline(
            room=room,
            speaker_identity=speaker_identity,
            speaker_name=speaker_name or speaker_identity,
            stt=self.stt,
            translation=providers.translation(),
            tts_factory=lambda lang: providers.tts(lang, speaker=speaker_identity),
            captions=CaptionPublisher(participant=room.local_participant),
            transcripts=transcripts,
            meeting=meeting,
            clock=clock,
            pacing=self.tunings.pacing,
            translation_timeout=self.tunings.translation_timeout,
            audio_source=audio_source,
        )
        self._refresh_needed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._audio_task: asyncio.Task[None] | None = None
        self._languages_attribute: str | None = None

    def _members(self) -> list[RoomMember]:
        return [
            RoomMember(
                p.identity,
                dict(p.attributes),
                is_agent=p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT,
            )
            for p in self.room.remote_participants.values()
        ]

    def _seats(self) -> list[Seat]:
        """The interpreters in the room, as the takeover sees them."""
        seats = []
        for p in self.room.remote_participants.values():
            if p.attributes.get(ATTR_ROLE) != ROLE_INTERPRETER:
                continue
            audio = [
                pub for pub in p.track_publications.values() if pub.kind == rtc.TrackKind.KIND_AUDIO
            ]
            seats.append(
                Seat(
                    identity=p.identity,
                    name=p.name,
                    live=_declared_language(dict(p.attributes), ATTR_INTERPRETER_LIVE),
                    published=bool(audio),
                    muted=all(pub.muted for pub in audio),
                )
            )
        return seats

    def apply_takeover(self, *, event_at: float | None = None) -> None:
        """Feed the room's interpreters to the takeover and carry out its answer now: silence
        the voice of each language a human took, resume the others (with the units spoken
        after the human stopped). Synchronous, so no slower step can delay it.

        ``event_at`` is when the room event that asked for it came (monotonic): the latency
        of what it changes is measured from there.
        """
        now = self._monotonic()
        change = self.takeover.update(self._seats(), now=now)
        if not change:
            return
        voiced = self.pipeline.targets
        wall = self._clock()
        resumed = self.pipeline.set_covered(
            self.takeover.covered,
            # the pipeline's units carry wall-clock times; the takeover's are monotonic
            since={c.language: wall - (now - c.since) for c in change.uncovered},
        )
        done = self._monotonic()
        observed = event_at if event_at is not None else now
        for c in change.covered:
            if c.language in voiced:
                self._report("silenced", c, latency=done - observed)
        for c in change.uncovered:
            held = resumed.get(c.language)
            if held is not None:
                reference = c.deadline if c.deadline is not None else observed
                self._report("resumed", c, latency=done - reference, held=held)

    def _report(
        self, event: str, change: CoverChange, *, latency: float, held: HeldUnits | None = None
    ) -> None:
        metrics.TAKEOVER_EVENTS.labels(change.language, event, change.cause).inc()
        metrics.TAKEOVER_LATENCY.labels(event).observe(max(0.0, latency))
        logger.info(
            f"machine voice {event}",
            extra={
                "room": self.room.name,
                "language": change.language,
                "cause": change.cause,
                "interpreter": change.identity,
                "latency": round(latency, 3),
                **(
                    {"replayed": held.replayed, "dropped": held.dropped} if held is not None else {}
                ),
            },
        )

    def _room_wide_languages(self, room: frozenset[Language]) -> set[Language]:
        """Every language anyone in the room declared, plus the room's (``room``): what speech
        may be in."""
        langs = set(room)
        for p in self.room.remote_participants.values():
            lang = _declared_language(dict(p.attributes))
            if lang is not None:
                langs.add(lang)
        if self.speaker_language is not None:
            langs.add(self.speaker_language)
        return langs

    def attach(self) -> None:
        """Follow the room's events."""
        for event in (
            "participant_connected",
            "participant_disconnected",
            "participant_attributes_changed",
            "room_metadata_changed",
            "track_published",
            "track_unpublished",
            "track_muted",
            "track_unmuted",
        ):
            self.room.on(event, self._on_room_event)
        self.room.on("track_subscribed", self.on_track_subscribed)
        self.room.on("track_published", self._on_track_published)
        self.room.on("participant_disconnected", self._on_participant_disconnected)

    def start(self) -> None:
        """Follow the room, start the demand loop and subscribe to the speaker."""
        self.attach()
        spawn(self.demand_loop(), task="demand", owner=self._tasks)
        if self.glossaries is not None:
            spawn(self.glossary_loop(), task="glossary", owner=self._tasks)
        self.subscribe_to_speaker()

    async def glossary_loop(self) -> None:
        """Follow the room's glossary: look at its revision every ``glossary_poll`` seconds
        and load it when it changed. A failed look is logged and counted; the loop goes on
        with the glossary it has."""
        while True:
            try:
                await self.refresh_glossary()
            except Exception as e:
                count_failure("glossary-refresh", e)
            await asyncio.sleep(self.tunings.glossary_poll)

    async def refresh_glossary(self) -> None:
        """Load the room's glossary if it changed since the last look (or drop it if it was
        deleted); the next unit translates with it and the recogniser is biased to its terms.
        """
        if self.glossaries is None:
            return
        room = self.room.name
        revision = await self.glossaries.revision(room)
        if revision == self._glossary_revision:
            return
        try:
            loaded = await self.glossaries.load(room) if revision is not None else None
        except GlossaryError as e:
            # stored by a version that accepted it: keep what we have, say why once
            self._glossary_revision = revision
            logger.error(
                "stored glossary refused; the previous one stays in use",
                extra={"room": room, "revision": revision, "problems": len(e.problems)},
            )
            return
        glossary = loaded[1] if loaded is not None else None
        self.pipeline.glossary = glossary
        self._set_vocabulary(glossary)
        self._glossary_revision = loaded[0] if loaded is not None else None
        logger.info(
            "glossary loaded" if glossary is not None else "glossary removed",
            extra={
                "room": room,
                "revision": self._glossary_revision,
                "terms": len(glossary) if glossary is not None else 0,
            },
        )

    def _set_vocabulary(self, glossary: Glossary | None) -> None:
        """Bias the recogniser to the glossary's terms in every language speech may be in."""
        set_vocabulary = getattr(self.stt, "set_vocabulary", None)
        if set_vocabulary is None:
            return  # a recogniser without biasing
        if glossary is None:
            set_vocabulary({})
            return
        # every language the recogniser may hear, not only today's: the names to keep apply
        # to a speaker of any language who joins later (each prompt is built on first use)
        languages = glossary.languages() | set(self.providers.recognisable(all_languages()))
        vocabulary = {lang: glossary.vocabulary(lang) for lang in sorted(languages)}
        set_vocabulary({lang: terms for lang, terms in vocabulary.items() if terms})

    async def refresh(self) -> None:
        """Bring the takeover, targets, tracks, STT options and the languages attribute up to
        date (the takeover first: the steps after it may take a while)."""
        self.apply_takeover()
        speaker = self.room.remote_participants.get(self.speaker)
        interpreter = False
        live: Language | None = None
        if speaker is not None:
            self.speaker_language = _declared_language(dict(speaker.attributes))
            interpreter = speaker.attributes.get(ATTR_ROLE) == ROLE_INTERPRETER
            self.pipeline.interpreter = interpreter
            if interpreter:
                live = _declared_language(dict(speaker.attributes), ATTR_INTERPRETER_LIVE)
                self.pipeline.set_interpreter_live(live)
        room = room_languages(self.room.metadata or "")
        # a human interpreter is already the translation: caption their speech, voice nothing
        wanted = (
            frozenset()
            if interpreter
            else self.demand.wanted(
                self._members(), room=room, speaker_language=self.speaker_language
            )
        )
        change = self.demand.update(wanted, now=self._monotonic())
        # a live interpreter speaks the language they voice, and only it
        allowed = self.providers.recognisable(
            [live] if live is not None else self._room_wide_languages(room)
        )
        prior = live if live is not None else self.speaker_language
        self.stt.update_options(  # type: ignore[attr-defined]
            allowed_languages=allowed or None, language_prior=prior
        )
        if change:
            logger.info(
                "target languages changed",
                extra={
                    "room": self.room.name,
                    "added": sorted(change.added),
                    "removed": sorted(change.removed),
                },
            )
        if change or self.pipeline.targets != self.demand.targets:
            # also when a track failed to publish last time: it is tried again
            await self.pipeline.set_targets(self.demand.targets)
        # the languages this agent voices now: a language a human voices is not one of them
        languages = ",".join(sorted(self.pipeline.targets - self.takeover.covered))
        if languages != self._languages_attribute:
            await retry(
                lambda: self.room.local_participant.set_attributes(
                    {ATTR_INTERPRETER_LANGUAGES: languages}
                ),
                what="set_attributes",
            )
            self._languages_attribute = languages

    async def demand_loop(self) -> None:
        """Refresh on every room event, every ``demand_poll`` seconds (for the linger), and
        when a takeover grace ends. A failed refresh is logged and counted; the loop goes on."""
        while True:
            try:
                await self.refresh()
            except Exception as e:
                count_failure("demand-refresh", e)
            wait = self.tunings.demand_poll
            deadline = self.takeover.next_deadline()
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - self._monotonic()))
            # asyncio.timeout, not wait_for: on Python 3.11, wait_for loses a cancellation
            # that arrives in the same tick as the event, and the loop would never end
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._refresh_needed.wait()
            self._refresh_needed.clear()

    def request_refresh(self, *_: object) -> None:
        self._refresh_needed.set()

    def _on_room_event(self, *_: object) -> None:
        """A room event: the takeover at once (a human's voice must not wait for the demand
        loop), then a refresh for the rest."""
        try:
            self.apply_takeover(event_at=self._monotonic())
        except Exception as e:  # the refresh tries again
            count_failure("takeover", e)
        self.request_refresh()

    def subscribe_to_speaker(self) -> None:
        speaker = self.room.remote_participants.get(self.speaker)
        if speaker is None:
            return
        for pub in speaker.track_publications.values():
            if pub.source == rtc.TrackSource.SOURCE_MICROPHONE and not pub.subscribed:
                pub.set_subscribed(True)

    def on_track_subscribed(
        self, track: rtc.Track, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant
    ) -> None:
        if p.identity != self.speaker or pub.source != rtc.TrackSource.SOURCE_MICROPHONE:
            return
        if self._audio_task is not None and not self._audio_task.done():
            self._audio_task.cancel()
        self._audio_task = spawn(
            self.pipeline.run(track, track_sid=pub.sid), task="speaker-pipeline"
        )
        logger.info("interpreting speaker", extra={"room": self.room.name, "track": pub.sid})

    def _on_track_published(
        self, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant
    ) -> None:
        if p.identity == self.speaker:
            self.subscribe_to_speaker()

    def _on_participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity == self.speaker:
            logger.info("speaker left; translator ends", extra={"room": self.room.name})
            self._on_speaker_left()

    async def aclose(self) -> None:
        tasks = [*self._tasks, *([self._audio_task] if self._audio_task else [])]
        await utils.aio.cancel_and_wait(*tasks)
        await self.pipeline.aclose()
        if self.transcripts is not None:  # shutdown callbacks run concurrently: close it here
            await self.transcripts.aclose()


async def _room_glossaries(transcripts: TranscriptStore) -> GlossaryStore | None:
    """The room glossaries, in the transcript database; ``None`` (logged) if the table cannot
    be made: the agent then interprets without a glossary rather than not at all."""
    glossaries = GlossaryStore(transcripts.engine)
    try:
        await glossaries.create_schema()
    except GlossaryStoreError as e:
        logger.error("room glossaries unavailable", extra={"error": e.message})
        return None
    return glossaries


@dataclass(frozen=True, slots=True)
class JobSpeaker:
    """The participant a job interprets."""

    identity: str
    name: str
    attributes: Mapping[str, str]


class ConnectionWatch:
    """Whether a translator's room connection was lost, rather than ended, replaced or removed:
    it was still reconnecting when the job ended (the server ended the job meanwhile), or it
    ended for a reason other than those in :data:`interpreter.recovery.LOST_NORMALLY`."""

    def __init__(self, room: rtc.Room) -> None:
        self.reconnecting = False
        self.disconnected: rtc.DisconnectReason.ValueType | None = None
        room.on("reconnecting", self._on_reconnecting)
        room.on("reconnected", self._on_reconnected)
        room.on("disconnected", self._on_disconnected)

    def _on_reconnecting(self) -> None:
        self.reconnecting = True

    def _on_reconnected(self) -> None:
        self.reconnecting = False

    def _on_disconnected(
        self, reason: rtc.DisconnectReason.ValueType = rtc.DisconnectReason.UNKNOWN_REASON
    ) -> None:
        if self.disconnected is None:
            self.disconnected = reason

    def lost_because(self) -> str | None:
        """Why the connection counts as lost, or ``None`` when it does not."""
        from interpreter.recovery import LOST_NORMALLY

        if self.reconnecting:
            return "still reconnecting"
        if self.disconnected is not None and self.disconnected not in LOST_NORMALLY:
            return rtc.DisconnectReason.Name(self.disconnected)
        return None


async def speaker_of_job(ctx: JobContext, *, within: float = SPEAKER_WAIT) -> JobSpeaker | None:
    """Who this job interprets: the participant of a publisher job; for a job the worker
    started itself (:func:`interpreter.recovery.relaunch`: a room job with no participant),
    the speaker its token's ``interpreter.source`` attribute names, as the room shows them.
    ``None`` when that speaker is not in the room ``within`` seconds."""
    if ctx.job.HasField("participant") and ctx.job.participant.identity:
        p = ctx.job.participant
        return JobSpeaker(identity=p.identity, name=p.name, attributes=dict(p.attributes))
    identity = (ctx.token_claims().attributes or {}).get(ATTR_SOURCE, "")
    if not identity:
        return None
    try:
        async with asyncio.timeout(within):
            remote = await ctx.wait_for_participant(identity=identity)
    except TimeoutError:
        return None
    return JobSpeaker(identity=remote.identity, name=remote.name, attributes=remote.attributes)


async def speaker_agent_session(ctx: JobContext) -> None:
    """The job entrypoint: one speaker's agent."""
    from interpreter.stack import EmbeddedStack

    stack = ctx.proc.userdata.get("stack")
    if not isinstance(stack, EmbeddedStack):
        stack = EmbeddedStack()
    await ctx.connect(auto_subscribe=AutoSubscribe.SUBSCRIBE_NONE)
    participant = await speaker_of_job(ctx)
    if participant is None:
        logger.info("speaker not in the room: nothing to interpret", extra={"room": ctx.room.name})
        ctx.shutdown("speaker not in the room")
        return
    # job processes inherit the environment, so INTERPRETER_DB_URL reaches them
    settings = load_settings()
    store = await TranscriptStore.open(
        database_url(db_url=settings.db_url, data_dir=settings.data_dir)
    )
    glossaries = await _room_glossaries(store)
    # a database outage delays transcript lines (queued in order), never captions
    transcripts = TranscriptQueue(store)
    meeting = await meeting_of(ctx.room)
    agent = SpeakerAgent(
        room=ctx.room,
        speaker_identity=participant.identity,
        speaker_name=participant.name,
        speaker_attributes=dict(participant.attributes),
        providers=stack,
        transcripts=transcripts,
        glossaries=glossaries,
        meeting=meeting,
        tunings=AgentTunings.from_settings(settings),
        on_speaker_left=lambda: ctx.shutdown("speaker left"),
    )
    logger.info(
        "translator joined",
        extra={"room": ctx.room.name, "speaker": agent.speaker, "job_id": ctx.job.id},
    )
    connection = ConnectionWatch(ctx.room)

    async def report_if_lost(reason: str) -> None:
        """A room connection that failed (not ended, replaced or removed) leaves the speaker
        without a translator: ask the sweeper to relaunch one now (before the store closes)."""
        from interpreter.recovery import report_lost_translator

        # "speaker left" too: a session in turmoil sees its speaker leave, who may still be
        # there; the sweeper relaunches only for a speaker in the room without a translator
        why = connection.lost_because()
        if why is None:
            return
        logger.warning(
            "room connection lost: translator reported lost",
            extra={"reason": why, "job_end": reason},
        )
        try:
            await report_lost_translator(
                store.engine, room_sid=meeting.room_sid, speaker_identity=agent.speaker
            )
        except Exception as e:  # the sweep's regular looks find the speaker anyway
            logger.warning("could not report a lost translator", extra={"error": str(e)})

    ctx.add_shutdown_callback(report_if_lost)
    ctx.add_shutdown_callback(agent.aclose)
    agent.start()
