"""Room passcodes: hashed in the database (SQLite and PostgreSQL), set by an organizer over HTTP
or by the API key holder with the CLI, and asked by the token endpoint before it mints a token."""

from __future__ import annotations

import argparse
import datetime
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from captions.store import TranscriptStore, database_url
from interpreter.access_cli import act_over_http, run_access
from web.access_store import (
    AccessStore,
    PasscodeError,
    check_passcode,
    hash_passcode,
    room_access,
    verify_passcode,
)
from web.app import WebConfig, build_app
from web.tokens import TokenChecker, mint_token, room_admin_token

KEY = "APItestkey"
SECRET = "s" * 40
CONFIG = WebConfig(ws_url="ws://127.0.0.1:7880", api_key=KEY, api_secret=SECRET)
ACCESS = "/api/rooms/board/access"
JOIN = {"room": "board", "name": "Ana", "language": "es", "role": "participant"}

Client = TestClient[web.Request, web.Application]


def organizer(room: str = "board") -> dict[str, str]:
    token = room_admin_token(
        api_key=KEY, api_secret=SECRET, room=room, ttl=datetime.timedelta(minutes=5)
    )
    return {"Authorization": f"Bearer {token}"}


def joiner(room: str = "board") -> dict[str, str]:
    token = mint_token(api_key=KEY, api_secret=SECRET, room=room, identity="ana-1")
    return {"Authorization": f"Bearer {token}"}


# --- passcodes and their hashes ---------------------------------------------------------------
def test_a_passcode_is_stored_as_a_salted_hash_that_only_it_matches() -> None:
    stored = hash_passcode("correct horse")
    assert "correct horse" not in stored and stored.startswith("scrypt$")
    assert verify_passcode("correct horse", stored)
    assert not verify_passcode("correct hors", stored)
    assert not verify_passcode("Correct horse", stored)
    assert hash_passcode("correct horse") != stored  # a fresh salt each time
    assert not verify_passcode("correct horse", "scrypt$broken")
    assert not verify_passcode("correct horse", "md5$1$2$3$4$5")


def test_the_same_passcode_typed_in_another_unicode_form_matches() -> None:
    stored = hash_passcode(check_passcode("cafe\u0301-123 "))  # e + combining accent
    assert verify_passcode("caf\u00e9-123", stored)
    assert verify_passcode(" caf\u00e9-123\t", stored)  # surrounding whitespace is not part


@pytest.mark.parametrize(
    ("passcode", "why"),
    [
        ("12345", "6 to 128"),
        ("  12345  ", "6 to 128"),
        ("x" * 129, "6 to 128"),
        ("abc\ndef", "control"),
        (123456, "string"),
    ],
)
def test_unusable_passcodes_are_refused_with_the_reason(passcode: object, why: str) -> None:
    with pytest.raises(PasscodeError, match=why):
        check_passcode(passcode)


# --- the store, on both databases ----------------------------------------------------------
async def test_the_store_admits_by_the_rooms_passcode(db_url: str) -> None:
    async with await TranscriptStore.open(db_url) as transcripts:
        store = AccessStore(transcripts.engine)
        await store.create_schema()
        await store.create_schema()  # idempotent (several processes start at once)
        assert await store.admit("board", None) == "open"
        assert await store.admit("board", "anything") == "open"
        await store.set_passcode("board", "s3cret-board")
        assert await store.has_passcode("board")
        assert not await store.has_passcode("lobby")
        assert await store.admit("board", None) == "passcode_required"
        assert await store.admit("board", "") == "passcode_required"
        assert await store.admit("board", "wrong-one") == "wrong_passcode"
        assert await store.admit("board", "s3cret-board") == "admitted"
        await store.set_passcode("board", "new-passcode")  # replaces the old one
        assert await store.admit("board", "s3cret-board") == "wrong_passcode"
        assert await store.admit("board", "new-passcode") == "admitted"
        with transcripts.engine.connect() as conn:
            stored = conn.execute(sa.select(room_access.c.passcode_hash)).scalars().all()
        assert len(stored) == 1 and "new-passcode" not in stored[0]
        assert await store.clear("board")
        assert not await store.clear("board")
        assert await store.admit("board", None) == "open"
        await store.ping()


