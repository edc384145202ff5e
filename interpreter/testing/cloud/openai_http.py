"""A loopback fake of the OpenAI HTTP API: chat completions streamed as SSE and
``/audio/speech``, with the real wire formats, so ``livekit.plugins.openai.LLM`` and
``openai.TTS`` talk to it unchanged (``base_url=fake.base_url``).

* ``POST /v1/chat/completions``: ``chat.completion.chunk`` events (the answer word by word), a
  finish chunk, a usage chunk, ``data: [DONE]``. The answer is :attr:`OpenAIFake.answer`
  applied to the messages (default: the "gullible" model of
  :mod:`interpreter.testing.openai_server`, which translates a small dictionary).
* ``POST /v1/audio/speech``: a 660 Hz tone at 24 kHz lasting ``seconds_per_char`` per character
  of ``input``, as raw ``audio/pcm`` or, for ``stream_format: "sse"``, as
  ``speech.audio.delta`` events and ``speech.audio.done``.

The key (``Authorization: Bearer``) is checked (401 otherwise). Faults (see
:data:`~interpreter.testing.cloud._server.Fault`) are injected per request: for chat ``cut``
and ``stall`` come after the first word, ``malformed`` is a chunk that is not JSON; for speech
``malformed`` is a 200 with a JSON body instead of audio.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from interpreter.testing.cloud._server import Fault, LoopbackService, Received, tone
from interpreter.testing.openai_server import gullible_answer

__all__ = ["OPENAI_FREQUENCY", "OPENAI_TTS_RATE", "OpenAIFake"]

OPENAI_FREQUENCY = 660.0
"""The tone the fake speaks with."""
OPENAI_TTS_RATE = 24000

Answer = Callable[[Sequence[Mapping[str, Any]]], str]


def _error(status: int) -> web.Response:
    kinds = {
        401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
        403: ("You are not allowed to use this model.", "invalid_request_error", None),
        429: ("Rate limit reached.", "requests", "rate_limit_exceeded"),
        500: ("The server had an error.", "server_error", None),
    }
    message, kind, code = kinds[status]
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.json_response(body, status=status)


class OpenAIFake(LoopbackService):
    """The fake service. ``key``: the API key it accepts; ``answer``: the chat model."""

    def __init__(
        self,
        *,
        key: str = "test-openai-key",
        answer: Answer = gullible_answer,
        seconds_per_char: float = 0.06,
    ) -> None:
        super().__init__()
        self.key = key
        self.answer = answer
        self.seconds_per_char = seconds_per_char

    @property
    def base_url(self) -> str:
        """What ``base_url=`` / ``INTERPRETER_OPENAI_URL`` take."""
        return f"{self.base}/v1"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/audio/speech", self._speech)

    def seconds_for(self, text: str) -> float:
        """How long the fake speaks ``text``."""
        return self.seconds_per_char * len(text)

    def calls(self, path: str) -> list[Received]:
        """The requests received on ``path`` (``/v1/chat/completions``, ``/v1/audio/speech``)."""
        return [r for r in self.requests if r.path == path]

    def _headers(self, content_type: str) -> dict[str, str]:
        return {"Content-Type": content_type, "x-request-id": f"req_{len(self.requests)}"}

    async def _begin(self, request: web.Request) -> tuple[dict[str, Any], Fault | None]:
        body = await request.json()
        fault = self.next_fault()
        self.requests.append(Received(request.path, dict(request.headers), body, fault))
        if fault == "hang":
            await self.stall()
        return body, fault

    def _refusal(self, request: web.Request, fault: Fault | None) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            return _error(401)
        if fault in ("401", "403", "429", "500"):
            return _error(int(fault))
        return None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, fault = await self._begin(request)
        refusal = self._refusal(request, fault)
        if refusal is not None:
            return refusal
        answer = self.answer(body.get("messages", []))
        response = web.StreamResponse(headers=self._headers("text/event-stream"))
        await response.prepare(request)
        base = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
        }

        def event(payload: Mapping[str, Any] | str) -> bytes:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            return f"data: {data}\n\n".encode()

        pieces = re.findall(r"\S+\s*", answer) or [answer]
        for i, piece in enumerate(pieces):
            delta = {"content": piece} | ({"role": "assistant"} if i == 0 else {})
            chunk = event(base | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
            if i == 1 and fault == "cut":
                return await self.write_then_close(request, response, b"")
            if i == 1 and fault == "stall":
                await self.stall()
            if i == 1 and fault == "malformed":
                chunk = b'data: {"choices": [{"delta": {"content": \n\n'
            await response.write(chunk)
        if len(pieces) == 1 and fault in ("cut", "stall", "malformed"):
            if fault == "cut":
                return await self.write_then_close(request, response, b"")
            if fault == "stall":
                await self.stall()
            await response.write(b"data: {not json\n\n")
        await response.write(
            event(base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        )
        n = len(pieces)
        usage = {"prompt_tokens": 50, "completion_tokens": n, "total_tokens": 50 + n}
        await response.write(event(base | {"choices": [], "usage": usage}))
        await response.write(event("[DONE]"))
        await response.write_eof()
        return response

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        body, fault = await self._begin(request)
        refusal = self._refusal(request, fault)
        if refusal is not None:
            return refusal
        if body.get("response_format") != "pcm":
            return _error(500)  # the fake speaks raw PCM only
        if fault == "malformed":
            return web.json_response({"object": "speech", "status": "queued"})
        pcm = tone(
            self.seconds_for(str(body.get("input", ""))),
            rate=OPENAI_TTS_RATE,
            frequency=OPENAI_FREQUENCY,
        )
        step = 4800  # 0.1 s
        pieces = [pcm[i : i + step] for i in range(0, len(pcm), step)] or [b""]
        sse = body.get("stream_format") == "sse"
        response = web.StreamResponse(
            headers=self._headers("text/event-stream" if sse else "audio/pcm")
        )
        response.enable_chunked_encoding()
        await response.prepare(request)

        def encode(piece: bytes) -> bytes:
            if not sse:
                return piece
            delta = {"type": "speech.audio.delta", "audio": base64.b64encode(piece).decode()}
            return f"data: {json.dumps(delta)}\n\n".encode()

        if fault == "cut":
            head = b"".join(encode(p) for p in pieces[: max(1, len(pieces) // 4)])
            return await self.write_then_close(request, response, head)
        for index, piece in enumerate(pieces):
            if fault == "stall" and index == max(1, len(pieces) // 10):
                await self.stall()
            await response.write(encode(piece))
        if sse:
            done = {"type": "speech.audio.done", "usage": {"input_tokens": 5, "output_tokens": 9}}
            await response.write(f"data: {json.dumps(done)}\n\n".encode())
        await response.write_eof()
        return response
