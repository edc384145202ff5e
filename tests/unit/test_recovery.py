"""Speakers without an agent: found in room listings, relaunched with the right job."""

from __future__ import annotations

import asyncio
import itertools
import logging
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa
from livekit import api, rtc
from livekit.agents import AgentServer, JobContext
from livekit.api.access_token import Claims
from livekit.protocol import agent, models
from prometheus_client import REGISTRY

from captions.store import TranscriptStore
from interpreter import worker
from interpreter.agent import JobSpeaker, speaker_of_job
from interpreter.config import load_settings
from interpreter.lease import Lease
from interpreter.recovery import (
    Orphan,
    OrphanStrikes,
    orphans_in,
    recovery_token,
    relaunch,
    report_lost_translator,
    speaker_key,
)
from interpreter.testing.checks import metric_value
from interpreter.testing.livekit import wait_for

ROOM = models.Room(sid="RM_1", name="meeting")
OTHER_ROOM = models.Room(sid="RM_2", name="other")


def person(identity: str, *, mic: bool = True, agent_kind: bool = False) -> models.ParticipantInfo:
    tracks = (
        [models.TrackInfo(type=models.TrackType.AUDIO, source=models.TrackSource.MICROPHONE)]
        if mic
        else [
            models.TrackInfo(
                type=models.TrackType.AUDIO, source=models.TrackSource.SCREEN_SHARE_AUDIO
            )
        ]
    )
    return models.ParticipantInfo(
        sid=f"PA_{identity}",
        identity=identity,
        name=identity.title(),
        kind=models.ParticipantInfo.Kind.AGENT
        if agent_kind
        else models.ParticipantInfo.Kind.STANDARD,
        tracks=tracks,
    )


def test_orphans_are_microphone_publishers_without_their_agent() -> None:
    listing = [
        (
            ROOM,
            [
                person("ana"),  # no translator-ana: an orphan
                person("ben"),
                person("translator-ben", agent_kind=True),
                person("lena", mic=False),  # a listener sharing screen audio only
                person("bot", agent_kind=True),
            ],
        ),
        (OTHER_ROOM, [person("ben")]),  # ben's agent is in the other room, not this one
    ]
    found = {(o.room.name, o.speaker.identity) for o in orphans_in(listing)}
    assert found == {("meeting", "ana"), ("other", "ben")}


def translator(speaker: str, worker: str = "") -> models.ParticipantInfo:
    agent_of = person(f"translator-{speaker}", agent_kind=True)
    agent_of.attributes["interpreter.source"] = speaker
    if worker:
        agent_of.attributes["interpreter.worker"] = worker
    return agent_of


def test_a_speaker_whose_translator_s_worker_is_dead_is_an_orphan_with_a_stale_agent() -> None:
    listing = [
        (
            ROOM,
            [
                person("ana"),
                translator("ana", "worker/dead"),  # killed with its worker, still listed
                person("ben"),
                translator("ben", "worker/alive"),
                person("carla"),
                translator("carla"),  # names no worker: never judged
            ],
        )
    ]
    [ana] = orphans_in(listing, dead_workers={"worker/dead"})
    assert ana.speaker.identity == "ana" and ana.stale_agent == "translator-ana"
    assert orphans_in(listing) == []  # no dead workers known: every translator counts


def test_orphans_of_a_dead_worker_are_due_at_once() -> None:
    strikes = OrphanStrikes()
    assert strikes.due([]) == []  # the first sweep after registration is past
    ana = Orphan(ROOM, person("ana"), stale_agent="translator-ana")
    assert strikes.due([ana]) == [ana]  # no dispatch will come: no second look needed


def test_orphans_are_due_at_once_at_the_first_sweep_then_after_three_sweeps() -> None:
    ana, ben = Orphan(ROOM, person("ana")), Orphan(ROOM, person("ben"))
    strikes = OrphanStrikes()
    assert strikes.due([ana]) == [ana]  # waiting since before the worker registered
    assert strikes.due([ben]) == []  # may be a dispatch in flight
    assert strikes.due([ben]) == []
    assert strikes.due([ben]) == [ben]
    assert strikes.due([ana]) == []
    assert strikes.due([]) == []  # ana got her agent: the count starts over
    assert strikes.due([ana]) == []
    assert strikes.due([ana]) == []
    strikes.forget()  # the lease went to another worker and came back: count over, no leniency
    assert strikes.due([ana]) == []
    assert strikes.due([ana]) == []
    assert strikes.due([ana]) == [ana]


