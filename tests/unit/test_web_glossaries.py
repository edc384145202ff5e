"""Room glossaries over HTTP, through the whole web app on loopback: an organizer's token sets,
downloads and removes a room's glossary; everyone else is refused with JSON."""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from captions.store import TranscriptStore, database_url
from glossary import MAX_BYTES
from glossary.store import GlossaryStore
from web.app import WebConfig, _serving_app, build_app
from web.tokens import mint_token, room_admin_token

KEY = "APItestkey"
SECRET = "s" * 40
CONFIG = WebConfig(ws_url="ws://127.0.0.1:7880", api_key=KEY, api_secret=SECRET)
PATH = "/api/rooms/standup/glossary"

CSV = b"en,es,keep\ndeliverable,entregable,\ndata center,centro de datos,\nNimbus,,yes\n"
JSON = b'{"terms": [{"en": "budget", "es": "presupuesto"}], "keep": ["Acme Cloud"]}'
TBX = b"""<?xml version="1.0" encoding="UTF-8"?>
<martif type="TBX-Basic"><text><body>
 <termEntry><langSet xml:lang="en"><tig><term>deliverable</term></tig></langSet>
  <langSet xml:lang="es"><tig><term>entregable</term></tig></langSet></termEntry>
</body></text></martif>
"""
BAD_CSV = b"en,es\nbudget,presupuesto\nbudget,cuenta\nfoo,\n"

Client = TestClient[web.Request, web.Application]


# tokens are minted when the module is collected (parametrize): valid for the longest suite run
def organizer(room: str = "standup", *, secret: str = SECRET, ttl: float = 6 * 3600) -> str:
    return room_admin_token(
        api_key=KEY, api_secret=secret, room=room, ttl=datetime.timedelta(seconds=ttl)
    )


def auth(token: str, content_type: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


@pytest.fixture
async def transcripts(tmp_path: Path) -> AsyncIterator[TranscriptStore]:
    async with await TranscriptStore.open(database_url(db_url=None, data_dir=tmp_path)) as s:
        yield s


@pytest.fixture
async def store(transcripts: TranscriptStore) -> GlossaryStore:
    glossaries = GlossaryStore(transcripts.engine)
    await glossaries.create_schema()
    return glossaries


class _NoParticipants:
    async def set_language(self, **_: Any) -> None:
        raise AssertionError("not used here")


@pytest.fixture
async def client(transcripts: TranscriptStore, store: GlossaryStore) -> AsyncIterator[Client]:
    app = build_app(
        CONFIG,
        participants=_NoParticipants(),
        transcript_store=transcripts,
        glossary_store=store,
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


async def put(client: Client, body: bytes, content_type: str = "text/csv", **kw: Any) -> Any:
    return await client.put(PATH, data=body, headers=auth(organizer(**kw), content_type))


async def test_an_organizer_sets_a_glossary_and_downloads_it_as_sent(client: Client) -> None:
    resp = await put(client, CSV)
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert await resp.json() == {"room": "standup", "terms": 3, "format": "csv", "revision": 1}

    got = await client.get(PATH, headers=auth(organizer()))
    assert got.status == 200
    assert got.content_type == "text/csv"
    assert await got.read() == CSV
    assert "standup-glossary.csv" in got.headers["Content-Disposition"]
    assert got.headers["Cache-Control"] == "no-store"

    again = await put(client, JSON, "application/json; charset=utf-8")
    assert await again.json() == {"room": "standup", "terms": 2, "format": "json", "revision": 2}
    got = await client.get(PATH, headers=auth(organizer()))
    assert (got.content_type, await got.read()) == ("application/json", JSON)


@pytest.mark.parametrize(
    ("content_type", "body", "fmt"),
    [
        ("application/x-tbx", TBX, "tbx"),
        ("application/tbx+xml", TBX, "tbx"),
        ("application/xml", TBX, "tbx"),
        ("TEXT/CSV", CSV, "csv"),
    ],
)
async def test_every_content_type_of_a_glossary_format_is_taken(
    client: Client, content_type: str, body: bytes, fmt: str
) -> None:
    resp = await put(client, body, content_type)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["format"] == fmt
    got = await client.get(PATH, headers=auth(organizer()))
    assert await got.read() == body


async def test_files_far_beyond_the_apps_small_body_limit_are_taken(client: Client) -> None:
    rows = "".join(f"term{i},término{i}\n" for i in range(20_000))
    big = f"en,es\n{rows}".encode()
    assert 4096 < len(big) < MAX_BYTES
    resp = await put(client, big)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["terms"] == 20_000


async def test_a_refused_file_lists_its_problems_with_line_numbers_and_stores_nothing(
    client: Client,
) -> None:
    resp = await put(client, BAD_CSV)
    assert resp.status == 400
    body = await resp.json()
    assert body["error"] == "invalid_glossary"
    assert "2 problems" in body["message"]
    assert [p["line"] for p in body["problems"]] == [3, 4]
    assert "conflicting entries" in body["problems"][0]["message"]
    assert body["problem_count"] == 2

    empty = await put(client, b"")
    assert empty.status == 400
    [problem] = (await empty.json())["problems"]
    assert problem["line"] is None

    got = await client.get(PATH, headers=auth(organizer()))
    assert got.status == 404


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        (auth("not.a.jwt"), 401),
        (auth(organizer(ttl=-300)), 401),  # expired
        (auth(organizer(secret="x" * 40)), 401),  # signed with another secret
        (auth(organizer("other-room")), 403),
        (auth(organizer("standup-2")), 403),
        (auth(mint_token(api_key=KEY, api_secret=SECRET, room="standup", identity="ana")), 403),
    ],
    ids=["none", "basic", "garbage", "expired", "forged", "other-room", "prefix-room", "joiner"],
)
async def test_only_an_admin_token_for_this_room_may_touch_its_glossary(
    client: Client, store: GlossaryStore, headers: dict[str, str], status: int
) -> None:
    await store.put("standup", CSV, "csv")
    sending = {**headers, "Content-Type": "text/csv"}
    for method in ("PUT", "GET", "DELETE"):
        resp = await client.request(method, PATH, data=JSON, headers=sending)
        assert resp.status == status, method
        body = await resp.json()
        assert body["error"] == ("unauthorized" if status == 401 else "forbidden")
        assert resp.headers["Cache-Control"] == "no-store"
        assert "entregable" not in json.dumps(body)
    kept = await store.get("standup")
    assert kept is not None and (kept.data, kept.revision) == (CSV, 1)


