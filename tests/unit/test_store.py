"""The transcript store on SQLite and PostgreSQL: upserts, meetings, concurrency, retention.

PostgreSQL runs when ``INTERPRETER_TEST_PG_URL`` is set, or else on a throwaway cluster started
with ``scripts/pg_test_server.sh`` when the PostgreSQL binaries are installed (the ``db_url``
fixture of ``conftest.py``).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import multiprocessing
import os
import signal
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from captions import Caption
from captions.export import render
from captions.store import (
    ORIGINAL,
    AppliedTerm,
    Meeting,
    TranscriptNotFoundError,
    TranscriptStore,
    TranscriptStoreError,
    database_url,
)
from languages import Language

T0 = 1_800_000_000.0  # wall clock of the tests' meetings


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[TranscriptStore]:
    s = await TranscriptStore.open(db_url)
    try:
        yield s
    finally:
        await s.aclose()


MEETING = Meeting(room_sid="RM_abc", room_name="standup", started_at=T0)


def source(
    n: int,
    *,
    speaker: str = "ana",
    name: str = "Ana Lima",
    lang: str = "en",
    text: str | None = None,
    start: float = 0.0,
    end: float = 1.0,
    offset: float = 0.0,
) -> Caption:
    """Speaker's segment ``n``; ``offset`` is when the speaker's translator started (wall)."""
    seg = f"{speaker}-{n}"
    return Caption(
        segment_id=seg,
        source_segment_id=seg,
        speaker_identity=speaker,
        speaker_name=name,
        track_sid="TR_1",
        language=Language(lang),
        source_language=Language(lang),
        text=text if text is not None else f"line {n} of {speaker}",
        final=True,
        start=start,
        end=end,
        wall_time=T0 + offset + end,
    )


def translation(src: Caption, lang: str, text: str) -> Caption:
    return Caption(
        segment_id=f"{src.segment_id}:{lang}",
        source_segment_id=src.segment_id,
        speaker_identity=src.speaker_identity,
        speaker_name=src.speaker_name,
        track_sid=src.track_sid,
        language=Language(lang),
        source_language=src.language,
        text=text,
        final=True,
        start=src.start,
        end=src.end,
        wall_time=src.wall_time,
    )


async def test_lines_come_back_per_language_timed_from_the_meeting_start(
    store: TranscriptStore,
) -> None:
    # Ana's translator started 5 s after the room was created; Bo's 20 s after.
    a1 = source(1, start=1.0, end=3.0, offset=5.0, text="Good morning")
    b1 = source(1, speaker="bo", name="Bo", lang="es", start=0.5, end=2.0, offset=20.0)
    await store.save_segment(MEETING, a1)
    await store.save_segment(MEETING, b1)
    await store.save_translation(MEETING, translation(a1, "es", "Buenos días"), engine="apertium")
    await store.save_translation(MEETING, translation(b1, "en", "line one of Bo"))

    assert await store.languages("standup") == ("en", "es")

    original = await store.transcript("standup", ORIGINAL)
    assert original.meeting_start == T0
    assert [(ln.speaker_name, ln.language, ln.text) for ln in original.lines] == [
        ("Ana Lima", "en", "Good morning"),
        ("Bo", "es", "line 1 of bo"),
    ]
    assert (original.lines[0].start, original.lines[0].end) == pytest.approx((6.0, 8.0))
    assert (original.lines[1].start, original.lines[1].end) == pytest.approx((20.5, 22.0))

    spanish = await store.transcript("standup", Language("es"))
    assert [(ln.text, ln.translated, ln.engine) for ln in spanish.lines] == [
        ("Buenos días", True, "apertium"),
        ("line 1 of bo", False, ""),
    ]
    assert spanish.lines[0].source_language == "en"
    assert spanish.lines[0].start == pytest.approx(6.0)


async def test_rewriting_a_segment_replaces_it_instead_of_adding_a_line(
    store: TranscriptStore,
) -> None:
    first = source(1, text="I think so")
    await store.save_segment(MEETING, first)
    await store.save_segment(MEETING, first)  # a retry
    await store.save_segment(MEETING, source(1, text="I think so, yes"))  # a correction
    es = translation(first, "es", "Creo que sí")
    await store.save_translation(MEETING, es)
    await store.save_translation(MEETING, es)

    original = await store.transcript("standup", ORIGINAL)
    assert [ln.text for ln in original.lines] == ["I think so, yes"]
    assert [ln.text for ln in (await store.transcript("standup", Language("es"))).lines] == [
        "Creo que sí"
    ]
    [info] = await store.meetings()
    assert info.segments == 1


async def test_a_translation_keeps_its_glossary_terms_and_a_rewrite_replaces_them(
    store: TranscriptStore,
) -> None:
    first = source(1, text="The deliverables of Nimbus")
    await store.save_segment(MEETING, first)
    es = translation(first, "es", "Los entregables de Nimbus")
    terms = [
        AppliedTerm("deliverables", "entregables", True),
        AppliedTerm("Nimbus", "Nimbus", True),
    ]
    await store.save_translation(MEETING, es, engine="apertium", terms=terms)
    [line] = (await store.transcript("standup", Language("es"))).lines
    assert line.terms == tuple(terms)
    document = json.loads(render(await store.transcript("standup", Language("es")), "json"))
    assert document["segments"][0]["glossary"] == [
        {"source": "deliverables", "target": "entregables", "found": True},
        {"source": "Nimbus", "target": "Nimbus", "found": True},
    ]
    await store.save_translation(
        MEETING, es, terms=[AppliedTerm("deliverables", "entregables", False)]
    )
    [line] = (await store.transcript("standup", Language("es"))).lines
    assert line.terms == (AppliedTerm("deliverables", "entregables", False),)
    assert (await store.transcript("standup", ORIGINAL)).lines[0].terms == ()
    await store.purge(older_than=datetime.timedelta(days=0), now=T0 + 86400)
    assert await store.meetings() == []


async def test_a_restarted_store_keeps_everything_and_appends(db_url: str) -> None:
    async with await TranscriptStore.open(db_url) as first:
        await first.save_segment(MEETING, source(1))
    async with await TranscriptStore.open(db_url) as second:
        await second.save_segment(MEETING, source(1))
        await second.save_segment(MEETING, source(2, start=2, end=3))
        lines = (await second.transcript("standup", ORIGINAL)).lines
    assert [ln.segment_id for ln in lines] == ["ana-1", "ana-2"]


async def test_each_line_names_the_engine_that_heard_or_translated_it(
    store: TranscriptStore,
) -> None:
    first = source(1)
    await store.save_segment(MEETING, first, engine="assemblyai")
    await store.save_segment(MEETING, source(2, start=2, end=3))
    await store.save_translation(
        MEETING, translation(first, "es", "línea uno"), engine="openai:gpt-4.1-mini"
    )
    original = (await store.transcript("standup", ORIGINAL)).lines
    assert [ln.engine for ln in original] == ["assemblyai", ""]
    spanish = (await store.transcript("standup", Language("es"))).lines
    assert [ln.engine for ln in spanish] == ["openai:gpt-4.1-mini"]


async def test_a_database_from_before_the_engine_column_gets_it_and_keeps_its_lines(
    db_url: str,
) -> None:
    async with await TranscriptStore.open(db_url) as first:
        await first.save_segment(MEETING, source(1), engine="whisper")
        # the table as the first release made it: no engine column
        with first.engine.begin() as conn:
            conn.execute(sa.text('ALTER TABLE "segments" DROP COLUMN "engine"'))
    async with await TranscriptStore.open(db_url) as upgraded:
        await upgraded.save_segment(MEETING, source(2, start=2, end=3), engine="azure")
    async with await TranscriptStore.open(db_url) as reopened:  # nothing left to add
        lines = (await reopened.transcript("standup", ORIGINAL)).lines
    assert [(ln.segment_id, ln.engine) for ln in lines] == [("ana-1", ""), ("ana-2", "azure")]


async def test_without_a_room_creation_time_the_first_speech_starts_the_meeting(
    store: TranscriptStore,
) -> None:
    meeting = Meeting(room_sid="RM_nostart", room_name="adhoc")
    await store.save_segment(meeting, source(2, start=4.0, end=6.0, offset=100.0))
    await store.save_segment(meeting, source(1, speaker="bo", start=1.0, end=2.5, offset=100.0))
    lines = (await store.transcript("adhoc", ORIGINAL)).lines
    assert [(ln.speaker_identity, ln.start) for ln in lines] == [("bo", 0.0), ("ana", 3.0)]

    # a creation time that is nonsense (1970, or decades before anyone spoke) is ignored
    bogus = Meeting(room_sid="RM_bogus", room_name="bogus", started_at=1.0)
    await store.save_segment(bogus, source(1, start=0.0, end=1.0, offset=50.0))
    assert (await store.transcript("bogus", ORIGINAL)).lines[0].start == 0.0


async def test_exports_use_the_latest_meeting_of_a_room_unless_one_is_named(
    store: TranscriptStore,
) -> None:
    monday = Meeting(room_sid="RM_mon", room_name="weekly", started_at=T0)
    tuesday = Meeting(room_sid="RM_tue", room_name="weekly", started_at=T0 + 86400)
    await store.save_segment(monday, source(1, text="monday"))
    await store.save_segment(tuesday, source(1, text="tuesday", offset=86400))

    assert [ln.text for ln in (await store.transcript("weekly", ORIGINAL)).lines] == ["tuesday"]
    older = await store.transcript("weekly", ORIGINAL, meeting="RM_mon")
    assert [ln.text for ln in older.lines] == ["monday"]
    listed = await store.meetings(room="weekly")
    assert [(m.room_sid, m.segments, m.languages) for m in listed] == [
        ("RM_mon", 1, ("en",)),
        ("RM_tue", 1, ("en",)),
    ]


async def test_unknown_rooms_meetings_and_languages_are_not_found(store: TranscriptStore) -> None:
    await store.save_segment(MEETING, source(1))
    with pytest.raises(TranscriptNotFoundError):
        await store.transcript("nobody-here", ORIGINAL)
    with pytest.raises(TranscriptNotFoundError):
        await store.languages("nobody-here")
    with pytest.raises(TranscriptNotFoundError):
        await store.transcript("standup", ORIGINAL, meeting="RM_other")
    with pytest.raises(TranscriptNotFoundError) as e:
        await store.transcript("standup", Language("fr"))
    assert e.value.available == (ORIGINAL, "en")


async def test_interpreter_speech_is_in_its_language_but_not_in_the_original(
    store: TranscriptStore,
) -> None:
    await store.save_segment(MEETING, source(1, text="We start now"))
    booth = source(1, speaker="interp-es", name="Intérprete", lang="es", text="Empezamos ya")
    await store.save_segment(MEETING, booth, interpreter=True)

    original = await store.transcript("standup", ORIGINAL)
    assert [ln.text for ln in original.lines] == ["We start now"]
    spanish = await store.transcript("standup", Language("es"))
    assert [(ln.text, ln.interpreter) for ln in spanish.lines] == [("Empezamos ya", True)]


async def test_a_translation_whose_source_write_was_lost_is_still_kept(
    store: TranscriptStore,
) -> None:
    src = source(1, text="Hello")
    await store.save_translation(MEETING, translation(src, "es", "Hola"))
    assert [ln.text for ln in (await store.transcript("standup", Language("es"))).lines] == ["Hola"]
    with pytest.raises(TranscriptNotFoundError):  # no empty placeholder in the original
        await store.transcript("standup", ORIGINAL)
    await store.save_segment(MEETING, src)  # the late source fills it in
    assert [ln.text for ln in (await store.transcript("standup", ORIGINAL)).lines] == ["Hello"]


async def test_hostile_names_and_text_are_stored_verbatim(store: TranscriptStore) -> None:
    room = "x'; DROP TABLE segments; --"
    meeting = Meeting(room_sid="RM_'or'1'='1", room_name=room)
    text = "Robert'); DROP TABLE translations;-- \\ % _ \x00 end"
    await store.save_segment(meeting, source(1, name='O\'Brien "Bob"', text=text))
    lines = (await store.transcript(room, ORIGINAL)).lines
    # NUL is dropped (PostgreSQL text cannot hold it); everything else is kept as it was
    assert [(ln.speaker_name, ln.text) for ln in lines] == [
        ('O\'Brien "Bob"', text.replace("\x00", ""))
    ]
    with pytest.raises(TranscriptNotFoundError):
        await store.transcript("x' OR '1'='1", ORIGINAL)
    with pytest.raises(TranscriptNotFoundError):
        await store.transcript("%", ORIGINAL)
    await store.save_segment(MEETING, source(1))  # the tables are all still there
    assert len((await store.transcript("standup", ORIGINAL)).lines) == 1


async def test_purge_deletes_only_meetings_older_than_the_retention(
    store: TranscriptStore,
) -> None:
    old = Meeting(room_sid="RM_old", room_name="old", started_at=T0)
    new = Meeting(room_sid="RM_new", room_name="new", started_at=T0 + 30 * 86400)
    await store.save_segment(old, source(1))
    await store.save_translation(old, translation(source(1), "es", "uno"))
    await store.save_segment(new, source(1, offset=30 * 86400))
    now = T0 + 31 * 86400

    assert await store.purge(older_than=datetime.timedelta(days=60), now=now) == 0
    assert await store.purge(older_than=datetime.timedelta(days=7), now=now) == 1
    assert [m.room_name for m in await store.meetings()] == ["new"]
    with pytest.raises(TranscriptNotFoundError):
        await store.transcript("old", Language("es"))
    # the agent still in the purged meeting keeps writing: the meeting comes back
    await store.save_segment(old, source(2, offset=31 * 86400))
    assert [ln.segment_id for ln in (await store.transcript("old", ORIGINAL)).lines] == ["ana-2"]


async def test_many_concurrent_writes_in_one_process_lose_nothing(db_url: str) -> None:
    # two stores (two connection pools) in one process, writing interleaved, with retries
    a = await TranscriptStore.open(db_url, threads=4)
    b = await TranscriptStore.open(db_url, threads=4)
    try:
        sources = [source(n, start=n, end=n + 0.5) for n in range(60)]
        jobs = []
        for s in sources:
            jobs += [a.save_segment(MEETING, s), b.save_segment(MEETING, s)]
            jobs.append(b.save_translation(MEETING, translation(s, "es", f"es {s.segment_id}")))
        await asyncio.gather(*jobs)
        es = await a.transcript("standup", Language("es"))
    finally:
        await a.aclose()
        await b.aclose()
    assert [ln.text for ln in es.lines] == [f"es ana-{n}" for n in range(60)]


def _writer(url: str, speaker: str, shared: int, own: int, go: Any) -> None:
    """A translator agent's writes, then a hard crash (no close, no flush)."""

    async def write() -> None:
        store = await TranscriptStore.open(url)
        go.wait(timeout=60)  # every process writes at the same time
        for n in range(shared + own):
            # the first `shared` segments are written by every process (a retried write of
            # the same line); the rest are this speaker's own
            who = "shared" if n < shared else speaker
            s = source(n, speaker=who, start=n, end=n + 0.5)
            await store.save_segment(MEETING, s)
            await store.save_translation(MEETING, translation(s, "de", f"{who} {n}"))

    asyncio.run(write())
    os.kill(os.getpid(), signal.SIGKILL)