# --- over HTTP --------------------------------------------------------------------------------
@pytest.fixture
async def transcripts(tmp_path: Path) -> AsyncIterator[TranscriptStore]:
    async with await TranscriptStore.open(database_url(db_url=None, data_dir=tmp_path)) as s:
        yield s


@pytest.fixture
async def access(transcripts: TranscriptStore) -> AccessStore:
    store = AccessStore(transcripts.engine)
    await store.create_schema()
    return store


async def _client(config: WebConfig, access: AccessStore) -> Client:
    app = build_app(config, access_store=access, ready_checks={"database": access.ping})
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def client(access: AccessStore) -> AsyncIterator[Client]:
    client = await _client(CONFIG, access)
    yield client
    await client.close()


async def test_a_room_with_a_passcode_gives_tokens_only_for_it(client: Client) -> None:
    assert (await client.post("/api/token", json=JOIN)).status == 200  # open until set
    resp = await client.put(ACCESS, json={"passcode": "board-2026"}, headers=organizer())
    assert resp.status == 200
    assert await resp.json() == {"room": "board", "rule": "passcode"}

    missing = await client.post("/api/token", json=JOIN)
    assert missing.status == 401
    assert (await missing.json())["error"] == "passcode_required"
    wrong = await client.post("/api/token", json={**JOIN, "passcode": "board-2025"})
    assert wrong.status == 403
    assert (await wrong.json())["error"] == "wrong_passcode"
    right = await client.post("/api/token", json={**JOIN, "passcode": "board-2026"})
    assert right.status == 200
    claims = TokenChecker(api_key=KEY, api_secret=SECRET).verify((await right.json())["token"])
    assert claims.video is not None and claims.video.room == "board"
    # other rooms are not affected
    assert (await client.post("/api/token", json={**JOIN, "room": "lobby"})).status == 200

    resp = await client.delete(ACCESS, headers=organizer())
    assert await resp.json() == {"room": "board", "rule": "open"}
    assert (await client.post("/api/token", json=JOIN)).status == 200


async def test_only_the_rooms_organizer_sets_or_reads_its_passcode(client: Client) -> None:
    body = {"passcode": "board-2026"}
    assert (await client.put(ACCESS, json=body)).status == 401
    refused = await client.put(ACCESS, json=body, headers=joiner())
    assert refused.status == 403 and "roomAdmin" in (await refused.json())["message"]
    assert (await client.put(ACCESS, json=body, headers=organizer("lobby"))).status == 403
    assert (await client.get(ACCESS, headers=joiner())).status == 403
    assert (await client.delete(ACCESS, headers=joiner())).status == 403
    short = await client.put(ACCESS, json={"passcode": "1234"}, headers=organizer())
    assert short.status == 400 and (await short.json())["error"] == "invalid_passcode"
    resp = await client.get(ACCESS, headers=organizer())
    assert await resp.json() == {"room": "board", "rule": "open"}
    assert (await client.post("/api/token", json=JOIN)).status == 200


async def test_a_deployment_can_close_every_room_without_a_passcode(access: AccessStore) -> None:
    config = WebConfig(
        ws_url="ws://127.0.0.1:7880", api_key=KEY, api_secret=SECRET, room_access="passcode"
    )
    client = await _client(config, access)
    try:
        closed = await client.post("/api/token", json=JOIN)
        assert closed.status == 403 and (await closed.json())["error"] == "room_closed"
        assert (await (await client.get(ACCESS, headers=organizer())).json())["rule"] == "closed"
        await client.put(ACCESS, json={"passcode": "board-2026"}, headers=organizer())
        ok = await client.post("/api/token", json={**JOIN, "passcode": "board-2026"})
        assert ok.status == 200
    finally:
        await client.close()
    with pytest.raises(ValueError, match="access store"):
        build_app(config)


