"""A real livekit-server (and translator worker) on loopback for integration tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from livekit import rtc

from interpreter.config import DEV_API_KEY, DEV_API_SECRET
from interpreter.livekit_server import LiveKitServer, ServerPorts
from interpreter.processes import (
    REGISTERED_MARKER,
    die_with_parent,
    stop_process_group,
    wait_for_log_line,
    wait_http_ok,
)
from web.tokens import mint_token

REPO = Path(__file__).resolve().parents[2]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_server_ports() -> ServerPorts:
    ports: set[int] = set()
    while len(ports) < 3:
        ports.add(free_port())
    http, tcp, _ = sorted(ports)
    udp = free_port(socket.SOCK_DGRAM)
    while udp in (http, tcp):
        udp = free_port(socket.SOCK_DGRAM)
    return ServerPorts(http=http, tcp=tcp, udp=udp)


@dataclass
class LiveKitFixture:
    server: LiveKitServer
    api_key: str = DEV_API_KEY
    api_secret: str = DEV_API_SECRET

    @property
    def url(self) -> str:
        return self.server.ws_url

    def token(self, room: str, identity: str, **kwargs: object) -> str:
        return mint_token(
            api_key=self.api_key,
            api_secret=self.api_secret,
            room=room,
            identity=identity,
            **kwargs,  # type: ignore[arg-type]
        )

    async def connect(
        self,
        room: str,
        identity: str,
        *,
        attributes: dict[str, str] | None = None,
        auto_subscribe: bool = True,
        name: str = "",
        can_update_own_metadata: bool = False,
    ) -> rtc.Room:
        r = rtc.Room()
        await r.connect(
            self.url,
            self.token(
                room,
                identity,
                attributes=attributes,
                name=name,
                can_update_own_metadata=can_update_own_metadata,
            ),
            options=rtc.RoomOptions(auto_subscribe=auto_subscribe),
        )
        return r


def worker_env(
    server: LiveKitFixture,
    *,
    worker_port: int,
    metrics_port: int,
    data_dir: Path,
    probe_port: int | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a test worker on these ports (``probe_port``: a free one if not
    given, so workers of parallel test runs never compete for the default); ``env`` adds or
    overrides variables (e.g. provider chains and their endpoints)."""
    environment = dict(os.environ)
    environment.update(
        {
            "PYTHONPATH": str(REPO),
            "LIVEKIT_URL": server.url,
            "INTERPRETER_WORKER_PORT": str(worker_port),
            "INTERPRETER_METRICS_PORT": str(metrics_port),
            "INTERPRETER_WORKER_PROBE_PORT": str(probe_port or free_port()),
            "INTERPRETER_DATA_DIR": str(data_dir),
            "INTERPRETER_LOG_LEVEL": "INFO",
        }
    )
    for key in ("LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        environment.pop(key, None)
    environment.update(env or {})
    return environment


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` in a Prometheus exposition ``text`` whose labels include
    ``labels`` (``0.0`` when there is none)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, value = line.rsplit(" ", 1)
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


@contextlib.contextmanager
def server_of_its_own(like: LiveKitFixture, log_file: Path) -> Iterator[LiveKitFixture]:
    """A LiveKit server for one test alone (the binary and keys of ``like``, free loopback
    ports): the session's worker, registered with ``like``, never takes or rescues its
    speakers. Stopped on the way out."""
    own = LiveKitServer(
        binary=like.server.binary,
        ports=free_server_ports(),
        api_key=like.api_key,
        api_secret=like.api_secret,
        dev_keys=True,
        log_file=log_file,
    )
    own.start()
    try:
        yield LiveKitFixture(own, api_key=like.api_key, api_secret=like.api_secret)
    finally:
        own.stop()


class WorkerProcess:
    """``python -m interpreter worker`` against the test server, logging to a file; ``env``
    adds or overrides variables of its environment (see :func:`worker_env`)."""

    def __init__(
        self, server: LiveKitFixture, log_file: Path, *, env: Mapping[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.metrics_port = free_port()
        self.probe_port = free_port()
        self.log_file = log_file
        self.env = dict(env or {})
        self._log = open(log_file, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "interpreter", "worker"],
            cwd=REPO,
            env=worker_env(
                server,
                worker_port=self.port,
                metrics_port=self.metrics_port,
                data_dir=self.data_dir,
                probe_port=self.probe_port,
                env=env,
            ),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        wait_http_ok(f"http://127.0.0.1:{self.port}/", proc=self.proc, timeout=60, what="worker")
        # the health endpoint answers before the worker has registered with the server;
        # a track published before registration would get no translator
        wait_for_log_line(
            log_file, REGISTERED_MARKER, proc=self.proc, timeout=90, what="worker registration"
        )

    @property
    def data_dir(self) -> Path:
        """The worker's ``INTERPRETER_DATA_DIR`` (its transcript database is there)."""
        # a worker of its own (another log file) gets a database of its own: workers sharing
        # one database share the orphan-sweep lease, and the session's worker (worker.log)
        # serves another LiveKit server than a test's own worker
        stem = self.log_file.stem
        return self.log_file.parent / ("worker-data" if stem == "worker" else f"{stem}-data")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``python -m interpreter ARGS`` on the worker's data (its database, also when
        ``env`` named another); a failure raises with the command's output."""
        return subprocess.run(
            [sys.executable, "-m", "interpreter", *args],
            cwd=REPO,
            env=dict(
                os.environ,
                **self.env,
                PYTHONPATH=str(REPO),
                INTERPRETER_DATA_DIR=str(self.data_dir),
            ),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def metrics(self) -> str:
        """The worker's Prometheus exposition (job processes included)."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as r:
            return str(r.read().decode())

    def settled(self) -> bool:
        """No job process is loading models right now (a new job starts the next idle
        process, whose model loading competes for the CPU for a few seconds)."""
        log = self.log()
        return log.count("initializing process") == log.count("process initialized")

    def stop(self) -> None:
        stop_process_group(self.proc, grace=15)
        self._log.close()


async def wait_for(
    predicate: Callable[[], bool], *, within: float, what: str, interval: float = 0.05
) -> None:
    """Wait until ``predicate()`` holds; fail the test with ``what`` after ``within`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(interval)
