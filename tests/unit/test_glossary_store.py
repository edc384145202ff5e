"""Room glossaries in the database, on SQLite and PostgreSQL (the ``db_url`` fixture): set,
read, replace, delete, revisions a poller can trust, and files refused before anything is
written."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from captions.store import TranscriptStore
from glossary import GlossaryError, GlossaryStoreError
from glossary.store import GlossaryStore, StoredGlossary
from languages import Language

EN, ES = Language("en"), Language("es")

CSV = b"""en,es,note,keep
deliverable,entregable,what we hand over,
data center,centro de datos,,
Nimbus,,our product,yes
"""
JSON = b'{"terms": [{"en": "budget", "es": "presupuesto"}], "keep": ["Acme Cloud"]}'
BAD_CSV = b"en,es\nbudget,presupuesto\nbudget,cuenta\nfoo,\n"


@pytest.fixture
async def transcripts(db_url: str) -> AsyncIterator[TranscriptStore]:
    async with await TranscriptStore.open(db_url) as store:
        yield store


@pytest.fixture
async def store(transcripts: TranscriptStore) -> GlossaryStore:
    glossaries = GlossaryStore(transcripts.engine)
    await glossaries.create_schema()
    return glossaries


async def test_a_set_glossary_comes_back_byte_for_byte_and_parsed(store: GlossaryStore) -> None:
    assert await store.get("standup") is None
    assert await store.revision("standup") is None
    assert await store.load("standup") is None

    put = await store.put("standup", CSV, "csv")
    assert (put.room, put.format, put.terms, put.revision) == ("standup", "csv", 3, 1)

    got = await store.get("standup")
    assert got == put
    assert isinstance(got.data, bytes) and got.data == CSV
    assert await store.revision("standup") == 1

    loaded = await store.load("standup")
    assert loaded is not None
    revision, glossary = loaded
    assert revision == 1 and len(glossary) == 3
    assert glossary.keep == ("Nimbus",)
    assert [c.term(ES) for c in glossary.concepts] == ["entregable", "centro de datos"]
    assert await store.get("other-room") is None  # rooms are separate


async def test_setting_again_replaces_the_file_and_raises_the_revision(
    store: GlossaryStore,
) -> None:
    await store.put("standup", CSV, "csv")
    again = await store.put("standup", JSON, "json")
    assert (again.format, again.terms, again.revision) == ("json", 2, 2)
    got = await store.get("standup")
    assert got is not None and (got.format, got.data) == ("json", JSON)
    assert await store.revision("standup") == 2


async def test_a_refused_file_stores_nothing_and_keeps_the_previous_glossary(
    store: GlossaryStore,
) -> None:
    with pytest.raises(GlossaryError) as caught:
        await store.put("standup", BAD_CSV, "csv")
    assert [p.line for p in caught.value.problems] == [3, 4]
    assert await store.get("standup") is None
    assert await store.revision("standup") is None

    await store.put("standup", CSV, "csv")
    with pytest.raises(GlossaryError):
        await store.put("standup", b"\xff\xfe not utf-8", "csv")
    kept = await store.get("standup")
    assert kept is not None and (kept.data, kept.revision) == (CSV, 1)


async def test_delete_removes_it_and_says_whether_there_was_one(store: GlossaryStore) -> None:
    assert await store.delete("standup") is False
    await store.put("standup", CSV, "csv")
    assert await store.delete("standup") is True
    assert await store.get("standup") is None
    assert await store.revision("standup") is None
    assert await store.load("standup") is None
    assert await store.delete("standup") is False


async def test_a_glossary_set_after_a_delete_never_repeats_a_revision(
    store: GlossaryStore,
) -> None:
    # A translator polling revision() reloads when the number changes: a new file after a
    # delete must not come back with a revision it already saw (and so be missed).
    seen = set()
    for _ in range(3):
        seen.add((await store.put("standup", CSV, "csv")).revision)
        assert await store.delete("standup")
    fresh = await store.put("standup", JSON, "json")
    assert fresh.revision not in seen
    assert fresh.revision > max(seen)
    assert await store.revision("standup") == fresh.revision


async def test_room_names_are_stored_verbatim_and_checked(store: GlossaryStore) -> None:
    hostile = "x'); DROP TABLE room_glossaries; --"
    await store.put(hostile, CSV, "csv")
    assert (await store.get(hostile)) is not None
    assert await store.get("x") is None
    for bad in ("", "r" * 129, "a\x00b"):
        with pytest.raises(ValueError):
            await store.put(bad, CSV, "csv")
        with pytest.raises(ValueError):
            await store.revision(bad)


async def test_two_stores_on_one_database_race_and_see_each_others_writes(db_url: str) -> None:
    async with (
        await TranscriptStore.open(db_url) as first,
        await TranscriptStore.open(db_url) as second,
    ):
        a, b = GlossaryStore(first.engine), GlossaryStore(second.engine)
        # two processes starting at once on a fresh database both create the table
        await asyncio.gather(a.create_schema(), b.create_schema())
        results = await asyncio.gather(*(store.put("standup", CSV, "csv") for store in (a, b) * 5))
        assert sorted(r.revision for r in results) == list(range(1, 11))
        assert await a.revision("standup") == await b.revision("standup") == 10
        await a.put("other", JSON, "json")
        seen = await b.get("other")
        assert isinstance(seen, StoredGlossary) and seen.data == JSON
        assert await b.delete("other")
        assert await a.get("other") is None


async def test_the_table_stands_on_its_own_next_to_any_tables(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'bare.sqlite3'}")
    try:
        store = GlossaryStore(engine)
        await store.create_schema()
        await store.create_schema()  # idempotent
        assert (await store.put("standup", CSV, "csv")).revision == 1
        assert sa.inspect(engine).get_table_names() == ["room_glossaries"]
    finally:
        engine.dispose()


async def test_database_failures_are_glossary_store_errors(tmp_path: Path) -> None:
    missing_table = sa.create_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    unreachable = sa.create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.sqlite3'}")
    try:
        with pytest.raises(GlossaryStoreError):  # no create_schema: no table
            await GlossaryStore(missing_table).revision("standup")
        store = GlossaryStore(unreachable)
        with pytest.raises(GlossaryStoreError) as caught:
            await store.create_schema()
        assert caught.value.retryable
        with pytest.raises(GlossaryStoreError) as caught:
            await store.put("standup", CSV, "csv")
        assert caught.value.retryable
        assert isinstance(caught.value.__cause__, sa.exc.SQLAlchemyError)
    finally:
        missing_table.dispose()
        unreachable.dispose()
