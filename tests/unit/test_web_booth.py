"""Interpreter invites and the booth over HTTP, through the whole web app on loopback, with a
fake room (who is present, attribute updates, server mutes) and a fake clock: every action and
refusal an interpreter's console meets, what the room is told and in which order, and that no
one but an invited interpreter can work the booth."""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from captions.protocol import protocol_document
from captions.store import TranscriptStore, database_url
from interpreter.testing.fakes import FakeClock
from languages import Language
from web.app import LiveKitParticipants, WebConfig, build_app
from web.booth import RoomMember
from web.booth_store import BoothStore
from web.errors import LiveKitUnavailableError, ParticipantNotInRoomError
from web.tokens import TokenChecker, mint_token, room_admin_token

KEY = "APItestkey"
SECRET = "s" * 40
CONFIG = WebConfig(ws_url="ws://127.0.0.1:7880", api_key=KEY, api_secret=SECRET)
ROOM = "standup"
BOOTH = f"/api/rooms/{ROOM}/booth"
INVITE = f"/api/rooms/{ROOM}/interpreters"
PAIRS = {"ian": ("es", "en"), "iva": ("en", "es")}

Client = TestClient[web.Request, web.Application]


@dataclass
class FakeRoom:
    """The rooms as LiveKit would tell them; records every change the app makes, in order.

    ``unreachable``: every call fails as if LiveKit were down; ``refuse_updates``: listing
    works, changes fail."""

    members: dict[str, dict[str, RoomMember]] = field(default_factory=dict)
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    unreachable: bool = False
    refuse_updates: bool = False

    def join(self, identity: str, attributes: Mapping[str, str], room: str = ROOM) -> None:
        member = RoomMember(identity=identity, name=identity.title(), attributes=attributes)
        self.members.setdefault(room, {})[identity] = member

    def leave(self, identity: str, room: str = ROOM) -> None:
        del self.members[room][identity]

    def _check(self, room: str, identity: str | None = None) -> None:
        if self.unreachable:
            raise LiveKitUnavailableError("LiveKit server unreachable")
        if identity is not None:
            if self.refuse_updates:
                raise LiveKitUnavailableError("LiveKit refused the update (internal)")
            if identity not in self.members.get(room, {}):
                raise ParticipantNotInRoomError("participant is not in the room")

    async def list_participants(self, room: str) -> list[RoomMember]:
        self._check(room)
        return list(self.members.get(room, {}).values())

    async def set_attributes(
        self, *, room: str, identity: str, attributes: Mapping[str, str]
    ) -> None:
        self._check(room, identity)
        for key, value in attributes.items():
            self.calls.append(("set", identity, f"{key}={value}"))

    async def mute_tracks(self, *, room: str, identity: str) -> None:
        self._check(room, identity)
        self.calls.append(("mute", identity, ""))

    async def set_language(self, *, room: str, identity: str, language: Language) -> None:
        await self.set_attributes(room=room, identity=identity, attributes={"language": language})


def interpreter_attributes(pair: tuple[str, str]) -> dict[str, str]:
    return {"role": "interpreter", "interpreter.languages": ",".join(pair), "language": pair[0]}


def interpreter(identity: str, pair: tuple[str, str] = ("es", "en"), room: str = ROOM) -> str:
    """An invited interpreter's token (as :func:`web.booth.invite_interpreter` mints it)."""
    return mint_token(
        api_key=KEY,
        api_secret=SECRET,
        room=room,
        identity=identity,
        attributes=interpreter_attributes(pair),
        can_publish_data=False,
    )


def participant(identity: str = "pat", room: str = ROOM) -> str:
    return mint_token(
        api_key=KEY,
        api_secret=SECRET,
        room=room,
        identity=identity,
        attributes={"role": "participant", "language": "en"},
    )


