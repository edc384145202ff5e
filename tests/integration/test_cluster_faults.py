"""Faults of a two-node LiveKit cluster during a meeting: Redis restarted empty, then node B
killed. Rooms keep being interpreted, newcomers and new speakers are served again, and the
clients of the lost node are interpreted again once they come back through node A.

The cluster is this module's own (a node dies here); one worker, registered with node A,
serves both tests. The costs in seconds are printed (``-s``) and measured over repetitions by
``python -m bench.node_faults``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from interpreter.config import load_settings
from interpreter.livekit_server import ensure_server_binary
from interpreter.testing.cluster import ClusterFixture, loopback_cluster
from interpreter.testing.faults import kill_node_during_meeting, restart_redis_during_meeting
from interpreter.testing.livekit import LiveKitFixture, WorkerProcess
from interpreter.testing.speech import SPANISH, render


@pytest.fixture(scope="module")
def fault_cluster(output_dir: Path) -> Iterator[ClusterFixture]:
    """Nodes A and B and their Redis, for this module alone."""
    log_dir = output_dir / "cluster-faults"
    shutil.rmtree(log_dir, ignore_errors=True)
    cluster = loopback_cluster(ensure_server_binary(load_settings()), log_dir)
    cluster.start()
    try:
        yield ClusterFixture(cluster, tuple(LiveKitFixture(node) for node in cluster.nodes))
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def worker_a(fault_cluster: ClusterFixture, output_dir: Path) -> Iterator[WorkerProcess]:
    proc = WorkerProcess(fault_cluster.nodes[0], output_dir / "cluster-faults" / "worker-a.log")
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    return render(SPANISH[1:], "es", tmp_path_factory.mktemp("speech") / "es.wav")


async def test_a_meeting_outlives_a_redis_restart_and_new_rooms_are_served_again(
    fault_cluster: ClusterFixture, worker_a: WorkerProcess, speech: np.ndarray
) -> None:
    costs = await restart_redis_during_meeting(fault_cluster, worker_a, speech, tag="t")
    print(f"\nRedis restart costs: {costs}")
    # captions every few seconds while Ana talks; the restart must not stop them
    assert costs.caption_gap_s < 20
    assert costs.join_s < 15  # the nodes are back in Redis with their next stats (2 s)


async def test_the_clients_of_a_killed_node_are_interpreted_again_through_the_other(
    fault_cluster: ClusterFixture, worker_a: WorkerProcess, speech: np.ndarray
) -> None:
    costs = await kill_node_during_meeting(fault_cluster, worker_a, speech, tag="t")
    print(f"\nnode kill costs: {costs}")
    assert costs.survivor_caption_gap_s < 20
    assert costs.settled_caption_s < 120  # interpreted again, by one translator
    assert costs.translators_started >= 1  # her first room died with node B
