"""Who may join a room: the passcode an organizer sets, over HTTP.

- ``PUT /api/rooms/{room}/access`` ``{"passcode": "..."}`` -> ``{"room", "rule": "passcode"}``:
  from now on ``POST /api/token`` for this room needs ``"passcode"`` in its body.
- ``DELETE /api/rooms/{room}/access`` -> ``{"room", "rule"}``: the passcode is removed; the
  room follows the deployment's rule again (``"open"``, or ``"closed"`` when every room needs
  a passcode).
- ``GET /api/rooms/{room}/access`` -> ``{"room", "rule"}``.

Every request needs ``Authorization: Bearer <LiveKit token>`` with ``roomAdmin`` for *this* room
(:func:`web.auth.authorize`), like the glossary and the invites; the CLI
(``python -m interpreter access``) works on the database directly for the API key holder. A
passcode of the wrong length is 400 ``invalid_passcode``, the database unavailable 503; every
refusal is JSON ``{"error", "message"}``. Tokens already handed out stay valid until they
expire: the rule guards new joins.
"""

from __future__ import annotations

import logging
from typing import Final, Literal

from aiohttp import web

from web.access_store import AccessStore, AccessStoreError, PasscodeError
from web.auth import Refused, authorize, check_room_tokens, json_object, refusing, room_name

__all__ = ["ACCESS_RULES", "add_access_routes", "room_rule"]

logger = logging.getLogger("web.access")

ACCESS_RULES: Final = ("open", "passcode")
"""The deployment's rule for rooms without a passcode: ``open`` lets anyone with the room's name
join; ``passcode`` keeps them closed until an organizer sets one."""

_MAX_BODY: Final = 4096

_ACCESS_KEY: web.AppKey[AccessStore] = web.AppKey("access_store")
_RULE_KEY: web.AppKey[str] = web.AppKey("access_rule")


def room_rule(has_passcode: bool, deployment_rule: str) -> Literal["passcode", "open", "closed"]:
    """What a room's ``rule`` reads: ``passcode`` when it has one, else the deployment's."""
    if has_passcode:
        return "passcode"
    return "closed" if deployment_rule == "passcode" else "open"


def add_access_routes(
    app: web.Application, *, store: AccessStore, rule: str, api_key: str, api_secret: str
) -> None:
    """Mount the room access endpoints on ``app`` (``rule``: one of :data:`ACCESS_RULES`);
    tokens are checked with this key pair. The caller owns ``store`` (schema created)."""
    if rule not in ACCESS_RULES:
        raise ValueError(f"room access rule must be one of {ACCESS_RULES}")
    check_room_tokens(app, api_key=api_key, api_secret=api_secret)
    app[_ACCESS_KEY] = store
    app[_RULE_KEY] = rule
    app.router.add_get("/api/rooms/{room}/access", _get)
    app.router.add_put("/api/rooms/{room}/access", _put)
    app.router.add_delete("/api/rooms/{room}/access", _delete)


def _unavailable(e: AccessStoreError) -> Refused:
    logger.error("access store unavailable", extra={"error": e.message})
    return Refused(503, "store_unavailable", "the room access store is unavailable")


def _answer(room: str, has_passcode: bool, request: web.Request) -> web.Response:
    body = {"room": room, "rule": room_rule(has_passcode, request.app[_RULE_KEY])}
    return web.json_response(body, headers={"Cache-Control": "no-store"})


@refusing
async def _get(request: web.Request) -> web.Response:
    room = room_name(request)
    authorize(request, room, admin=True)
    try:
        has = await request.app[_ACCESS_KEY].has_passcode(room)
    except AccessStoreError as e:
        raise _unavailable(e) from e
    return _answer(room, has, request)


@refusing
async def _put(request: web.Request) -> web.Response:
    room = room_name(request)
    authorize(request, room, admin=True)
    body = await json_object(request, max_body=_MAX_BODY)
    try:
        await request.app[_ACCESS_KEY].set_passcode(room, body.get("passcode"))
    except PasscodeError as e:
        raise Refused(400, "invalid_passcode", e.message) from e
    except AccessStoreError as e:
        raise _unavailable(e) from e
    logger.info("room passcode set", extra={"room": room})
    return _answer(room, True, request)


@refusing
async def _delete(request: web.Request) -> web.Response:
    room = room_name(request)
    authorize(request, room, admin=True)
    try:
        await request.app[_ACCESS_KEY].clear(room)
    except AccessStoreError as e:
        raise _unavailable(e) from e
    logger.info("room passcode removed", extra={"room": room})
    return _answer(room, False, request)
