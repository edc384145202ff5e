"""The web app: the token service, the language switch, and the static meeting page.

Endpoints (all JSON; every refusal is a 4xx with ``{"error": <code>, "message": <text>}``):

- ``POST /api/token`` ``{room, name, language, role}`` -> ``{url, token, identity, room,
  language, role}``. Roles: ``participant`` (may publish a microphone) and ``listener``
  (subscribe only). The identity is made unique here (a slug of the name plus a random
  suffix); the name and the ``language`` attribute go into the token.
- ``POST /api/language`` ``{language}`` with ``Authorization: Bearer <token from /api/token>``:
  sets the caller's ``language`` attribute server-side (RoomService.UpdateParticipant).
- ``GET /api/languages``: the language picker's choices, each named in its own language.
- ``GET /api/config``: what the page needs to know before joining.
- ``GET /api/protocol``: the room protocol (:func:`captions.protocol.protocol_document`): every
  attribute, topic and identity name and the language-matching tables. The page takes every
  name from here, never from copies of its own.
- ``GET /console``: the interpreter console (opened from an invite's ``console_url``).
- ``POST /api/rooms/{room}/interpreters`` (organizer) and ``GET|POST /api/rooms/{room}/booth``
  (interpreters): invites and the interpreters' booth, in :mod:`web.booth`, mounted with a
  booth store.
- ``GET|PUT|DELETE /api/rooms/{room}/access`` (organizer): a room's passcode, in
  :mod:`web.access`; ``POST /api/token`` then needs ``passcode`` for that room (401
  ``passcode_required``, 403 ``wrong_passcode``; 403 ``room_closed`` for a room without one when
  the deployment's rule is ``passcode``).
- ``GET /healthz`` (the process answers) and ``GET /readyz`` (its database answers too), for a
  load balancer or Kubernetes; 503 with the failed check otherwise.
- ``GET /`` and ``/static/...``: the page and its ES modules (livekit-client's ESM build is
  served from ``web/static/vendor/``, copied there by ``scripts/fetch_web_assets.sh``; no CDN,
  no bundler).

``POST /api/token`` and the booth, invite and access endpoints are rate-limited per client
address (:mod:`web.ratelimit`): 429 with ``Retry-After`` and the JSON error ``rate_limited``.

Why the language switch goes through the server: LiveKit's ``canUpdateOwnMetadata`` grant lets a
client set *any* of its own attributes, so a participant holding it could claim
``role=interpreter`` or ``interpreter.*`` attributes and be taken for an interpreter. Tokens from
this app therefore never carry that grant; the one attribute a participant may change, its
``language``, is changed by this app with the server's own credentials after checking the
caller's token.
"""

from __future__ import annotations

import asyncio
import logging
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from aiohttp import web
from livekit import api
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from captions.protocol import (
    ATTR_LANGUAGE,
    ATTR_ROLE,
    CLIENT_ROLES,
    RESERVED_ROLES,
    ROLE_PARTICIPANT,
    ROOM_NAME_RULE,
    is_valid_room_name,
    protocol_document,
)
from languages import Language, all_languages, english_name, native_name, normalize_language
from languages.errors import UnknownLanguageError
from web.config import WebConfig, is_loopback_host
from web.errors import (
    LiveKitUnavailableError,
    ParticipantNotInRoomError,
    WebConfigError,
    WebError,
)
from web.ratelimit import RateLimit, RateLimiter, rate_limit_middleware
from web.tokens import (
    MAX_NAME_LENGTH,
    TokenChecker,
    check_display_name,
    mint_token,
    new_identity,
    room_admin_token,
)

if TYPE_CHECKING:
    from captions.store import TranscriptStore
    from glossary.store import GlossaryStore
    from web.access_store import AccessStore
    from web.booth import RoomDirectory, RoomMember
    from web.booth_store import BoothStore

__all__ = [
    "MAX_NAME_LENGTH",
    "STATIC_DIR",
    "VENDOR_SCRIPT",
    "LiveKitParticipants",
    "LiveKitUnavailableError",
    "ParticipantNotInRoomError",
    "Participants",
    "WebConfig",
    "WebConfigError",
    "build_app",
    "run_web",
]

logger = logging.getLogger("web")

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR_SCRIPT = STATIC_DIR / "vendor" / "livekit-client.esm.js"
"""The LiveKit browser SDK (ES module), generated at set-up by ``scripts/fetch_web_assets.sh``."""

_MAX_BODY = 4096
_READY_TIMEOUT = 5.0

