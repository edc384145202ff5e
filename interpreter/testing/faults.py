"""Faults of the multi-node topology, played against a running meeting: Redis restarted empty,
a LiveKit node killed. Each scenario asserts what a user must still get and returns what the
fault cost in seconds; ``tests/integration/test_cluster_faults.py`` and ``bench/node_faults.py``
run them.

What LiveKit 1.13.5 does (read in ``pkg/routing/redisrouter.go``, ``pkg/service/
roomallocator.go``, and seen here):

* Redis restarted empty: media and data channels run between clients and the room's node
  without Redis, so a running room goes on being interpreted. Every node writes itself back
  into Redis with its next stats update (every 2 s); until then a join finds no node. The
  pin of a running room to its node (``room_node_map``) is written only when a room is
  placed, so it stays lost: a newcomer of that room is placed on a random node and, if that is
  not the room's node, gets a second room of the same name there, alone. ``CreateRoom`` with
  the room's ``node_id`` pins it again (:func:`~interpreter.testing.cluster.place_room`), if
  no newcomer came first: a pin to a live node is kept whatever node id is asked for.
* A node killed: its rooms end with it. Redis still pins them to it until its stats are 5 s
  old; after that a join is placed on a live node, which opens the room anew (same room id),
  and the speaker's translator is dispatched again once she publishes. A translator of the
  lost room whose signalling ran through the surviving node learns of the loss only when that
  node gives up relaying (7.5 s); it then resumes by identity into the new room, taking over
  the new translator's session, and both leave; the worker's sweep for speakers without a
  translator starts the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field

import numpy as np
from livekit import api, rtc

from captions.protocol import ATTR_SOURCE, agent_identity
from interpreter.testing.clients import ListeningClient, Speaker, join_listener
from interpreter.testing.cluster import (
    ClusterFixture,
    kill_node,
    place_room,
    restart_redis,
    room_host,
)
from interpreter.testing.livekit import LiveKitFixture, WorkerProcess, wait_for
from interpreter.testing.translators import speakers_joined

__all__ = [
    "NodeKillCosts",
    "RedisRestartCosts",
    "Talk",
    "caption_gap",
    "kill_node_during_meeting",
    "restart_redis_during_meeting",
]

READY = 90.0
"""How long a first translator may take (the worker's first job process loads the models, or
a lost translator waits for the worker's sweep for speakers without one)."""
SETTLE = 20.0
"""Seconds after a node's death by which its rooms' translators have given up: the surviving
node relays their signalling for 7.5 s more, then they try to resume."""
BEFORE = 10.0
"""How long the meeting runs before the fault: the captions' usual spacing is measured there."""
CAPTION = 30.0
"""How long a translated caption may take once its speaker talks (a busy 2-core machine)."""


class Talk:
    """A speaker who says ``speech`` over and over until :meth:`stop`."""

    def __init__(self, room: rtc.Room, speech: np.ndarray) -> None:
        self.room = room
        self.speaker = Speaker(room)
        self._speech = speech
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.speaker.publish()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        pause = np.zeros(8000, dtype=np.float32)
        while not self._stop.is_set():
            await self.speaker.play(pause, until=self._stop)
            await self.speaker.play(self._speech, until=self._stop)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 5)


def translated_at(listener: ListeningClient, speaker: str) -> list[float]:
    """When ``listener`` received the translated finals of ``speaker``'s speech."""
    return sorted(c.at for c in listener.finals(translated=True) if c.sender == speaker)


def caption_gap(times: list[float], at: float) -> float | None:
    """Seconds from the last caption before ``at`` to the first after it (``None``: none
    after)."""
    before = [t for t in times if t <= at]
    after = [t for t in times if t > at]
    if not after:
        return None
    return after[0] - (before[-1] if before else at)


def longest_gap(times: list[float], start: float, end: float) -> float:
    """The longest interval between consecutive captions received in [start, end]."""
    inside = [t for t in times if start <= t <= end]
    return max((b - a for a, b in itertools.pairwise(inside)), default=0.0)


