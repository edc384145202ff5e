"""Production mode: no public development keys beyond loopback, JSON logs without secrets, the
probes of the web app and the worker."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from interpreter import cli
from interpreter.config import load_settings
from interpreter.errors import ConfigError
from interpreter.health import WorkerReadiness, mark_models_loaded, probe_app, run_dir
from interpreter.livekit_server import LiveKitServer
from interpreter.logs import REDACTED, ContextFormatter, JsonFormatter, configure_logging
from interpreter.production import refuse_public_dev_keys
from web.app import WebConfig, WebConfigError, build_app, run_web
from web.config import is_loopback_host

Client = TestClient[web.Request, web.Application]

REAL_KEY = "APIprodkey"
REAL_SECRET = "p" * 40


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "LIVEKIT_API_KEY",
        "LIVEKIT_API_SECRET",
        "LIVEKIT_URL",
        "INTERPRETER_HOST",
        "INTERPRETER_LIVEKIT_API_URL",
    ):
        monkeypatch.delenv(var, raising=False)


# --- development keys ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.53", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("meet.example.org", False),
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize("command", ["web", "worker", "up", "server"])
def test_every_service_refuses_the_dev_keys_beyond_loopback(
    command: str,
    no_keys: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "configure_logging", lambda *_, **__: None)
    assert cli.main([command, "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "LIVEKIT_API_KEY" in err and "LIVEKIT_API_SECRET" in err
    assert "INTERPRETER_HOST=0.0.0.0" in err and "127.0.0.1" in err


def test_dev_keys_on_loopback_and_real_keys_anywhere_are_fine(
    no_keys: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_public_dev_keys(load_settings(host="127.0.0.1"))
    refuse_public_dev_keys(load_settings(host="::1"))
    with pytest.raises(ConfigError, match="development keys"):
        refuse_public_dev_keys(load_settings(host="10.1.2.3"))
    refuse_public_dev_keys(load_settings(livekit_url="ws://localhost:7880"))
    # a web app on loopback behind a public proxy still hands out tokens for a public server
    with pytest.raises(ConfigError, match=r"LIVEKIT_URL=wss://lk\.example\.org"):
        refuse_public_dev_keys(load_settings(livekit_url="wss://lk.example.org"))
    with pytest.raises(ConfigError, match="INTERPRETER_LIVEKIT_API_URL"):
        refuse_public_dev_keys(load_settings(livekit_api_url="http://10.0.0.5:7880"))
    monkeypatch.setenv("LIVEKIT_API_KEY", REAL_KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", REAL_SECRET)
    refuse_public_dev_keys(load_settings(host="0.0.0.0", livekit_url="wss://lk.example.org"))


def test_the_web_app_itself_refuses_to_serve_dev_keys_beyond_loopback() -> None:
    config = WebConfig(
        ws_url="ws://127.0.0.1:7880",
        api_key="devkey",
        api_secret="secret",
        dev_keys=True,
        host="0.0.0.0",
    )
    with pytest.raises(WebConfigError, match="LIVEKIT_API_KEY"):
        run_web(config)


# --- logs -------------------------------------------------------------------------------------
def _record(msg: str = "token issued", **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "web", "levelname": "INFO", "msg": msg})
    record.__dict__.update(extra)
    return record


def test_json_logs_are_one_object_a_line_with_the_context() -> None:
    line = JsonFormatter().format(_record(room="standup", role="listener", count=3))
    entry = json.loads(line)
    assert entry["level"] == "INFO" and entry["logger"] == "web"
    assert entry["message"] == "token issued"
    assert entry["room"] == "standup" and entry["count"] == 3
    assert entry["time"].endswith("Z") and "T" in entry["time"]
    assert "\n" not in line


def test_json_logs_carry_the_traceback_and_values_json_cannot_hold() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.makeLogRecord(
            {"name": "x", "levelname": "ERROR", "msg": "failed", "exc_info": sys.exc_info()}
        )
    record.__dict__["path"] = Path("/tmp/x")
    entry = json.loads(JsonFormatter().format(record))
    assert "RuntimeError: boom" in entry["exception"] and entry["path"] == "/tmp/x"


def test_no_secret_reaches_a_log_line_in_either_format() -> None:
    record = _record(
        token="eyJhbGciOi.secret.jwt",
        api_secret="p" * 40,
        passcode="board-2026",
        authorization="Bearer abc",
        db="postgresql://app:hunter2@db:5432/interp",
        room="standup",
    )
    for formatter in (JsonFormatter(), ContextFormatter("%(message)s")):
        text = formatter.format(record)
        for secret in ("eyJhbGciOi", "p" * 40, "board-2026", "Bearer abc", "hunter2"):
            assert secret not in text
        assert REDACTED in text and "standup" in text and "app:" in text


def test_the_cli_configures_json_logs_from_the_environment(tmp_path: Path, no_keys: None) -> None:
    env = dict(
        os.environ,
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
        INTERPRETER_LOG_FORMAT="json",
        INTERPRETER_DATA_DIR=str(tmp_path),
        INTERPRETER_LOG_LEVEL="INFO",
    )
    code = (
        "import logging\n"
        "from interpreter.config import load_settings\n"
        "from interpreter.logs import configure_logging\n"
        "s = load_settings()\n"
        "configure_logging(s.log_level, s.log_format)\n"
        "logging.getLogger('web').info('token issued', extra={'room': 'r1', 'token': 'abc'})\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stderr.strip().splitlines()[-1])
    assert entry["room"] == "r1" and entry["token"] == REDACTED


def test_configure_logging_switches_format() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("INFO", "json")
        stream = io.StringIO()
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("web").info("hello", extra={"room": "r"})
        assert json.loads(stream.getvalue())["room"] == "r"
        configure_logging("INFO", "text")
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("web").info("hello", extra={"room": "r2"})
        assert stream.getvalue().splitlines()[-1].endswith("hello room=r2")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_the_livekit_server_logs_json_too(tmp_path: Path) -> None:
    settings = load_settings(log_format="json", server_bin=None)
    server = LiveKitServer.from_settings(settings)
    assert "  json: true" in server.config_yaml()
    assert "json" not in LiveKitServer.from_settings(load_settings()).config_yaml()


# --- probes -----------------------------------------------------------------------------------
async def test_the_web_app_is_alive_and_ready_without_a_database() -> None:
    config = WebConfig(ws_url="ws://127.0.0.1:7880", api_key=REAL_KEY, api_secret=REAL_SECRET)
    async with TestClient(TestServer(build_app(config))) as client:
        health = await client.get("/healthz")
        assert health.status == 200 and await health.json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status == 200 and (await ready.json())["status"] == "ready"
        assert health.headers["Cache-Control"] == "no-store"


async def test_web_readiness_names_the_check_that_failed() -> None:
    async def fine() -> None:
        return None

    async def down() -> None:
        raise OSError("connection refused")

    config = WebConfig(ws_url="ws://127.0.0.1:7880", api_key=REAL_KEY, api_secret=REAL_SECRET)
    app = build_app(config, ready_checks={"database": down, "cache": fine})
    async with TestClient(TestServer(app)) as client:
        ready = await client.get("/readyz")
        assert ready.status == 503
        assert await ready.json() == {
            "status": "not_ready",
            "checks": {"database": "unavailable", "cache": "ok"},
        }


@pytest.fixture
async def worker_probes(tmp_path: Path) -> AsyncIterator[tuple[Client, WorkerReadiness]]:
    readiness = WorkerReadiness(models_dir=tmp_path / "models-loaded")
    readiness.reset()
    async with TestClient(TestServer(probe_app(readiness))) as client:
        yield client, readiness


async def test_the_worker_is_ready_once_registered_with_models_loaded(
    worker_probes: tuple[Client, WorkerReadiness],
) -> None:
    client, readiness = worker_probes
    assert (await client.get("/healthz")).status == 200
    resp = await client.get("/readyz")
    assert resp.status == 503
    assert (await resp.json())["checks"] == {"livekit": "not_registered", "models": "loading"}
    readiness.registered("AW_abc")
    assert (await (await client.get("/readyz")).json())["checks"]["models"] == "loading"
    assert readiness.models_dir is not None
    (readiness.models_dir / str(os.getpid())).touch()  # what prewarm does in a job process
    resp = await client.get("/readyz")
    assert resp.status == 200
    assert await resp.json() == {
        "status": "ready",
        "checks": {"livekit": "registered", "models": "loaded"},
        "worker_id": "AW_abc",
    }
    readiness.stopping = True
    resp = await client.get("/readyz")
    assert resp.status == 503 and (await resp.json())["status"] == "stopping"


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


async def test_models_of_a_dead_job_process_do_not_count(
    worker_probes: tuple[Client, WorkerReadiness],
) -> None:
    client, readiness = worker_probes
    readiness.registered("AW_abc")
    dead = _dead_pid()
    assert readiness.models_dir is not None
    (readiness.models_dir / str(dead)).touch()
    assert (await client.get("/readyz")).status == 503
    assert not (readiness.models_dir / str(dead)).exists()


def test_prewarm_marks_land_where_the_worker_of_that_port_looks(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, worker_port=9101)
    other = load_settings(data_dir=tmp_path, worker_port=9102)
    readiness = WorkerReadiness(models_dir=run_dir(settings))
    readiness.reset()
    mark_models_loaded(settings)
    assert readiness.loaded_processes() == 1
    assert WorkerReadiness(models_dir=run_dir(other)).loaded_processes() == 0
    readiness.reset()  # a restarted worker forgets the last run's processes
    assert readiness.loaded_processes() == 0
    assert WorkerReadiness(models_dir=None).checks()["models"] == "on_demand"
