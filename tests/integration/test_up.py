"""`python -m interpreter up` (what `make up` runs): everything starts, Ctrl-C stops all."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from interpreter.cluster import NODE_PORT_STEP
from interpreter.testing.livekit import REPO, free_port, free_server_ports


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.read()


def _ready_within(url: str, timeout: float) -> dict[str, object]:
    """The ``/readyz`` document once it says ready (the models load after registration)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            body: dict[str, object] = json.loads(_get(url)[1])
            return body
        except urllib.error.HTTPError as e:
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} not ready: {e.read()!r}") from e
        time.sleep(0.5)


def _start_up(tmp_path: Path, *flags: str) -> subprocess.Popen[str]:
    """``python -m interpreter up FLAGS`` with its data in ``tmp_path``, the development keys,
    in a session of its own (the test's SIGINT is what a terminal's Ctrl-C would send)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), INTERPRETER_DATA_DIR=str(tmp_path / "data"))
    for key in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        env.pop(key, None)
    return subprocess.Popen(
        [sys.executable, "-m", "interpreter", "up", *flags],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _output_until_running(proc: subprocess.Popen[str], timeout: float) -> str:
    """What ``up`` printed until it said it runs (fails the test if it never does)."""
    assert proc.stdout is not None
    printed: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        printed.append(line)
        if "Press Ctrl-C to stop" in line:
            break
    output = "".join(printed)
    assert "Press Ctrl-C to stop" in output, output
    return output


def _ctrl_c_leaves_nothing(proc: subprocess.Popen[str], ours: list[psutil.Process]) -> None:
    proc.send_signal(signal.SIGINT)  # what Ctrl-C in a terminal does
    rest, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, rest
    assert "stopped." in rest
    _gone, alive = psutil.wait_procs(ours, timeout=5)
    assert not alive, f"left behind: {[p.cmdline() for p in alive]}"


def test_up_starts_server_and_worker_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    ports = free_server_ports()
    worker_port = free_port()
    web_port = free_port()
    probe_port = free_port()
    proc = _start_up(
        tmp_path,
        f"--port={ports.http}",
        f"--tcp-port={ports.tcp}",
        f"--udp-port={ports.udp}",
        f"--worker-port={worker_port}",
        f"--metrics-port={free_port()}",
        f"--probe-port={probe_port}",
        f"--web-port={web_port}",
    )
    try:
        output = _output_until_running(proc, 120)
        assert f"ws://127.0.0.1:{ports.http}" in output
        assert "devkey / secret" in output
        assert f"http://127.0.0.1:{worker_port}/" in output
        assert f"http://127.0.0.1:{web_port}/" in output
        status, page = _get(f"http://127.0.0.1:{web_port}/")
        assert status == 200 and b"<html" in page.lower()

        assert _get(f"http://127.0.0.1:{ports.http}/")[0] == 200
        assert _get(f"http://127.0.0.1:{worker_port}/")[0] == 200
        info = json.loads(_get(f"http://127.0.0.1:{worker_port}/worker")[1])
        assert info["worker_type"] == "JT_PUBLISHER"
        # the probes a load balancer or Kubernetes would use
        assert _get(f"http://127.0.0.1:{probe_port}/healthz")[0] == 200
        assert _get(f"http://127.0.0.1:{web_port}/healthz")[0] == 200
        ready = json.loads(_get(f"http://127.0.0.1:{web_port}/readyz")[1])
        assert ready == {"status": "ready", "checks": {"database": "ok"}}
        worker_ready = _ready_within(f"http://127.0.0.1:{probe_port}/readyz", 90)
        assert worker_ready["checks"] == {"livekit": "registered", "models": "loaded"}
        worker_log = (tmp_path / "data" / "logs" / "worker.log").read_text()
        assert "worker registered" in worker_log

        ours = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in ours)
        assert "livekit-server" in names and "interpreter worker" in names, names
        assert "interpreter web" in names, names

        _ctrl_c_leaves_nothing(proc, ours)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _free_with_neighbour(kind: int = socket.SOCK_STREAM) -> int:
    """A free port whose neighbour 10 above is free too (``up`` puts node/worker 2 there)."""
    while True:
        port = free_port(kind)
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port + NODE_PORT_STEP))
            except OSError:
                continue
        return port


def test_up_with_two_nodes_and_two_workers_shares_redis_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    http, tcp = _free_with_neighbour(), _free_with_neighbour()
    udp = _free_with_neighbour(socket.SOCK_DGRAM)
    worker_port, metrics_port, probe_port = (_free_with_neighbour() for _ in range(3))
    web_port, redis_port = free_port(), free_port()
    proc = _start_up(
        tmp_path,
        "--nodes=2",
        "--workers=2",
        f"--redis-port={redis_port}",
        f"--port={http}",
        f"--tcp-port={tcp}",
        f"--udp-port={udp}",
        f"--worker-port={worker_port}",
        f"--metrics-port={metrics_port}",
        f"--probe-port={probe_port}",
        f"--web-port={web_port}",
    )
    try:
        output = _output_until_running(proc, 150)
        second = http + NODE_PORT_STEP
        for port in (http, second):
            assert f"ws://127.0.0.1:{port}" in output
            assert _get(f"http://127.0.0.1:{port}/")[0] == 200
        assert f"127.0.0.1:{redis_port}" in output
        logs = tmp_path / "data" / "logs"
        for name, node in (("worker.log", http), ("worker-2.log", second)):
            log = (logs / name).read_text()
            assert f"translator worker registered with ws://127.0.0.1:{node}" in log
        for port in (worker_port, worker_port + NODE_PORT_STEP):
            assert _get(f"http://127.0.0.1:{port}/")[0] == 200
        # one sweeper among the two workers
        holders = sum(
            "orphan sweep lease taken" in (logs / n).read_text()
            for n in ("worker.log", "worker-2.log")
        )
        assert holders == 1

        ours = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in ours)
        assert names.count("livekit-server") >= 2 and "redis-server" in names, names
        assert names.count("interpreter worker") >= 2, names

        _ctrl_c_leaves_nothing(proc, ours)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