def translators_joined(worker: WorkerProcess, speaker: str) -> int:
    """How many translators of ``speaker`` the worker has started so far."""
    return speakers_joined(worker.log()).count(speaker)


def has_translator(room: rtc.Room, speaker: str) -> bool:
    agent = room.remote_participants.get(agent_identity(speaker))
    return agent is not None and bool(agent.track_publications)


def translators_of(room: rtc.Room, speaker: str) -> list[str]:
    return [
        p.identity
        for p in room.remote_participants.values()
        if p.attributes.get(ATTR_SOURCE) == speaker
    ]


@dataclass
class Meeting:
    """A room with one speaker talking in a loop and one listener; everything it joined is
    left by :meth:`aclose`."""

    name: str
    speaker: str
    talk: Talk
    listener: ListeningClient
    extra: list[rtc.Room] = field(default_factory=list)

    async def aclose(self) -> None:
        await self.talk.stop()
        await self.listener.aclose()
        for room in (self.talk.room, self.listener.room, *self.extra):
            with contextlib.suppress(Exception):
                await room.disconnect()

    async def interpreted(self, *, within: float, after: float = 0.0) -> float:
        """Wait for a translated caption received after ``after``; return when it came."""
        await wait_for(
            lambda: any(t > after for t in translated_at(self.listener, self.speaker)),
            within=within,
            what=f"a translated caption of {self.speaker} in {self.name}",
        )
        return next(t for t in translated_at(self.listener, self.speaker) if t > after)


async def open_meeting(
    name: str,
    *,
    speaker: str,
    speaker_via: LiveKitFixture,
    listener: str,
    listener_via: LiveKitFixture,
    speech: np.ndarray,
) -> Meeting:
    """``listener`` (English) joins ``name``, then ``speaker`` (Spanish) joins and talks."""
    lst = await join_listener(listener_via, name, listener, "en")
    try:
        room = await speaker_via.connect(
            name, speaker, name=speaker.title(), attributes={"language": "es"}
        )
    except BaseException:
        await lst.aclose()
        await lst.room.disconnect()
        raise
    meeting = Meeting(name, speaker, Talk(room, speech), lst)
    try:
        await meeting.talk.start()
    except BaseException:
        await meeting.aclose()
        raise
    return meeting


@dataclass(frozen=True, slots=True)
class RedisRestartCosts:
    """Seconds a Redis restart cost, from the moment it was stopped."""

    restart_s: float
    """Redis stopped -> answering again (empty)."""
    usual_gap_s: float
    """Running room, before the restart: the longest interval between two captions."""
    caption_gap_s: float
    """Running room: last translated caption before the restart -> first one after it."""
    join_s: float
    """A participant can join a new room again."""
    dispatch_s: float
    """A new speaker in a new room has her translator (its track is published)."""
    first_caption_s: float
    """... and her listener has a translated caption."""
    newcomer_split: bool
    """A newcomer of a room not pinned again landed in a second room of that name, alone."""