def organizer(room: str = ROOM) -> str:
    # minted when the module is collected, for parametrize: valid for the longest suite run
    return room_admin_token(
        api_key=KEY, api_secret=SECRET, room=room, ttl=datetime.timedelta(hours=6)
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def transcripts(tmp_path: Path) -> AsyncIterator[TranscriptStore]:
    async with await TranscriptStore.open(database_url(db_url=None, data_dir=tmp_path)) as s:
        yield s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(transcripts: TranscriptStore, clock: FakeClock) -> BoothStore:
    booth = BoothStore(transcripts.engine, clock=clock)
    await booth.create_schema()
    return booth


@pytest.fixture
def room() -> FakeRoom:
    """Ian (es/en) and Iva (en/es) are in the room; so are a participant and a translator."""
    fake = FakeRoom()
    for identity, pair in PAIRS.items():
        fake.join(identity, interpreter_attributes(pair))
    fake.join("pat", {"role": "participant", "language": "en"})
    fake.join("translator-pat", {"interpreter.source": "pat", "interpreter.languages": "es,fr"})
    return fake


@pytest.fixture
async def client(store: BoothStore, room: FakeRoom) -> AsyncIterator[Client]:
    app = build_app(CONFIG, participants=room, booth_store=store, room_directory=room)
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


async def booth(
    client: Client, who: str, action: str, language: str = "en", **extra: Any
) -> tuple[int, dict[str, Any]]:
    """``who`` (an interpreter of :data:`PAIRS`, or any token) asks the booth for ``action``."""
    token = interpreter(who, PAIRS[who]) if who in PAIRS else who
    resp = await client.post(
        BOOTH, json={"action": action, "language": language, **extra}, headers=bearer(token)
    )
    assert resp.headers["Cache-Control"] == "no-store"
    return resp.status, await resp.json()


async def state(client: Client, token: str | None = None) -> dict[str, Any]:
    resp = await client.get(BOOTH, headers=bearer(token or participant()))
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body


# --- invites ----------------------------------------------------------------------------------
async def test_an_organizer_invites_an_interpreter(client: Client) -> None:
    resp = await client.post(
        INVITE,
        json={"name": " Ana Lima ", "languages": ["Spanish", "en"]},
        headers=bearer(organizer()),
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["url"] == "ws://127.0.0.1:7880"
    assert (body["room"], body["name"], body["languages"]) == (ROOM, "Ana Lima", ["es", "en"])
    assert body["identity"].startswith("ana-lima-")

    claims = TokenChecker(api_key=KEY, api_secret=SECRET).verify(body["token"])
    assert claims.identity == body["identity"] and claims.name == "Ana Lima"
    assert claims.attributes == {
        "role": "interpreter",
        "interpreter.languages": "es,en",
        "language": "es",
    }
    video = claims.video
    assert video is not None and video.room == ROOM and video.room_join
    assert video.can_publish and video.can_subscribe
    assert not video.can_publish_data and not video.can_update_own_metadata
    assert not video.room_admin

    # the console link is on this app's origin, with room and token in the fragment only
    link = urlsplit(body["console_url"])
    assert (link.scheme, link.netloc, link.path) == ("http", f"127.0.0.1:{client.port}", "/console")
    assert link.query == ""
    assert dict(parse_qsl(link.fragment)) == {"room": ROOM, "token": body["token"]}


async def test_the_invite_token_lasts_a_working_day(client: Client) -> None:
    import jwt

    resp = await client.post(
        INVITE, json={"name": "Ana", "languages": ["es", "en"]}, headers=bearer(organizer())
    )
    payload = jwt.decode((await resp.json())["token"], options={"verify_signature": False})
    assert payload["exp"] - payload["nbf"] == 12 * 3600


async def test_an_invited_interpreter_can_work_the_booth_at_once(
    client: Client, room: FakeRoom
) -> None:
    resp = await client.post(
        INVITE, json={"name": "Ana", "languages": ["es", "en"]}, headers=bearer(organizer())
    )
    grant = await resp.json()
    room.join(grant["identity"], interpreter_attributes(("es", "en")))
    status, body = await booth(client, grant["token"], "take", "en")
    assert status == 200 and body["live"] == {"en": grant["identity"]}


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        (bearer("not-a-token"), 401, "unauthorized"),
        (bearer(participant()), 403, "forbidden"),  # joins the room, does not organize it
        (bearer(interpreter("ian")), 403, "forbidden"),
        (bearer(organizer("other-room")), 403, "forbidden"),
    ],
)
async def test_only_the_rooms_organizer_invites(
    client: Client, headers: dict[str, str], status: int, code: str
) -> None:
    resp = await client.post(
        INVITE, json={"name": "Mallory", "languages": ["es", "en"]}, headers=headers
    )
    assert resp.status == status
    assert (await resp.json())["error"] == code


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"languages": ["es", "en"]}, "invalid_name"),
        ({"name": "", "languages": ["es", "en"]}, "invalid_name"),
        ({"name": "x" * 65, "languages": ["es", "en"]}, "invalid_name"),
        ({"name": "Ana\u0007", "languages": ["es", "en"]}, "invalid_name"),
        ({"name": 7, "languages": ["es", "en"]}, "invalid_name"),
        ({"name": "Ana"}, "invalid_languages"),
        ({"name": "Ana", "languages": "es,en"}, "invalid_languages"),
        ({"name": "Ana", "languages": ["es"]}, "invalid_languages"),
        ({"name": "Ana", "languages": ["es", "en", "fr"]}, "invalid_languages"),
        ({"name": "Ana", "languages": ["es", "Spanish"]}, "invalid_languages"),
        ({"name": "Ana", "languages": ["es", 3]}, "invalid_languages"),
        ({"name": "Ana", "languages": ["es", "xx-nope"]}, "unknown_language"),
    ],
)
async def test_a_bad_invite_is_refused_with_its_reason(
    client: Client, body: dict[str, Any], code: str
) -> None:
    resp = await client.post(INVITE, json=body, headers=bearer(organizer()))
    assert resp.status == 400
    assert (await resp.json())["error"] == code


