"""`up`: the LiveKit server, the translator worker and the web app, stopped together.

``up --nodes N --workers M`` runs the multi-node topology instead (:mod:`interpreter.cluster`):
Redis, N LiveKit nodes sharing it, M workers (worker ``k`` registers with node ``k mod N`` on
the worker ports plus ``10 k``; all share the data directory, so one database: transcripts and
the orphan-sweep lease), and the web app on the first node.

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

from interpreter.cluster import NODE_PORT_STEP, LiveKitCluster
from interpreter.config import Settings
from interpreter.errors import ConfigError, ServerStartError
from interpreter.livekit_server import LiveKitServer, ensure_server_binary
from interpreter.processes import (
    REGISTERED_MARKER,
    die_with_parent,
    stop_process_group,
    wait_for_log_line,
    wait_http_ok,
)

__all__ = ["MAX_NODES", "MAX_WORKERS", "run_up", "worker_overrides"]

logger = logging.getLogger("interpreter.up")

MAX_NODES = 4
MAX_WORKERS = 8


def worker_overrides(settings: Settings, index: int, node_url: str) -> dict[str, str]:
    """The environment that makes worker ``index`` (from 0) of ``up --workers`` distinct: its
    node and its ports (the configured ones plus ``10 * index``)."""
    step = NODE_PORT_STEP * index
    return {
        "LIVEKIT_URL": node_url,
        "INTERPRETER_WORKER_PORT": str(settings.worker_port + step),
        "INTERPRETER_METRICS_PORT": str(settings.metrics_port + step),
        "INTERPRETER_WORKER_PROBE_PORT": str(settings.worker_probe_port + step),
    }


def run_up(settings: Settings, *, nodes: int = 1, workers: int = 1) -> int:
    """Start everything, print where it is, and run until SIGINT/SIGTERM or a child dies.

    ``nodes`` > 1 starts that many LiveKit nodes sharing a Redis; ``workers`` translator
    workers are spread over the nodes.

    Raises :class:`~interpreter.errors.ConfigError` for the public development keys beyond
    loopback, or for a number of nodes or workers out of range."""
    from interpreter.production import refuse_public_dev_keys

    refuse_public_dev_keys(settings)
    if not 1 <= nodes <= MAX_NODES:
        raise ConfigError(f"--nodes: 1 to {MAX_NODES}")
    if not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(f"--workers: 1 to {MAX_WORKERS}")
    ensure_server_binary(settings)
    log_dir = settings.data_dir / "logs"
    cluster: LiveKitCluster | None = None
    servers: tuple[LiveKitServer, ...]
    if nodes == 1:
        servers = (LiveKitServer.from_settings(settings, log_file=log_dir / "livekit-server.log"),)
    else:
        cluster = LiveKitCluster.from_settings(settings, nodes=nodes, log_dir=log_dir)
        servers = cluster.nodes
    server = servers[0]

    stopping = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        stopping.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    code = 0
    try:
        if cluster is None:
            print(f"starting livekit-server {settings.server_version} ...", flush=True)
            server.start()
        else:
            print(
                f"starting redis-server and {nodes} livekit-server {settings.server_version}"
                " nodes ...",
                flush=True,
            )
            cluster.start()
        worker_lines: list[str] = []
        for k in range(workers):
            node = servers[k % len(servers)]
            overrides = worker_overrides(settings, k, node.ws_url)
            name = "worker.log" if k == 0 else f"worker-{k + 1}.log"
            worker = _spawn("worker", settings, log_dir / name, overrides=overrides)
            label = "translator worker" if workers == 1 else f"translator worker {k + 1}"
            children.append((label, worker))
            health = f"http://{settings.host}:{overrides['INTERPRETER_WORKER_PORT']}/"
            wait_http_ok(
                health,
                proc=worker,
                timeout=60.0,
                what=label,
                interrupted=stopping,
                detail=f"; see {log_dir / name}",
            )
            wait_for_log_line(
                log_dir / name,
                REGISTERED_MARKER,
                proc=worker,
                timeout=60.0,
                what=f"{label} registration",
                interrupted=stopping,
            )
            worker_lines.append(
                f"  {label + ' health':<26} {health}  (jobs: {health}worker; node {node.ws_url})\n"
                f"  {'  probes':<26} http://{settings.host}:"
                f"{overrides['INTERPRETER_WORKER_PROBE_PORT']}/readyz (and /healthz)\n"
                f"  {'  metrics':<26} http://{settings.host}:"
                f"{overrides['INTERPRETER_METRICS_PORT']}/metrics\n"
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

        livekit_lines = "".join(
            f"  LiveKit {'server' if cluster is None else f'node {i + 1}':<8} {n.ws_url}"
            f"   (HTTP {n.http_url}/)\n"
            for i, n in enumerate(servers)
        )
        if cluster is not None:
            livekit_lines += f"  Redis            {cluster.redis.address}  (in memory)\n"
        print(
            "\nLive interpreter is running. Open this page in your browser:\n"
            f"  {web_url}\n\n"
            f"{livekit_lines}"
            f"  API key/secret   {settings.api_key} / "
            f"{settings.api_secret if settings.dev_keys else '(from LIVEKIT_API_SECRET)'}"
            f"{'   (development keys)' if settings.dev_keys else ''}\n"
            f"{''.join(worker_lines)}"
            f"  logs             {log_dir}\n"
            "  invite a human interpreter (prints their console link):\n"
            "    python -m interpreter invite --room ROOM --name NAME --languages es,en\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while not stopping.wait(0.5):
            dead_server = (
                cluster.dead()
                if cluster is not None
                else (
                    f"livekit-server (exit {server.poll()})" if server.poll() is not None else None
                )
            )
            if dead_server is not None:
                print(f"{dead_server} exited; stopping", file=sys.stderr)
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
        if cluster is not None:
            cluster.stop()
        else:
            server.stop()
        for s, h in previous.items():
            signal.signal(s, h)
        print("stopped.", flush=True)
    return code


def _spawn(
    command: str, settings: Settings, log_file: Path, *, overrides: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``python -m interpreter <command>`` with the same settings, logging to a file;
    ``overrides`` replace variables of its environment."""
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
    env.update(overrides or {})
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
