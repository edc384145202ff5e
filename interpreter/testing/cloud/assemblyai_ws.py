"""A loopback fake of AssemblyAI's Universal Streaming v3 WebSocket (``GET /v3/ws``).

It recognises the tone language (:mod:`.tones`) from the PCM it is sent, so the real
``assemblyai.STT`` plugin gets real-looking answers: ``Begin``, ``SpeechStarted`` at a turn's
first word, a ``Turn`` (``end_of_turn: false``, cumulative ``words`` in ms) after each word, a
final ``Turn`` with ``transcript``, ``language_code`` and ``language_confidence`` after the
turn's silence, and ``Termination`` then a close after the client's ``Terminate``.

Faults (:data:`~interpreter.testing.cloud._server.Fault`, per connection): ``401``/``403``/
``429``/``500`` answer the upgrade with that status; ``hang`` accepts the request and never
answers it (a stalled handshake); ``stall`` upgrades and then says nothing (a silent socket);
``cut`` closes the socket with 1011 once the connection heard more than ``cut_after_words``
words (mid-utterance); ``malformed`` sends a non-JSON frame and a wrongly typed ``Turn``
before every message. A wrong key (the raw ``Authorization`` header) gets 401.
``connections``, ``queries`` and ``updates`` record what clients did.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import WSMsgType, web

from interpreter.testing.cloud._server import LoopbackService
from interpreter.testing.cloud.tones import DecodedWord, ToneDecoder

__all__ = ["AssemblyAIFake"]


class AssemblyAIFake(LoopbackService):
    """See the module. ``key`` is the only key accepted."""

    def __init__(
        self, *, key: str = "test-key", language: str = "en", confidence: float = 0.9
    ) -> None:
        super().__init__()
        self.key = key
        self.language = language
        self.confidence = confidence
        self.cut_after_words = 3
        self.connections = 0
        self.queries: list[dict[str, str]] = []
        self.updates: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        """What ``base_url=`` / ``INTERPRETER_ASSEMBLYAI_URL`` take."""
        return f"ws://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v3/ws", self._ws)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        self.connections += 1
        self.queries.append(dict(request.query))
        fault = self.next_fault()
        if request.headers.get("Authorization") != self.key:
            return web.json_response({"error": "Unauthorized"}, status=401)
        if fault in ("401", "403", "429", "500"):
            return web.json_response({"error": "fake failure"}, status=int(fault or 0))
        if fault == "hang":
            await self.stall()
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if fault == "stall":
            async for _ in ws:
                pass
            return ws
        await self._send(ws, {"type": "Begin", "id": "fake", "expires_at": int(time.time()) + 600})
        bad = fault == "malformed"
        decoder = ToneDecoder()
        words = 0
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                for kind, value in decoder.push(msg.data):
                    if kind == "word":
                        words += 1
                        if fault == "cut" and words > self.cut_after_words:
                            await ws.close(code=1011, message=b"fake failure")
                            return ws
                        if len(decoder.words) == 1:
                            await self._send(
                                ws, {"type": "SpeechStarted", "timestamp": value.start * 1000}, bad
                            )
                        await self._send(ws, self._turn(decoder.words, final=False), bad)
                    else:
                        await self._send(ws, self._turn(value, final=True), bad)
            elif msg.type == WSMsgType.TEXT:
                data = json.loads(msg.data)
                if data.get("type") == "Terminate":
                    for kind, value in decoder.flush():
                        if kind == "end":
                            await self._send(ws, self._turn(value, final=True), bad)
                    await self._send(
                        ws,
                        {
                            "type": "Termination",
                            "audio_duration_seconds": decoder.seconds,
                            "session_duration_seconds": decoder.seconds,
                        },
                    )
                    await ws.close()
                    return ws
                self.updates.append(data)
        return ws

    async def _send(
        self, ws: web.WebSocketResponse, message: dict[str, Any], bad: bool = False
    ) -> None:
        if bad:
            await ws.send_str("{not json")
            await ws.send_str(json.dumps({"type": "Turn", "words": 7, "end_of_turn": "maybe"}))
        await ws.send_str(json.dumps(message))

    def _turn(self, words: list[DecodedWord], *, final: bool) -> dict[str, Any]:
        turn: dict[str, Any] = {
            "type": "Turn",
            "turn_order": 0,
            "end_of_turn": final,
            "turn_is_formatted": False,
            "end_of_turn_confidence": 1.0 if final else 0.1,
            "transcript": " ".join(w.text for w in words),
            "utterance": "",
            "words": [
                {
                    "text": w.text,
                    "start": round(w.start * 1000),
                    "end": round(w.end * 1000),
                    "confidence": 0.95,
                    "word_is_final": final,
                }
                for w in words
            ],
        }
        if final:
            turn["language_code"] = self.language
            turn["language_confidence"] = self.confidence
        return turn
