"""Production mode through the real programs: ``python -m interpreter web`` with its database and
a real LiveKit server; a room's passcode set with the CLI; the development keys refused off
loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from livekit import rtc

from interpreter.processes import die_with_parent, stop_process_group, wait_http_ok
from interpreter.testing.livekit import REPO, LiveKitFixture, free_port


def _env(lk: LiveKitFixture, data_dir: Path) -> dict[str, str]:
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        LIVEKIT_URL=lk.url,
        INTERPRETER_DATA_DIR=str(data_dir),
        INTERPRETER_LOG_FORMAT="json",
    )
    for key in ("LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "INTERPRETER_HOST"):
        env.pop(key, None)
    return env


@pytest.fixture
def web_app(livekit_server: LiveKitFixture, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``python -m interpreter web`` on a free port; its URL and its log file."""
    port = free_port()
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "interpreter", "web", "--port", str(port)],
            cwd=REPO,
            env=_env(livekit_server, tmp_path / "data"),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{url}/readyz", proc=proc, timeout=60, what="web app")
        yield url, log
    finally:
        stop_process_group(proc, grace=10)


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _set_passcode(lk: LiveKitFixture, data_dir: Path, *, room: str, passcode: str) -> None:
    """``python -m interpreter access set``, the passcode on stdin."""
    done = subprocess.run(
        [sys.executable, "-m", "interpreter", "access", "set", "--room", room, "--passcode-stdin"],
        cwd=REPO,
        env=_env(lk, data_dir),
        input=passcode + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


async def test_a_room_passcode_set_with_the_cli_guards_the_real_token_endpoint(
    livekit_server: LiveKitFixture, web_app: tuple[str, Path], tmp_path: Path
) -> None:
    url, log = web_app
    _set_passcode(livekit_server, tmp_path / "data", room="board", passcode="board-2026-q4")
    join = {"room": "board", "name": "Ana", "language": "es", "role": "listener"}
    assert _post(f"{url}/api/token", join)[1]["error"] == "passcode_required"
    status, body = _post(f"{url}/api/token", {**join, "passcode": "board-2025-q4"})
    assert (status, body["error"]) == (403, "wrong_passcode")
    status, grant = _post(f"{url}/api/token", {**join, "passcode": "board-2026-q4"})
    assert status == 200
    room = rtc.Room()
    await room.connect(grant["url"], grant["token"])  # the real server takes the token
    try:
        assert room.connection_state == rtc.ConnectionState.CONN_CONNECTED
    finally:
        await room.disconnect()
    assert _post(f"{url}/api/token", {**join, "room": "lobby"})[0] == 200  # others stay open

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(entry["message"] == "wrong passcode" for entry in lines)
    assert "board-2026-q4" not in log.read_text() and "board-2025-q4" not in log.read_text()


def test_the_real_programs_refuse_dev_keys_off_loopback(
    livekit_server: LiveKitFixture, tmp_path: Path
) -> None:
    for command in ("web", "worker"):
        done = subprocess.run(
            [sys.executable, "-m", "interpreter", command, "--host", "0.0.0.0"],
            cwd=REPO,
            env=_env(livekit_server, tmp_path / "data"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "LIVEKIT_API_KEY" in done.stderr and "LIVEKIT_API_SECRET" in done.stderr
