"""What every loopback fake of a cloud service shares: a port that can refuse connections and
accept them again, a fault knob, a record of requests, and test audio."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
from aiohttp import web

__all__ = ["FAULTS", "Fault", "LoopbackService", "Received", "tone"]

Fault = Literal["401", "403", "429", "500", "cut", "stall", "hang", "malformed"]
"""What a fake does instead of answering well:

* ``401``/``403``/``429``/``500``: that HTTP status, with the service's error body;
* ``cut``: a quarter of the answer, then the connection is closed (no end of body);
* ``stall``: the headers and a first piece of the answer, then nothing until the fake closes;
* ``hang``: the request is read and never answered (not even headers);
* ``malformed``: a 200 whose body is not what the protocol says.

Connection refused is :meth:`LoopbackService.refuse` (nothing listens on the port)."""

FAULTS: tuple[Fault, ...] = ("401", "403", "429", "500", "cut", "stall", "hang", "malformed")


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the fake received it."""

    path: str
    headers: dict[str, str]
    body: Any
    fault: Fault | None


def tone(seconds: float, *, rate: int, frequency: float, level: float = 0.3) -> bytes:
    """``seconds`` of a sine at ``frequency`` as 16-bit mono PCM at ``rate``."""
    t = np.arange(round(seconds * rate)) / rate
    return (level * 32767 * np.sin(2 * np.pi * frequency * t)).astype(np.int16).tobytes()


class LoopbackService:
    """An aiohttp app on ``127.0.0.1``, on the same port for its whole life.

    ``fault`` applies to every request; :meth:`inject` queues faults for the next requests
    only (a queued fault wins; ``None`` in the queue answers one request well).
    """

    def __init__(self) -> None:
        self.fault: Fault | None = None
        self.requests: list[Received] = []
        self.port = 0
        self._queue: list[Fault | None] = []
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._closing = asyncio.Event()

    def routes(self, app: web.Application) -> None:
        """Add the service's routes (subclasses)."""
        raise NotImplementedError

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def inject(self, faults: Iterable[Fault | None]) -> None:
        """Answer the next requests with these faults, in order, then as ``fault`` says."""
        self._queue.extend(faults)

    def next_fault(self) -> Fault | None:
        return self._queue.pop(0) if self._queue else self.fault

    async def start(self) -> Self:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await self._listen()
        return self

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()
        if not self.port:
            self.port = self._runner.addresses[0][1]

    async def refuse(self) -> None:
        """Stop listening: connections to the port are refused until :meth:`accept`, and the
        open ones (a client's keep-alive pool) are closed, as a service that went down."""
        if self._site is not None:
            await self._site.stop()
            self._site = None
        server = self._runner.server if self._runner is not None else None
        for connection in server.connections if server is not None else ():
            connection.force_close()

    async def accept(self) -> None:
        """Listen on the same port again (the service has recovered)."""
        if self._site is None:
            await self._listen()

    async def stall(self) -> None:
        """Wait until the fake closes (what a stalled or hung answer does), then end the
        request's handler (its client is long gone)."""
        await self._closing.wait()
        raise asyncio.CancelledError

    async def aclose(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    @staticmethod
    def cut(request: web.Request) -> None:
        """Close the connection under a response that is still being written."""
        if request.transport is not None:
            request.transport.close()

    async def write_then_close(
        self, request: web.Request, response: web.StreamResponse, data: bytes
    ) -> web.StreamResponse:
        with contextlib.suppress(ConnectionError):
            await response.write(data)
            await asyncio.sleep(0.02)  # let the piece reach the client before the cut
        self.cut(request)
        return response