async def test_an_oversized_or_malformed_invite_body_is_refused(client: Client) -> None:
    big = {"name": "Ana", "languages": ["es", "en"], "pad": "x" * 5000}
    resp = await client.post(INVITE, json=big, headers=bearer(organizer()))
    assert (resp.status, (await resp.json())["error"]) == (413, "too_large")
    resp = await client.post(INVITE, data=b"[1, 2", headers=bearer(organizer()))
    assert (resp.status, (await resp.json())["error"]) == (400, "invalid_json")


# --- who may use the booth --------------------------------------------------------------------
async def test_a_participant_cannot_work_the_booth_but_can_see_it(client: Client) -> None:
    for token in (participant(), organizer()):
        status, body = await booth(client, token, "take")
        assert (status, body["error"]) == (403, "not_interpreter")
    assert (await state(client, participant()))["live"] == {}


async def test_the_token_endpoint_cannot_make_an_interpreter(client: Client) -> None:
    # asking for the role, or for the attributes, gets a participant at most
    resp = await client.post(
        "/api/token",
        json={"room": ROOM, "name": "Mallory", "language": "en", "role": "interpreter"},
    )
    assert resp.status == 403
    resp = await client.post(
        "/api/token",
        json={
            "room": ROOM,
            "name": "Mallory",
            "language": "en",
            "attributes": interpreter_attributes(("es", "en")),
        },
    )
    assert resp.status == 200
    status, body = await booth(client, (await resp.json())["token"], "take")
    assert (status, body["error"]) == (403, "not_interpreter")


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        (bearer(interpreter("ian", room="other-room")), 403, "forbidden"),
        (
            bearer(mint_token(api_key=KEY, api_secret="t" * 40, room=ROOM, identity="ian")),
            401,
            "unauthorized",
        ),
    ],
)
async def test_the_booth_needs_a_valid_token_for_the_room(
    client: Client, headers: dict[str, str], status: int, code: str
) -> None:
    for resp in (
        await client.get(BOOTH, headers=headers),
        await client.post(BOOTH, json={"action": "take", "language": "en"}, headers=headers),
    ):
        assert resp.status == status
        assert (await resp.json())["error"] == code


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"action": "grab", "language": "en"}, 400, "invalid_action"),
        ({"language": "en"}, 400, "invalid_action"),
        ({"action": "take"}, 400, "invalid_language"),
        ({"action": "take", "language": "xx-nope"}, 400, "unknown_language"),
        ({"action": "take", "language": "fr"}, 400, "language_not_in_pair"),
        ({"action": "offer", "language": "en"}, 400, "invalid_to"),
        ({"action": "accept", "language": "en", "to": 5}, 400, "invalid_to"),
    ],
)
async def test_a_bad_booth_request_is_refused_with_its_reason(
    client: Client, body: dict[str, Any], status: int, code: str
) -> None:
    resp = await client.post(BOOTH, json=body, headers=bearer(interpreter("ian")))
    assert resp.status == status
    assert (await resp.json())["error"] == code


