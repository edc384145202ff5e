"""The worker: registers with LiveKit and runs one speaker agent job per speaker.

LiveKit dispatches a *publisher* job for every participant who publishes a track; each job runs
:func:`~interpreter.agent.speaker_agent_session` (see :mod:`interpreter.agent`). Every job runs
in its own process, started by livekit-agents from a forkserver, so the entrypoint, the request
handler and the prewarm hook are module-level functions. Once registered, the worker also
sweeps the server's rooms for speakers left without an agent (:mod:`interpreter.recovery`):
one sweep task per worker, kept across re-registrations, and one sweeping worker at a time
among all that share the database (a :class:`~interpreter.lease.Lease`).
Its probes (``/healthz``, ``/readyz``) are served on a port of their own
(:mod:`interpreter.health`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import signal
import uuid
import warnings
from collections.abc import AsyncIterator

from jwt.warnings import InsecureKeyLengthWarning
from livekit.agents import AgentServer, JobProcess, JobRequest, utils
from livekit.agents.worker import ServerType
from livekit.protocol import models

from captions.store import TranscriptStore, database_url
from interpreter import metrics
from interpreter.agent import agent_join_arguments, speaker_agent_session
from interpreter.config import Settings, load_settings
from interpreter.health import WorkerReadiness, mark_models_loaded, run_dir, serve_probes
from interpreter.lease import Lease, forget_expired, lease_states, process_holder_id
from interpreter.processes import REGISTERED_MARKER
from interpreter.recovery import (
    LOST_PREFIX,
    ORPHAN_SWEEP,
    OrphanStrikes,
    find_orphans,
    relaunch,
    speaker_key,
)
from interpreter.stack import EmbeddedStack
from interpreter.tasks import count_failure, spawn

__all__ = [
    "LEASE_HEARTBEAT",
    "PRESENCE_PREFIX",
    "SWEEP_LEASE",
    "OrphanSweep",
    "build_agent_server",
    "lease_ttl",
    "presence_name",
    "run_worker",
]

logger = logging.getLogger("interpreter.worker")

SWEEP_LEASE = "orphan-sweep"
"""The name of the lease that lets one worker at a time sweep for orphans."""


def prewarm(proc: JobProcess) -> None:
    """Load the models once per job process, before it gets a job."""
    stack = EmbeddedStack()
    stack.prewarm()
    proc.userdata["stack"] = stack
    try:
        mark_models_loaded(load_settings())
    except OSError as e:  # readiness then waits; interpreting does not depend on it
        logger.warning("could not record loaded models", extra={"error": e.strerror})


async def on_request(req: JobRequest, *, worker: str = "") -> None:
    """Accept a job for every human publisher; agents (ours included) get none. ``worker`` is
    this worker's presence name, given to the translator."""
    publisher = req.publisher
    if publisher is None or publisher.kind == models.ParticipantInfo.Kind.AGENT:
        await req.reject()
        return
    join = agent_join_arguments(publisher.identity, publisher.name, worker=worker)
    await req.accept(identity=join.identity, name=join.name, attributes=join.attributes)


class _SpeakerSlots:
    """The worker's load: running translator jobs / the speakers it may run."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity

    def __call__(self, server: AgentServer) -> float:
        return min(1.0, len(server.active_jobs) / self.capacity)


def build_agent_server(settings: Settings, *, presence: str = "") -> AgentServer:
    """The agent server of ``settings``; its translators carry the worker's ``presence``."""
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
    server.rtc_session(
        speaker_agent_session,
        type=ServerType.PUBLISHER,
        on_request=functools.partial(on_request, worker=presence),
    )
    return server


