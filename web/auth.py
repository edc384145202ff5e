"""What every ``/api/rooms/{room}/...`` endpoint checks first: the room name and the caller's
LiveKit token, and how it refuses (JSON ``{"error": <code>, "message": <text>, ...}``, never
cached).

Tokens are ``Authorization: Bearer <LiveKit access token>`` signed with the deployment's API
secret: no token, or an expired or forged one, is 401; a valid token whose video grant does not
cover *this* room (or, where an organizer is needed, lacks ``roomAdmin``) is 403.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from livekit.api.access_token import Claims

from captions.protocol import ROOM_NAME_RULE, is_valid_room_name
from web.tokens import TokenChecker

__all__ = [
    "TOKEN_LEEWAY",
    "Refused",
    "authorize",
    "check_room_tokens",
    "json_object",
    "refusing",
    "room_name",
]

TOKEN_LEEWAY = datetime.timedelta(seconds=10)
"""Clock skew allowed when checking a token's expiry."""

_CHECKER_KEY: web.AppKey[TokenChecker] = web.AppKey("room_token_checker")


def check_room_tokens(app: web.Application, *, api_key: str, api_secret: str) -> None:
    """Make ``app``'s room endpoints check tokens with this key pair (one checker for all of
    them: the first endpoint module mounted makes it, the next ones use it)."""
    if not api_key or not api_secret:
        raise ValueError("room endpoints need the LiveKit API key and secret")
    if _CHECKER_KEY not in app:
        app[_CHECKER_KEY] = TokenChecker(
            api_key=api_key, api_secret=api_secret, leeway=TOKEN_LEEWAY
        )


class Refused(Exception):
    """A request refused with ``status`` and a JSON body (``extra`` adds fields to it)."""

    def __init__(self, status: int, code: str, message: str, **extra: object) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": code, "message": message, **extra}

    def response(self) -> web.Response:
        return web.json_response(
            self.body, status=self.status, headers={"Cache-Control": "no-store"}
        )


def refusing(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """``handler`` with every :class:`Refused` it raises turned into its response."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Refused as refusal:
            return refusal.response()

    return wrapped


def room_name(request: web.Request) -> str:
    """The ``{room}`` of the path, checked against the room-name rule (400 otherwise)."""
    room = request.match_info["room"]
    if not is_valid_room_name(room):
        raise Refused(400, "invalid_room", f"room names are {ROOM_NAME_RULE}")
    return room


def authorize(request: web.Request, room: str, *, admin: bool = False) -> Claims:
    """The claims of the request's bearer token, which must grant ``room``: joining it, or
    with ``admin`` administering it (``roomAdmin``); checked with the key pair given to
    :func:`check_room_tokens`."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    token = credentials.strip()
    if scheme.lower() != "bearer" or not token:
        raise Refused(401, "unauthorized", "send a LiveKit token as 'Authorization: Bearer'")
    try:
        claims = request.app[_CHECKER_KEY].verify(token)
    except Exception as e:  # PyJWT and the grant parser raise many types: all mean "not valid"
        raise Refused(401, "unauthorized", "the token is invalid or expired") from e
    video = claims.video
    if video is None or video.room != room:
        raise Refused(403, "forbidden", "the token does not grant access to this room")
    if admin and not video.room_admin:
        raise Refused(403, "forbidden", "the token does not administer this room (roomAdmin)")
    if not admin and not (video.room_join or video.room_admin):
        raise Refused(403, "forbidden", "the token does not grant access to this room")
    return claims


async def json_object(request: web.Request, *, max_body: int) -> dict[str, Any]:
    """The request's JSON object body: 413 over ``max_body`` bytes, 400 for anything but a
    JSON object."""
    too_large = Refused(413, "too_large", f"request bodies are at most {max_body} bytes")
    if request.content_length is not None and request.content_length > max_body:
        raise too_large
    try:
        body = await request.json()
    except web.HTTPRequestEntityTooLarge as e:
        raise too_large from e
    except ValueError as e:
        raise Refused(400, "invalid_json", "the request body must be a JSON object") from e
    if not isinstance(body, dict):
        raise Refused(400, "invalid_json", "the request body must be a JSON object")
    return body