async def test_an_interpreter_outside_the_room_is_told_to_join(
    client: Client, room: FakeRoom
) -> None:
    room.leave("ian")
    status, body = await booth(client, "ian", "take")
    assert (status, body["error"]) == (409, "not_in_room")
    assert room.calls == []


# --- the actions --------------------------------------------------------------------------------
async def test_take_makes_the_interpreter_live_and_tells_the_room(
    client: Client, room: FakeRoom
) -> None:
    status, body = await booth(client, "ian", "take", "English")
    assert status == 200
    assert body["live"] == {"en": "ian"} and body["pending"] == []
    assert body["voices"] == {"en": "human"}
    assert body["mirrored"] is True and body["reconciled"] is True
    assert room.calls == [("set", "ian", "interpreter.live=en")]
    assert {i["identity"]: (i["languages"], i["live"]) for i in body["interpreters"]} == {
        "ian": (["es", "en"], "en"),
        "iva": (["en", "es"], ""),
    }

    seen = await state(client)
    assert {k: v for k, v in seen.items() if k != "reconciled"} == {
        k: v for k, v in body.items() if k not in ("mirrored", "reconciled")
    }

    # taking again changes nothing and tells the room nothing
    assert (await booth(client, "ian", "take"))[0] == 200
    assert len(room.calls) == 1


async def test_take_meets_a_live_interpreter(client: Client) -> None:
    await booth(client, "ian", "take")
    status, body = await booth(client, "iva", "take")
    assert (status, body["error"]) == (409, "booth_taken")
    assert "ian" in body["message"] and "request" in body["message"]
    status, body = await booth(client, "ian", "take", "es")
    assert (status, body["error"]) == (409, "already_live")


async def test_release_frees_the_language(client: Client, room: FakeRoom) -> None:
    status, body = await booth(client, "ian", "release")
    assert (status, body["error"]) == (409, "not_live")
    await booth(client, "ian", "take")
    status, body = await booth(client, "ian", "release")
    assert status == 200 and body["live"] == {}
    assert room.calls[-1] == ("set", "ian", "interpreter.live=")


async def test_a_hand_over_by_offer_sets_mutes_then_clears(client: Client, room: FakeRoom) -> None:
    await booth(client, "ian", "take")
    status, body = await booth(client, "ian", "offer", to="iva")
    assert status == 200
    (item,) = body["pending"]
    assert {k: item[k] for k in ("kind", "language", "from", "to", "expires_in")} == {
        "kind": "offer",
        "language": "en",
        "from": "ian",
        "to": "iva",
        "expires_in": 60.0,
    }
    room.calls.clear()

    status, body = await booth(client, "iva", "accept")
    assert status == 200
    assert body["live"] == {"en": "iva"} and body["pending"] == []
    assert room.calls == [
        ("set", "iva", "interpreter.live=en"),
        ("mute", "ian", ""),
        ("set", "ian", "interpreter.live="),
    ]


