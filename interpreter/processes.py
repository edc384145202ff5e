"""Child-process plumbing shared by the server runner and the `up` supervisor."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from interpreter.errors import ServerStartError

__all__ = [
    "REGISTERED_MARKER",
    "die_with_parent",
    "stop_process_group",
    "wait_for_log_line",
    "wait_http_ok",
]

REGISTERED_MARKER = "translator worker registered"
"""What the worker prints once LiveKit has accepted its registration (jobs can come)."""


def die_with_parent() -> None:
    """``preexec_fn``: the child gets SIGTERM when the process that started it dies.

    Linux ``PR_SET_PDEATHSIG``; a killed supervisor or test run never leaves a child behind.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def stop_process_group(proc: subprocess.Popen[bytes], *, grace: float) -> None:
    """SIGTERM ``proc`` (started with ``start_new_session=True``), wait up to ``grace`` s,
    SIGKILL it if needed, then SIGKILL whatever else is left in its process group."""
    try:
        pgid: int | None = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if pgid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def wait_http_ok(
    url: str,
    *,
    proc: subprocess.Popen[bytes],
    timeout: float,
    what: str,
    interrupted: threading.Event | None = None,
    detail: str = "",
) -> None:
    """Poll ``url`` until it answers 200; fail fast if ``proc`` exits first."""
    stop = interrupted or threading.Event()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        if proc.poll() is not None:
            raise ServerStartError(
                f"{what} exited with code {proc.returncode} before it was ready{detail}"
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        stop.wait(0.1)
    if stop.is_set():
        raise ServerStartError(f"start-up of {what} interrupted")
    raise ServerStartError(f"{what} did not answer on {url} within {timeout:.0f}s", retryable=True)


def wait_for_log_line(
    path: Path,
    marker: str,
    *,
    proc: subprocess.Popen[bytes],
    timeout: float,
    what: str,
    interrupted: threading.Event | None = None,
) -> None:
    """Wait until ``marker`` appears in the log file a child writes; fail fast if it exits."""
    stop = interrupted or threading.Event()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        if path.exists() and marker in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise ServerStartError(
                f"{what} exited with code {proc.returncode} during start-up; see {path}"
            )
        stop.wait(0.1)
    if stop.is_set():
        raise ServerStartError(f"start-up of {what} interrupted")
    raise ServerStartError(f"{what} not ready within {timeout:.0f}s; see {path}", retryable=True)