ReadyCheck = Callable[[], Awaitable[object]]
"""An async call that returns when a dependency answers and raises when it does not."""

_PARTICIPANTS_KEY: web.AppKey[Participants] = web.AppKey("participants")
_TOKEN_CHECKER_KEY: web.AppKey[TokenChecker] = web.AppKey("token_checker")


class Participants(Protocol):
    """Changes participants' attributes with the server's credentials."""

    async def set_language(self, *, room: str, identity: str, language: Language) -> None:
        """Set ``identity``'s ``language`` attribute in ``room``.

        Raises :class:`ParticipantNotInRoomError` or :class:`LiveKitUnavailableError`.
        """
        ...


@contextmanager
def _livekit_errors(what: str) -> Iterator[None]:
    """LiveKit's errors as ours: ``not_found`` a :class:`ParticipantNotInRoomError`, anything
    else (refusals, no answer) a :class:`LiveKitUnavailableError`."""
    try:
        yield
    except api.ServerError as e:
        if e.code == "not_found" or e.status == 404:
            raise ParticipantNotInRoomError("participant is not in the room") from e
        raise LiveKitUnavailableError(f"LiveKit refused the {what} ({e.code})") from e
    except (OSError, TimeoutError, aiohttp.ClientError) as e:
        raise LiveKitUnavailableError("LiveKit server unreachable") from e


class LiveKitParticipants:
    """:class:`Participants` and the booth's :class:`~web.booth.RoomDirectory` through
    LiveKit's RoomService (``ListParticipants``, ``UpdateParticipant``,
    ``MutePublishedTrack``).

    Each call carries a short-lived token that administers that room only, minted by
    :mod:`web.tokens` (the one place that signs).
    """

    def __init__(self, *, http_url: str, api_key: str, api_secret: str) -> None:
        self._http_url = http_url
        self._api_key = api_key
        self._api_secret = api_secret
        self._session: aiohttp.ClientSession | None = None

    def _room_service(self, room: str) -> api.room_service.RoomService:
        if self._session is None:
            # created lazily: the HTTP session belongs to the running event loop
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        token = room_admin_token(api_key=self._api_key, api_secret=self._api_secret, room=room)
        return api.LiveKitAPI.with_token(token, self._http_url, session=self._session).room

    async def set_language(self, *, room: str, identity: str, language: Language) -> None:
        await self.set_attributes(
            room=room, identity=identity, attributes={ATTR_LANGUAGE: language}
        )

    async def set_attributes(
        self, *, room: str, identity: str, attributes: Mapping[str, str]
    ) -> None:
        request = api.UpdateParticipantRequest(
            room=room, identity=identity, attributes=dict(attributes)
        )
        with _livekit_errors("update"):
            await self._room_service(room).update_participant(request)

    async def list_participants(self, room: str) -> list[RoomMember]:
        from web.booth import RoomMember

        request = api.ListParticipantsRequest(room=room)
        try:
            with _livekit_errors("listing"):
                found = await self._room_service(room).list_participants(request)
        except ParticipantNotInRoomError:
            return []  # no such room (yet): nobody is in it
        return [
            RoomMember(identity=p.identity, name=p.name, attributes=dict(p.attributes))
            for p in found.participants
        ]

    async def mute_tracks(self, *, room: str, identity: str) -> None:
        service = self._room_service(room)
        with _livekit_errors("mute"):
            who = await service.get_participant(
                api.RoomParticipantIdentity(room=room, identity=identity)
            )
            for track in who.tracks:
                if track.type == api.TrackType.AUDIO and not track.muted:
                    await service.mute_published_track(
                        api.MuteRoomTrackRequest(
                            room=room, identity=identity, track_sid=track.sid, muted=True
                        )
                    )

    async def aclose(self) -> None:
        """Close the HTTP session to LiveKit."""
        if self._session is not None:
            await self._session.close()
            self._session = None


class _TokenRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    room: str
    name: str
    language: str
    role: str = ROLE_PARTICIPANT
    passcode: str | None = None

    @field_validator("room")
    @classmethod
    def _room(cls, value: str) -> str:
        if not is_valid_room_name(value):
            raise ValueError(f"room names are {ROOM_NAME_RULE}")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_display_name(value)


class _LanguageRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    language: str


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = _error(status, code, message)


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > _MAX_BODY:
        raise _Refusal(413, "too_large", "request body too large")
    try:
        body = await request.json()
    except ValueError as e:
        raise _Refusal(400, "invalid_json", "the request body must be a JSON object") from e
    if not isinstance(body, dict):
        raise _Refusal(400, "invalid_json", "the request body must be a JSON object")
    return body


