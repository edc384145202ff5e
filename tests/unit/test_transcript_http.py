"""Transcript downloads over HTTP: tokens, errors and hostile parameters."""

from __future__ import annotations

import datetime
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import webvtt
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from captions import Caption
from captions.store import Meeting, TranscriptStore, database_url
from languages import Language
from web.tokens import mint_token
from web.transcripts import add_transcript_routes

KEY = "APItestkey"
SECRET = "s" * 40
T0 = 1_800_000_000.0
MEETING = Meeting(room_sid="RM_standup", room_name="standup", started_at=T0)


# minted when the module is collected (parametrize): valid for the longest suite run
def token(
    room: str = "standup", *, secret: str = SECRET, ttl: float = 6 * 3600, **grants: bool
) -> str:
    return mint_token(
        api_key=KEY,
        api_secret=secret,
        room=room,
        identity="reader",
        ttl=datetime.timedelta(seconds=ttl),
        **grants,  # type: ignore[arg-type]
    )


def auth(jwt: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt}"}


def caption(seg: str, lang: str, text: str, *, source: str | None = None) -> Caption:
    return Caption(
        segment_id=seg if source is None else f"{seg}:{lang}",
        source_segment_id=seg,
        speaker_identity="ana",
        speaker_name="Ana Lima",
        track_sid="TR_1",
        language=Language(lang),
        source_language=Language(source or lang),
        text=text,
        final=True,
        start=1.0,
        end=3.0,
        wall_time=T0 + 13.0,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[TranscriptStore]:
    s = await TranscriptStore.open(database_url(db_url=None, data_dir=tmp_path))
    await s.save_segment(MEETING, caption("ana-1", "en", "Hello <team> & --> all"))
    await s.save_translation(MEETING, caption("ana-1", "es", "Hola equipo", source="en"))
    try:
        yield s
    finally:
        await s.aclose()


@pytest.fixture
async def client(store: TranscriptStore) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application()
    add_transcript_routes(app, store=store, api_key=KEY, api_secret=SECRET)
    async with TestClient(TestServer(app)) as c:
        yield c


Client = TestClient[web.Request, web.Application]


async def test_a_room_token_downloads_webvtt_in_a_language(client: Client) -> None:
    resp = await client.get("/api/rooms/standup/transcript.vtt?lang=es", headers=auth(token()))
    assert resp.status == 200
    assert resp.content_type == "text/vtt"
    assert resp.charset == "utf-8"
    assert "standup-es.vtt" in resp.headers["Content-Disposition"]
    assert resp.headers["Cache-Control"] == "no-store"
    [cue] = webvtt.from_string(await resp.text()).captions
    assert (cue.voice, cue.text, cue.start) == ("Ana Lima", "Hola equipo", "00:00:11.000")


async def test_original_srt_and_json_downloads(client: Client) -> None:
    original = await client.get(
        "/api/rooms/standup/transcript.vtt?lang=original", headers=auth(token())
    )
    [cue] = webvtt.from_string(await original.text()).captions
    assert "Hello &lt;team&gt; &amp; --&gt; all" in cue.raw_text

    srt = await client.get("/api/rooms/standup/transcript.srt?lang=es", headers=auth(token()))
    assert srt.content_type == "application/x-subrip"
    [srt_cue] = webvtt.from_buffer(io.StringIO(await srt.text()), format="srt").captions
    assert srt_cue.raw_text == "Ana Lima: Hola equipo"

    js = await client.get("/api/rooms/standup/transcript.json?lang=es", headers=auth(token()))
    assert js.content_type == "application/json"
    data = await js.json()
    assert [s["text"] for s in data["segments"]] == ["Hola equipo"]

    default = await client.get("/api/rooms/standup/transcript.json", headers=auth(token()))
    assert (await default.json())["language"] == "original"


async def test_languages_lists_original_and_every_produced_language(client: Client) -> None:
    resp = await client.get("/api/rooms/standup/transcript/languages", headers=auth(token()))
    assert resp.status == 200
    assert await resp.json() == {"room": "standup", "languages": ["original", "en", "es"]}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        ({"Authorization": "Bearer "}, 401),
        ({"Authorization": "Bearer not.a.jwt"}, 401),
        (auth(token(ttl=-300)), 401),  # expired
        (auth(token(secret="x" * 40)), 401),  # signed with another secret
        (auth(token("other-room")), 403),
        (auth(token("standup-2")), 403),
    ],
    ids=["none", "basic", "empty", "garbage", "expired", "forged", "other-room", "prefix-room"],
)
async def test_requests_without_a_valid_token_for_this_room_are_refused(
    client: Client, headers: dict[str, str], status: int
) -> None:
    for path in (
        "/api/rooms/standup/transcript.vtt?lang=es",
        "/api/rooms/standup/transcript/languages",
    ):
        resp = await client.get(path, headers=headers)
        assert resp.status == status
        body = await resp.json()
        assert body["error"] in ("unauthorized", "forbidden")
        assert "Hola" not in json.dumps(body)