async def _join_when_possible(
    node: LiveKitFixture, room: str, identity: str, *, within: float
) -> rtc.Room:
    deadline = time.monotonic() + within
    while True:
        try:
            return await asyncio.wait_for(node.connect(room, identity, auto_subscribe=False), 10)
        except (rtc.ConnectError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _pin_when_possible(
    cluster: ClusterFixture, room: str, host: int, *, within: float
) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            await place_room(cluster, room, host, via=1 - host)
            return
        except api.TwirpError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def restart_redis_during_meeting(
    cluster: ClusterFixture, worker: WorkerProcess, speech: np.ndarray, *, tag: str
) -> RedisRestartCosts:
    """Ana talks in ``running-<tag>`` (on node A; she through node B, Lena through node A),
    Quinn waits in ``quiet-<tag>`` (on node A); Redis is restarted empty. Checks that Ana's
    captions go on, that a new room gets a translator, and that newcomers of Ana's room, pinned
    again at once, are with her through either node. Quinn's room is left unpinned: whether
    its newcomer lands with Quinn is LiveKit's draw."""
    node_a, node_b = cluster.nodes
    running, quiet = f"running-{tag}", f"quiet-{tag}"
    await place_room(cluster, running, 0)
    await place_room(cluster, quiet, 0)
    quinn = await node_a.connect(quiet, "quinn", auto_subscribe=False)
    meeting = await open_meeting(
        running,
        speaker="ana",
        speaker_via=node_b,
        listener="lena",
        listener_via=node_a,
        speech=speech,
    )
    meeting.extra.append(quinn)
    later: list[Meeting] = []
    try:
        since = await meeting.interpreted(within=READY)
        host = room_host(cluster, running)
        assert host == 0, f"{running} not on node A (host {host})"
        await asyncio.sleep(BEFORE)
        usual = longest_gap(translated_at(meeting.listener, "ana"), since, time.time())

        stopped = time.time()
        await asyncio.to_thread(restart_redis, cluster.redis)
        restart_s = time.time() - stopped
        # a join needs a node in Redis: the nodes write themselves back with their stats
        probe = await _join_when_possible(node_b, f"probe-{tag}", "probe", within=30)
        join_s = time.time() - stopped
        await probe.disconnect()
        # LiveKit writes a room's pin when it places the room, never again: put it back before
        # a newcomer is placed elsewhere (a room already pinned to a live node stays there);
        # CreateRoom fails until the room's node is back in Redis
        await _pin_when_possible(cluster, running, 0, within=30)

        first_after = await meeting.interpreted(within=CAPTION, after=stopped)
        gap = caption_gap(translated_at(meeting.listener, "ana"), stopped)
        assert gap is not None and first_after > stopped

        # a new speaker in a new room: LiveKit dispatches her translator
        fresh = await open_meeting(
            f"fresh-{tag}",
            speaker="ben",
            speaker_via=node_b,
            listener="lisa",
            listener_via=node_a,
            speech=speech,
        )
        later.append(fresh)
        await wait_for(
            lambda: has_translator(fresh.listener.room, "ben"),
            within=CAPTION,
            what="ben's translator after the Redis restart",
        )
        dispatch_s = time.time() - stopped
        first_caption_s = await fresh.interpreted(within=CAPTION) - stopped

        # Quinn's room lost its pin: a newcomer is placed on a random node
        newcomer = await node_b.connect(quiet, "nadia", auto_subscribe=False)
        split = "quinn" not in newcomer.remote_participants
        await newcomer.disconnect()
        # Ana's room, pinned again: newcomers through either node are with her and hear her
        for via, who in ((node_b, "nora"), (node_a, "omar")):
            joined = await join_listener(via, running, who, "en")
            meeting.extra.append(joined.room)
            try:
                assert {"ana", "lena", agent_identity("ana")} <= set(
                    joined.room.remote_participants
                ), f"{who} is not in Ana's room: {sorted(joined.room.remote_participants)}"
                await wait_for(
                    lambda j=joined: bool(translated_at(j, "ana")),  # type: ignore[misc]
                    within=CAPTION,
                    what=f"a translated caption of ana for {who}",
                )
            finally:
                await joined.aclose()
        return RedisRestartCosts(
            restart_s=round(restart_s, 2),
            usual_gap_s=round(usual, 2),
            caption_gap_s=round(gap, 2),
            join_s=round(join_s, 2),
            dispatch_s=round(dispatch_s, 2),
            first_caption_s=round(first_caption_s, 2),
            newcomer_split=split,
        )
    finally:
        for m in (meeting, *later):
            await m.aclose()


@dataclass(frozen=True, slots=True)
class NodeKillCosts:
    """Seconds a node killed with SIGKILL cost, from the kill."""

    usual_gap_s: float
    """Room on the surviving node, before the kill: the longest interval between captions."""
    survivor_caption_gap_s: float
    """... last translated caption before the kill -> first after."""
    dropped_s: float
    """The killed node's clients see their connection drop."""
    rejoined_s: float
    """... and are back in their room through the surviving node."""
    redispatched_s: float
    """... and LiveKit has dispatched the speaker's translator again (its track is out)."""
    first_caption_s: float
    """... and her listener has a translated caption."""
    settled_caption_s: float
    """... and a caption once the lost room's translator can no longer interfere (after
    ``SETTLE`` s): when she is interpreted again for good."""
    translators_started: int
    """Translators of the speaker the worker started after the kill (1 if nothing collides)."""


async def kill_node_during_meeting(
    cluster: ClusterFixture, worker: WorkerProcess, speech: np.ndarray, *, tag: str
) -> NodeKillCosts:
    """``r1-<tag>`` lives on node A (Uma talks, Ula listens, both through node A),
    ``r2-<tag>`` on node B (Vera talks, Vito listens, through node B); the worker is
    registered with node A. Node B is killed; Vera and Vito come back through node A (what a
    load balancer in front of the nodes does) and Vera is interpreted again, by one
    translator."""
    node_a, node_b = cluster.nodes
    r1, r2 = f"r1-{tag}", f"r2-{tag}"
    await place_room(cluster, r1, 0)
    await place_room(cluster, r2, 1)
    m1 = await open_meeting(
        r1, speaker="uma", speaker_via=node_a, listener="ula", listener_via=node_a, speech=speech
    )
    meetings = [m1]
    try:
        m2 = await open_meeting(
            r2,
            speaker="vera",
            speaker_via=node_b,
            listener="vito",
            listener_via=node_b,
            speech=speech,
        )
        meetings.append(m2)
        since, _ = await asyncio.gather(m1.interpreted(within=READY), m2.interpreted(within=READY))
        assert (room_host(cluster, r1), room_host(cluster, r2)) == (0, 1)
        await asyncio.sleep(BEFORE)
        usual = longest_gap(translated_at(m1.listener, "uma"), since, time.time())
        started_before = translators_joined(worker, "vera")

        killed = time.time()
        await asyncio.to_thread(kill_node, cluster.cluster.nodes[1])
        await wait_for(
            lambda: all(
                r.connection_state != rtc.ConnectionState.CONN_CONNECTED
                for r in (m2.talk.room, m2.listener.room)
            ),
            within=30,
            what="node B's clients to notice",
        )
        dropped_s = time.time() - killed
        await m2.aclose()
        meetings.remove(m2)

        # back through node A; until node B's stats are 5 s old, Redis still routes r2 there
        vito = await _join_when_possible(node_a, r2, "vito-probe", within=60)
        await vito.disconnect()
        again = await open_meeting(
            r2,
            speaker="vera",
            speaker_via=node_a,
            listener="vito",
            listener_via=node_a,
            speech=speech,
        )
        meetings.append(again)
        rejoined_s = time.time() - killed
        await wait_for(
            lambda: has_translator(again.listener.room, "vera"),
            within=READY,
            what="vera's translator after node B died",
        )
        redispatched_s = time.time() - killed
        first_caption_s = await again.interpreted(within=READY, after=killed) - killed

        # the lost room's translator may still knock out the new one when it resumes (see the
        # module's docstring): judge the room once that is over, when a caption comes from the
        # one translator Vera has
        await asyncio.sleep(max(0.0, killed + SETTLE - time.time()))
        settled = await again.interpreted(within=READY, after=killed + SETTLE)
        assert translators_of(again.listener.room, "vera") == [agent_identity("vera")]
        await again.interpreted(within=CAPTION, after=settled)
        assert translators_of(again.listener.room, "vera") == [agent_identity("vera")]

        gap = caption_gap(translated_at(m1.listener, "uma"), killed)
        assert gap is not None, "no caption in the room on node A after node B was killed"
        assert m1.talk.room.connection_state == rtc.ConnectionState.CONN_CONNECTED
        return NodeKillCosts(
            usual_gap_s=round(usual, 2),
            survivor_caption_gap_s=round(gap, 2),
            dropped_s=round(dropped_s, 2),
            rejoined_s=round(rejoined_s, 2),
            redispatched_s=round(redispatched_s, 2),
            first_caption_s=round(first_caption_s, 2),
            settled_caption_s=round(settled - killed, 2),
            translators_started=translators_joined(worker, "vera") - started_before,
        )
    finally:
        for m in meetings:
            await m.aclose()
