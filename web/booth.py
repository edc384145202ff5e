"""Human interpreters over HTTP: an organizer invites them; they work the booth.

- ``POST /api/rooms/{room}/interpreters`` ``{"name", "languages": [a, b]}`` with an organizer's
  token (``roomAdmin`` for the room) -> ``{"url", "token", "identity", "room", "name",
  "languages", "console_url"}``: an invite (:func:`invite_interpreter`). The console URL carries
  the room and the token in its fragment (``/console#room=R&token=JWT``), which browsers never
  send to a server, so the token stays out of every access log.
- ``POST /api/rooms/{room}/booth`` ``{"action", "language", "to"?}`` with the interpreter's
  token -> the booth document; actions and their refusals in
  :data:`captions.protocol.BOOTH_ACTIONS` and :mod:`web.booth_store`.
- ``GET /api/rooms/{room}/booth`` with any token for the room -> the booth document ``{"room",
  "live": {lang: identity}, "pending": [{"id", "kind", "language", "from", "to",
  "expires_in"}], "interpreters": [{"identity", "name", "languages", "live"}], "voices": {lang:
  "human"|"machine"}, "reconciled": bool}``; a POST's answer adds ``"mirrored": bool``.

Who the caller is comes only from their verified token: its identity and its attributes
(``role=interpreter``, ``interpreter.languages``), which only an invite puts there; nothing in a
request body can claim them. The booth's state is in the database (:class:`BoothStore`) so that
several web-app processes agree on it. The room is asked who is present (ListParticipants) on
every booth request: a holder who left is released and the hand-overs of absent participants are
dropped. When LiveKit does not answer, the booth still answers from the database
(``"reconciled": false``); only ``offer``, which must find its partner in the room, is refused
(503). After each change the room learns it: ``interpreter.live`` is set on the new holder,
on a hand-over the old holder's microphone is muted by the server, then their attribute is
cleared. Setting attributes needs the server's credentials, so no client can set its own; a
failed update is logged and answered ``"mirrored": false``, and the database stays as decided.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar
from urllib.parse import urlencode

from aiohttp import web
from livekit.api.access_token import Claims

from captions.protocol import (
    ATTR_INTERPRETER_LANGUAGES,
    ATTR_INTERPRETER_LIVE,
    ATTR_LANGUAGE,
    ATTR_ROLE,
    BOOTH_ACTIONS,
    ROLE_INTERPRETER,
    ROOM_NAME_RULE,
    is_agent_identity,
    is_valid_room_name,
)
from languages import Language, normalize_language
from languages.errors import UnknownLanguageError
from web.auth import Refused, authorize, check_room_tokens, json_object, refusing, room_name
from web.booth_store import BoothChange, BoothConflict, BoothState, BoothStore, BoothStoreError
from web.errors import LiveKitUnavailableError, WebError
from web.tokens import check_display_name, mint_token, new_identity

__all__ = [
    "CONSOLE_PATH",
    "INVITE_TTL",
    "Invite",
    "InviteError",
    "RoomDirectory",
    "RoomMember",
    "add_booth_routes",
    "booth_document",
    "invite_interpreter",
]

logger = logging.getLogger("web.booth")

T = TypeVar("T")

INVITE_TTL: Final = datetime.timedelta(hours=12)
"""How long an interpreter's invite token is valid (a working day with margin)."""
CONSOLE_PATH: Final = "/console"
"""The interpreter's console page, on the web app's origin."""

_MAX_BODY: Final = 4096
_MAX_IDENTITY: Final = 256
_NOT_FOUND: Final = frozenset({"no_pending"})


# --- the room, as the booth needs it ----------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class RoomMember:
    """A participant present in a room."""

    identity: str
    name: str = ""
    attributes: Mapping[str, str]


class RoomDirectory(Protocol):
    """Who is in a room, and the server-side changes the booth makes to them (LiveKit's
    RoomService in production: :class:`web.app.LiveKitParticipants`)."""

    async def list_participants(self, room: str) -> list[RoomMember]:
        """Everyone in ``room`` now (empty when the room does not exist).

        Raises :class:`~web.errors.LiveKitUnavailableError`.
        """
        ...

    async def set_attributes(
        self, *, room: str, identity: str, attributes: Mapping[str, str]
    ) -> None:
        """Set these attributes of ``identity`` in ``room`` (others stay as they are).

        Raises :class:`~web.errors.ParticipantNotInRoomError` or
        :class:`~web.errors.LiveKitUnavailableError`.
        """
        ...

    async def mute_tracks(self, *, room: str, identity: str) -> None:
        """Mute every audio track ``identity`` publishes in ``room``, server-side.

        Raises :class:`~web.errors.ParticipantNotInRoomError` or
        :class:`~web.errors.LiveKitUnavailableError`.
        """
        ...