def _first_problem(e: ValidationError) -> tuple[str, str]:
    err = e.errors()[0]
    field = str(err["loc"][0]) if err["loc"] else ""
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        message = f"'{field}' is required"
    elif err["type"] == "string_type":
        message = f"'{field}' must be a string"
    return field, message


def _language(value: str) -> Language:
    try:
        return normalize_language(value)
    except UnknownLanguageError as e:
        raise _Refusal(400, "unknown_language", e.message) from e


def _sort_key(lang: Language) -> str:
    folded = unicodedata.normalize("NFKD", native_name(lang)).casefold()
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


def _language_choices() -> list[dict[str, str]]:
    return [
        {"code": lang, "name": native_name(lang), "english": english_name(lang)}
        for lang in sorted(all_languages(variants=True), key=_sort_key)
    ]


@web.middleware
async def _refusals(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except _Refusal as refusal:
        return refusal.response
    except web.HTTPException as e:
        if request.path.startswith("/api/") and e.status >= 400:
            return _error(e.status, e.reason.lower().replace(" ", "_"), e.reason)
        raise


def _rate_group(request: web.Request) -> str | None:
    """Which rate limit counts ``request``: ``token``, ``booth`` (booth, invites, access)."""
    path = request.path
    if path == "/api/token":
        return "token"
    if path.startswith("/api/rooms/") and path.endswith(("/booth", "/interpreters", "/access")):
        return "booth"
    return None


@web.middleware
async def _security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob: mediastream:; connect-src 'self' ws: wss: http: https:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def build_app(
    config: WebConfig,
    *,
    participants: Participants | None = None,
    transcript_store: TranscriptStore | None = None,
    glossary_store: GlossaryStore | None = None,
    booth_store: BoothStore | None = None,
    room_directory: RoomDirectory | None = None,
    access_store: AccessStore | None = None,
    ready_checks: Mapping[str, ReadyCheck] | None = None,
    static_dir: Path = STATIC_DIR,
    rate_clock: Callable[[], float] | None = None,
) -> web.Application:
    """The web application for ``config`` (LiveKit URLs and keys).

    ``participants`` changes attributes server-side (default: LiveKit's RoomService at
    ``config.http_url``); with ``transcript_store`` the transcript endpoints of
    :mod:`web.transcripts` are mounted too, with ``glossary_store`` the room glossary
    endpoints of :mod:`web.glossaries`, and with ``booth_store`` the interpreter invite and
    booth endpoints of :mod:`web.booth`, which see the room through ``room_directory``
    (default: LiveKit's RoomService), and with ``access_store`` the rooms' passcodes
    (:mod:`web.access`), which the token endpoint then asks. The caller opens and closes the
    stores. ``/readyz`` runs ``ready_checks`` (name -> async call that raises when its
    dependency does not answer). Rate limits come from ``config`` (``rate_clock``: the
    limiters' clock, for tests). With ``config.dev_keys`` the app logs once, when it starts,
    that the public development keys are in use.
    """
    if config.room_access == "passcode" and access_store is None:
        raise ValueError("room_access 'passcode' needs an access store (a database)")
    limiters = {
        name: RateLimiter(RateLimit(per_minute), clock=rate_clock or time.monotonic)
        for name, per_minute in (
            ("token", config.token_rate_limit),
            ("booth", config.booth_rate_limit),
        )
    }
    limit = rate_limit_middleware(limiters, _rate_group, trust_forwarded=config.trust_forwarded)
    app = web.Application(
        middlewares=[_refusals, _security_headers, limit], client_max_size=_MAX_BODY
    )
    # the default for whatever the caller does not bring; it opens no connection until used
    livekit_participants = LiveKitParticipants(
        http_url=config.http_url, api_key=config.api_key, api_secret=config.api_secret
    )
    app[_PARTICIPANTS_KEY] = participants or livekit_participants
    app[_TOKEN_CHECKER_KEY] = TokenChecker(api_key=config.api_key, api_secret=config.api_secret)
    languages = _language_choices()
    protocol = protocol_document()

    async def close_livekit(_: web.Application) -> AsyncIterator[None]:
        yield
        await livekit_participants.aclose()

    app.cleanup_ctx.append(close_livekit)

    if config.dev_keys:

        async def warn_dev_keys(_: web.Application) -> None:
            logger.warning(
                "development keys in use: anyone can mint tokens for this LiveKit server;"
                " set LIVEKIT_API_KEY and LIVEKIT_API_SECRET for a real deployment"
            )

        app.on_startup.append(warn_dev_keys)

    async def _admit(room: str, passcode: str | None) -> None:
        """Refuse a join the room's access rule does not allow."""
        if access_store is None:
            return
        try:
            admission = await access_store.admit(room, passcode)
        except WebError as e:
            logger.error("access store unavailable", extra={"error": e.message})
            raise _Refusal(503, "store_unavailable", "the room access store is unavailable") from e
        if admission == "open" and config.room_access == "passcode":
            raise _Refusal(403, "room_closed", "this room has no passcode yet: ask its organizer")
        if admission == "passcode_required":
            raise _Refusal(401, "passcode_required", "this room needs a passcode")
        if admission == "wrong_passcode":
            logger.info("wrong passcode", extra={"room": room})
            raise _Refusal(403, "wrong_passcode", "the passcode is not right")

    async def token(request: web.Request) -> web.Response:
        body = await _json_body(request)
        role = body.get("role", ROLE_PARTICIPANT)
        if isinstance(role, str) and role.strip().lower() in RESERVED_ROLES:
            raise _Refusal(
                403, "role_refused", f"the role '{role.strip().lower()}' cannot be requested here"
            )
        if role not in CLIENT_ROLES:
            choices = " or ".join(f"'{r}'" for r in CLIENT_ROLES)
            raise _Refusal(400, "invalid_role", f"role must be {choices}")
        try:
            req = _TokenRequest.model_validate(body)
        except ValidationError as e:
            field, message = _first_problem(e)
            raise _Refusal(400, f"invalid_{field or 'request'}", message) from e
        language = _language(req.language)
        await _admit(req.room, req.passcode)
        identity = new_identity(req.name)
        speaks = req.role == ROLE_PARTICIPANT
        jwt = mint_token(
            api_key=config.api_key,
            api_secret=config.api_secret,
            room=req.room,
            identity=identity,
            name=req.name,
            attributes={ATTR_LANGUAGE: language, ATTR_ROLE: req.role},
            can_publish=speaks,
            can_subscribe=True,
            can_publish_data=False,
            can_update_own_metadata=False,
        )
        logger.info("token issued", extra={"room": req.room, "role": req.role})
        return web.json_response(
            {
                "url": config.ws_url,
                "token": jwt,
                "identity": identity,
                "room": req.room,
                "language": language,
                "role": req.role,
            }
        )

    async def set_language(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise _Refusal(401, "unauthorized", "send the room token as 'Authorization: Bearer'")
        try:
            claims = request.app[_TOKEN_CHECKER_KEY].verify(credentials.strip())
        except Exception as e:  # jwt raises many types; any failure means "not our token"
            raise _Refusal(401, "unauthorized", "the token is invalid or expired") from e
        room = claims.video.room if claims.video else ""
        if not room or not claims.identity or not (claims.video and claims.video.room_join):
            raise _Refusal(403, "forbidden", "the token does not grant joining a room")
        body = await _json_body(request)
        try:
            req = _LanguageRequest.model_validate(body)
        except ValidationError as e:
            raise _Refusal(400, "invalid_language", _first_problem(e)[1]) from e
        language = _language(req.language)
        try:
            await request.app[_PARTICIPANTS_KEY].set_language(
                room=room, identity=claims.identity, language=language
            )
        except ParticipantNotInRoomError as e:
            raise _Refusal(409, "not_in_room", "join the room before switching language") from e
        except LiveKitUnavailableError as e:
            logger.warning("language switch failed", extra={"room": room, "reason": e.message})
            return _error(503, "livekit_unavailable", "the LiveKit server did not answer")
        logger.info("language switched", extra={"room": room, "language": language})
        return web.json_response({"language": language})

    checks = dict(ready_checks or {})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})

    async def readyz(_: web.Request) -> web.Response:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), _READY_TIMEOUT)
                results[name] = "ok"
            except Exception as e:  # any failure of a dependency means "not ready"
                logger.warning("not ready", extra={"check": name, "error": type(e).__name__})
                results[name] = "unavailable"
        ready = all(result == "ok" for result in results.values())
        return web.json_response(
            {"status": "ready" if ready else "not_ready", "checks": results},
            status=200 if ready else 503,
            headers={"Cache-Control": "no-store"},
        )

    async def list_languages(_: web.Request) -> web.Response:
        return web.json_response({"languages": languages})

    async def get_protocol(_: web.Request) -> web.Response:
        return web.json_response(protocol)

    async def config_view(request: web.Request) -> web.Response:
        transcripts = any(
            getattr(r.resource, "canonical", "").startswith("/api/rooms/")
            for r in request.app.router.routes()
        )
        return web.json_response(
            {
                "livekit_url": config.ws_url,
                "roles": list(CLIENT_ROLES),
                "room_pattern": protocol["room_name"]["pattern"],
                "max_name_length": MAX_NAME_LENGTH,
                "language_switch": "/api/language",
                "protocol": "/api/protocol",
                "transcripts": transcripts,
            }
        )

    def page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """A handler serving the HTML page ``name`` from the static directory, uncached and
        under the content security policy."""

        async def serve(_: web.Request) -> web.StreamResponse:
            path = static_dir / name
            if not path.is_file():
                raise web.HTTPNotFound()
            return web.FileResponse(
                path,
                headers={"Cache-Control": "no-cache", "Content-Security-Policy": _CSP},
            )

        return serve

    app.router.add_post("/api/token", token)
    app.router.add_post("/api/language", set_language)
    app.router.add_get("/api/languages", list_languages)
    app.router.add_get("/api/protocol", get_protocol)
    app.router.add_get("/api/config", config_view)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/", page("index.html"))
    app.router.add_get("/console", page("console.html"))
    app.router.add_static("/static/", static_dir, follow_symlinks=False)

    # --- transcript endpoints (web/transcripts.py): the one call site ---------------------
    if transcript_store is not None:
        from web.transcripts import add_transcript_routes

        add_transcript_routes(
            app, store=transcript_store, api_key=config.api_key, api_secret=config.api_secret
        )
    if glossary_store is not None:
        from web.glossaries import add_glossary_routes

        add_glossary_routes(
            app, store=glossary_store, api_key=config.api_key, api_secret=config.api_secret
        )
    if booth_store is not None:
        from web.booth import add_booth_routes

        add_booth_routes(
            app,
            store=booth_store,
            directory=room_directory or livekit_participants,
            api_key=config.api_key,
            api_secret=config.api_secret,
            ws_url=config.ws_url,
        )
    if access_store is not None:
        from web.access import add_access_routes

        add_access_routes(
            app,
            store=access_store,
            rule=config.room_access,
            api_key=config.api_key,
            api_secret=config.api_secret,
        )
    return app


