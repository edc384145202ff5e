"""The translator worker: registers with LiveKit and runs one translator job per speaker.

LiveKit dispatches a *publisher* job for every participant who publishes a track. Each job
joins the room as ``translator-<speaker identity>`` (see CONTRACTS.md), subscribes to that
speaker's microphone only, follows which languages the others want, and interprets the speaker
into each of them (:class:`~interpreter.pipeline.SpeakerPipeline`). Every job runs in its own
process, started by livekit-agents from a forkserver, so the entrypoint, the request handler
and the prewarm hook are module-level functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Coroutine
from typing import Any

from livekit import rtc
from livekit.agents import AgentServer, AutoSubscribe, JobContext, JobProcess, JobRequest, utils
from livekit.agents.worker import ServerType
from livekit.protocol import models

from captions.live import CaptionPublisher, meeting_of
from captions.store import Meeting, TranscriptStore, database_url
from interpreter.config import Settings, load_settings
from interpreter.demand import LANGUAGE_ATTRIBUTE, LanguageDemand, Listener, room_languages
from interpreter.errors import UnknownLanguageError
from interpreter.pipeline import SpeakerPipeline
from interpreter.processes import REGISTERED_MARKER
from interpreter.recovery import find_orphans, relaunch
from interpreter.stack import EmbeddedStack
from languages import Language, normalize_language

__all__ = ["TRANSLATOR_PREFIX", "build_agent_server", "run_worker", "translator_identity"]

logger = logging.getLogger("interpreter.worker")

TRANSLATOR_PREFIX = "translator-"
SOURCE_ATTRIBUTE = "interpreter.source"
LANGUAGES_ATTRIBUTE = "interpreter.languages"
ROLE_ATTRIBUTE = "role"
INTERPRETER_ROLE = "interpreter"
DEMAND_POLL = 1.0
ORPHAN_SWEEP = 15.0  # seconds between looks for speakers without a translator


def translator_identity(speaker_identity: str) -> str:
    """The identity of the translator agent that voices ``speaker_identity``."""
    return TRANSLATOR_PREFIX + speaker_identity


def prewarm(proc: JobProcess) -> None:
    """Load the models once per job process, before it gets a job."""
    stack = EmbeddedStack()
    stack.prewarm()
    proc.userdata["stack"] = stack


async def on_request(req: JobRequest) -> None:
    """Accept a job for every human publisher; agents (ours included) get none."""
    publisher = req.publisher
    if publisher is None or publisher.kind == models.ParticipantInfo.Kind.AGENT:
        await req.reject()
        return
    await req.accept(
        identity=translator_identity(publisher.identity),
        name=f"Translator ({publisher.name or publisher.identity})",
        attributes={SOURCE_ATTRIBUTE: publisher.identity, LANGUAGES_ATTRIBUTE: ""},
    )


def _declared_language(attributes: dict[str, str] | None) -> Language | None:
    code = (attributes or {}).get(LANGUAGE_ATTRIBUTE, "")
    if not code:
        return None
    try:
        return normalize_language(code)
    except UnknownLanguageError:
        return None


class _Translator:
    """The live state of one translator agent in its room."""

    def __init__(
        self,
        ctx: JobContext,
        stack: EmbeddedStack,
        *,
        transcripts: TranscriptStore | None = None,
        meeting: Meeting | None = None,
    ) -> None:
        self.ctx = ctx
        self.room = ctx.room
        self.speaker = ctx.job.participant.identity
        self.stack = stack
        self.transcripts = transcripts
        self.demand = LanguageDemand(speaker_identity=self.speaker)
        speaker = self.room.remote_participants.get(self.speaker)
        self.speaker_language = _declared_language(
            dict(speaker.attributes) if speaker else dict(ctx.job.participant.attributes)
        )
        self.stt = stack.stt(
            allowed=self._room_wide_languages(room_languages(self.room.metadata or "")),
            prior=self.speaker_language,
        )
        self.pipeline = SpeakerPipeline(
            room=self.room,
            speaker_identity=self.speaker,
            speaker_name=ctx.job.participant.name or self.speaker,
            stt=self.stt,
            translator=stack.translator(),
            tts_factory=lambda lang: stack.tts(lang, speaker=self.speaker),
            captions=CaptionPublisher(participant=self.room.local_participant),
            transcripts=transcripts,
            meeting=meeting,
        )
        self._refresh_needed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._audio_task: asyncio.Task[None] | None = None

    def _listeners(self) -> list[Listener]:
        return [
            Listener(
                p.identity,
                dict(p.attributes),
                is_agent=p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT,
            )
            for p in self.room.remote_participants.values()
        ]

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

    async def refresh(self) -> None:
        speaker = self.room.remote_participants.get(self.speaker)
        interpreter = False
        if speaker is not None:
            self.speaker_language = _declared_language(dict(speaker.attributes))
            interpreter = speaker.attributes.get(ROLE_ATTRIBUTE) == INTERPRETER_ROLE
            self.pipeline.interpreter = interpreter
        room = room_languages(self.room.metadata or "")
        # a human interpreter is already the translation: caption their speech, voice nothing
        wanted = (
            frozenset()
            if interpreter
            else self.demand.wanted(
                self._listeners(), room=room, speaker_language=self.speaker_language
            )
        )
        change = self.demand.update(wanted, now=time.monotonic())
        allowed = self.stack.recognisable(self._room_wide_languages(room))
        self.stt.update_options(  # type: ignore[attr-defined]
            allowed_languages=allowed or None, language_prior=self.speaker_language
        )
        if change:
            await self.pipeline.set_targets(self.demand.targets)
            await self.room.local_participant.set_attributes(
                {LANGUAGES_ATTRIBUTE: ",".join(sorted(self.pipeline.targets))}
            )
            logger.info(
                "target languages changed",
                extra={
                    "room": self.room.name,
                    "added": sorted(change.added),
                    "removed": sorted(change.removed),
                },
            )

    async def demand_loop(self) -> None:
        while True:
            await self.refresh()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._refresh_needed.wait(), DEMAND_POLL)
            self._refresh_needed.clear()

    def request_refresh(self, *_: object) -> None:
        self._refresh_needed.set()

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
        self._audio_task = asyncio.create_task(
            self.pipeline.run(track, track_sid=pub.sid), name="speaker-pipeline"
        )
        logger.info("interpreting speaker", extra={"room": self.room.name, "track": pub.sid})

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        tasks = [*self._tasks, *([self._audio_task] if self._audio_task else [])]
        await utils.aio.cancel_and_wait(*tasks)
        await self.pipeline.aclose()
        if self.transcripts is not None:  # shutdown callbacks run concurrently: close it here
            await self.transcripts.aclose()


async def translator_session(ctx: JobContext) -> None:
    """One speaker's translator agent."""
    stack = ctx.proc.userdata.get("stack")
    if not isinstance(stack, EmbeddedStack):
        stack = EmbeddedStack()
    await ctx.connect(auto_subscribe=AutoSubscribe.SUBSCRIBE_NONE)
    # job processes inherit the environment, so INTERPRETER_DB_URL reaches them
    settings = load_settings()
    transcripts = await TranscriptStore.open(
        database_url(db_url=settings.db_url, data_dir=settings.data_dir)
    )
    meeting = await meeting_of(ctx.room)
    agent = _Translator(ctx, stack, transcripts=transcripts, meeting=meeting)
    speaker = agent.speaker
    logger.info(
        "translator joined",
        extra={"room": ctx.room.name, "speaker": speaker, "job_id": ctx.job.id},
    )

    room = ctx.room
    for event in (
        "participant_connected",
        "participant_disconnected",
        "participant_attributes_changed",
        "room_metadata_changed",
    ):
        room.on(event, agent.request_refresh)
    room.on("track_subscribed", agent.on_track_subscribed)

    def _on_track_published(pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
        if p.identity == speaker:
            agent.subscribe_to_speaker()

    def _on_disconnected(participant: rtc.RemoteParticipant) -> None:
        if participant.identity == speaker:
            logger.info("speaker left; translator ends", extra={"room": room.name})
            ctx.shutdown("speaker left")

    room.on("track_published", _on_track_published)
    room.on("participant_disconnected", _on_disconnected)
    ctx.add_shutdown_callback(agent.aclose)

    agent.spawn(agent.demand_loop(), "demand")
    agent.subscribe_to_speaker()


class _SpeakerSlots:
    """The worker's load: running translator jobs / the speakers it may run."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity

    def __call__(self, server: AgentServer) -> float:
        return min(1.0, len(server.active_jobs) / self.capacity)


def build_agent_server(settings: Settings) -> AgentServer:
    server = AgentServer(
        ws_url=settings.ws_url,
        api_key=settings.api_key,
        api_secret=settings.api_secret,
        host=settings.host,
        port=settings.worker_port,
        num_idle_processes=settings.worker_idle_processes,
        # Load is the share of speaker slots in use, not machine CPU: on a small machine the
        # models keep the CPU busy, and a CPU-based load would turn new speakers away.
        load_fnc=_SpeakerSlots(settings.worker_max_speakers),
        load_threshold=1.0,
        log_level=settings.log_level,
        setup_fnc=prewarm,
        initialize_process_timeout=120.0,
        prometheus_port=settings.metrics_port,
        prometheus_multiproc_dir=str(settings.data_dir / "metrics" / str(settings.worker_port)),
    )
    server.rtc_session(translator_session, type=ServerType.PUBLISHER, on_request=on_request)
    return server


async def _serve(settings: Settings) -> None:
    server = build_agent_server(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    recovering: set[asyncio.Task[None]] = set()

    @server.on("worker_registered")
    def _registered(worker_id: str, server_info: object) -> None:
        logger.info("worker registered", extra={"worker_id": worker_id, "url": settings.ws_url})
        task = asyncio.create_task(_recover_orphans(server, settings), name="recover")
        recovering.add(task)
        task.add_done_callback(recovering.discard)

    run = asyncio.create_task(server.run(devmode=False), name="agent-server")
    stopper = asyncio.create_task(stop.wait(), name="stop-signal")
    await asyncio.wait({run, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
    stopper.cancel()
    await utils.aio.cancel_and_wait(*recovering)
    logger.info("worker stopping")
    await server.aclose()
    if run.done():
        run.result()  # surfaces a failure of the worker itself
    else:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run


async def _recover_orphans(server: AgentServer, settings: Settings) -> None:
    """Give every speaker without a translator one (see recovery.py): those already in rooms
    when the worker registers at once, later ones once they have been seen without a
    translator in two sweeps in a row (a dispatch in flight takes a few seconds, not two
    sweeps)."""
    strikes: dict[tuple[str, str], int] = {}
    needed = 1
    while True:
        try:
            orphans = await find_orphans(settings, prefix=TRANSLATOR_PREFIX)
            seen = {(o.room.sid, o.speaker.identity) for o in orphans}
            strikes = {key: strikes.get(key, 0) + 1 for key in seen}
            for orphan in orphans:
                key = (orphan.room.sid, orphan.speaker.identity)
                if strikes[key] >= needed:
                    del strikes[key]
                    await relaunch(
                        server,
                        settings,
                        orphan,
                        identity=translator_identity(orphan.speaker.identity),
                        attributes={
                            SOURCE_ATTRIBUTE: orphan.speaker.identity,
                            LANGUAGES_ATTRIBUTE: "",
                        },
                    )
        except Exception:
            logger.exception("could not look for speakers without a translator")
        if needed == 1:
            print(f"{REGISTERED_MARKER} with {settings.ws_url} (id {server.id})", flush=True)
            needed = 2
        await asyncio.sleep(ORPHAN_SWEEP)


def run_worker(settings: Settings) -> None:
    """Run the worker until SIGINT/SIGTERM; jobs in flight are closed on the way out."""
    asyncio.run(_serve(settings))
