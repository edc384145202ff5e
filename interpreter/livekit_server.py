"""The LiveKit server as a component of this project: install it, start it, stop it.

The server is a Go program with no registry package of its own, so we build the pinned release
with ``go install`` into a versioned cache directory outside the repository and reuse it after
that. ``INTERPRETER_SERVER_BIN`` points at an official binary instead, for machines without Go.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from interpreter.config import Settings
from interpreter.errors import ServerInstallError, ServerStartError
from interpreter.processes import die_with_parent, stop_process_group, wait_http_ok

__all__ = ["LiveKitServer", "ServerPorts", "ensure_server_binary", "server_binary_path"]

logger = logging.getLogger("interpreter.server")

SERVER_MODULE = "github.com/livekit/livekit-server/cmd/server"

Progress = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def server_binary_path(settings: Settings) -> Path:
    """Where the server binary is (or will be, once built)."""
    if settings.server_bin is not None:
        return settings.server_bin
    return settings.cache_dir / "livekit-server" / settings.server_version / "livekit-server"


def ensure_server_binary(settings: Settings, *, progress: Progress = _stderr) -> Path:
    """Return a runnable livekit-server binary, building the pinned version once if needed."""
    path = server_binary_path(settings)
    if settings.server_bin is not None:
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ServerInstallError(f"INTERPRETER_SERVER_BIN={path} is not an executable file")
        return path
    if path.is_file() and os.access(path, os.X_OK):
        return path

    go = shutil.which("go")
    if go is None:
        raise ServerInstallError(
            "Go is not installed, and the LiveKit server is built from source with it.\n"
            "  Either install Go >= 1.26 (Debian: apt-get install golang-go; or the tarball from"
            " go.dev/dl) and run this again,\n"
            f"  or download the official livekit-server {settings.server_version} binary for your"
            " platform from github.com/livekit/livekit/releases and set"
            " INTERPRETER_SERVER_BIN=/path/to/livekit-server."
        )

    path.parent.mkdir(parents=True, exist_ok=True)
    target = f"{SERVER_MODULE}@{settings.server_version}"
    progress(f"building livekit-server {settings.server_version} with go install (once; ~2-5 min)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gobin-", dir=path.parent) as gobin:
        env = dict(os.environ, GOBIN=gobin)
        proc = subprocess.Popen(
            [go, "install", "-v", target],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        tail: list[str] = []
        built = 0
        for line in proc.stdout:
            line = line.rstrip()
            tail = [*tail[-30:], line]
            if line.startswith("go: ") or " " in line:
                progress(f"  {line}")
                continue
            built += 1
            if built % 50 == 0:
                elapsed = time.monotonic() - started
                progress(f"  compiled {built} packages ({elapsed:.0f}s)")
        code = proc.wait()
        if code != 0:
            raise ServerInstallError(
                f"go install {target} failed with exit code {code}:\n"
                + "\n".join(tail)
                + "\n  If this is a checksum or module look-up error, check"
                " `go env GOPROXY GOSUMDB GOFLAGS`."
            )
        os.replace(Path(gobin) / "server", path)
    progress(f"livekit-server ready at {path} ({time.monotonic() - started:.0f}s)")
    return path


@dataclass(frozen=True, slots=True)
class ServerPorts:
    http: int = 7880
    tcp: int = 7881
    udp: int = 7882


def _port_free(host: str, port: int, kind: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class LiveKitServer:
    """One livekit-server process on loopback.

    ``redis`` (``host:port``) makes it one node of a multi-node deployment: every node given
    the same Redis shares rooms with the others, and a client may connect through any of them
    (see :class:`~interpreter.cluster.LiveKitCluster`). ``start()`` returns once ``GET /``
    answers 200; ``stop()`` terminates it (SIGTERM, then
    SIGKILL after a grace period). Also a context manager.
    """

    def __init__(
        self,
        *,
        binary: Path,
        host: str = "127.0.0.1",
        ports: ServerPorts = ServerPorts(),
        api_key: str,
        api_secret: str,
        dev_keys: bool,
        log_file: Path | None = None,
        json_logs: bool = False,
        redis: str | None = None,
    ) -> None:
        self.binary = binary
        self.host = host
        self.ports = ports
        self._api_key = api_key
        self._api_secret = api_secret
        self._dev_keys = dev_keys
        self.log_file = log_file
        self._json_logs = json_logs
        self.redis = redis
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_handle: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, log_file: Path | None = None) -> LiveKitServer:
        return cls(
            binary=server_binary_path(settings),
            host=settings.host,
            ports=ServerPorts(
                settings.livekit_port, settings.livekit_tcp_port, settings.livekit_udp_port
            ),
            api_key=settings.api_key,
            api_secret=settings.api_secret,
            dev_keys=settings.dev_keys,
            log_file=log_file,
            json_logs=settings.log_format == "json",
        )

    @property
    def http_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.ports.http}"

    @property
    def ws_url(self) -> str:
        return "ws" + self.http_url[len("http") :]

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def config_yaml(self) -> str:
        """The server configuration: loopback only, our ports, our keys (and Redis, for a
        node of several)."""
        lines = [
            f"port: {self.ports.http}",
            "rtc:",
            f"  tcp_port: {self.ports.tcp}",
            f"  udp_port: {self.ports.udp}",
            "  use_external_ip: false",
            f"  node_ip: {self.host}",
            "  enable_loopback_candidate: true",
            "  interfaces:",
            "    includes: [lo]",
            "keys:",
            f'  "{self._api_key}": "{self._api_secret}"',
            # the worker's load is its share of speaker slots: let it fill all of them
            "agents:",
            "  target_load: 1.0",
            "logging:",
            "  level: info",
        ]
        if self._json_logs:
            lines.append("  json: true")
        if self.redis is not None:
            lines += ["redis:", f"  address: {self.redis}"]
        return "\n".join(lines) + "\n"

    def _check_ports(self) -> None:
        taken = [
            f"{kind} {port}"
            for kind, port, sock in (
                ("HTTP/WebSocket port", self.ports.http, socket.SOCK_STREAM),
                ("RTC TCP port", self.ports.tcp, socket.SOCK_STREAM),
                ("RTC UDP port", self.ports.udp, socket.SOCK_DGRAM),
            )
            if not _port_free(self.host, port, sock)
        ]
        if taken:
            raise ServerStartError(
                f"cannot start livekit-server on {self.host}: {', '.join(taken)} already in use"
                " (another LiveKit server running? choose other ports with --port/--tcp-port/"
                "--udp-port or INTERPRETER_LIVEKIT_PORT/_TCP_PORT/_UDP_PORT)",
                retryable=True,
            )

    def start(self, *, timeout: float = 30.0) -> None:
        if self._proc is not None:
            raise ServerStartError("livekit-server already started")
        if not self.binary.is_file():
            raise ServerStartError(
                f"livekit-server binary not found at {self.binary}; run"
                " `python -m interpreter server --install-only` (or `make setup`) first"
            )
        self._check_ports()
        cmd = [str(self.binary), "--bind", self.host, "--config-body", self.config_yaml()]
        if self._dev_keys:
            cmd.append("--dev")
        stdout: int | None = None
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log_handle = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            stdout = self._log_handle
        env = {k: v for k, v in os.environ.items() if k not in ("LIVEKIT_KEYS", "LIVEKIT_CONFIG")}
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout is not None else None,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        logger.info("livekit-server starting", extra={"pid": self._proc.pid, "url": self.ws_url})
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        detail = f"; see {self.log_file}:\n{self._log_tail()}" if self.log_file else ""
        try:
            wait_http_ok(
                self.http_url + "/", proc=self._proc, timeout=timeout, what="livekit-server"
            )
        except ServerStartError as e:
            raise ServerStartError(e.message + detail, retryable=e.retryable) from e
        logger.info("livekit-server ready", extra={"url": self.ws_url})

    def _log_tail(self, lines: int = 15) -> str:
        if self.log_file is None or not self.log_file.exists():
            return ""
        text = self.log_file.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait(self) -> int:
        """Block until the server exits; returns its exit code."""
        assert self._proc is not None
        return self._proc.wait()

    def poll(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def stop(self, *, grace: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process_group(proc, grace=grace)
        if self._log_handle is not None:
            os.close(self._log_handle)
            self._log_handle = None

    def __enter__(self) -> LiveKitServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
