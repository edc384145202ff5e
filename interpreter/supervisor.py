"""`up`: the LiveKit server, the translator worker and the web app, stopped together.

Children run in their own sessions (so a terminal's Ctrl-C reaches only us and we stop them in
order) and get SIGTERM from the kernel if this process dies (PR_SET_PDEATHSIG); on the way out
each child's whole process group is signalled, so worker job processes go too.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from interpreter.config import Settings
from interpreter.errors import ServerStartError
from interpreter.livekit_server import LiveKitServer, ensure_server_binary
from interpreter.processes import (
    REGISTERED_MARKER,
    die_with_parent,
    stop_process_group,
    wait_for_log_line,
    wait_http_ok,
)

__all__ = ["run_up"]

logger = logging.getLogger("interpreter.up")


def run_up(settings: Settings) -> int:
    """Start everything, print where it is, and run until SIGINT/SIGTERM or a child dies.

    Raises :class:`~interpreter.errors.ConfigError` for the public development keys beyond
    loopback."""
    from interpreter.production import refuse_public_dev_keys

    refuse_public_dev_keys(settings)
    ensure_server_binary(settings)
    log_dir = settings.data_dir / "logs"
    server = LiveKitServer.from_settings(settings, log_file=log_dir / "livekit-server.log")

    stopping = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        stopping.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    code = 0
    try:
        print(f"starting livekit-server {settings.server_version} ...", flush=True)
        server.start()
        worker = _spawn("worker", settings, log_dir / "worker.log")
        children.append(("translator worker", worker))
        worker_health = f"http://{settings.host}:{settings.worker_port}/"
        wait_http_ok(
            worker_health,
            proc=worker,
            timeout=60.0,
            what="translator worker",
            interrupted=stopping,
            detail=f"; see {log_dir / 'worker.log'}",
        )
        wait_for_log_line(
            log_dir / "worker.log",
            REGISTERED_MARKER,
            proc=worker,
            timeout=60.0,
            what="translator worker registration",
            interrupted=stopping,
        )

        web = _spawn("web", settings, log_dir / "web.log")
        children.append(("web app", web))
        web_url = f"http://{settings.host}:{settings.web_port}/"
        wait_http_ok(
            web_url + "api/config",
            proc=web,
            timeout=60.0,
            what="web app",
            interrupted=stopping,
            detail=f"; see {log_dir / 'web.log'}",
        )

        print(
            "\nLive interpreter is running. Open this page in your browser:\n"
            f"  {web_url}\n\n"
            f"  LiveKit server   {server.ws_url}   (HTTP {server.http_url}/)\n"
            f"  API key/secret   {settings.api_key} / "
            f"{settings.api_secret if settings.dev_keys else '(from LIVEKIT_API_SECRET)'}"
            f"{'   (development keys)' if settings.dev_keys else ''}\n"
            f"  translator worker health  {worker_health}  (jobs: {worker_health}worker)\n"
            f"  worker probes    http://{settings.host}:{settings.worker_probe_port}/readyz"
            " (and /healthz)\n"
            f"  worker metrics   http://{settings.host}:{settings.metrics_port}/metrics\n"
            f"  logs             {log_dir}\n"
            "  invite a human interpreter (prints their console link):\n"
            "    python -m interpreter invite --room ROOM --name NAME --languages es,en\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while not stopping.wait(0.5):
            if server.poll() is not None:
                print(f"livekit-server exited ({server.poll()}); stopping", file=sys.stderr)
                code = 1
                break
            dead = [(name, p) for name, p in children if p.poll() is not None]
            if dead:
                name, p = dead[0]
                print(f"{name} exited ({p.returncode}); stopping", file=sys.stderr)
                code = 1
                break
    except ServerStartError as e:
        print(f"error: {e.message}", file=sys.stderr)
        code = 1
    finally:
        print("stopping ...", flush=True)
        for _name, proc in reversed(children):
            stop_process_group(proc, grace=15.0)
        server.stop()
        for s, h in previous.items():
            signal.signal(s, h)
        print("stopped.", flush=True)
    return code


def _spawn(command: str, settings: Settings, log_file: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m interpreter <command>`` with the same settings, logging to a file."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "LIVEKIT_URL": settings.ws_url,
            "LIVEKIT_API_KEY": settings.api_key,
            "LIVEKIT_API_SECRET": settings.api_secret,
        }
    )
    if settings.dev_keys:
        env.pop("LIVEKIT_API_KEY")
        env.pop("LIVEKIT_API_SECRET")
    fields = (
        "host",
        "worker_port",
        "metrics_port",
        "web_port",
        "worker_probe_port",
        "log_level",
        "log_format",
        "cache_dir",
        "data_dir",
    )
    for field in fields:
        env[f"INTERPRETER_{field.upper()}"] = str(getattr(settings, field))
    with open(log_file, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "interpreter", command],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
