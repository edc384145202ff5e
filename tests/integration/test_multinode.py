"""Two LiveKit nodes sharing a Redis: participants of one room connected through different
nodes hear each other, and the translator (a worker registered with node A) interprets a
speaker connected through node B for a listener connected through node A, whether it
started her translator itself (she spoke before it registered) or LiveKit dispatched it."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from livekit import api, rtc

from interpreter.testing.audio import active_span
from interpreter.testing.clients import ListeningClient, Speaker, join_listener
from interpreter.testing.cluster import ClusterFixture
from interpreter.testing.livekit import LiveKitFixture, WorkerProcess, wait_for
from interpreter.testing.speech import SPANISH, SPANISH_IN_ENGLISH, chrf, render

READY = 60.0  # the worker's first job process loads Whisper, VAD and Piper
RATE = 16000


def tone(frequency: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def dominant_frequency(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / RATE)[int(np.argmax(spectrum))])


def microphone_of(identity: str):  # type: ignore[no-untyped-def]
    def want(pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> bool:
        return p.identity == identity and pub.source == rtc.TrackSource.SOURCE_MICROPHONE

    return want


async def rooms_seen_by(node: LiveKitFixture) -> dict[str, set[str]]:
    """Room name -> participant identities, as one node's server API reports the shared
    state."""
    seen: dict[str, set[str]] = {}
    async with api.LiveKitAPI(node.server.http_url, node.api_key, node.api_secret) as lk:
        rooms = await lk.room.list_rooms(api.ListRoomsRequest())
        for r in rooms.rooms:
            people = await lk.room.list_participants(api.ListParticipantsRequest(room=r.name))
            seen[r.name] = {p.identity for p in people.participants}
    return seen


async def test_participants_connected_through_two_nodes_hear_each_other(
    livekit_cluster: ClusterFixture,
) -> None:
    node_a, node_b = livekit_cluster.nodes
    room = "two-nodes"
    alice = await join_listener(node_a, room, "alice", "en", want_track=microphone_of("bob"))
    bob = await join_listener(node_b, room, "bob", "en", want_track=microphone_of("alice"))
    alice_mic, bob_mic = Speaker(alice.room), Speaker(bob.room)
    try:
        await alice_mic.publish()
        await bob_mic.publish()
        # both nodes report the one room with both participants: the state is shared
        for node in (node_a, node_b):
            seen = await rooms_seen_by(node)
            assert seen.get(room) == {"alice", "bob"}, f"{node.url} sees {seen}"

        def heard(listener: ListeningClient, identity: str) -> bool:
            return listener.first_loud_audio_at(identity, "microphone") is not None

        await asyncio.gather(alice_mic.play(tone(440, 3.0)), bob_mic.play(tone(660, 3.0)))
        await wait_for(lambda: heard(bob, "alice"), within=5, what="bob to hear alice")
        await wait_for(lambda: heard(alice, "bob"), within=5, what="alice to hear bob")
        for listener, speaker, frequency in ((bob, "alice", 440), (alice, "bob", 660)):
            audio = listener.recorded(speaker, "microphone")
            start, end = active_span(audio, RATE)
            assert end - start > 2 * RATE, f"less than 2 s of {speaker}'s 3 s tone arrived"
            assert abs(dominant_frequency(audio[start : start + 2 * RATE]) - frequency) < 10
    finally:
        for client in (alice, bob):
            await client.aclose()
            await client.room.disconnect()


class LazyWorker:
    """The module's worker, registered with node A when a test first needs it."""

    def __init__(self, node: LiveKitFixture, log_dir: Path) -> None:
        self.node = node
        self.log_dir = log_dir
        self.proc: WorkerProcess | None = None

    def ensure(self) -> WorkerProcess:
        if self.proc is None:
            # one sweep a second, so the sweep lease of an earlier run's killed worker (kept in
            # this data directory) would lapse within 7 s; the directory starts empty anyway
            self.proc = WorkerProcess(
                self.node, self.log_dir / "worker.log", env={"INTERPRETER_ORPHAN_SWEEP": "1"}
            )
        return self.proc