def _break_sqlite(store: TranscriptStore) -> None:
    """Replace the SQLite file by a directory, which SQLite cannot open."""
    store.engine.dispose()
    path = Path(str(store.engine.url.database))
    path.unlink()
    path.mkdir()


async def test_the_database_gone_refuses_joins_of_any_room_and_readyz_says_so(
    client: Client, transcripts: TranscriptStore
) -> None:
    assert (await client.get("/readyz")).status == 200
    _break_sqlite(transcripts)
    refused = await client.post("/api/token", json=JOIN)
    assert refused.status == 503 and (await refused.json())["error"] == "store_unavailable"
    ready = await client.get("/readyz")
    assert ready.status == 503
    assert await ready.json() == {"status": "not_ready", "checks": {"database": "unavailable"}}
    assert (await client.get("/healthz")).status == 200


# --- the CLI ----------------------------------------------------------------------------------
def _args(action: str, room: str = "board", **extra: Any) -> argparse.Namespace:
    return argparse.Namespace(access_command=action, room=room, **extra)


def test_the_cli_sets_shows_and_clears_a_passcode(tmp_path: Path) -> None:
    url = database_url(db_url=None, data_dir=tmp_path)
    out = io.StringIO()
    assert run_access(_args("show"), db_url=url, out=out) == 0
    code = run_access(
        _args("set", passcode_stdin=True),
        db_url=url,
        out=out,
        stdin=io.StringIO("from-the-pipe\n"),
    )
    assert code == 0
    assert run_access(_args("show"), db_url=url, out=out, rule="passcode") == 0
    answers = iter(["typed-twice", "typed-twice"])
    assert (
        run_access(_args("set", passcode_stdin=False), db_url=url, prompt=lambda _: next(answers))
        == 0
    )
    assert run_access(_args("clear"), db_url=url, out=out) == 0
    assert run_access(_args("clear"), db_url=url, out=out) == 0
    assert run_access(_args("show"), db_url=url, out=out, rule="passcode") == 0
    assert out.getvalue().splitlines() == [
        "room board: open",
        "room board: passcode set",
        "room board: passcode",
        "room board: passcode removed",
        "room board: had no passcode",
        "room board: closed",
    ]


def test_the_cli_refuses_mismatched_or_short_passcodes_and_bad_rooms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = database_url(db_url=None, data_dir=tmp_path)
    answers = iter(["one-passcode", "another-one"])
    args = _args("set", passcode_stdin=False)
    assert run_access(args, db_url=url, prompt=lambda _: next(answers)) == 2
    assert "differ" in capsys.readouterr().err
    short = _args("set", passcode_stdin=True)
    assert run_access(short, db_url=url, stdin=io.StringIO("123\n")) == 2
    assert "6 to 128" in capsys.readouterr().err
    assert run_access(_args("show", room="bad room"), db_url=url) == 2


async def test_the_cli_can_go_through_the_web_app_with_the_api_key(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    web_url = str(client.make_url("/")).rstrip("/")
    admin = room_admin_token(api_key=KEY, api_secret=SECRET, room="board")
    out = io.StringIO()
    assert await act_over_http("set", "board", "over-http-1", web_url, admin, out) == 0
    assert await act_over_http("show", "board", None, web_url, admin, out) == 0
    assert (await client.post("/api/token", json={**JOIN, "passcode": "over-http-1"})).status == 200
    assert await act_over_http("clear", "board", None, web_url, admin, out) == 0
    assert out.getvalue().splitlines() == [
        "room board: passcode set",
        "room board: passcode",
        "room board: passcode removed, now open",
    ]
    other_room = room_admin_token(api_key=KEY, api_secret=SECRET, room="lobby")
    assert await act_over_http("set", "board", "over-http-2", web_url, other_room, out) == 1
    assert "403" in capsys.readouterr().err
    assert await act_over_http("show", "board", None, "http://127.0.0.1:9", admin, out) == 1
    assert "no answer" in capsys.readouterr().err