def test_a_relaunch_token_names_the_speaker_the_agent_interprets() -> None:
    settings = load_settings(livekit_api_key="prod-key", livekit_api_secret="s" * 40)
    orphan = Orphan(ROOM, person("ana"))
    token = recovery_token(settings, orphan)
    claims = api.TokenVerifier(settings.api_key, settings.api_secret).verify(token)
    assert claims.identity == "translator-ana"
    assert claims.name == "Translator (Ana)"
    assert claims.kind == "agent"
    assert claims.attributes == {"interpreter.source": "ana", "interpreter.languages": ""}
    assert claims.video is not None
    named = api.TokenVerifier(settings.api_key, settings.api_secret).verify(
        recovery_token(settings, orphan, worker="worker/0123")
    )
    assert named.attributes is not None
    assert named.attributes["interpreter.worker"] == "worker/0123"
    assert claims.video.room == "meeting" and claims.video.room_join and claims.video.agent


async def test_a_relaunch_starts_the_job_through_the_public_simulate_job() -> None:
    settings = load_settings(livekit_api_key="prod-key", livekit_api_secret="s" * 40)
    calls: list[tuple[str, models.Room | None, str | None]] = []

    class Server:
        id = "AW_1"

        async def simulate_job(
            self,
            room: str,
            *,
            fake_job: bool = False,
            agent_identity: str | None = None,
            room_info: models.Room | None = None,
            token: str | None = None,
        ) -> None:
            assert not fake_job
            calls.append((room, room_info, token))

    orphan = Orphan(ROOM, person("ana"))
    await relaunch(cast(AgentServer, Server()), settings, orphan)
    [(room, room_info, token)] = calls
    assert room == "meeting" and room_info == ROOM
    assert token is not None
    claims = api.TokenVerifier(settings.api_key, settings.api_secret).verify(token)
    assert claims.attributes is not None and claims.attributes["interpreter.source"] == "ana"


class FakeJobContext:
    """What :func:`speaker_of_job` reads of a ``JobContext``."""

    def __init__(self, job: agent.Job, token: str, room: dict[str, rtc.RemoteParticipant]):
        self.job = job
        self._token = token
        self._room = room

    def token_claims(self) -> Claims:
        return api.TokenVerifier().verify(self._token, verify_signature=False)

    async def wait_for_participant(self, *, identity: str) -> rtc.RemoteParticipant:
        if identity not in self._room:
            await asyncio.Event().wait()  # never joins
        return self._room[identity]


class Present:
    def __init__(self, identity: str, name: str, attributes: dict[str, str]) -> None:
        self.identity, self.name, self.attributes = identity, name, attributes


async def test_a_relaunched_job_finds_its_speaker_from_the_token() -> None:
    settings = load_settings(livekit_api_key="prod-key", livekit_api_secret="s" * 40)
    orphan = Orphan(ROOM, person("ana"))
    room_job = agent.Job(id="job-1", room=ROOM, type=agent.JobType.JT_ROOM)
    ana = cast(rtc.RemoteParticipant, Present("ana", "Ana", {"language": "es"}))
    ctx = FakeJobContext(room_job, recovery_token(settings, orphan), {"ana": ana})
    found = await speaker_of_job(cast(JobContext, ctx))
    assert found == JobSpeaker(identity="ana", name="Ana", attributes={"language": "es"})
    gone = FakeJobContext(room_job, recovery_token(settings, orphan), {})
    assert await speaker_of_job(cast(JobContext, gone), within=0.1) is None
    # a dispatched publisher job names its participant itself
    ben = person("ben")
    publisher_job = agent.Job(
        id="job-2", room=ROOM, type=agent.JobType.JT_PUBLISHER, participant=ben
    )
    dispatched = FakeJobContext(publisher_job, "", {})
    found = await speaker_of_job(cast(JobContext, dispatched))
    assert found is not None and found.identity == "ben" and found.name == "Ben"


