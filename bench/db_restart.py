"""What a PostgreSQL restart mid-meeting costs, in seconds.

One livekit-server and translator worker whose transcript database is a PostgreSQL cluster of
the bench's own (``scripts/pg_test_server.sh``). Each try, a Spanish speaker says five
sentences (about 20 s) to an English listener in a new room; once the first caption arrived,
PostgreSQL is stopped (fast mode: sessions ended, as in a restart) for ``--outage`` seconds
and started again while the speaker goes on
(:func:`interpreter.testing.postgres.meeting_through_a_restart`). Per try:

* ``outage_s``: stop -> the server accepting connections again;
* ``captions_during_outage``: final captions the listener received while it was down;
* ``longest_caption_gap_s``: the longest wait between final captions at the listener, the
  outage included (a meeting without a restart has the same: the pauses between sentences);
* ``caption_store_wait_s``: what storing cost each translated caption before it went out
  (``published_after - translated_after`` of the agent's ``unit translated`` log), for units
  published while the database was down and for the others;
* ``catch_up_s``: the server accepting connections -> the transcript holding every line the
  listener had seen by then (polled every 0.1 s), and ``agent_behind_s``, the agent's own
  ``transcript caught up`` figure (first failed write -> queue empty);
* ``lines_seen``, ``lines_lost`` (seen, not stored), ``lines_duplicated``, ``in_order``.

Run: ``PYTHONPATH=. .venv/bin/python -m bench.db_restart [--tries 3] [--outage 5]``. Writes
``bench/results/db_restart.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from interpreter.config import DEV_API_KEY, DEV_API_SECRET, load_settings
from interpreter.livekit_server import LiveKitServer, ensure_server_binary
from interpreter.testing.livekit import LiveKitFixture, WorkerProcess, free_server_ports
from interpreter.testing.postgres import (
    PostgresCluster,
    agent_log_lines,
    meeting_speech,
    meeting_through_a_restart,
)

RESULTS = Path(__file__).parent / "results"


def _figures(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": round(statistics.median(values), 3),
        "max": round(max(values), 3),
        "values": [round(v, 3) for v in values],
    }


async def bench(workdir: Path, tries: int, outage: float) -> dict[str, Any]:
    speech = meeting_speech(workdir / "es.wav")
    pg = PostgresCluster.create()
    server = LiveKitServer(
        binary=ensure_server_binary(load_settings()),
        ports=free_server_ports(),
        api_key=DEV_API_KEY,
        api_secret=DEV_API_SECRET,
        dev_keys=True,
        log_file=workdir / "livekit-server.log",
    )
    runs: list[dict[str, Any]] = []
    try:
        server.start()
        lk = LiveKitFixture(server)
        worker = WorkerProcess(lk, workdir / "worker.log", env={"INTERPRETER_DB_URL": pg.url})
        try:
            for n in range(tries):
                room = f"db-restart-{n}"
                run = await meeting_through_a_restart(
                    lk, pg, speech, room=room, settled=worker.settled, outage=outage
                )
                await asyncio.sleep(3.0)  # the agent leaves; its log lines are written
                log = worker.log()
                behind = [
                    float(f["seconds"])
                    for _, f in agent_log_lines(log, "transcript caught up", room)
                ]
                waits = run.store_waits(log, room)
                result = {
                    "room": room,
                    "outage_s": round(run.outage, 3),
                    "captions_during_outage": len(run.during_outage()),
                    "longest_caption_gap_s": round(run.longest_caption_gap(), 3),
                    "caption_store_wait_s": waits,
                    "catch_up_s": None if run.catch_up is None else round(run.catch_up, 3),
                    "agent_behind_s": behind,
                    "lines_seen": len(run.seen),
                    "lines_stored": len(run.stored),
                    "lines_lost": len(run.missing()),
                    "lines_duplicated": len(run.duplicated()),
                    "in_order": run.in_order(),
                }
                print(json.dumps(result))
                runs.append(result)
        finally:
            worker.stop()
    finally:
        server.stop()
        pg.remove()

    def each(key: str) -> list[float]:
        return [float(r[key]) for r in runs if r[key] is not None]

    return {
        "tries": tries,
        "outage_requested_s": outage,
        "figures": {
            "outage_s": _figures(each("outage_s")),
            "captions_during_outage": _figures(each("captions_during_outage")),
            "longest_caption_gap_s": _figures(each("longest_caption_gap_s")),
            "caption_store_wait_during_outage_s": _figures(
                [w for r in runs for w in r["caption_store_wait_s"]["during_outage"]]
            ),
            "caption_store_wait_otherwise_s": _figures(
                [w for r in runs for w in r["caption_store_wait_s"]["otherwise"]]
            ),
            "catch_up_s": _figures(each("catch_up_s")),
            "agent_behind_s": _figures([b for r in runs for b in r["agent_behind_s"]]),
            "lines_seen": sum(r["lines_seen"] for r in runs),
            "lines_lost": sum(r["lines_lost"] for r in runs),
            "lines_duplicated": sum(r["lines_duplicated"] for r in runs),
            "all_in_order": all(r["in_order"] for r in runs),
        },
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--outage", type=float, default=5.0)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-db-restart-") as tmp:
        result = asyncio.run(bench(Path(tmp), args.tries, args.outage))
    (RESULTS / "db_restart.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["figures"], indent=2))


if __name__ == "__main__":
    main()
