"""A PostgreSQL restart mid-meeting: captions keep flowing, the transcript catches up, and no
line is lost or stored twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from interpreter.testing.livekit import LiveKitFixture, WorkerProcess, server_of_its_own
from interpreter.testing.postgres import (
    PostgresCluster,
    meeting_speech,
    meeting_through_a_restart,
)

OUTAGE = 5.0


@pytest.fixture
def postgres() -> Iterator[PostgresCluster]:
    pg = PostgresCluster.create()
    try:
        yield pg
    finally:
        pg.remove()


async def test_a_database_restart_delays_the_transcript_and_loses_no_caption(
    livekit_server: LiveKitFixture, postgres: PostgresCluster, tmp_path: Path, output_dir: Path
) -> None:
    # a LiveKit server of its own: the session's worker (on SQLite) must not take this speaker
    worker: WorkerProcess | None = None
    with server_of_its_own(livekit_server, output_dir / "pg-restart-livekit-server.log") as lk:
        try:
            worker = WorkerProcess(
                lk, output_dir / "pg-restart-worker.log", env={"INTERPRETER_DB_URL": postgres.url}
            )
            speech = meeting_speech(tmp_path / "es.wav")
            run = await meeting_through_a_restart(
                lk, postgres, speech, room="pg-restart", settled=worker.settled, outage=OUTAGE
            )
            log = worker.log()
        finally:
            if worker is not None:
                worker.stop()

    assert run.outage >= OUTAGE
    # the listener kept receiving captions while the database was down
    assert run.during_outage(), "no caption while the database was down"
    # publishing waited for one failed write at most (the store's own retries, 0.35 s)
    waits = run.store_waits(log, "pg-restart")
    assert waits["during_outage"], waits
    assert max(waits["during_outage"] + waits["otherwise"]) < 1.5, waits
    # the transcript caught up within seconds of the database coming back
    assert run.catch_up is not None and run.catch_up < 20.0, run.catch_up
    assert not run.missing(), f"lines lost: {run.missing()}"
    assert not run.duplicated(), f"lines stored twice: {run.duplicated()}"
    assert run.in_order()
    assert "transcript writes pending" in log and "transcript caught up" in log
    seen = len(run.seen)
    print(
        f"\n{seen} captions seen, {len(run.during_outage())} during a {run.outage:.1f} s outage;"
        f" transcript caught up {run.catch_up:.2f} s after the restart"
    )
