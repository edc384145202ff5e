"""A loopback fake of Azure Speech recognition's WebSocket protocol ("USP"), which the real,
closed-source Speech SDK (``azure-cognitiveservices-speech``, under ``azure.STT``) talks to
when ``speech_host``/``speech_endpoint`` point here.

The framing is the one the SDK sends and accepts (``research/cloud-providers.md`` §1.2):
text frames are ``Header: value`` lines, a blank line and a JSON body; binary frames are a
2-byte big-endian header length, the headers (``Path: audio``, ``X-RequestId``) and the
audio (the first frame of a turn starts with a RIFF header; an empty payload ends the turn's
audio). The fake recognises the tone language (:mod:`.tones`) of the audio and answers
``turn.start``, ``speech.startDetected`` at the first word, a ``speech.hypothesis`` per word
and a ``speech.phrase`` per utterance (``PrimaryLanguage``: the fake's ``language``, or the
first candidate of ``lidEnabled``); at the end of the turn's audio ``speech.endDetected``, a
final ``speech.phrase`` (``EndOfDictation``) and ``turn.end`` (the SDK takes
``speech.endDetected`` as the end of the turn). Offsets are 100 ns ticks of the connection's
audio.

Faults (:data:`~interpreter.testing.cloud._server.Fault`, per connection): the HTTP statuses
on the upgrade; ``hang``: the upgrade never answered; ``stall``: upgraded, then silent;
``cut``: the socket closed (1011) after ``cut_after_words`` words; ``malformed``: frames that
do not parse (no headers, an unknown path with a body that is not JSON, a binary frame with a
broken header) before every answer. ``connections``, ``queries`` and ``contexts`` (the
``speech.context`` bodies: phrase list, language identification) record what the SDK sent.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from interpreter.testing.cloud._server import LoopbackService
from interpreter.testing.cloud.tones import DecodedWord, ToneDecoder

__all__ = ["AzureSpeechFake"]

_TICKS = 10_000_000
_PATH = "/speech/recognition/conversation/cognitiveservices/v1"


def _parse_text(data: str) -> tuple[dict[str, str], str]:
    head, _, body = data.partition("\r\n\r\n")
    headers = {}
    for line in head.split("\r\n"):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers, body


def _parse_binary(data: bytes) -> tuple[dict[str, str], bytes]:
    size = int.from_bytes(data[:2], "big")
    headers, _ = _parse_text(data[2 : 2 + size].decode("utf-8", "replace") + "\r\n\r\n")
    return headers, data[2 + size :]


def _strip_riff(payload: bytes) -> bytes:
    """The PCM of a first audio frame (after the RIFF header's ``data`` chunk header)."""
    if not payload.startswith(b"RIFF"):
        return payload
    at = payload.find(b"data")
    return payload[at + 8 :] if at >= 0 else payload[44:]


class AzureSpeechFake(LoopbackService):
    """See the module. ``key``: the subscription key accepted."""

    def __init__(self, *, key: str = "test-key", language: str | None = None) -> None:
        super().__init__()
        self.key = key
        self.language = language
        self.cut_after_words = 3
        self.connections = 0
        self.queries: list[dict[str, str]] = []
        self.contexts: list[dict[str, Any]] = []
        self._acknowledged = 0.0

    @property
    def host(self) -> str:
        """What ``speech_host=`` / ``INTERPRETER_AZURE_STT_URL`` take."""
        return f"ws://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        app.router.add_get(_PATH, self._ws)
        app.router.add_get("/stt/speech" + _PATH, self._ws)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        self.connections += 1
        self.queries.append(dict(request.query))
        fault = self.next_fault()
        key = request.headers.get("Ocp-Apim-Subscription-Key")
        if key is not None and key != self.key:
            return web.Response(status=401)
        if fault in ("401", "403", "429", "500"):
            return web.Response(status=int(fault or 0))
        if fault == "hang":
            await self.stall()
        ws = web.WebSocketResponse(protocols=("USP",))
        await ws.prepare(request)
        if fault == "stall":
            async for _ in ws:
                pass
            return ws
        candidates = [c for c in request.query.get("lidEnabled", "").split(",") if c]
        language = self.language or (candidates[0] if candidates else None)
        language = language or request.query.get("language", "en-US")
        bad = fault == "malformed"
        decoder = ToneDecoder()
        words = 0
        started: set[str] = set()
        # offsets are of the connection's audio: a new turn (the SDK starts one after each
        # turn.end, replaying the audio after the last phrase) starts where that phrase ended
        self._acknowledged = 0.0
        base = 0.0
        detected = False
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                headers, body = _parse_text(msg.data)
                if headers.get("path") == "speech.context" and body:
                    self.contexts.append(json.loads(body))
                continue
            if msg.type != WSMsgType.BINARY:
                continue
            headers, payload = _parse_binary(msg.data)
            request_id = headers.get("x-requestid", uuid.uuid4().hex)
            if request_id not in started:
                started.add(request_id)
                decoder, base, detected = ToneDecoder(), self._acknowledged, False
                await self._send(ws, "turn.start", request_id, {"context": {"serviceTag": "f"}})
            if not payload:  # the end of this turn's audio
                for kind, value in decoder.flush():
                    if kind == "end":
                        await self._phrase(ws, request_id, value, language, base, bad)
                end = base + decoder.seconds
                if detected:
                    await self._send(
                        ws, "speech.endDetected", request_id, {"Offset": round(end * _TICKS)}
                    )
                await self._send(
                    ws,
                    "speech.phrase",
                    request_id,
                    {"RecognitionStatus": "EndOfDictation", "Offset": round(end * _TICKS)},
                )
                await self._send(ws, "turn.end", request_id, {})
                continue
            for kind, value in decoder.push(_strip_riff(payload)):
                if kind == "word":
                    words += 1
                    if fault == "cut" and words > self.cut_after_words:
                        await ws.close(code=1011, message=b"fake failure")
                        return ws
                    if not detected:
                        detected = True
                        offset = {"Offset": round((base + value.start) * _TICKS)}
                        await self._send(ws, "speech.startDetected", request_id, offset, bad)
                    await self._send(
                        ws,
                        "speech.hypothesis",
                        request_id,
                        self._result(decoder.words, language, base) | {"Id": uuid.uuid4().hex},
                        bad,
                    )
                else:
                    await self._phrase(ws, request_id, value, language, base, bad)
        return ws

    async def _phrase(
        self,
        ws: web.WebSocketResponse,
        request_id: str,
        words: list[DecodedWord],
        language: str,
        base: float,
        bad: bool,
    ) -> None:
        result = self._result(words, language, base)
        text = result.pop("Text")
        phrase = result | {"RecognitionStatus": "Success", "DisplayText": text + "."}
        phrase["PrimaryLanguage"]["Confidence"] = "High"
        await self._send(ws, "speech.phrase", request_id, phrase, bad)
        self._acknowledged = base + words[-1].end

    @staticmethod
    def _result(words: list[DecodedWord], language: str, base: float) -> dict[str, Any]:
        start, end = base + words[0].start, base + words[-1].end
        return {
            "Text": " ".join(w.text for w in words),
            "Offset": round(start * _TICKS),
            "Duration": round((end - start) * _TICKS),
            "PrimaryLanguage": {"Language": language},
        }

    @staticmethod
    async def _send(
        ws: web.WebSocketResponse,
        path: str,
        request_id: str,
        body: dict[str, Any],
        bad: bool = False,
    ) -> None:
        if bad:
            await ws.send_str("no headers at all")
            await ws.send_str(f"X-RequestId: {request_id}\r\nPath: fake.noise\r\n\r\n{{not json")
            await ws.send_bytes(b"\x00\x04junk")
        headers = (
            f"X-RequestId: {request_id}\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Path: {path}\r\n\r\n"
        )
        await ws.send_str(headers + json.dumps(body))