async def _serving_app(config: WebConfig) -> web.Application:
    """The app with its transcript store open (closed again when the app shuts down), and the
    room glossaries and the interpreters' booth kept in the same database."""
    if config.store_url is None:
        return build_app(config)
    from captions.store import TranscriptStore
    from glossary.store import GlossaryStore
    from web.access_store import AccessStore
    from web.booth_store import BoothStore

    store = await TranscriptStore.open(config.store_url)
    glossaries = GlossaryStore(store.engine)
    booth = BoothStore(store.engine)
    access = AccessStore(store.engine)
    try:
        await glossaries.create_schema()
        await booth.create_schema()
        await access.create_schema()
    except BaseException:
        await store.aclose()
        raise
    app = build_app(
        config,
        transcript_store=store,
        glossary_store=glossaries,
        booth_store=booth,
        access_store=access,
        ready_checks={"database": access.ping},
    )

    async def close_store(_: web.Application) -> None:
        await store.aclose()

    app.on_cleanup.append(close_store)
    return app


def run_web(config: WebConfig) -> int:
    """Serve the web app on ``config.host:config.port`` until SIGINT or SIGTERM.

    Prints the page's URL once it is listening. Raises :class:`WebConfigError` if the
    livekit-client build has not been fetched yet, or if the public development keys would be
    served beyond loopback.
    """
    if config.dev_keys and not is_loopback_host(config.host):
        raise WebConfigError(
            f"refusing to serve the public development keys on {config.host}: set"
            " LIVEKIT_API_KEY and LIVEKIT_API_SECRET, or bind to 127.0.0.1"
        )
    if not VENDOR_SCRIPT.is_file():
        raise WebConfigError(
            f"{VENDOR_SCRIPT} is missing: run scripts/fetch_web_assets.sh (make setup does)"
        )
    host = config.host
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{config.port}/"

    def started(_: object) -> None:
        print(f"web app: {url}", flush=True)

    web.run_app(
        _serving_app(config),
        host=host,
        port=config.port,
        print=started,
        handle_signals=True,
        access_log=None,
    )
    return 0