async def test_a_hand_over_by_request(client: Client, room: FakeRoom) -> None:
    status, body = await booth(client, "iva", "request")
    assert (status, body["error"]) == (409, "booth_free")
    await booth(client, "ian", "take")
    status, body = await booth(client, "iva", "request")
    assert status == 200
    assert [(p["kind"], p["from"], p["to"]) for p in body["pending"]] == [("request", "iva", "ian")]
    room.calls.clear()

    status, body = await booth(client, "ian", "accept", to="iva")
    assert status == 200 and body["live"] == {"en": "iva"}
    assert room.calls == [
        ("set", "iva", "interpreter.live=en"),
        ("mute", "ian", ""),
        ("set", "ian", "interpreter.live="),
    ]


async def test_decline_leaves_things_as_they_were(client: Client, room: FakeRoom) -> None:
    await booth(client, "ian", "take")
    await booth(client, "iva", "request")
    calls = list(room.calls)
    status, body = await booth(client, "ian", "decline")
    assert status == 200 and body["live"] == {"en": "ian"} and body["pending"] == []
    assert room.calls == calls
    status, body = await booth(client, "ian", "decline")
    assert (status, body["error"]) == (404, "no_pending")
    status, body = await booth(client, "ian", "accept")
    assert (status, body["error"]) == (404, "no_pending")


async def test_a_stale_offer_is_refused(client: Client) -> None:
    await booth(client, "ian", "take")
    await booth(client, "ian", "offer", to="iva")
    await booth(client, "ian", "release")
    status, body = await booth(client, "iva", "accept")
    assert (status, body["error"]) == (409, "stale")
    assert (await state(client))["live"] == {}


async def test_an_offer_goes_only_to_an_interpreter_present_with_the_language(
    client: Client, room: FakeRoom
) -> None:
    status, body = await booth(client, "ian", "offer", to="iva")
    assert (status, body["error"]) == (409, "not_live")
    await booth(client, "ian", "take")
    room.join("ivo", interpreter_attributes(("es", "fr")))
    for to in ("nobody", "pat", "translator-pat", "ivo", "ian"):
        status, body = await booth(client, "ian", "offer", to=to)
        assert (status, body["error"]) == (404, "unknown_interpreter"), to
    assert (await state(client))["pending"] == []


async def test_direction_moves_a_live_interpreter(client: Client, room: FakeRoom) -> None:
    status, body = await booth(client, "ian", "direction", "en")  # not live: nothing here
    assert status == 200 and body["live"] == {} and room.calls == []
    await booth(client, "ian", "take", "es")
    status, body = await booth(client, "ian", "direction", "en")
    assert status == 200 and body["live"] == {"en": "ian"}
    assert room.calls[-1] == ("set", "ian", "interpreter.live=en")

    await booth(client, "iva", "take", "es")
    status, body = await booth(client, "ian", "direction", "es")
    assert (status, body["error"]) == (409, "booth_taken")


async def test_pending_items_lapse_after_a_minute(client: Client, clock: FakeClock) -> None:
    await booth(client, "ian", "take")
    await booth(client, "ian", "offer", to="iva")
    clock.advance(40)
    assert [p["expires_in"] for p in (await state(client))["pending"]] == [20.0]
    clock.advance(20)
    assert (await state(client))["pending"] == []
    status, body = await booth(client, "iva", "accept")
    assert (status, body["error"]) == (404, "no_pending")


# --- the room ---------------------------------------------------------------------------------
async def test_a_holder_who_left_is_released_and_their_requests_dropped(
    client: Client, room: FakeRoom
) -> None:
    await booth(client, "ian", "take")
    await booth(client, "iva", "request")
    room.leave("ian")
    seen = await state(client)
    assert seen["live"] == {} and seen["pending"] == []
    assert [i["identity"] for i in seen["interpreters"]] == ["iva"]
    assert (await booth(client, "iva", "take"))[0] == 200


async def test_voices_say_whether_the_machine_covers_a_live_language(
    client: Client, room: FakeRoom
) -> None:
    await booth(client, "ian", "take", "es")
    await booth(client, "iva", "take", "en")
    # the translator voices es (the human is muted) but not en
    assert (await state(client))["voices"] == {"en": "human", "es": "machine"}


