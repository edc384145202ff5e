"""Redis as a component of this project: the state several LiveKit nodes share.

Multi-node LiveKit keeps its rooms, participants and node list in Redis and relays signalling
between nodes through it. For trying and testing a multi-node topology on one machine we start
Debian's ``redis-server`` ourselves, like the LiveKit server: bound to loopback on a port of its
own, no persistence (nothing written to disk; a restart starts empty, as LiveKit expects of a
cache), its working directory a temporary one, stopped with its parent.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from interpreter.errors import ServerStartError
from interpreter.processes import die_with_parent, stop_process_group

__all__ = ["RedisServer", "redis_binary"]

logger = logging.getLogger("interpreter.redis")


def redis_binary() -> Path:
    """The ``redis-server`` program; raises :class:`ServerStartError` naming the package."""
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
    )
    if found is None:
        raise ServerStartError(
            "redis-server is not installed; several LiveKit nodes share their state through it"
            " (Debian: apt-get install redis-server; `scripts/setup.sh test` installs it)"
        )
    return Path(found)


def _ping(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` on ``host:port``, in-memory only.

    ``start()`` returns once it answers ``PING``; ``stop()`` terminates it (SIGTERM, then
    SIGKILL). ``log_file`` receives its output. Also a context manager.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int, log_file: Path | None = None) -> None:
        self.host = host
        self.port = port
        self.log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def address(self) -> str:
        """``host:port``, as LiveKit's ``redis.address`` wants it."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def command(self, directory: Path, *, binary: Path | None = None) -> list[str]:
        """The command line: loopback, this port, no snapshots, no append-only file."""
        return [
            str(binary or redis_binary()),
            "--bind",
            self.host,
            "--port",
            str(self.port),
            "--protected-mode",
            "yes",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            "--daemonize",
            "no",
            "--logfile",
            "",
        ]

    def start(self, *, timeout: float = 15.0) -> None:
        if self._proc is not None:
            raise ServerStartError("redis-server already started")
        binary = redis_binary()
        if _ping(self.host, self.port):
            raise ServerStartError(
                f"cannot start redis-server on {self.address}: a Redis already answers there"
                " (choose another port with INTERPRETER_REDIS_PORT)",
                retryable=True,
            )
        self._dir = tempfile.TemporaryDirectory(prefix="interpreter-redis-")
        out: int | None = None
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            out = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            self._proc = subprocess.Popen(
                self.command(Path(self._dir.name), binary=binary),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        finally:
            if out is not None:
                os.close(out)
        logger.info("redis-server starting", extra={"pid": self._proc.pid, "port": self.port})
        deadline = time.monotonic() + timeout
        while not _ping(self.host, self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                code = self._proc.poll()
                self.stop()
                where = f"; see {self.log_file}" if self.log_file else ""
                raise ServerStartError(
                    f"redis-server on {self.address} "
                    + ("exited with " + str(code) if code is not None else "did not answer")
                    + where,
                    retryable=True,
                )
            time.sleep(0.05)

    def poll(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def stop(self, *, grace: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process_group(proc, grace=grace)
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