def test_agents_in_several_processes_write_one_meeting(db_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    speakers = ["ana", "bo", "chen", "dara"]
    go = ctx.Barrier(len(speakers))
    procs = [ctx.Process(target=_writer, args=(db_url, sp, 10, 40, go)) for sp in speakers]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == -signal.SIGKILL  # every writer got to the end, then crashed

    async def read() -> tuple[list[str], list[str]]:
        async with await TranscriptStore.open(db_url) as store:
            original = await store.transcript("standup", ORIGINAL)
            german = await store.transcript("standup", Language("de"))
        return [ln.segment_id for ln in original.lines], [ln.text for ln in german.lines]

    ids, german = asyncio.run(read())
    assert len(ids) == len(set(ids)) == 10 + 4 * 40
    assert sorted(german) == sorted(
        [f"shared {n}" for n in range(10)] + [f"{sp} {n}" for sp in speakers for n in range(10, 50)]
    )


async def test_the_default_database_is_a_private_sqlite_file_in_the_data_dir(
    tmp_path: Path,
) -> None:
    url = database_url(db_url=None, data_dir=tmp_path / "nested" / "data")
    async with await TranscriptStore.open(url) as store:
        assert store.dialect == "sqlite"
        await store.save_segment(MEETING, source(1))
    path = tmp_path / "nested" / "data" / "transcripts.sqlite3"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert database_url(db_url="postgresql://h/db", data_dir=tmp_path) == "postgresql://h/db"


async def test_bad_or_unreachable_databases_fail_with_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(TranscriptStoreError):
        await TranscriptStore.open("mysql://nobody@localhost/x")
    with pytest.raises(TranscriptStoreError):
        await TranscriptStore.open("not a url")
    with pytest.raises(TranscriptStoreError) as e:
        # a loopback port nothing listens on
        await TranscriptStore.open("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    assert e.value.retryable


async def test_only_final_captions_are_stored(store: TranscriptStore) -> None:
    interim = Caption(
        segment_id="ana-1",
        source_segment_id="ana-1",
        speaker_identity="ana",
        speaker_name="Ana",
        track_sid="TR",
        language=Language("en"),
        source_language=Language("en"),
        text="Hel",
        final=False,
        start=0.0,
        end=0.2,
        wall_time=T0,
    )
    with pytest.raises(ValueError):
        await store.save_segment(MEETING, interim)
    with pytest.raises(ValueError):  # a translation is not a source segment
        await store.save_segment(MEETING, translation(source(1), "es", "x"))
