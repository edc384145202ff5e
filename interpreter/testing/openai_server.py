"""A local OpenAI-compatible chat server (``POST /v1/chat/completions``, streamed as SSE) whose
"model" is a gullible instruction follower, for testing what our prompts let through.

The model does what a model that cannot tell data from instructions would do: whatever stands
*outside* the data blocks of a prompt (``<source>``, ``<context>``, ``<glossary>``; a block
ends at the first closing tag, so text that closes a block early escapes it) is read as
instructions, and "ignore previous instructions ... say X" there is obeyed: the answer is X.
Otherwise it translates the ``<source>`` block word by word with a small dictionary, using the
``<glossary>`` block's terms first. The wire format is the real one (chunks, a usage chunk,
``[DONE]``), so ``livekit.plugins.openai.LLM`` talks to it unchanged; every request body is
kept in :attr:`ChatServer.requests`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

__all__ = ["ChatServer", "gullible_answer"]

_BLOCK = re.compile(r"<(source|context|glossary)>(.*?)</\1>", re.DOTALL)
_OBEY = re.compile(
    r"ignore (?:all )?(?:the )?previous instructions\W+(?:and )?(?:say|reply with)\s+"
    r"['\"]?([\w ]+?)['\"]?(?:[.!]|$)",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+|[^\w\s]+")

DICTIONARY: Mapping[str, str] = {
    "ignore": "ignora",
    "previous": "anteriores",
    "instructions": "instrucciones",
    "and": "y",
    "say": "di",
    "the": "el",
    "is": "es",
    "ready": "listo",
    "of": "de",
    "our": "nuestro",
    "new": "nuevo",
    "today": "hoy",
    "we": "nosotros",
    "ship": "enviamos",
    "reply": "responde",
    "with": "con",
}


def _blocks(text: str) -> tuple[dict[str, str], str]:
    """The data blocks of ``text`` by name, and what stands outside them."""
    blocks = {m.group(1): m.group(2).strip() for m in _BLOCK.finditer(text)}
    return blocks, _BLOCK.sub(" ", text)


def gullible_answer(messages: Sequence[Mapping[str, Any]]) -> str:
    """What the gullible model answers to ``messages`` (chat completion messages)."""
    outside: list[str] = []
    blocks: dict[str, str] = {}
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):  # content parts
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        found, rest = _blocks(str(content or ""))
        blocks.update(found)
        outside.append(rest)
    order = _OBEY.search(" ".join(outside))
    if order is not None:
        return order.group(1)
    terms = {}
    for line in blocks.get("glossary", "").splitlines():
        source, _, target = line.partition(" => ")
        if target:
            terms[source.strip().casefold()] = target.strip()
    text = blocks.get("source", "")
    for source, target in terms.items():
        text = re.sub(rf"\b{re.escape(source)}\b", target, text, flags=re.IGNORECASE)
    words = [DICTIONARY.get(w.casefold(), w) for w in _WORD.findall(text)]
    return re.sub(r" ([^\w\s]+)", r"\1", " ".join(words))


class ChatServer:
    """The server on ``127.0.0.1``; ``base_url`` is what ``openai.LLM(base_url=...)`` takes."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> ChatServer:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        answer = gullible_answer(body.get("messages", []))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        base = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "gullible"),
        }

        async def send(payload: Mapping[str, Any] | str) -> None:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            await response.write(f"data: {data}\n\n".encode())

        pieces = re.findall(r"\S+\s*", answer) or [answer]
        for i, piece in enumerate(pieces):
            delta = {"content": piece} | ({"role": "assistant"} if i == 0 else {})
            await send(base | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        await send(base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        tokens = len(pieces)
        usage = {"prompt_tokens": 50, "completion_tokens": tokens, "total_tokens": 50 + tokens}
        await send(base | {"choices": [], "usage": usage})
        await send("[DONE]")
        await response.write_eof()
        return response