@pytest.fixture(scope="module")
def node_a_worker(livekit_cluster: ClusterFixture, output_dir: Path) -> Iterator[LazyWorker]:
    log_dir = output_dir / "cluster" / "worker-a"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    lazy = LazyWorker(livekit_cluster.nodes[0], log_dir)
    try:
        yield lazy
    finally:
        if lazy.proc is not None:
            lazy.proc.stop()


def has_track(room: rtc.Room, identity: str, name: str) -> bool:
    agent = room.remote_participants.get(identity)
    return agent is not None and any(p.name == name for p in agent.track_publications.values())


async def test_a_speaker_on_node_b_is_interpreted_for_a_listener_on_node_a(
    livekit_cluster: ClusterFixture, node_a_worker: LazyWorker, tmp_path: Path
) -> None:
    """Ana publishes through node B before any worker is registered: the worker (on node A)
    finds her in its first sweep and starts her translator itself (no dispatch will come)."""
    node_a, node_b = livekit_cluster.nodes
    room = "cross-node-interpreting"
    sentences, references = SPANISH[1:], SPANISH_IN_ENGLISH[1:]
    speech = render(sentences, "es", tmp_path / "es.wav")

    def from_translator(pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> bool:
        return p.identity == "translator-ana" and pub.name == "en"

    lena = await join_listener(node_a, room, "lena", "en", want_track=from_translator)
    ana_room = await node_b.connect(room, "ana", name="Ana", attributes={"language": "es"})
    try:
        ana = Speaker(ana_room)
        await ana.publish()
        worker = await asyncio.to_thread(node_a_worker.ensure)
        await wait_for(
            lambda: has_track(lena.room, "translator-ana", "en"),
            within=READY,
            what="translator-ana's 'en' track",
        )
        assert "translator relaunched" in worker.log()
        agent = lena.room.remote_participants["translator-ana"]
        assert agent.attributes.get("interpreter.source") == "ana"
        assert agent.name == "Translator (Ana)"
        await ana.silence(0.5)
        await ana.play(speech)
        await ana.silence(1.5)
        await wait_for(
            lambda: len(lena.finals(language="en", translated=True)) >= len(sentences),
            within=25,
            what="an English caption for every Spanish sentence",
        )
        text = " ".join(c.text for c in lena.finals(language="en", translated=True))
        score = chrf(text, " ".join(references))
        assert score >= 40, f"chrF {score:.1f} < 40 for {text!r}"
        assert all(c.sender == "ana" for c in lena.finals(language="en"))
        await wait_for(
            lambda: lena.first_loud_audio_at("translator-ana", "en") is not None,
            within=10,
            what="the English voice on node A",
        )
        assert worker.log().count("translator joined") == 1  # one translator for Ana, ever
    finally:
        await ana_room.disconnect()
        await lena.aclose()
        await lena.room.disconnect()


async def test_a_speaker_joining_through_node_b_later_is_dispatched_to_the_worker_on_node_a(
    livekit_cluster: ClusterFixture, node_a_worker: LazyWorker
) -> None:
    node_a, node_b = livekit_cluster.nodes
    room = "cross-node-dispatch"
    worker = await asyncio.to_thread(node_a_worker.ensure)
    await wait_for(worker.settled, within=READY, what="the worker's idle process")
    joined_before = worker.log().count("translator joined")
    relaunched_before = worker.log().count("translator relaunched")
    lena = await join_listener(node_a, room, "lena", "en")
    ben_room = await node_b.connect(room, "ben", name="Ben", attributes={"language": "es"})
    try:
        await Speaker(ben_room).publish()
        await wait_for(
            lambda: has_track(lena.room, "translator-ben", "en"),
            within=READY,
            what="translator-ben's 'en' track",
        )
        log = worker.log()
        assert log.count("translator joined") == joined_before + 1
        assert log.count("translator relaunched") == relaunched_before  # Ben's was dispatched
    finally:
        await ben_room.disconnect()
        await lena.aclose()
        await lena.room.disconnect()