async def test_a_joiners_token_is_told_it_lacks_room_admin(client: Client) -> None:
    joiner = mint_token(api_key=KEY, api_secret=SECRET, room="standup", identity="ana")
    resp = await client.get(PATH, headers=auth(joiner))
    assert resp.status == 403
    assert "roomAdmin" in (await resp.json())["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", None])
async def test_a_body_that_is_not_a_glossary_format_is_415(
    client: Client, content_type: str | None
) -> None:
    headers = auth(organizer(), content_type)
    resp = await client.put(PATH, data=CSV, headers=headers, skip_auto_headers=["Content-Type"])
    assert resp.status == 415
    body = await resp.json()
    assert body["error"] == "unsupported_media_type"
    assert "text/csv" in body["message"]


async def test_a_file_over_the_limit_is_413_whether_its_length_is_announced_or_not(
    client: Client, store: GlossaryStore
) -> None:
    too_big = b"en,es\n" + b"x" * MAX_BYTES
    resp = await put(client, too_big)
    assert resp.status == 413
    body = await resp.json()
    assert body["error"] == "too_large"
    assert f"{MAX_BYTES:,}" in body["message"]

    async def chunked() -> AsyncIterator[bytes]:
        yield b"en,es\n"
        for _ in range(MAX_BYTES // 65536 + 1):
            yield b"a,b\n" * 16384

    resp = await client.put(PATH, data=chunked(), headers=auth(organizer(), "text/csv"))
    assert resp.status == 413
    assert await store.get("standup") is None


async def test_get_and_delete_of_a_room_without_a_glossary_are_404(client: Client) -> None:
    for method in ("GET", "DELETE"):
        resp = await client.request(method, PATH, headers=auth(organizer()))
        assert resp.status == 404, method
        assert (await resp.json())["error"] == "not_found"


async def test_delete_removes_the_glossary(client: Client, store: GlossaryStore) -> None:
    await put(client, CSV)
    resp = await client.delete(PATH, headers=auth(organizer()))
    assert resp.status == 200
    assert await resp.json() == {"room": "standup", "deleted": True}
    assert await store.get("standup") is None
    assert (await client.get(PATH, headers=auth(organizer()))).status == 404
    # set again: a revision no poller has seen before
    resp = await put(client, CSV)
    assert (await resp.json())["revision"] > 1


async def test_a_bad_room_name_is_400(client: Client) -> None:
    resp = await client.get("/api/rooms/bad%20room/glossary", headers=auth(organizer()))
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_room"


async def test_an_unavailable_store_is_503(tmp_path: Path) -> None:
    broken = sa.create_engine(f"sqlite:///{tmp_path / 'no' / 'dir' / 'db.sqlite3'}")
    app = build_app(CONFIG, participants=_NoParticipants(), glossary_store=GlossaryStore(broken))
    try:
        async with TestClient(TestServer(app, host="127.0.0.1")) as c:
            for method, body in (("PUT", CSV), ("GET", None), ("DELETE", None)):
                resp = await c.request(
                    method, PATH, data=body, headers=auth(organizer(), "text/csv")
                )
                assert resp.status == 503, method
                assert (await resp.json())["error"] == "store_unavailable"
    finally:
        broken.dispose()


async def test_setting_and_deleting_are_logged_without_the_token(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    token = organizer()
    with caplog.at_level(logging.INFO, logger="web.glossaries"):
        await client.put(PATH, data=CSV, headers=auth(token, "text/csv"))
        await client.delete(PATH, headers=auth(token))
    records = [r for r in caplog.records if r.name == "web.glossaries"]
    assert [r.getMessage() for r in records] == ["glossary set", "glossary deleted"]
    assert (records[0].room, records[0].terms, records[0].format) == ("standup", 3, "csv")  # type: ignore[attr-defined]
    assert all(token not in json.dumps(vars(r), default=str) for r in caplog.records)


async def test_the_served_app_keeps_glossaries_in_the_transcript_database(
    tmp_path: Path,
) -> None:
    url = database_url(db_url=None, data_dir=tmp_path)
    app = await _serving_app(
        WebConfig(ws_url="ws://127.0.0.1:7880", api_key=KEY, api_secret=SECRET, store_url=url)
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        assert (await c.put(PATH, data=CSV, headers=auth(organizer(), "text/csv"))).status == 200
    async with await TranscriptStore.open(url) as transcripts:
        stored = await GlossaryStore(transcripts.engine).get("standup")
    assert stored is not None and stored.data == CSV


async def test_without_a_glossary_store_there_are_no_glossary_endpoints(tmp_path: Path) -> None:
    app = build_app(CONFIG, participants=_NoParticipants())
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        resp = await c.get(PATH, headers=auth(organizer()))
        assert resp.status == 404
