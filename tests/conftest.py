"""Shared fixtures: the offline guard, a real LiveKit server, a real translator worker."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interpreter.config import DEV_API_KEY, DEV_API_SECRET, load_settings
from interpreter.livekit_server import LiveKitServer, ensure_server_binary
from interpreter.testing.cluster import ClusterFixture, loopback_cluster
from interpreter.testing.livekit import LiveKitFixture, WorkerProcess, free_server_ports

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

OUTPUT_DIR = Path(__file__).resolve().parents[1] / "test-output"


def _is_loopback(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost: would need DNS and the network


@pytest.fixture(autouse=True, scope="session")
def _offline_guard() -> Iterator[None]:
    """Any connection from Python code to a non-loopback address fails the test."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def guarded(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return original_connect(sock, address)

    def guarded_ex(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return original_connect_ex(sock, address)

    socket.socket.connect = guarded  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = guarded_ex  # type: ignore[method-assign,assignment]
    yield
    socket.socket.connect = original_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT_DIR.mkdir(exist_ok=True)
    return OUTPUT_DIR


@pytest.fixture(scope="session")
def livekit_server(output_dir: Path) -> Iterator[LiveKitFixture]:
    """A real livekit-server on free loopback ports, development keys, for the whole session."""
    binary = ensure_server_binary(load_settings())
    server = LiveKitServer(
        binary=binary,
        ports=free_server_ports(),
        api_key=DEV_API_KEY,
        api_secret=DEV_API_SECRET,
        dev_keys=True,
        log_file=output_dir / "livekit-server.log",
    )
    server.start()
    try:
        yield LiveKitFixture(server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def worker(livekit_server: LiveKitFixture, output_dir: Path) -> Iterator[WorkerProcess]:
    """The real translator worker, registered with the session's server."""
    proc = WorkerProcess(livekit_server, output_dir / "worker.log")
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def livekit_cluster(output_dir: Path) -> Iterator[ClusterFixture]:
    """Two livekit-server nodes (A, B) sharing a Redis of their own (Debian's redis-server, in
    memory), on free loopback ports, development keys; for one test module."""
    cluster = loopback_cluster(ensure_server_binary(load_settings()), output_dir / "cluster")
    cluster.start()
    try:
        yield ClusterFixture(cluster, tuple(LiveKitFixture(node) for node in cluster.nodes))
    finally:
        cluster.stop()


_finished: list[pytest.Session] = []


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    _finished.append(session)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the process with pytest's own exit status once everything is reported, without the
    interpreter's finalization: the LiveKit FFI runtime can abort there (a Rust panic that
    cannot unwind) while it tears down connections to a node a test killed, which would turn a
    finished run into exit code 134. Results, reports and caches are all written by now."""
    if not _finished or os.environ.get("INTERPRETER_TEST_NORMAL_EXIT"):
        return
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(_finished[-1].exitstatus))