def _pair(attributes: Mapping[str, str] | None) -> tuple[Language, Language] | None:
    """The language pair an invite put in ``interpreter.languages``, for an interpreter."""
    if not attributes or attributes.get(ATTR_ROLE) != ROLE_INTERPRETER:
        return None
    codes = attributes.get(ATTR_INTERPRETER_LANGUAGES, "").split(",")
    try:
        first, second = (normalize_language(code) for code in codes)
    except (ValueError, UnknownLanguageError):  # not exactly two, or not languages
        return None
    return (first, second) if first != second else None


# --- invites ----------------------------------------------------------------------------------
class InviteError(WebError):
    """An invite that cannot be made as asked; ``code`` is the web API's error code
    (``invalid_room``, ``invalid_name``, ``invalid_languages``, ``unknown_language``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True, kw_only=True)
class Invite:
    """What an invited interpreter needs: where to connect, the token, and the console link."""

    url: str
    token: str
    identity: str
    room: str
    name: str
    languages: tuple[Language, Language]
    console_url: str

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "token": self.token,
            "identity": self.identity,
            "room": self.room,
            "name": self.name,
            "languages": list(self.languages),
            "console_url": self.console_url,
        }


def _invited_pair(languages: object) -> tuple[Language, Language]:
    if (
        not isinstance(languages, list | tuple)
        or len(languages) != 2
        or not all(isinstance(code, str) for code in languages)
    ):
        raise InviteError("invalid_languages", "'languages' must be a list of two language codes")
    try:
        first, second = (normalize_language(code) for code in languages)
    except UnknownLanguageError as e:
        raise InviteError("unknown_language", e.message) from e
    if first == second:
        raise InviteError("invalid_languages", "the two languages of the pair must differ")
    return first, second


def invite_interpreter(
    *,
    api_key: str,
    api_secret: str,
    ws_url: str,
    web_url: str,
    room: str,
    name: object,
    languages: object,
) -> Invite:
    """An interpreter's invite to ``room``: a token for a new identity made from ``name``, with
    ``role=interpreter``, the pair ``languages`` (two distinct codes, the first also their
    ``language``), publish and subscribe rights but neither data messages nor updates of its
    own attributes, valid :data:`INVITE_TTL`; and the console link on ``web_url`` (the web
    app's origin). Raises :class:`InviteError`; whoever calls this has checked that the caller
    organizes the room (or holds the API key)."""
    if not isinstance(room, str) or not is_valid_room_name(room):
        raise InviteError("invalid_room", f"room names are {ROOM_NAME_RULE}")
    if not isinstance(name, str):
        raise InviteError("invalid_name", "'name' must be a string")
    try:
        display_name = check_display_name(name.strip())
    except ValueError as e:
        raise InviteError("invalid_name", str(e)) from e
    pair = _invited_pair(languages)
    identity = new_identity(display_name)
    token = mint_token(
        api_key=api_key,
        api_secret=api_secret,
        room=room,
        identity=identity,
        name=display_name,
        attributes={
            ATTR_ROLE: ROLE_INTERPRETER,
            ATTR_INTERPRETER_LANGUAGES: ",".join(pair),
            ATTR_LANGUAGE: pair[0],
        },
        can_publish=True,
        can_subscribe=True,
        can_publish_data=False,
        can_update_own_metadata=False,
        ttl=INVITE_TTL,
    )
    console = f"{web_url.rstrip('/')}{CONSOLE_PATH}#{urlencode({'room': room, 'token': token})}"
    return Invite(
        url=ws_url,
        token=token,
        identity=identity,
        room=room,
        name=display_name,
        languages=pair,
        console_url=console,
    )


# --- the booth document -----------------------------------------------------------------------
def _voice(language: Language, members: Sequence[RoomMember]) -> str:
    """ "machine" while a translator agent voices ``language`` (it lists the codes it voices
    now, and gives a language back while its human is muted or not publishing)."""
    for member in members:
        if is_agent_identity(member.identity):
            voiced = member.attributes.get(ATTR_INTERPRETER_LANGUAGES, "").split(",")
            if language in voiced:
                return "machine"
    return "human"


def booth_document(state: BoothState, members: Sequence[RoomMember] | None) -> dict[str, Any]:
    """The booth as JSON: ``state``, with the interpreters present in the room and who is heard
    on each live language when ``members`` (the room's participants) is known."""
    present = members or ()
    interpreters = []
    for member in present:
        pair = _pair(member.attributes)
        if pair is not None:
            interpreters.append(
                {
                    "identity": member.identity,
                    "name": member.name,
                    "languages": list(pair),
                    "live": state.live_on(member.identity) or "",
                }
            )
    return {
        "room": state.room,
        "live": dict(state.live),
        "pending": [
            {
                "id": p.id,
                "kind": p.kind,
                "language": p.language,
                "from": p.sender,
                "to": p.recipient,
                "expires_in": round(max(0.0, p.expires_at - state.now), 1),
            }
            for p in state.pending
        ],
        "interpreters": interpreters,
        "voices": {lang: _voice(lang, present) for lang in state.live},
        "reconciled": members is not None,
    }


# --- routes -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class _Booth:
    store: BoothStore
    directory: RoomDirectory
    api_key: str
    api_secret: str
    ws_url: str


_BOOTH_KEY: web.AppKey[_Booth] = web.AppKey("booth")


def add_booth_routes(
    app: web.Application,
    *,
    store: BoothStore,
    directory: RoomDirectory,
    api_key: str,
    api_secret: str,
    ws_url: str,
) -> None:
    """Mount the invite and booth endpoints on ``app``: tokens are checked (and invites signed)
    with this key pair, invites send interpreters to ``ws_url``, and ``directory`` is the room.

    The caller owns ``store`` (its schema created before serving) and ``directory``.
    """
    check_room_tokens(app, api_key=api_key, api_secret=api_secret)
    app[_BOOTH_KEY] = _Booth(
        store=store, directory=directory, api_key=api_key, api_secret=api_secret, ws_url=ws_url
    )
    app.router.add_post("/api/rooms/{room}/interpreters", _invite)
    app.router.add_get("/api/rooms/{room}/booth", _get_booth)
    app.router.add_post("/api/rooms/{room}/booth", _post_booth)


def _json(body: dict[str, Any]) -> web.Response:
    return web.json_response(body, headers={"Cache-Control": "no-store"})


async def _stored(operation: Awaitable[T]) -> T:
    """The store's answer: its failure a 503, a refused action its 404 or 409."""
    try:
        return await operation
    except BoothStoreError as e:
        logger.error("booth store unavailable", extra={"error": e.message})
        raise Refused(503, "store_unavailable", "the booth store is unavailable") from e
    except BoothConflict as e:
        raise Refused(404 if e.code in _NOT_FOUND else 409, e.code, e.message) from e


@refusing
async def _invite(request: web.Request) -> web.Response:
    room = room_name(request)
    authorize(request, room, admin=True)
    body = await json_object(request, max_body=_MAX_BODY)
    booth = request.app[_BOOTH_KEY]
    try:
        invite = invite_interpreter(
            api_key=booth.api_key,
            api_secret=booth.api_secret,
            ws_url=booth.ws_url,
            web_url=str(request.url.origin()),
            room=room,
            name=body.get("name"),
            languages=body.get("languages"),
        )
    except InviteError as e:
        raise Refused(400, e.code, e.message) from e
    logger.info(
        "interpreter invited",
        extra={"room": room, "identity": invite.identity, "languages": ",".join(invite.languages)},
    )
    return _json(invite.as_json())


async def _room_members(booth: _Booth, room: str) -> list[RoomMember] | None:
    """The room's participants, after reconciling the booth with them; ``None`` when LiveKit
    does not answer (the booth is then served from the database as it is)."""
    listed_at = booth.store.now()
    try:
        members = await booth.directory.list_participants(room)
    except LiveKitUnavailableError as e:
        logger.warning("booth not reconciled", extra={"room": room, "reason": e.message})
        return None
    released = await _stored(
        booth.store.reconcile(room, {m.identity for m in members}, listed_at=listed_at)
    )
    for language, identity in released.live:
        logger.info(
            "booth changed",
            extra={"room": room, "action": "left", "language": language, "identity": identity},
        )
    return members


@refusing
async def _get_booth(request: web.Request) -> web.Response:
    room = room_name(request)
    authorize(request, room)
    booth = request.app[_BOOTH_KEY]
    members = await _room_members(booth, room)
    state = await _stored(booth.store.state(room))
    return _json(booth_document(state, members))


@dataclass(frozen=True, slots=True)
class _Ask:
    action: str
    language: Language
    to: str | None


def _interpreter(claims: Claims) -> tuple[Language, Language]:
    """The caller's language pair, from their token; 403 for anyone but an interpreter."""
    pair = _pair(claims.attributes)
    if pair is None or not claims.identity:
        raise Refused(403, "not_interpreter", "only an invited interpreter may use the booth")
    return pair


def _ask(body: Mapping[str, Any], pair: tuple[Language, Language]) -> _Ask:
    action = body.get("action")
    if action not in BOOTH_ACTIONS:
        choices = ", ".join(BOOTH_ACTIONS)
        raise Refused(400, "invalid_action", f"'action' must be one of {choices}")
    value = body.get("language")
    if not isinstance(value, str) or not value.strip():
        raise Refused(400, "invalid_language", "'language' must be a language code")
    try:
        language = normalize_language(value)
    except UnknownLanguageError as e:
        raise Refused(400, "unknown_language", e.message) from e
    if language not in pair:
        raise Refused(400, "language_not_in_pair", f"your languages are {pair[0]} and {pair[1]}")
    to = body.get("to")
    if to is not None and (not isinstance(to, str) or not 0 < len(to) <= _MAX_IDENTITY):
        raise Refused(400, "invalid_to", "'to' must be a participant identity")
    if action == "offer" and to is None:
        raise Refused(400, "invalid_to", "'to' names the interpreter to offer the language to")
    return _Ask(action=action, language=language, to=to)


def _check_partner(members: Sequence[RoomMember], caller: str, ask: _Ask) -> None:
    """``ask.to`` is another interpreter in the room who has ``ask.language`` (404 otherwise)."""
    partner = next((m for m in members if m.identity == ask.to), None)
    pair = None if partner is None else _pair(partner.attributes)
    if ask.to == caller or pair is None or ask.language not in pair:
        raise Refused(
            404,
            "unknown_interpreter",
            f"no other interpreter of {ask.language} named {ask.to} is in this room",
        )


async def _act(
    store: BoothStore, room: str, identity: str, pair: tuple[Language, Language], ask: _Ask
) -> BoothChange:
    language = ask.language
    if ask.action == "take":
        return await store.take(room, identity, language)
    if ask.action == "release":
        return await store.release(room, identity, language)
    if ask.action == "offer":
        assert ask.to is not None  # checked with the request
        return await store.offer(room, identity, language, ask.to)
    if ask.action == "request":
        return await store.request(room, identity, language)
    if ask.action == "accept":
        return await store.accept(room, identity, language, sender=ask.to)
    if ask.action == "decline":
        return await store.decline(room, identity, language, sender=ask.to)
    other = pair[1] if language == pair[0] else pair[0]
    return await store.direction(room, identity, language, other=other)


async def _mirrored(directory: RoomDirectory, room: str, change: BoothChange) -> bool:
    """Tell the room what ``change`` did (``interpreter.live`` of each identity it moved; on a
    hand-over the old holder's microphone muted before their attribute is cleared). ``False``
    when any step failed: the failure is logged, the booth's state stands."""
    done = True
    for identity, language in change.moves:
        if identity == change.handed_over_by:
            try:
                await directory.mute_tracks(room=room, identity=identity)
            except WebError as e:
                done = False
                logger.warning(
                    "booth mirror failed",
                    extra={"room": room, "identity": identity, "step": "mute", "reason": e.message},
                )
        try:
            await directory.set_attributes(
                room=room, identity=identity, attributes={ATTR_INTERPRETER_LIVE: language}
            )
        except WebError as e:
            done = False
            logger.warning(
                "booth mirror failed",
                extra={
                    "room": room,
                    "identity": identity,
                    "step": "attribute",
                    "reason": e.message,
                },
            )
    return done


@refusing
async def _post_booth(request: web.Request) -> web.Response:
    started = time.monotonic()
    room = room_name(request)
    claims = authorize(request, room)
    pair = _interpreter(claims)
    identity = claims.identity
    ask = _ask(await json_object(request, max_body=_MAX_BODY), pair)
    booth = request.app[_BOOTH_KEY]
    members = await _room_members(booth, room)
    if members is None:
        if ask.action == "offer":
            raise Refused(503, "livekit_unavailable", "the LiveKit server did not answer")
    elif not any(m.identity == identity for m in members):
        raise Refused(409, "not_in_room", "join the room before using the booth")
    elif ask.action == "offer":
        _check_partner(members, identity, ask)
    change = await _stored(_act(booth.store, room, identity, pair, ask))
    mirrored = await _mirrored(booth.directory, room, change)
    if change.changed:
        logger.info(
            "booth changed",
            extra={
                "room": room,
                "action": ask.action,
                "language": ask.language,
                "identity": identity,
                "mirrored": mirrored,
                # from the request to the room knowing it (database, then attributes/mutes)
                "seconds": round(time.monotonic() - started, 3),
            },
        )
    return _json(booth_document(change.state, members) | {"mirrored": mirrored})