async def _serve(settings: Settings) -> None:
    presence = presence_name()
    server = build_agent_server(settings, presence=presence)
    sweep = OrphanSweep(server, settings, presence=presence)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    readiness = WorkerReadiness(
        models_dir=run_dir(settings) if settings.worker_idle_processes > 0 else None
    )
    readiness.reset()
    probes = await serve_probes(readiness, host=settings.host, port=settings.worker_probe_port)

    @server.on("worker_registered")
    def _registered(worker_id: str, server_info: object) -> None:
        logger.info(
            "worker registered",
            extra={"worker_id": worker_id, "url": settings.ws_url, "presence": presence},
        )
        readiness.registered(worker_id)
        sweep.start()  # a re-registration (reconnect) keeps the running sweep

    run = asyncio.create_task(server.run(devmode=False), name="agent-server")
    stopper = asyncio.create_task(stop.wait(), name="stop-signal")
    await asyncio.wait({run, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
    stopper.cancel()
    readiness.stopping = True
    try:
        await sweep.aclose()
        logger.info("worker stopping")
        await server.aclose()
    finally:
        if probes is not None:
            await probes.cleanup()
    if run.done():
        run.result()  # surfaces a failure of the worker itself
    else:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run


LEASE_HEARTBEAT = 1.0
"""Seconds between two renewals of a worker's presence, and of the sweep lease by its holder
(and two tries by a worker waiting for it), at most the sweep interval: a worker killed is
known dead, and its sweep lease free, within :func:`lease_ttl` of its last renewal."""

PRESENCE_PREFIX = "worker/"
"""The leases named ``worker/<16 hex>`` are the workers' presences."""

FORGET_PRESENCE = 3600.0
"""Seconds after which the sweeper deletes a lapsed presence (its worker is long gone)."""


def presence_name() -> str:
    """A new worker presence name: ``worker/<16 hex>``."""
    return f"{PRESENCE_PREFIX}{uuid.uuid4().hex[:16]}"


def lease_ttl(heartbeat: float) -> float:
    """How long one renewal of a presence or of the sweep lease lasts: two missed renewals later
    the holder still has it; a holder that died loses it this long after its last renewal."""
    return 3 * heartbeat + 1.0


class OrphanSweep:
    """The worker's presence and orphan sweep, started at the first registration and kept
    across re-registrations.

    The *presence* (a lease named :attr:`presence`, renewed every heartbeat) says this worker is
    alive; its translators carry the name (``interpreter.worker``). The *sweep* relaunches
    speakers without a translator (see recovery.py) while this worker holds the sweep lease:
    every interval, and at once when a presence has lapsed (a worker died: its translators
    linger in their rooms for about 20 s, they are replaced now). Every sweep first takes or
    renews the lease, and renews it again before relaunching; a worker without it (another
    worker sweeps, or the database is unreachable) lists nothing and relaunches nothing. At
    this worker's first sweep the orphans it finds are due at once (those speakers have waited
    at least a sweep); later ones once three sweeps in a row saw them, or at once when their
    translator's worker is dead (see :class:`~interpreter.recovery.OrphanStrikes`). A failed
    sweep is logged and counted; the next one runs on time. ``lease`` replaces the database
    lease (tests; the presence goes to the same database); by default both are opened on the
    deployment database (``INTERPRETER_DB_URL``) at the first heartbeat (retried at the next
    while it fails)."""

    def __init__(
        self,
        server: AgentServer,
        settings: Settings,
        *,
        lease: Lease | None = None,
        presence: str | None = None,
    ) -> None:
        self._server = server
        self._settings = settings
        self.interval = ORPHAN_SWEEP if settings.orphan_sweep is None else settings.orphan_sweep
        self.heartbeat = min(self.interval, LEASE_HEARTBEAT)
        self._lease = lease
        self._presence: Lease | None = None
        self._store: TranscriptStore | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._outages: dict[str, float] = {}
        self.holder = lease.holder if lease is not None else process_holder_id()
        self.presence = presence or presence_name()

    def start(self) -> None:
        """Start the presence and the sweep unless they run already."""
        if not self._tasks or any(t.done() for t in self._tasks):
            for task in self._tasks:
                task.cancel()
            self._tasks = [
                spawn(self._keep_presence(), task="worker-presence"),
                spawn(self._run(), task="orphan-sweep"),
            ]

    async def aclose(self) -> None:
        """Stop sweeping and give the lease up, so another worker takes over at once. The
        presence is left to lapse: translators still closing count as alive meanwhile."""
        for task in self._tasks:
            await utils.aio.cancel_and_wait(task)
        self._tasks = []
        if self._lease is not None:
            try:
                await asyncio.wait_for(self._lease.release(), timeout=5.0)
            except Exception as e:  # the lease then lapses on its own
                self._failed("orphan-sweep", e)
        if self._store is not None:
            await self._store.aclose()
            self._store = None

    async def _open_leases(self) -> tuple[Lease, Lease]:
        """The sweep lease and this worker's presence, opened once."""
        if self._lease is None:
            store = await TranscriptStore.open(
                database_url(db_url=self._settings.db_url, data_dir=self._settings.data_dir)
            )
            lease = Lease(
                store.engine,
                name=SWEEP_LEASE,
                holder=self.holder,
                ttl=lease_ttl(self.heartbeat),
            )
            try:
                await lease.create_schema()
            except BaseException:
                await store.aclose()
                raise
            self._store, self._lease = store, lease
        if self._presence is None:
            self._presence = Lease(
                self._lease.engine,
                name=self.presence,
                holder=self.holder,
                ttl=lease_ttl(self.heartbeat),
            )
        return self._lease, self._presence

    async def _keep_presence(self) -> None:
        while True:
            try:
                _, presence = await self._open_leases()
                await presence.acquire()
                self._database_back("worker-presence")
            except Exception as e:
                self._failed("worker-presence", e)
            await asyncio.sleep(self.heartbeat)

    def _failed(self, task: str, error: Exception) -> None:
        """Count a failed heartbeat; a database that does not answer is logged once per
        outage, without a traceback (anything else is logged in full, every time)."""
        if not getattr(error, "retryable", False):
            count_failure(task, error)
            return
        metrics.TASK_FAILURES.labels(task).inc()
        if task not in self._outages:
            self._outages[task] = asyncio.get_running_loop().time()
            logger.warning(
                "database unreachable: heartbeats wait for it",
                extra={"task": task, "error": str(error), "cause": _first_line(error.__cause__)},
            )

    def _database_back(self, task: str) -> None:
        started = self._outages.pop(task, None)
        if started is not None:
            logger.info(
                "database reachable again",
                extra={
                    "task": task,
                    "seconds": round(asyncio.get_running_loop().time() - started, 1),
                },
            )

    @contextlib.asynccontextmanager
    async def _renewing(self, lease: Lease) -> AsyncIterator[None]:
        """Keep renewing ``lease`` while relaunches run: one waits for a job process, which may
        take longer than the lease lasts, and another worker must not take over meanwhile and
        relaunch the same speakers."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(min(self.interval, lease.ttl / 3))
                try:
                    await lease.acquire()
                except Exception as e:
                    self._failed("orphan-sweep", e)

        keeper = asyncio.create_task(renew(), name="orphan-sweep-lease")
        try:
            yield
        finally:
            await utils.aio.cancel_and_wait(keeper)

    async def _run(self) -> None:
        strikes = OrphanStrikes()
        holding = False
        first = True
        loop = asyncio.get_running_loop()
        last_sweep = -math.inf
        dead: set[str] = set()
        lost: dict[str, str] = {}  # live lost reports: name -> speaker key
        while True:
            try:
                lease, _ = await self._open_leases()
                if await lease.acquire():  # renewed every heartbeat
                    if not holding:
                        logger.info("orphan sweep lease taken", extra={"holder": self.holder})
                        holding = True
                        last_sweep = -math.inf  # sweep at once: the orphans have waited
                    states = await lease_states(lease.engine, PRESENCE_PREFIX)
                    now_dead = {name for name, state in states.items() if not state.live}
                    if now_dead - dead:
                        logger.info(
                            "worker presence lapsed", extra={"workers": sorted(now_dead - dead)}
                        )
                        last_sweep = -math.inf  # its translators are replaced now
                    dead = now_dead
                    reports = {
                        name: state.holder
                        for name, state in (await lease_states(lease.engine, LOST_PREFIX)).items()
                        if state.live
                    }
                    if set(reports.values()) - set(lost.values()):
                        logger.info(
                            "translator reported lost",
                            extra={"speakers": sorted(set(reports.values()) - set(lost.values()))},
                        )
                        last_sweep = -math.inf  # relaunch it now
                    lost = reports
                    # while a lost translator's speaker waits, look every heartbeat: its old
                    # session may take a few seconds to leave the room
                    interval = self.heartbeat if lost else self.interval
                    if loop.time() - last_sweep >= interval:
                        last_sweep = loop.time()
                        await self._sweep(lease, strikes, dead, lost)
                elif holding:
                    logger.info("orphan sweep lease lost", extra={"holder": self.holder})
                    holding = False
                    strikes.forget()
            except Exception as e:
                self._failed("orphan-sweep", e)
            else:
                self._database_back("orphan-sweep")
            if first:
                print(
                    f"{REGISTERED_MARKER} with {self._settings.ws_url} (id {self._server.id})",
                    flush=True,
                )
                first = False
            await asyncio.sleep(self.heartbeat)

    async def _sweep(
        self, lease: Lease, strikes: OrphanStrikes, dead: set[str], lost: dict[str, str]
    ) -> None:
        orphans = await find_orphans(self._settings, dead_workers=dead)
        now = asyncio.get_running_loop().time()
        due = strikes.due(orphans, urgent=set(lost.values()), now=now)
        if due and await lease.acquire():
            async with self._renewing(lease):
                for orphan in due:
                    await relaunch(self._server, self._settings, orphan, worker=self.presence)
        relaunched = {speaker_key(o.room.sid, o.speaker.identity) for o in due}
        for name, key in lost.items():
            if key in relaunched:  # answered: the sweep goes back to its pace
                await Lease(lease.engine, name=name, holder=key, ttl=1.0).release()
        forgotten = await forget_expired(lease.engine, PRESENCE_PREFIX, older_than=FORGET_PRESENCE)
        if forgotten:
            logger.info("lapsed worker presences forgotten", extra={"count": forgotten})
        await forget_expired(lease.engine, LOST_PREFIX, older_than=0.0)


def _first_line(error: BaseException | None) -> str:
    if error is None:
        return ""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:200] if lines else ''}"


def run_worker(settings: Settings) -> None:
    """Run the worker until SIGINT/SIGTERM; jobs in flight are closed on the way out.

    Raises :class:`~interpreter.errors.ConfigError` for the public development keys beyond
    loopback."""
    from interpreter.production import refuse_public_dev_keys

    refuse_public_dev_keys(settings)
    announce_dev_keys(settings)
    # job processes read their settings from the environment: give them what flags changed
    os.environ["INTERPRETER_DATA_DIR"] = str(settings.data_dir)
    os.environ["INTERPRETER_WORKER_PORT"] = str(settings.worker_port)
    asyncio.run(_serve(settings))


def announce_dev_keys(settings: Settings) -> None:
    """With the public development keys, say so once, and silence PyJWT's warning about their
    short secret, which it would repeat on every signature (the worker signs an API call every
    orphan sweep). Configuration refuses short secrets otherwise."""
    if not settings.dev_keys:
        return
    warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
    logger.warning(
        "development keys in use: anyone can mint tokens for this LiveKit server;"
        " set LIVEKIT_API_KEY and LIVEKIT_API_SECRET for real use"
    )
