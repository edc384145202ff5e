"""A loopback fake of Azure Speech synthesis (REST): ``POST /cognitiveservices/v1``.

It checks what the real service checks: the key (``Ocp-Apim-Subscription-Key``, else 401),
the output format (``X-Microsoft-OutputFormat: raw-<rate>-16bit-mono-pcm``, else 400) and
that the SSML body is well-formed XML (else 400, as the service answers unescaped text). The
answer is raw PCM at the requested rate: a 440 Hz tone lasting :attr:`AzureTTSFake.
seconds_per_char` per character of the text spoken, so a test can tell which provider spoke
and whether the whole unit was heard. Point ``azure.TTS(speech_endpoint=fake.endpoint)``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from aiohttp import web

from interpreter.testing.cloud._server import LoopbackService, Received, tone

__all__ = ["AZURE_FREQUENCY", "AzureTTSFake", "Synthesis"]

AZURE_FREQUENCY = 440.0
"""The tone the fake speaks with."""

_FORMATS = {
    "raw-8khz-16bit-mono-pcm": 8000,
    "raw-16khz-16bit-mono-pcm": 16000,
    "raw-22050hz-16bit-mono-pcm": 22050,
    "raw-24khz-16bit-mono-pcm": 24000,
    "raw-44100hz-16bit-mono-pcm": 44100,
    "raw-48khz-16bit-mono-pcm": 48000,
}
_SSML = "{http://www.w3.org/2001/10/synthesis}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True, slots=True)
class Synthesis:
    """What one well-formed request asked for."""

    text: str
    voice: str
    language: str
    rate: int
    prosody_rate: str | None


class AzureTTSFake(LoopbackService):
    """The fake service. ``key``: the subscription key it accepts."""

    def __init__(self, *, key: str = "test-azure-key", seconds_per_char: float = 0.06) -> None:
        super().__init__()
        self.key = key
        self.seconds_per_char = seconds_per_char
        self.syntheses: list[Synthesis] = []

    @property
    def endpoint(self) -> str:
        """What ``azure.TTS(speech_endpoint=...)`` / ``INTERPRETER_AZURE_TTS_URL`` take."""
        return f"{self.base}/cognitiveservices/v1"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/cognitiveservices/v1", self._synthesize)

    def seconds_for(self, text: str) -> float:
        """How long the fake speaks ``text``."""
        return self.seconds_per_char * len(text)

    async def _synthesize(self, request: web.Request) -> web.StreamResponse:
        body = await request.text()
        fault = self.next_fault()
        self.requests.append(Received(request.path, dict(request.headers), body, fault))
        if fault == "hang":
            await self.stall()
        if request.headers.get("Ocp-Apim-Subscription-Key") != self.key:
            return web.Response(status=401, text="Access denied due to invalid subscription key")
        if fault in ("401", "403", "429", "500"):
            return web.Response(status=int(fault), text=f"fake Azure error {fault}")
        rate = _FORMATS.get(request.headers.get("X-Microsoft-OutputFormat", ""))
        if rate is None or request.headers.get("Content-Type") != "application/ssml+xml":
            return web.Response(status=400, text="unsupported output format or content type")
        try:
            synthesis = self._parse(body, rate)
        except (ET.ParseError, ValueError):
            return web.Response(status=400, text="SSML is not well formed")
        self.syntheses.append(synthesis)
        pcm = tone(self.seconds_for(synthesis.text), rate=rate, frequency=AZURE_FREQUENCY)
        response = web.StreamResponse(headers={"Content-Type": "audio/x-wav"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        if fault == "malformed":  # a 200 whose body is an error page, not audio
            await response.write(b"<html>upstream error</html>")
            await response.write_eof()
            return response
        if fault == "cut":
            return await self.write_then_close(request, response, pcm[: len(pcm) // 4 & ~1])
        if fault == "stall":
            await response.write(pcm[: len(pcm) // 10 & ~1])
            await self.stall()
            return response
        step = 9600  # 0.1 s at 48 kHz: the real service streams the body in pieces
        for start in range(0, len(pcm), step):
            await response.write(pcm[start : start + step])
        await response.write_eof()
        return response

    @staticmethod
    def _parse(body: str, rate: int) -> Synthesis:
        root = ET.fromstring(body)
        if root.tag != f"{_SSML}speak":
            raise ValueError("not SSML")
        voice = root.find(f"{_SSML}voice")
        if voice is None or not voice.get("name"):
            raise ValueError("no voice")
        prosody = voice.find(f"{_SSML}prosody")
        return Synthesis(
            text="".join(voice.itertext()),
            voice=voice.get("name", ""),
            language=root.get(_XML_LANG, ""),
            rate=rate,
            prosody_rate=None if prosody is None else prosody.get("rate"),
        )
