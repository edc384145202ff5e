"""Two workers on two LiveKit nodes, one database: SIGKILL the worker that runs translators in
the middle of a meeting. Its speakers get a translator on the other worker within 10 s (the
dead translators linger in the room for about 20 s unless replaced), no speaker ever has two,
and the transcript holds every caption the listener saw, once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from livekit import api

from interpreter.testing.clients import Speaker, join_listener
from interpreter.testing.cluster import ClusterFixture
from interpreter.testing.livekit import WorkerProcess, wait_for
from interpreter.testing.speech import SPANISH, render
from interpreter.testing.translators import (
    TranslatorWatch,
    kill_a_translating_worker,
    speak_in_turn,
    speakers_joined,
    transcript_problems,
    translator_publishing,
)

READY = 120.0  # two workers load Whisper, VAD and Piper in two job processes each
FAILOVER = 10.0  # the acceptance bound: kill -> the speaker's new translator publishes
SPEAKERS = ("ana", "ben")


@pytest.fixture(scope="module")
def workers(livekit_cluster: ClusterFixture, output_dir: Path) -> Iterator[list[WorkerProcess]]:
    """Worker 1 registered with node A, worker 2 with node B, one SQLite database; each keeps
    two job processes warm, so the survivor can take both speakers at once."""
    log_dir = output_dir / "failover"
    log_dir.mkdir(parents=True, exist_ok=True)
    database = log_dir / "shared.db"
    for stale in log_dir.glob("shared.db*"):
        stale.unlink()
    env = {"INTERPRETER_DB_URL": f"sqlite:///{database}", "INTERPRETER_WORKER_IDLE_PROCESSES": "2"}
    started: list[WorkerProcess] = []
    try:
        for k, node in enumerate(livekit_cluster.nodes):
            started.append(WorkerProcess(node, log_dir / f"worker-{k + 1}.log", env=env))
        yield started
    finally:
        for w in started:
            w.stop()


async def test_a_killed_worker_s_speakers_get_a_translator_on_the_other_worker_within_10_s(
    livekit_cluster: ClusterFixture, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    node_a, node_b = livekit_cluster.nodes
    room = "failover"
    for w in workers:
        await wait_for(w.settled, within=READY, what="the workers' job processes")
    sentences = {
        "ana": render(SPANISH[:1], "es", tmp_path / "ana.wav"),
        "ben": render(SPANISH[1:2], "es", tmp_path / "ben.wav"),
    }
    after = {
        "ana": render(SPANISH[2:3], "es", tmp_path / "ana-2.wav"),
        "ben": render(SPANISH[:1], "es", tmp_path / "ben-2.wav"),
    }
    lena = await join_listener(node_a, room, "lena", "en")
    watch = TranslatorWatch(lena.room, SPEAKERS)
    rooms = [lena.room]
    try:
        speakers: dict[str, Speaker] = {}
        for name, node in zip(SPEAKERS, (node_a, node_b), strict=True):
            r = await node.connect(room, name, name=name.title(), attributes={"language": "es"})
            rooms.append(r)
            speakers[name] = Speaker(r)
            await speakers[name].publish()
        await wait_for(
            lambda: all(translator_publishing(lena.room, s) for s in SPEAKERS),
            within=READY,
            what="both translators' English tracks",
        )
        await speak_in_turn(lena, speakers, sentences)

        joined_before = {w.log_file: speakers_joined(w.log()) for w in workers}
        failover = await kill_a_translating_worker(lena.room, workers)
        back, survivor = failover.back, failover.survivor
        print(f"\nkilled {failover.victim.log_file.name}: translators back after {back} s")
        assert failover.orphaned, "the killed worker ran no translator"
        assert max(back.values()) <= FAILOVER, f"translators back after {back} s"
        assert not failover.job_processes_left(), "job processes outlived their worker"
        # the survivor runs them now, once each
        new_joins = speakers_joined(survivor.log())[len(joined_before[survivor.log_file]) :]
        assert sorted(new_joins) == failover.orphaned
        assert "translator relaunched" in survivor.log()

        await speak_in_turn(lena, speakers, after)
        await asyncio.sleep(1.0)
        seen = lena.finals(language="en")
        assert watch.most_at_once == 1, "a speaker had two translators at once"
        for s in failover.orphaned:
            assert len(watch.sessions[s]) == 2, f"{s}: translator sessions {watch.sessions[s]}"
        # the server agrees: one translator per speaker
        async with api.LiveKitAPI(node_b.server.http_url, node_b.api_key, node_b.api_secret) as lk:
            people = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
        agents = [p.identity for p in people.participants if p.identity.startswith("translator-")]
        assert sorted(agents) == [f"translator-{s}" for s in SPEAKERS]
    finally:
        await watch.aclose()
        await lena.aclose()
        for r in rooms:
            await r.disconnect()

    exported = await asyncio.to_thread(
        survivor.cli, "transcript", "export", "--room", room, "--lang", "en", "--format", "json"
    )
    problems = transcript_problems(exported.stdout, seen)
    assert not problems, "\n".join(problems)