async def test_without_livekit_the_booth_answers_from_the_database(
    client: Client, room: FakeRoom
) -> None:
    await booth(client, "ian", "take")
    room.leave("ian")
    room.unreachable = True
    seen = await state(client)
    assert seen["reconciled"] is False
    assert seen["live"] == {"en": "ian"}  # not released: nobody could say he left
    assert seen["interpreters"] == [] and seen["voices"] == {"en": "human"}

    status, body = await booth(client, "iva", "take", "es")
    assert status == 200 and body["live"] == {"en": "ian", "es": "iva"}
    assert body["mirrored"] is False and body["reconciled"] is False
    status, body = await booth(client, "iva", "offer", "es", to="ian")
    assert (status, body["error"]) == (503, "livekit_unavailable")


async def test_a_failed_mirror_is_logged_and_the_change_stands(
    client: Client, room: FakeRoom, caplog: pytest.LogCaptureFixture
) -> None:
    room.refuse_updates = True
    with caplog.at_level(logging.INFO, "web.booth"):
        status, body = await booth(client, "ian", "take")
    assert status == 200 and body["mirrored"] is False
    assert (await state(client))["live"] == {"en": "ian"}
    failed = [r for r in caplog.records if r.getMessage() == "booth mirror failed"]
    assert failed and failed[0].levelno == logging.WARNING
    assert vars(failed[0])["identity"] == "ian"


async def test_each_change_is_logged_without_tokens(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, "web.booth"):
        await booth(client, "ian", "take")
        await booth(client, "ian", "take")  # no change, no line
        await booth(client, "ian", "release")
    changes = [r for r in caplog.records if r.getMessage() == "booth changed"]
    assert [
        tuple(vars(r)[k] for k in ("room", "action", "language", "identity")) for r in changes
    ] == [(ROOM, "take", "en", "ian"), (ROOM, "release", "en", "ian")]
    assert not any("eyJ" in str(vars(r)) for r in caplog.records)


async def test_two_web_apps_on_one_database_never_make_two_live(
    tmp_path: Path, room: FakeRoom
) -> None:
    url = database_url(db_url=None, data_dir=tmp_path)
    async with await TranscriptStore.open(url) as first, await TranscriptStore.open(url) as second:
        clients = []
        for transcripts in (first, second):
            store = BoothStore(transcripts.engine)
            await store.create_schema()
            app = build_app(CONFIG, participants=room, booth_store=store, room_directory=room)
            clients.append(TestClient(TestServer(app, host="127.0.0.1")))
        for c in clients:
            await c.start_server()
        try:
            for _ in range(20):
                results = await asyncio.gather(
                    booth(clients[0], "ian", "take"), booth(clients[1], "iva", "take")
                )
                assert sorted(status for status, _ in results) == [200, 409], results
                winner = "ian" if results[0][0] == 200 else "iva"
                assert (await state(clients[1]))["live"] == {"en": winner}
                assert (await booth(clients[0], winner, "release"))[0] == 200
        finally:
            for c in clients:
                await c.close()


# --- wiring -----------------------------------------------------------------------------------
async def test_the_booth_is_mounted_only_with_a_store(room: FakeRoom) -> None:
    app = build_app(CONFIG, participants=room)
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        assert (await c.get(BOOTH, headers=bearer(participant()))).status == 404


def test_the_protocol_names_the_booth_actions() -> None:
    assert protocol_document()["booth"]["actions"] == [
        "take",
        "release",
        "offer",
        "request",
        "accept",
        "decline",
        "direction",
    ]


async def test_livekit_unreachable_is_an_error_of_ours() -> None:
    directory = LiveKitParticipants(http_url="http://127.0.0.1:1", api_key=KEY, api_secret=SECRET)
    try:
        with pytest.raises(LiveKitUnavailableError):
            await directory.list_participants(ROOM)
        with pytest.raises(LiveKitUnavailableError):
            await directory.set_attributes(
                room=ROOM, identity="ian", attributes={"interpreter.live": "en"}
            )
        with pytest.raises(LiveKitUnavailableError):
            await directory.mute_tracks(room=ROOM, identity="ian")
    finally:
        await directory.aclose()
