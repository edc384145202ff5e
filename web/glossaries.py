"""Room glossaries over HTTP: an organizer sets, downloads or removes a room's glossary file.

- ``PUT /api/rooms/{room}/glossary`` with the file as the body; its format from the
  ``Content-Type`` (``text/csv``, ``application/json``, ``application/x-tbx``, or the other
  types :func:`glossary.format_of` knows), at most :data:`glossary.MAX_BYTES` -> ``{"room",
  "terms", "format", "revision"}``. A file with problems is refused whole with 400
  ``{"error": "invalid_glossary", "message", "problems": [{"line", "message"}, ...]}``
  (``line`` is ``null`` for a problem of the whole file) and nothing is stored.
- ``GET /api/rooms/{room}/glossary`` -> the file as it was set, with its content type.
- ``DELETE /api/rooms/{room}/glossary`` -> ``{"room", "deleted": true}``.

Every request needs ``Authorization: Bearer <LiveKit access token>`` whose video grant has
``roomAdmin`` for *this* room (:func:`web.auth.authorize`): 401 without a valid token, 403 for
a token without ``roomAdmin`` or for another room. A room without a glossary is 404, an
unknown content type 415, a body over the limit 413, the database unavailable 503; every
refusal is JSON ``{"error": <code>, "message": <text>}``, never cached.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Final, TypeVar

from aiohttp import web

from glossary import MAX_BYTES, Format, GlossaryError, GlossaryStoreError
from glossary.files import FORMATS
from glossary.store import GlossaryStore
from web.auth import Refused, authorize, check_room_tokens, refusing, room_name

__all__ = ["MEDIA_TYPES", "SHOWN_PROBLEMS", "add_glossary_routes"]

logger = logging.getLogger("web.glossaries")

T = TypeVar("T")

MEDIA_TYPES: Final[dict[Format, str]] = {
    "csv": "text/csv",
    "json": "application/json",
    "tbx": "application/x-tbx",
}
"""The content type a stored glossary is served with."""

SHOWN_PROBLEMS: Final = 100
"""Problems listed in a 400 answer (``problem_count`` says how many there were)."""

_CONTENT_TYPES: Final[dict[str, Format]] = {k: v for k, v in FORMATS.items() if "/" in k}
_CHUNK = 64 * 1024

_STORE_KEY: web.AppKey[GlossaryStore] = web.AppKey("glossary_store")


def add_glossary_routes(
    app: web.Application, *, store: GlossaryStore, api_key: str, api_secret: str
) -> None:
    """Mount the room glossary endpoints on ``app``; tokens are checked with this key pair.

    The caller owns ``store`` (its schema created before serving).
    """
    check_room_tokens(app, api_key=api_key, api_secret=api_secret)
    app[_STORE_KEY] = store
    app.router.add_put("/api/rooms/{room}/glossary", _put)
    app.router.add_get("/api/rooms/{room}/glossary", _get)
    app.router.add_delete("/api/rooms/{room}/glossary", _delete)


def _organizer_room(request: web.Request) -> str:
    room = room_name(request)
    authorize(request, room, admin=True)
    return room


def _format(request: web.Request) -> Format:
    fmt = _CONTENT_TYPES.get(request.content_type.lower())
    if fmt is None:
        raise Refused(
            415,
            "unsupported_media_type",
            "send the glossary file as text/csv, application/json or application/x-tbx",
        )
    return fmt


def _too_large() -> Refused:
    return Refused(413, "too_large", f"glossary files are at most {MAX_BYTES:,} bytes")


async def _body(request: web.Request) -> bytes:
    """The request body, up to :data:`glossary.MAX_BYTES` (the app's own limit is far lower)."""
    if request.content_length is not None and request.content_length > MAX_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > MAX_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _refused_file(e: GlossaryError) -> Refused:
    problems = [{"line": p.line, "message": p.message} for p in e.problems[:SHOWN_PROBLEMS]]
    return Refused(
        400,
        "invalid_glossary",
        e.message,
        problems=problems,
        problem_count=len(e.problems),
    )


async def _stored(operation: Awaitable[T]) -> T:
    """The store's answer; its failure a 503."""
    try:
        return await operation
    except GlossaryStoreError as e:
        logger.error("glossary store unavailable", extra={"error": e.message})
        raise Refused(503, "store_unavailable", "the glossary store is unavailable") from e


def _not_found(room: str) -> Refused:
    return Refused(404, "not_found", f"room {room} has no glossary")


@refusing
async def _put(request: web.Request) -> web.Response:
    room = _organizer_room(request)
    fmt = _format(request)
    data = await _body(request)
    try:
        stored = await _stored(request.app[_STORE_KEY].put(room, data, fmt))
    except GlossaryError as e:
        raise _refused_file(e) from e
    logger.info(
        "glossary set",
        extra={
            "room": room,
            "terms": stored.terms,
            "format": fmt,
            "revision": stored.revision,
        },
    )
    return web.json_response(
        {"room": room, "terms": stored.terms, "format": fmt, "revision": stored.revision},
        headers={"Cache-Control": "no-store"},
    )


@refusing
async def _get(request: web.Request) -> web.Response:
    room = _organizer_room(request)
    stored = await _stored(request.app[_STORE_KEY].get(room))
    if stored is None:
        raise _not_found(room)
    return web.Response(
        body=stored.data,
        content_type=MEDIA_TYPES[stored.format],
        charset="utf-8" if stored.format != "tbx" else None,
        headers={
            "Content-Disposition": f'attachment; filename="{room}-glossary.{stored.format}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@refusing
async def _delete(request: web.Request) -> web.Response:
    room = _organizer_room(request)
    if not await _stored(request.app[_STORE_KEY].delete(room)):
        raise _not_found(room)
    logger.info("glossary deleted", extra={"room": room})
    return web.json_response({"room": room, "deleted": True}, headers={"Cache-Control": "no-store"})
