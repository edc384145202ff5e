"""What a Redis restart and a killed LiveKit node cost a running meeting, in seconds.

Two LiveKit nodes (A, B) and their Redis on free loopback ports, one translator worker
registered with node A. Each repetition plays a scenario of ``interpreter.testing.faults``
(the ones ``tests/integration/test_cluster_faults.py`` asserts):

* Redis restarted empty while Ana talks: the caption gap in her room, how soon a new room can
  be joined and a new speaker gets her translator, whether a newcomer of the running room was
  placed away from it (LiveKit lost the room's pin).
* Node B killed (SIGKILL) while Uma talks in a room on node A and Vera in one on node B: the
  caption gap in Uma's room; when Vera's clients, back through node A, are in their room again,
  when her translator is dispatched again and when her listener has a caption. Node B is
  started again between repetitions.

Then, once: a second worker registered with node B, node B killed and started again after
``--down`` seconds: whether and when that worker registers again (livekit-agents retries its
one URL, 16 times, backing off up to 10 s).

Run: ``PYTHONPATH=. .venv/bin/python -m bench.node_faults [--repeat 3] [--down 15]``
Writes ``bench/results/node_faults.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from interpreter.config import load_settings
from interpreter.livekit_server import ensure_server_binary
from interpreter.testing.cluster import ClusterFixture, kill_node, loopback_cluster, restart_node
from interpreter.testing.faults import kill_node_during_meeting, restart_redis_during_meeting
from interpreter.testing.livekit import LiveKitFixture, WorkerProcess, wait_for
from interpreter.testing.speech import SPANISH, render

RESULTS = Path(__file__).parent / "results"
REGISTERED = "interpreter.worker: worker registered"


def _summary(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key, value in runs[0].items():
        if isinstance(value, float):
            values = [r[key] for r in runs]
            out[key] = {
                "min": min(values),
                "median": round(statistics.median(values), 2),
                "max": max(values),
            }
    return out


async def _worker_on_the_killed_node(
    cluster: ClusterFixture, work: Path, down: float
) -> dict[str, Any]:
    node_b = cluster.cluster.nodes[1]
    worker = await asyncio.to_thread(WorkerProcess, cluster.nodes[1], work / "worker-b.log")
    try:
        await wait_for(worker.settled, within=180, what="worker B's idle process")
        killed = time.time()
        await asyncio.to_thread(kill_node, node_b)
        await asyncio.sleep(down)
        retries = worker.log().count("failed to connect to livekit")
        await asyncio.to_thread(restart_node, node_b)
        restarted = time.time()
        await wait_for(
            lambda: worker.log().count(REGISTERED) >= 2,
            within=60,
            what="worker B to register again",
        )
        back = time.time()
        return {
            "node_down_s": round(restarted - killed, 2),
            "retries_while_down": retries,
            "registered_again_after_restart_s": round(back - restarted, 2),
            "worker_still_running": worker.proc.poll() is None,
        }
    finally:
        await asyncio.to_thread(worker.stop)


async def run(work: Path, repeat: int, down: float) -> dict[str, Any]:
    cluster = loopback_cluster(ensure_server_binary(load_settings()), work / "logs")
    cluster.start()
    worker: WorkerProcess | None = None
    try:
        fixture = ClusterFixture(cluster, tuple(LiveKitFixture(n) for n in cluster.nodes))
        speech = render(SPANISH[1:], "es", work / "es.wav")
        worker = await asyncio.to_thread(WorkerProcess, fixture.nodes[0], work / "worker-a.log")
        await wait_for(worker.settled, within=180, what="the worker's idle process")
        redis_runs = []
        for k in range(repeat):
            redis = await restart_redis_during_meeting(fixture, worker, speech, tag=f"redis{k}")
            redis_runs.append(asdict(redis))
            print("redis restart", redis_runs[-1], flush=True)
        kill_runs = []
        for k in range(repeat):
            kill = await kill_node_during_meeting(fixture, worker, speech, tag=f"kill{k}")
            kill_runs.append(asdict(kill))
            print("node kill", kill_runs[-1], flush=True)
            await asyncio.to_thread(restart_node, cluster.nodes[1])
            await asyncio.sleep(3.0)  # node B's first stats in Redis: it can host rooms again
        await asyncio.to_thread(worker.stop)
        worker = None
        stranded = await _worker_on_the_killed_node(fixture, work, down)
        print("worker on the killed node", stranded, flush=True)
        return {
            "topology": "2 LiveKit nodes + Redis (in memory), one worker registered with node A",
            "repetitions": repeat,
            "redis_restart": {"runs": redis_runs, "summary": _summary(redis_runs)},
            "node_kill": {"runs": kill_runs, "summary": _summary(kill_runs)},
            "worker_on_killed_node": stranded,
        }
    finally:
        if worker is not None:
            await asyncio.to_thread(worker.stop)
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--down", type=float, default=15.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="node-faults-"))
    try:
        result = asyncio.run(run(work, args.repeat, args.down))
    finally:
        kept = RESULTS.parent.parent / "test-output" / "node-faults"
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(work, kept, ignore=shutil.ignore_patterns("*-data", "*.wav"))
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "node_faults.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
