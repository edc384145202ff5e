"""The web app's token service and language switch, through HTTP on loopback (no LiveKit)."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from livekit import api

from captions.protocol import MAX_ROOM_NAME, protocol_document
from captions.store import TranscriptStore, database_url
from interpreter.config import DEV_API_KEY, DEV_API_SECRET
from languages import Language
from web.app import ParticipantNotInRoomError, WebConfig, build_app
from web.tokens import mint_token

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"
CONFIG = WebConfig(
    ws_url="ws://127.0.0.1:7880", api_key=DEV_API_KEY, api_secret=DEV_API_SECRET, dev_keys=True
)


@dataclass
class FakeParticipants:
    """Records language switches; ``missing`` identities are not in their room."""

    calls: list[tuple[str, str, str]] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)

    async def set_language(self, *, room: str, identity: str, language: Language) -> None:
        if identity in self.missing:
            raise ParticipantNotInRoomError("participant is not in the room")
        self.calls.append((room, identity, language))


@pytest.fixture
def participants() -> FakeParticipants:
    return FakeParticipants()


@pytest.fixture
async def client(participants: FakeParticipants) -> AsyncIterator[TestClient[Any, Any]]:
    app = build_app(CONFIG, participants=participants)
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


def claims(token: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the short development secret
        return api.TokenVerifier(DEV_API_KEY, DEV_API_SECRET).verify(token)


async def ask_token(client: TestClient[Any, Any], **body: object) -> tuple[int, dict[str, Any]]:
    payload = {"room": "board-meeting", "name": "Ana Lima", "language": "es"} | body
    resp = await client.post("/api/token", json=payload)
    return resp.status, await resp.json()


async def test_participant_token_joins_the_room_with_name_and_language(
    client: TestClient[Any, Any],
) -> None:
    status, body = await ask_token(client, role="participant", language="Spanish")
    assert status == 200
    assert body["url"] == "ws://127.0.0.1:7880"
    c = claims(body["token"])
    assert c.video.room == "board-meeting" and c.video.room_join
    assert c.video.can_publish and c.video.can_subscribe
    assert not c.video.can_update_own_metadata
    assert c.name == "Ana Lima"
    assert c.attributes == {"language": "es", "role": "participant"}
    assert c.identity == body["identity"]
    assert c.identity.startswith("ana-lima-")


async def test_listener_may_only_subscribe(client: TestClient[Any, Any]) -> None:
    status, body = await ask_token(client, role="listener", language="pt-br")
    assert status == 200
    c = claims(body["token"])
    assert c.video.can_subscribe
    assert not c.video.can_publish
    assert not c.video.can_publish_data
    assert c.attributes["language"] == "pt-BR"


async def test_each_join_gets_its_own_identity(client: TestClient[Any, Any]) -> None:
    identities = {(await ask_token(client))[1]["identity"] for _ in range(5)}
    assert len(identities) == 5


async def test_no_one_can_pass_for_a_translator_agent(client: TestClient[Any, Any]) -> None:
    for name in ("translator", "Translator ana", "agent smith", "!!!", "Žofie Ďurišová"):
        status, body = await ask_token(client, name=name)
        assert status == 200
        identity = body["identity"]
        assert not identity.startswith(("translator", "agent")), identity
        assert identity.replace("-", "").isalnum() and identity.isascii(), identity


@pytest.mark.parametrize("role", ["interpreter", "agent", "Interpreter", "admin"])
async def test_privileged_roles_are_refused(client: TestClient[Any, Any], role: str) -> None:
    status, body = await ask_token(client, role=role)
    assert status == 403
    assert body["error"] == "role_refused"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"role": "speaker"}, "invalid_role"),
        ({"room": "board meeting"}, "invalid_room"),
        ({"room": "../etc"}, "invalid_room"),
        ({"room": "r" * (MAX_ROOM_NAME + 1)}, "invalid_room"),
        ({"room": ".hidden"}, "invalid_room"),
        ({"room": ""}, "invalid_room"),
        ({"name": "x" * 65}, "invalid_name"),
        ({"name": "   "}, "invalid_name"),
        ({"name": "Ana\u0000"}, "invalid_name"),
        ({"name": 42}, "invalid_name"),
        ({"language": "klingon"}, "unknown_language"),
        ({"language": ""}, "unknown_language"),
    ],
)
async def test_bad_requests_are_refused_with_a_json_error(
    client: TestClient[Any, Any], body: dict[str, object], error: str
) -> None:
    status, answer = await ask_token(client, **body)
    assert status == 400
    assert answer["error"] == error
    assert answer["message"]


async def test_missing_fields_and_broken_json_are_refused(client: TestClient[Any, Any]) -> None:
    resp = await client.post("/api/token", json={"room": "r1", "language": "en"})
    assert resp.status == 400
    assert "name" in (await resp.json())["message"]
    resp = await client.post("/api/token", data=b"{not json", headers={"Content-Type": "x"})
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_json"
    resp = await client.post("/api/token", json=["room"])
    assert resp.status == 400
    resp = await client.get("/api/token")
    assert resp.status == 405
    assert "error" in await resp.json()


async def test_language_switch_sets_the_callers_attribute(
    client: TestClient[Any, Any], participants: FakeParticipants
) -> None:
    _, grant = await ask_token(client, language="en")
    resp = await client.post(
        "/api/language",
        json={"language": "français"},
        headers={"Authorization": f"Bearer {grant['token']}"},
    )
    assert resp.status == 200
    assert (await resp.json())["language"] == "fr"
    assert participants.calls == [("board-meeting", grant["identity"], "fr")]


async def test_language_switch_needs_a_valid_token(
    client: TestClient[Any, Any], participants: FakeParticipants
) -> None:
    resp = await client.post("/api/language", json={"language": "fr"})
    assert resp.status == 401
    forged = mint_token(
        api_key=DEV_API_KEY,
        api_secret="another-secret-that-is-long-enough-to-sign",
        room="board-meeting",
        identity="ana",
    )
    resp = await client.post(
        "/api/language", json={"language": "fr"}, headers={"Authorization": f"Bearer {forged}"}
    )
    assert resp.status == 401
    assert participants.calls == []


async def test_language_switch_refuses_unknown_languages_and_absent_callers(
    client: TestClient[Any, Any], participants: FakeParticipants
) -> None:
    _, grant = await ask_token(client)
    auth = {"Authorization": f"Bearer {grant['token']}"}
    resp = await client.post("/api/language", json={"language": "elvish"}, headers=auth)
    assert resp.status == 400
    assert (await resp.json())["error"] == "unknown_language"
    participants.missing.add(grant["identity"])
    resp = await client.post("/api/language", json={"language": "de"}, headers=auth)
    assert resp.status == 409
    assert (await resp.json())["error"] == "not_in_room"
    assert participants.calls == []


async def test_languages_are_offered_in_their_own_names(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/api/languages")
    assert resp.status == 200
    languages = {lang["code"]: lang for lang in (await resp.json())["languages"]}
    assert languages["es"]["name"] == "español"
    assert languages["es"]["english"] == "Spanish"
    assert languages["de"]["name"] == "Deutsch"
    assert "pt-BR" in languages
    assert len(languages) > 100


async def test_config_tells_the_page_where_livekit_is(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/api/config")
    body = await resp.json()
    assert body["livekit_url"] == "ws://127.0.0.1:7880"
    assert body["roles"] == ["participant", "listener"]
    assert body["transcripts"] is False


async def test_page_and_assets_are_served_without_a_cdn(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/")
    assert resp.status == 200
    html = await resp.text()
    assert "Content-Security-Policy" in resp.headers
    assert '<script type="module" src="/static/page.js">' in html
    assert "http://" not in html and "https://" not in html
    for path in ("/static/page.js", "/static/style.css", "/static/vendor/livekit-client.esm.js"):
        assert (await client.get(path)).status == 200
    assert (await client.get("/static/../app.py")).status == 404


async def test_the_page_is_es_modules_without_test_hooks_or_copied_names(
    client: TestClient[Any, Any],
) -> None:
    modules = sorted(STATIC.glob("*.js"))
    assert {m.name for m in modules} >= {"page.js", "room.js", "captions.js", "protocol.js"}
    for module in modules:
        resp = await client.get(f"/static/{module.name}")
        assert resp.status == 200
        assert resp.content_type in ("text/javascript", "application/javascript")
        source = await resp.text()
        # the tests' hook (tests/browser/page_hook.mjs) is injected by the test driver only
        assert "interpreterPage" not in source and "snapshot" not in source, module.name
        # every wire name comes from GET /api/protocol
        for name in ("translator-", "lk.transcription", "lk.segment_id", "interpreter.source"):
            assert f"'{name}" not in source, (module.name, name)
    for reusable in ("room.js", "captions.js", "ducking.js", "transcripts.js"):
        # reusable by another page: no lookups of index.html's elements
        assert "getElementById" not in (STATIC / reusable).read_text(), reusable


async def test_transcript_endpoints_are_mounted_with_a_store(tmp_path: Path) -> None:
    store = await TranscriptStore.open(database_url(db_url=None, data_dir=tmp_path))
    try:
        app = build_app(CONFIG, participants=FakeParticipants(), transcript_store=store)
        async with TestClient(TestServer(app, host="127.0.0.1")) as c:
            assert (await (await c.get("/api/config")).json())["transcripts"] is True
            token = mint_token(
                api_key=DEV_API_KEY, api_secret=DEV_API_SECRET, room="r1", identity="ana"
            )
            resp = await c.get(
                "/api/rooms/r1/transcript/languages", headers={"Authorization": f"Bearer {token}"}
            )
            # mounted: a room with nothing said yet has no transcript languages (and no 404)
            assert resp.status == 200
            assert await resp.json() == {"room": "r1", "languages": []}
            resp = await c.get(
                "/api/rooms/r1/transcript.vtt", headers={"Authorization": f"Bearer {token}"}
            )
            assert resp.status == 404
            assert (await resp.json())["error"] == "not_found"
            resp = await c.get("/api/rooms/r1/transcript/languages")
            assert resp.status == 401
    finally:
        await store.aclose()


async def test_room_names_follow_the_one_protocol_rule(client: TestClient[Any, Any]) -> None:
    longest = "r" * MAX_ROOM_NAME  # the transcript endpoints serve such a room too
    status, body = await ask_token(client, room=longest)
    assert status == 200
    assert claims(body["token"]).video.room == longest
    status, body = await ask_token(client, room="v1.2~draft")
    assert status == 200, body


async def test_the_page_gets_the_protocol_from_the_server(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/api/protocol")
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    served = await resp.json()
    assert served == protocol_document()
    assert served["language_matching"]["region_scripts"]["zh-TW"] == "Hant"
    assert (await (await client.get("/api/config")).json())["protocol"] == "/api/protocol"


async def test_dev_keys_sign_quietly_and_are_announced_once_at_start_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = build_app(CONFIG, participants=FakeParticipants())
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING, "web"):
        warnings.simplefilter("always")
        async with TestClient(TestServer(app, host="127.0.0.1")) as c:
            for _ in range(3):
                _, grant = await ask_token(c)
                resp = await c.post(
                    "/api/language",
                    json={"language": "fr"},
                    headers={"Authorization": f"Bearer {grant['token']}"},
                )
                assert resp.status == 200
        mint_token(api_key=DEV_API_KEY, api_secret=DEV_API_SECRET, room="r1", identity="ana")
    assert [str(w.message) for w in caught] == []
    notices = [r for r in caplog.records if "development keys" in r.getMessage()]
    assert len(notices) == 1


async def test_real_keys_are_not_announced(caplog: pytest.LogCaptureFixture) -> None:
    config = WebConfig(ws_url="ws://127.0.0.1:7880", api_key="APIkey", api_secret="s" * 40)
    app = build_app(config, participants=FakeParticipants())
    with caplog.at_level(logging.WARNING, "web"):
        async with TestClient(TestServer(app, host="127.0.0.1")) as c:
            assert (await ask_token(c))[0] == 200
    assert not [r for r in caplog.records if "development keys" in r.getMessage()]


def test_web_imports_nothing_of_the_app() -> None:
    # web/ builds on captions/ and languages/ only; the CLI hands it a WebConfig
    code = (
        "import sys, web.app, web.transcripts, web.tokens, web.config, web.errors\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'interpreter'))"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
