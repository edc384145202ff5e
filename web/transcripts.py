"""Transcript downloads over HTTP.

- ``GET /api/rooms/{room}/transcript/languages[?meeting=<room sid>]`` -> ``{"room",
  "languages"}``: the languages of the room's latest meeting, ``"original"`` first; an empty
  list while nothing has been said in the room (404 only for an unknown ``meeting``).
- ``GET /api/rooms/{room}/transcript.{vtt,srt,json}?lang=<code|original>[&meeting=<room sid>]``
  -> the transcript as a download (``lang`` defaults to ``original``).

Every request needs ``Authorization: Bearer <LiveKit access token>`` whose video grant joins
*this* room, signed with the deployment's API secret: no, expired or forged tokens get 401,
tokens for another room 403. Unknown rooms, meetings, languages and formats get 404; every
refusal is JSON ``{"error": <code>, "message": <text>}``. Parameters are checked against
strict patterns before anything touches the database, and the database is only ever queried
with bound parameters.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable
from typing import Final, TypeVar

from aiohttp import web

from captions.export import FORMATS, MEDIA_TYPES, ExportFormat, render
from captions.store import (
    ORIGINAL,
    TranscriptLanguage,
    TranscriptNotFoundError,
    TranscriptStore,
    TranscriptStoreError,
)
from languages import normalize_language
from languages.errors import UnknownLanguageError
from web.auth import Refused, authorize, check_room_tokens, refusing, room_name

__all__ = ["add_transcript_routes"]

logger = logging.getLogger("web.transcripts")

T = TypeVar("T")

_MEETING_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LANG_PATTERN: Final = re.compile(r"[A-Za-z0-9-]{1,35}")
_FORMATS: Final[dict[str, ExportFormat]] = {f: f for f in FORMATS}

_STORE_KEY: web.AppKey[TranscriptStore] = web.AppKey("transcript_store")


def _language(request: web.Request) -> TranscriptLanguage:
    value = request.query.get("lang", ORIGINAL).strip()
    if value.lower() == ORIGINAL:
        return ORIGINAL
    if not _LANG_PATTERN.fullmatch(value):
        raise Refused(400, "invalid_language", "lang must be a BCP-47 code or 'original'")
    try:
        return normalize_language(value)
    except UnknownLanguageError as e:
        raise Refused(404, "unknown_language", "no transcript in this language") from e


def _meeting(request: web.Request) -> str | None:
    value = request.query.get("meeting")
    if value is None:
        return None
    if not _MEETING_PATTERN.fullmatch(value):
        raise Refused(400, "invalid_meeting", "meeting must be a room sid")
    return value


def add_transcript_routes(
    app: web.Application, *, store: TranscriptStore, api_key: str, api_secret: str
) -> None:
    """Mount the transcript endpoints on ``app``; tokens are checked with this key pair.

    The caller owns ``store`` (opens it before serving, closes it after).
    """
    check_room_tokens(app, api_key=api_key, api_secret=api_secret)
    app[_STORE_KEY] = store
    app.router.add_get("/api/rooms/{room}/transcript/languages", _languages)
    app.router.add_get("/api/rooms/{room}/transcript.{fmt}", _export)


async def _stored(lookup: Awaitable[T]) -> T:
    """The store's answer, its errors made refusals (404 not found, 503 unavailable)."""
    try:
        return await lookup
    except TranscriptNotFoundError as e:
        if e.available:
            raise Refused(404, "unknown_language", e.message, languages=list(e.available)) from e
        raise Refused(404, "not_found", e.message) from e
    except TranscriptStoreError as e:
        logger.error("transcript store unavailable", extra={"error": e.message})
        raise Refused(503, "store_unavailable", "the transcript store is unavailable") from e


@refusing
async def _languages(request: web.Request) -> web.Response:
    room = room_name(request)
    authorize(request, room)
    meeting = _meeting(request)
    try:
        found = await _stored(request.app[_STORE_KEY].languages(room, meeting=meeting))
    except Refused as refusal:
        # A room its member asks about before anything was said there is not unknown: it has
        # no transcript yet. The page asks on joining; a 404 there would be a false alarm.
        if meeting is not None or refusal.body["error"] != "not_found":
            raise
        found = ()
    return web.json_response(
        {"room": room, "languages": [ORIGINAL, *found] if found else []},
        headers={"Cache-Control": "no-store"},
    )


@refusing
async def _export(request: web.Request) -> web.Response:
    room = room_name(request)
    authorize(request, room)
    fmt = _FORMATS.get(request.match_info["fmt"])
    if fmt is None:
        raise Refused(404, "unknown_format", "transcripts are .vtt, .srt or .json")
    language = _language(request)
    meeting = _meeting(request)
    store = request.app[_STORE_KEY]
    transcript = await _stored(store.transcript(room, language, meeting=meeting))
    body = await asyncio.to_thread(render, transcript, fmt)
    logger.info(
        "transcript exported",
        extra={"room": room, "language": language, "format": fmt, "lines": len(transcript.lines)},
    )
    return web.Response(
        text=body,
        content_type=MEDIA_TYPES[fmt],
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{room}-{language}.{fmt}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