class Server:
    id = "AW_1"


async def test_a_failing_sweep_is_counted_and_the_next_sweep_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    calls: list[int] = []
    relaunched: list[str] = []
    done = asyncio.Event()

    async def find(settings: Any, **kwargs: Any) -> list[Orphan]:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("server unreachable")
        return [Orphan(ROOM, person("ana"))]

    async def relaunch(server: Any, settings: Any, orphan: Orphan, **kwargs: Any) -> None:
        relaunched.append(orphan.speaker.identity)
        done.set()

    monkeypatch.setattr(worker, "find_orphans", find)
    monkeypatch.setattr(worker, "relaunch", relaunch)
    before = REGISTRY.get_sample_value("interpreter_task_failures_total", {"task": "orphan-sweep"})

    settings = load_settings(orphan_sweep=0.01, db_url=db_url)
    sweep = worker.OrphanSweep(cast(AgentServer, Server()), settings)
    sweep.start()
    try:
        async with asyncio.timeout(5):
            await done.wait()
    finally:
        await sweep.aclose()
    after = REGISTRY.get_sample_value("interpreter_task_failures_total", {"task": "orphan-sweep"})
    assert (after or 0) - (before or 0) == 1
    assert relaunched == ["ana"]  # the first successful sweep relaunches at once
    assert "registered" in capsys.readouterr().out.lower()


