"""The translator worker: registers with LiveKit and runs one translator job per speaker.

LiveKit dispatches a *publisher* job for every participant who publishes a track. Each job
joins the room as ``translator-<speaker identity>`` (see CONTRACTS.md). Every job runs in its
own process, started by livekit-agents from a forkserver, so the entrypoint and the request
handler are module-level functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from livekit import rtc
from livekit.agents import AgentServer, AutoSubscribe, JobContext, JobRequest
from livekit.agents.worker import ServerType
from livekit.protocol import models

from interpreter.config import Settings
from interpreter.processes import REGISTERED_MARKER

__all__ = ["TRANSLATOR_PREFIX", "build_agent_server", "run_worker", "translator_identity"]

logger = logging.getLogger("interpreter.worker")

TRANSLATOR_PREFIX = "translator-"
SOURCE_ATTRIBUTE = "interpreter.source"


def translator_identity(speaker_identity: str) -> str:
    """The identity of the translator agent that voices ``speaker_identity``."""
    return TRANSLATOR_PREFIX + speaker_identity


async def on_request(req: JobRequest) -> None:
    """Accept a job for every human publisher; agents (ours included) get none."""
    publisher = req.publisher
    if publisher is None or publisher.kind == models.ParticipantInfo.Kind.AGENT:
        await req.reject()
        return
    await req.accept(
        identity=translator_identity(publisher.identity),
        name=f"Translator ({publisher.name or publisher.identity})",
        attributes={SOURCE_ATTRIBUTE: publisher.identity},
    )


async def translator_session(ctx: JobContext) -> None:
    """One speaker's translator agent (the pipeline itself comes with the translator issue)."""
    speaker = ctx.job.participant.identity
    await ctx.connect(auto_subscribe=AutoSubscribe.SUBSCRIBE_NONE)
    logger.info(
        "translator joined",
        extra={"room": ctx.room.name, "speaker": speaker, "job_id": ctx.job.id},
    )

    def _on_disconnected(participant: rtc.RemoteParticipant) -> None:
        if participant.identity == speaker:
            logger.info("speaker left; translator ends", extra={"room": ctx.room.name})
            ctx.shutdown("speaker left")

    ctx.room.on("participant_disconnected", _on_disconnected)


def build_agent_server(settings: Settings) -> AgentServer:
    server = AgentServer(
        ws_url=settings.ws_url,
        api_key=settings.api_key,
        api_secret=settings.api_secret,
        host=settings.host,
        port=settings.worker_port,
        num_idle_processes=settings.worker_idle_processes,
        load_threshold=settings.worker_load_threshold,
        log_level=settings.log_level,
    )
    server.rtc_session(translator_session, type=ServerType.PUBLISHER, on_request=on_request)
    return server


async def _serve(settings: Settings) -> None:
    server = build_agent_server(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    @server.on("worker_registered")
    def _registered(worker_id: str, server_info: object) -> None:
        logger.info("worker registered", extra={"worker_id": worker_id, "url": settings.ws_url})
        print(f"{REGISTERED_MARKER} with {settings.ws_url} (id {worker_id})", flush=True)

    run = asyncio.create_task(server.run(devmode=False), name="agent-server")
    stopper = asyncio.create_task(stop.wait(), name="stop-signal")
    await asyncio.wait({run, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
    stopper.cancel()
    logger.info("worker stopping")
    await server.aclose()
    if run.done():
        run.result()  # surfaces a failure of the worker itself
    else:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run


def run_worker(settings: Settings) -> None:
    """Run the worker until SIGINT/SIGTERM; jobs in flight are closed on the way out."""
    asyncio.run(_serve(settings))
