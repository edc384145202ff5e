"""The worker's probes for a load balancer or Kubernetes: ``/healthz`` and ``/readyz``.

livekit-agents serves its own health check on the worker port (``/``: 200 unless the connection
to LiveKit failed for good; ``/worker``: job counts) and offers no public way to add routes to
it, so the probes are a small server of their own on ``INTERPRETER_WORKER_PROBE_PORT``:

- ``GET /healthz``: 200 ``{"status": "ok"}`` while the worker's event loop answers (liveness).
- ``GET /readyz``: 200 ``{"status": "ready", "checks": {...}}`` once the worker registered with
  the LiveKit server and a job process has loaded the models (with no idle job processes the
  models load per job: ``"models": "on_demand"``); otherwise 503 ``"not_ready"`` naming what is
  missing (``"livekit": "not_registered"``, ``"models": "loading"``), and 503 ``"stopping"``
  once the worker is shutting down.

Job processes are started by livekit-agents from a forkserver, so "models loaded" travels by
file: a process that finished prewarm writes its pid into the worker's run directory
(:func:`mark_models_loaded`), and :class:`WorkerReadiness` counts the files of processes still
alive.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from aiohttp import web

from interpreter.config import Settings

__all__ = ["WorkerReadiness", "mark_models_loaded", "probe_app", "run_dir", "serve_probes"]

logger = logging.getLogger("interpreter.health")


def run_dir(settings: Settings) -> Path:
    """Where one worker's job processes say that they loaded the models (one directory per
    worker port, so several workers on one machine never mix)."""
    return settings.data_dir / "run" / f"worker-{settings.worker_port}" / "models-loaded"


def mark_models_loaded(settings: Settings, *, pid: int | None = None) -> None:
    """Record that the process ``pid`` (default: this one) has loaded the models."""
    directory = run_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / str(pid if pid is not None else os.getpid())).touch()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkerReadiness:
    """What the worker's ``/readyz`` says: registration, models, shutdown.

    ``models_dir`` is :func:`run_dir` (``None``: no job process is kept warm, models load per
    job). :meth:`reset` empties it when the worker starts, so files of an earlier run (whose
    pids may be reused) count for nothing.
    """

    def __init__(self, *, models_dir: Path | None) -> None:
        self.models_dir = models_dir
        self.worker_id: str | None = None
        self.stopping = False

    def reset(self) -> None:
        if self.models_dir is not None:
            shutil.rmtree(self.models_dir, ignore_errors=True)
            self.models_dir.mkdir(parents=True, exist_ok=True)

    def registered(self, worker_id: str) -> None:
        self.worker_id = worker_id

    def loaded_processes(self) -> int:
        """Job processes alive that loaded the models; files of dead ones are removed."""
        if self.models_dir is None:
            return 0
        count = 0
        with contextlib.suppress(FileNotFoundError):
            for entry in self.models_dir.iterdir():
                if not entry.name.isdigit():
                    continue
                if _alive(int(entry.name)):
                    count += 1
                else:
                    entry.unlink(missing_ok=True)
        return count

    def checks(self) -> dict[str, str]:
        models = (
            "on_demand"
            if self.models_dir is None
            else ("loaded" if self.loaded_processes() else "loading")
        )
        return {
            "livekit": "registered" if self.worker_id else "not_registered",
            "models": models,
        }

    def document(self) -> tuple[int, dict[str, Any]]:
        """The ``/readyz`` status code and body."""
        checks = self.checks()
        if self.stopping:
            status = "stopping"
        elif checks["livekit"] == "registered" and checks["models"] != "loading":
            status = "ready"
        else:
            status = "not_ready"
        body: dict[str, Any] = {"status": status, "checks": checks}
        if self.worker_id:
            body["worker_id"] = self.worker_id
        return (200 if status == "ready" else 503), body


def probe_app(readiness: WorkerReadiness) -> web.Application:
    """The probe endpoints over ``readiness``."""
    app = web.Application()

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})

    async def readyz(_: web.Request) -> web.Response:
        status, body = readiness.document()
        return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def serve_probes(readiness: WorkerReadiness, *, host: str, port: int) -> web.AppRunner | None:
    """Serve :func:`probe_app` on ``host:port``; the runner to clean up, or ``None`` when the
    port cannot be bound (logged: the worker still interprets, only the probes fail)."""
    runner = web.AppRunner(probe_app(readiness), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as e:
        logger.error(
            "worker probes not served: cannot bind INTERPRETER_WORKER_PROBE_PORT",
            extra={"host": host, "port": port, "error": e.strerror},
        )
        await runner.cleanup()
        return None
    logger.info("worker probes listening", extra={"url": f"http://{host}:{port}/readyz"})
    return runner
