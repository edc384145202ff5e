"""A loopback fake of OpenAI's ``POST /v1/audio/transcriptions`` (multipart, as the real
``openai.STT`` sends it), which transcribes the tone language (:mod:`.tones`) of the WAV it
gets: ``{"text": ...}``, or for ``response_format=verbose_json`` also ``language`` (the
English name, as Whisper's API answers) and ``duration``.

Faults (:data:`~interpreter.testing.cloud._server.Fault`, per request): the HTTP statuses with
OpenAI's error body; ``hang``/``stall``: never answered; ``cut``: the connection closed
before the body; ``malformed``: a 200 whose body is not JSON. ``requests`` keeps each
request's form fields (the file left out).
"""

from __future__ import annotations

import io
import wave

from aiohttp import BodyPartReader, web

from interpreter.testing.cloud._server import LoopbackService, Received
from interpreter.testing.cloud.openai_http import _error
from interpreter.testing.cloud.tones import transcribe

__all__ = ["OpenAITranscriptionFake"]


class OpenAITranscriptionFake(LoopbackService):
    """See the module. ``key``: the API key it accepts; ``language``: what ``verbose_json``
    reports."""

    def __init__(self, *, key: str = "test-key", language: str = "english") -> None:
        super().__init__()
        self.key = key
        self.language = language

    @property
    def url(self) -> str:
        """What ``base_url=`` / ``INTERPRETER_OPENAI_URL`` take."""
        return f"{self.base}/v1"

    @property
    def calls(self) -> int:
        return len(self.requests)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)

    async def _transcribe(self, request: web.Request) -> web.StreamResponse:
        fields: dict[str, str] = {}
        audio = b""
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "file":
                audio = await part.read()
            elif part.name:
                fields[part.name] = await part.text()
        fault = self.next_fault()
        self.requests.append(Received(request.path, dict(request.headers), fields, fault))
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            return _error(401)
        if fault in ("401", "403", "429", "500"):
            return _error(int(fault or 0))
        if fault in ("hang", "stall"):
            await self.stall()
        if fault == "cut":
            self.cut(request)
            return web.Response()
        if fault == "malformed":
            return web.Response(text="{not json", content_type="application/json")
        with wave.open(io.BytesIO(audio)) as wav:
            pcm = wav.readframes(wav.getnframes())
            seconds = wav.getnframes() / wav.getframerate()
        text = " ".join(w.text for w in transcribe(pcm))
        if fields.get("response_format") == "verbose_json":
            return web.json_response(
                {"text": text, "language": self.language, "duration": seconds, "segments": []}
            )
        return web.json_response({"text": text, "usage": {"type": "duration", "seconds": 1}})
