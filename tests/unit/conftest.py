"""Unit tests load no model: a test that does must say so (``@pytest.mark.model``), so the
fast suite (``make unit``: no server, no model) stays fast and model-free by construction.

Database tests take ``db_url``: a SQLite file, and a fresh database on PostgreSQL when
``INTERPRETER_TEST_PG_URL`` is set or else on a throwaway cluster started with
``scripts/pg_test_server.sh`` when the PostgreSQL binaries are installed (`make test` runs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from captions.store import database_url

REPO = Path(__file__).resolve().parents[2]
PG_SCRIPT = REPO / "scripts" / "pg_test_server.sh"


@pytest.fixture(autouse=True)
def _no_models_unless_marked(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    if request.node.get_closest_marker("model") is not None:
        yield
        return
    import faster_whisper
    import onnxruntime

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError(
            "this unit test loads a real model (Whisper, Silero or Piper): use the fakes in "
            "interpreter.testing.fakes, or mark it @pytest.mark.model"
        )

    monkeypatch.setattr(faster_whisper.WhisperModel, "__init__", refuse)
    monkeypatch.setattr(onnxruntime.InferenceSession, "__init__", refuse)
    yield


def _pg_binaries() -> bool:
    return shutil.which("initdb") is not None or any(Path("/usr/lib/postgresql").glob("*/bin"))


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    url = os.environ.get("INTERPRETER_TEST_PG_URL")
    if url:
        yield url
        return
    if not _pg_binaries():
        message = "PostgreSQL not installed (apt-get install postgresql) and no test URL set"
        if os.environ.get("CI"):
            pytest.fail(message)  # `make test` provides PostgreSQL; in CI it must be there
        pytest.skip(message)
    directory = tempfile.mkdtemp(prefix="pgtest-")
    started = subprocess.run(
        [str(PG_SCRIPT), "start", directory], capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(f"could not start a test PostgreSQL: {started.stderr}")
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([str(PG_SCRIPT), "stop", directory], check=False)


def _fresh_pg_database(server_url: str) -> str:
    """A new empty database on the test server, so tests never see each other's rows."""
    url = sa.make_url(server_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL of each kind, for a test that must hold on both."""
    if request.param == "sqlite":
        return database_url(db_url=None, data_dir=tmp_path / "data")
    server: str = request.getfixturevalue("pg_server_url")
    return _fresh_pg_database(server)
