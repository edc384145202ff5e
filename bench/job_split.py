"""Two translator workers on two LiveKit nodes: how one meeting's translator jobs split.

The topology of ``up --nodes 2 --workers 2``, on free loopback ports: Redis, nodes A and B,
worker 1 registered with node A and worker 2 with node B, sharing one data directory (one
database). Four speakers join one room, two through each node, a few seconds apart, and a
listener who wants English joins through node A. Once every speaker's translator publishes its
English track, each speaker says one Spanish sentence.

Reported, from the workers' own logs: which worker runs each speaker's translator, how many
were dispatched by LiveKit and how many the orphan sweep relaunched, whether any speaker ever
had two translators, and the English captions the listener got per speaker.

Run: ``PYTHONPATH=. .venv/bin/python -m bench.job_split``
Writes ``bench/results/job_split.json``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from livekit import rtc

from interpreter.config import load_settings
from interpreter.livekit_server import ensure_server_binary
from interpreter.testing.clients import Speaker, join_listener
from interpreter.testing.cluster import loopback_cluster
from interpreter.testing.livekit import LiveKitFixture, WorkerProcess, wait_for
from interpreter.testing.speech import SPANISH, render
from interpreter.testing.translators import speakers_joined, translator_publishing

RESULTS = Path(__file__).parent / "results"
SPEAKERS = ("ana", "ben", "carla", "dario")


async def run(work: Path) -> dict[str, Any]:
    cluster = loopback_cluster(ensure_server_binary(load_settings()), work / "logs")
    cluster.start()
    workers: list[WorkerProcess] = []
    try:
        nodes = [LiveKitFixture(node) for node in cluster.nodes]
        for k, node in enumerate(nodes):
            workers.append(
                await asyncio.to_thread(WorkerProcess, node, work / f"worker-{k + 1}.log")
            )
        for w in workers:
            await wait_for(w.settled, within=120, what="the workers' idle processes")
        room = "job-split"
        lena = await join_listener(nodes[0], room, "lena", "en")
        rooms: list[rtc.Room] = []
        mics: list[Speaker] = []
        started = time.monotonic()
        for i, speaker in enumerate(SPEAKERS):
            node = nodes[i % 2]
            r = await node.connect(
                room, speaker, name=speaker.title(), attributes={"language": "es"}
            )
            rooms.append(r)
            mics.append(Speaker(r))
            await mics[-1].publish()
            await asyncio.sleep(3.0)
        await wait_for(
            lambda: all(translator_publishing(lena.room, s) is not None for s in SPEAKERS),
            within=240,
            what="every speaker's translator",
        )
        ready = time.monotonic() - started
        speech = render(SPANISH[1:2], "es", work / "es.wav")
        await asyncio.gather(*(m.play(speech) for m in mics))
        for m in mics:
            await m.silence(1.5)
        await wait_for(
            lambda: (
                {c.sender for c in lena.finals(language="en", translated=True)} >= set(SPEAKERS)
            ),
            within=120,
            what="an English caption from every speaker",
        )
        logs = [w.log() for w in workers]
        split = {f"worker-{k + 1}": speakers_joined(log) for k, log in enumerate(logs)}
        everyone = [s for names in split.values() for s in names]
        result = {
            "topology": "2 LiveKit nodes + Redis, worker-1 on node A, worker-2 on node B",
            "speakers": {s: ("A" if i % 2 == 0 else "B") for i, s in enumerate(SPEAKERS)},
            "jobs_per_worker": {k: len(v) for k, v in split.items()},
            "speakers_per_worker": split,
            "relaunched_by_sweep": sum(log.count("translator relaunched") for log in logs),
            "speakers_with_two_translators": sorted({s for s in everyone if everyone.count(s) > 1}),
            "english_captions_per_speaker": {
                s: len(lena.finals(language="en", translated=True, sender=s)) for s in SPEAKERS
            },
            "seconds_until_every_translator_was_up": round(ready, 1),
        }
        for r in rooms:
            await r.disconnect()
        await lena.aclose()
        await lena.room.disconnect()
        return result
    finally:
        for w in workers:
            w.stop()
        cluster.stop()


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="job-split-"))
    try:
        result = asyncio.run(run(work))
    finally:
        kept = RESULTS.parent.parent / "test-output" / "job-split"
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(work, kept, ignore=shutil.ignore_patterns("worker-data", "*.wav"))
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "job_split.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