async def test_re_registrations_keep_one_sweep(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    listings: list[float] = []

    async def find(settings: Any, **kwargs: Any) -> list[Orphan]:
        listings.append(asyncio.get_running_loop().time())
        return []

    monkeypatch.setattr(worker, "find_orphans", find)
    settings = load_settings(orphan_sweep=0.5, data_dir=tmp_path)
    sweep = worker.OrphanSweep(cast(AgentServer, Server()), settings)
    try:
        for _ in range(3):  # registered, then two reconnects
            sweep.start()
            await asyncio.sleep(0.05)
        await wait_for(lambda: len(listings) >= 3, within=5, what="three sweeps")
    finally:
        await sweep.aclose()
    gaps = [b - a for a, b in itertools.pairwise(listings)]
    assert min(gaps) >= 0.45, f"several sweeps ran at once: {gaps}"


async def test_of_two_workers_on_one_database_one_sweeps_and_the_other_takes_over(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    listed_by: list[int] = []
    relaunched_by: list[int] = []
    ana = Orphan(ROOM, person("ana"))

    async def find(settings: Any, **kwargs: Any) -> list[Orphan]:
        listed_by.append(settings.worker_port)
        return [ana]

    async def relaunch(server: Any, settings: Any, orphan: Orphan, **kwargs: Any) -> None:
        relaunched_by.append(settings.worker_port)

    monkeypatch.setattr(worker, "find_orphans", find)
    monkeypatch.setattr(worker, "relaunch", relaunch)
    store = await TranscriptStore.open(db_url)
    # leases of 30 s, so a stall of a busy machine cannot pass it on: the second worker takes
    # over only once the first lets go
    a = worker.OrphanSweep(
        cast(AgentServer, Server()),
        load_settings(orphan_sweep=0.2, db_url=db_url, worker_port=9001),
        lease=Lease(store.engine, name=worker.SWEEP_LEASE, holder="worker-a", ttl=30.0),
    )
    b = worker.OrphanSweep(
        cast(AgentServer, Server()),
        load_settings(orphan_sweep=0.2, db_url=db_url, worker_port=9002),
        lease=Lease(store.engine, name=worker.SWEEP_LEASE, holder="worker-b", ttl=30.0),
    )
    await a._lease.create_schema()  # type: ignore[union-attr]
    try:
        a.start()
        await wait_for(lambda: bool(listed_by), within=10, what="the first sweep")
        b.start()
        await asyncio.sleep(1.0)  # ~5 sweeps each
        assert set(listed_by) == {9001}
        assert relaunched_by and set(relaunched_by) == {9001}
        await a.aclose()  # stopping gives the lease up: b sweeps from its next round
        mark = len(listed_by)
        await wait_for(lambda: 9002 in listed_by, within=10, what="the second worker's sweep")
        assert set(listed_by[mark:]) == {9002}
        assert relaunched_by[-1] == 9002  # due at once for the new sweeper
    finally:
        await a.aclose()
        await b.aclose()
        await store.aclose()


async def test_a_relaunch_longer_than_the_lease_keeps_it_from_other_workers(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    store = await TranscriptStore.open(db_url)
    mine = Lease(store.engine, name=worker.SWEEP_LEASE, holder="worker-a", ttl=0.6)
    theirs = Lease(store.engine, name=worker.SWEEP_LEASE, holder="worker-b", ttl=0.6)
    await mine.create_schema()
    contended: list[bool] = []

    async def find(settings: Any, **kwargs: Any) -> list[Orphan]:
        return [Orphan(ROOM, person("ana"))]

    async def slow_relaunch(server: Any, settings: Any, orphan: Orphan, **kwargs: Any) -> None:
        for _ in range(8):  # 1.6 s waiting for a job process: well past the lease's 0.6 s
            await asyncio.sleep(0.2)
            contended.append(await theirs.acquire())

    monkeypatch.setattr(worker, "find_orphans", find)
    monkeypatch.setattr(worker, "relaunch", slow_relaunch)
    sweep = worker.OrphanSweep(
        cast(AgentServer, Server()), load_settings(orphan_sweep=10.0), lease=mine
    )
    try:
        sweep.start()
        await wait_for(lambda: len(contended) == 8, within=10, what="the slow relaunch")
        assert not any(contended), "another worker took the lease during a relaunch"
        await sweep.aclose()  # released: the other takes it at once
        assert await theirs.acquire()
    finally:
        await sweep.aclose()
        await store.aclose()


async def test_a_relaunch_for_a_dead_worker_s_translator_removes_it_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from interpreter import recovery

    settings = load_settings(livekit_api_key="prod-key", livekit_api_secret="s" * 40)
    steps: list[str] = []

    async def remove(settings: Any, orphan: Orphan) -> None:
        steps.append(f"remove {orphan.stale_agent}")

    class Server:
        id = "AW_1"

        async def simulate_job(self, room: str, **kwargs: Any) -> None:
            steps.append(f"launch {room}")

    monkeypatch.setattr(recovery, "remove_stale_agent", remove)
    await relaunch(cast(AgentServer, Server()), settings, Orphan(ROOM, person("ana")))
    stale = Orphan(ROOM, person("ana"), stale_agent="translator-ana")
    await relaunch(cast(AgentServer, Server()), settings, stale, worker="worker/0123")
    assert steps == ["launch meeting", "remove translator-ana", "launch meeting"]


async def test_when_a_worker_s_presence_lapses_the_sweeper_replaces_its_translators_at_once(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    """Worker B dies (its presence stops being renewed): worker A, the sweeper, sweeps as soon as
    B's presence lapses, not a sweep interval later, and relaunches B's speaker as its own."""
    listings: list[tuple[float, frozenset[str]]] = []
    relaunched: list[tuple[str, str]] = []
    loop = asyncio.get_running_loop()

    async def find(settings: Any, *, dead_workers: Any = ()) -> list[Orphan]:
        listings.append((loop.time(), frozenset(dead_workers)))
        if b.presence in dead_workers and not relaunched:
            return [Orphan(ROOM, person("ana"), stale_agent="translator-ana")]
        return []

    async def relaunch(server: Any, settings: Any, orphan: Orphan, *, worker: str = "") -> None:
        relaunched.append((orphan.speaker.identity, worker))

    monkeypatch.setattr(worker, "find_orphans", find)
    monkeypatch.setattr(worker, "relaunch", relaunch)
    # sweeps 30 s apart, heartbeat 1 s: only a lapsed presence can explain a quick sweep
    a = worker.OrphanSweep(
        cast(AgentServer, Server()), load_settings(orphan_sweep=30.0, db_url=db_url)
    )
    b = worker.OrphanSweep(
        cast(AgentServer, Server()), load_settings(orphan_sweep=30.0, db_url=db_url)
    )
    try:
        a.start()
        await wait_for(lambda: bool(listings), within=10, what="A's first sweep")
        b.start()
        await asyncio.sleep(2.5)  # B's presence is renewed: nothing to do
        assert len(listings) == 1 and not relaunched
        killed = loop.time()
        await b.aclose()  # B stops renewing (as if killed: the presence is not given up)
        await wait_for(lambda: bool(relaunched), within=15, what="B's speaker relaunched")
        took = loop.time() - killed
        assert relaunched == [("ana", a.presence)]
        assert b.presence in listings[-1][1]
        assert a.presence not in listings[-1][1]
        # lapsed within the TTL (4 s) of B's last renewal, seen within A's next heartbeat
        assert took < worker.lease_ttl(worker.LEASE_HEARTBEAT) + 3.0, f"took {took:.1f} s"
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_database_outage_is_logged_once_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Heartbeats against a database that does not answer: counted every time, logged once,
    and no 'background task failed' traceback every second."""
    unreachable = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    lease = Lease(unreachable, name=worker.SWEEP_LEASE, holder="worker-a", ttl=1.0)
    before = metric_value("interpreter_task_failures_total", task="worker-presence")
    sweep = worker.OrphanSweep(
        cast(AgentServer, Server()), load_settings(orphan_sweep=0.05), lease=lease
    )
    caplog.set_level(logging.INFO, logger="interpreter.worker")
    try:
        sweep.start()
        await wait_for(
            lambda: (
                metric_value("interpreter_task_failures_total", task="worker-presence")
                >= before + 5
            ),
            within=10,
            what="five failed presence heartbeats",
        )
    finally:
        await sweep.aclose()
        unreachable.dispose()
    messages = [r.getMessage() for r in caplog.records if r.name == "interpreter.worker"]
    assert messages.count("database unreachable: heartbeats wait for it") == 2  # both loops
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_a_speaker_whose_translator_reported_lost_is_due_at_once_but_not_again_soon() -> None:
    strikes = OrphanStrikes(urgent_again=30.0)
    assert strikes.due([]) == []  # past the first sweep
    ana = Orphan(ROOM, person("ana"))
    lost = {speaker_key(ROOM.sid, "ana")}
    assert strikes.due([ana], urgent=lost, now=100.0) == [ana]
    # lost again 10 s later: no second urgent relaunch (two failing translators must not chase
    # each other); the regular three looks still apply
    assert strikes.due([ana], urgent=lost, now=110.0) == []
    assert strikes.due([ana], urgent=lost, now=115.0) == []
    assert strikes.due([ana], urgent=lost, now=120.0) == [ana]
    assert strikes.due([ana], urgent=lost, now=135.0) == [ana]  # 35 s after the first: again


async def test_a_lost_translator_s_report_makes_the_sweeper_relaunch_at_once(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    relaunched: list[str] = []
    found_lost: list[bool] = []
    loop = asyncio.get_running_loop()

    async def find(settings: Any, **kwargs: Any) -> list[Orphan]:
        found_lost.append(bool(reported))
        return [Orphan(ROOM, person("ana"))] if reported else []

    async def relaunch(server: Any, settings: Any, orphan: Orphan, **kwargs: Any) -> None:
        relaunched.append(orphan.speaker.identity)

    monkeypatch.setattr(worker, "find_orphans", find)
    monkeypatch.setattr(worker, "relaunch", relaunch)
    store = await TranscriptStore.open(db_url)
    reported: list[float] = []
    # sweeps 30 s apart: only the report can explain a relaunch within seconds
    sweep = worker.OrphanSweep(
        cast(AgentServer, Server()), load_settings(orphan_sweep=30.0, db_url=db_url)
    )
    try:
        sweep.start()
        await wait_for(lambda: bool(found_lost), within=10, what="the first sweep")
        await report_lost_translator(store.engine, room_sid=ROOM.sid, speaker_identity="ana")
        reported.append(loop.time())
        await wait_for(lambda: bool(relaunched), within=5, what="the relaunch")
        assert relaunched == ["ana"]
        assert loop.time() - reported[0] < 3.0
    finally:
        await sweep.aclose()
        await store.aclose()