async def test_a_tampered_token_is_refused(client: Client) -> None:
    header, _payload, signature = token("other-room").split(".")
    genuine_payload = token().split(".")[1]
    forged = ".".join((header, genuine_payload, signature))  # other room's signature
    resp = await client.get("/api/rooms/standup/transcript.vtt", headers=auth(forged))
    assert resp.status == 401
    unsigned = ".".join((header, genuine_payload, ""))
    resp = await client.get("/api/rooms/standup/transcript.vtt", headers=auth(unsigned))
    assert resp.status == 401


async def test_a_room_with_nothing_said_yet_lists_no_languages(client: Client) -> None:
    # the page asks on joining: an empty room is not an error (no 404 in the page's console)
    resp = await client.get("/api/rooms/empty/transcript/languages", headers=auth(token("empty")))
    assert resp.status == 200
    assert await resp.json() == {"room": "empty", "languages": []}
    resp = await client.get(
        "/api/rooms/empty/transcript/languages?meeting=RM_nope", headers=auth(token("empty"))
    )
    assert resp.status == 404
    resp = await client.get("/api/rooms/empty/transcript/languages")
    assert resp.status == 401


async def test_unknown_rooms_languages_and_formats_are_404_json(client: Client) -> None:
    resp = await client.get("/api/rooms/empty/transcript.vtt", headers=auth(token("empty")))
    assert resp.status == 404
    assert (await resp.json())["error"] == "not_found"

    resp = await client.get("/api/rooms/standup/transcript.vtt?lang=fr", headers=auth(token()))
    assert resp.status == 404
    body = await resp.json()
    assert body["error"] == "unknown_language"
    assert body["languages"] == ["original", "en", "es"]

    resp = await client.get("/api/rooms/standup/transcript.vtt?lang=xx-zz", headers=auth(token()))
    assert resp.status == 404

    resp = await client.get("/api/rooms/standup/transcript.exe", headers=auth(token()))
    assert resp.status == 404
    assert (await resp.json())["error"] == "unknown_format"

    resp = await client.get(
        "/api/rooms/standup/transcript.vtt?meeting=RM_nope", headers=auth(token())
    )
    assert resp.status == 404


@pytest.mark.parametrize(
    "room",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "x'%20OR%20'1'%3D'1",
        "standup%0A",
        "standup%00",
        "%25",
        "a" * 129,
        "-leading-dash",
    ],
)
async def test_hostile_room_names_are_refused_before_any_lookup(
    client: Client, store: TranscriptStore, room: str
) -> None:
    # even with a token minted for exactly that (decoded) name
    from urllib.parse import unquote

    jwt = token(unquote(room))
    for path in (f"/api/rooms/{room}/transcript.vtt", f"/api/rooms/{room}/transcript/languages"):
        resp = await client.get(path, headers=auth(jwt))
        assert resp.status in (400, 404)
        assert (await resp.json())["error"] in ("invalid_room", "not_found")
    assert len(await store.segments("standup", Language("es"))) == 1  # nothing was harmed


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("lang=es'%20OR%20'1'%3D'1", 400),
        ("lang=es;DROP%20TABLE%20segments", 400),
        ("lang=" + "e" * 40, 400),
        ("lang=../../etc", 400),
        ("lang=es&meeting=RM_x'%20OR%20'1'%3D'1", 400),
        ("lang=es&meeting=%25", 400),
    ],
)
async def test_hostile_parameters_are_refused(
    client: Client, store: TranscriptStore, query: str, status: int
) -> None:
    resp = await client.get(f"/api/rooms/standup/transcript.vtt?{query}", headers=auth(token()))
    assert resp.status == status
    assert (await resp.json())["error"] in ("invalid_language", "invalid_meeting")
    assert len(await store.segments("standup", Language("es"))) == 1


async def test_language_names_are_normalised(client: Client) -> None:
    resp = await client.get("/api/rooms/standup/transcript.json?lang=ES", headers=auth(token()))
    assert resp.status == 200
    assert (await resp.json())["language"] == "es"
