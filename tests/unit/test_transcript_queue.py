"""The transcript write-behind: a database outage delays transcript lines, loses none, and
never holds up the captions (fake stores with failure knobs, and a real PostgreSQL restarted
under the real store)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator

import pytest

from captions import Caption, TranscriptStoreError
from captions.store import ORIGINAL, AppliedTerm, Meeting, TranscriptStore
from interpreter.testing.checks import eventually, metric_value
from interpreter.testing.fakes import FakeTranscripts
from interpreter.testing.postgres import PostgresCluster
from interpreter.transcript_queue import TranscriptQueue, Transcripts
from languages import Language
from tests.unit.conftest import _pg_binaries
from tests.unit.test_pipeline import SCRIPT, rig

MEETING = Meeting(room_sid="RM_q", room_name="queue", started_at=1_800_000_000.0)
DOWN = 10**9  # failures of a database that stays away until the test brings it back


def caption(n: int, *, lang: str = "es", text: str | None = None) -> Caption:
    seg = f"ana-{n}"
    translated = lang != "es"
    return Caption(
        segment_id=f"{seg}:{lang}" if translated else seg,
        source_segment_id=seg,
        speaker_identity="ana",
        speaker_name="Ana",
        track_sid="TR_1",
        language=Language(lang),
        source_language=Language("es"),
        text=text if text is not None else f"line {n} in {lang}",
        final=True,
        start=float(n),
        end=float(n) + 1,
        wall_time=1_800_000_000.0 + n + 1,
    )


def outage() -> FakeTranscripts:
    return FakeTranscripts(
        failures=DOWN, error=TranscriptStoreError("database unreachable", retryable=True)
    )


def queue(store: Transcripts, **kwargs: float) -> TranscriptQueue:
    options: dict[str, float] = {
        "first_attempt_wait": 0.3,
        "retry_first_delay": 0.01,
        "retry_max_delay": 0.05,
        "flush_timeout": 2.0,
    }
    options.update(kwargs)
    return TranscriptQueue(store, **options)  # type: ignore[arg-type]


async def save(q: TranscriptQueue, c: Caption) -> float:
    """Seconds the caller (the caption's publisher) waited."""
    started = time.monotonic()
    if c.translated:
        await q.save_translation(MEETING, c, engine="apertium", terms=[AppliedTerm("a", "b", True)])
    else:
        await q.save_segment(MEETING, c, interpreter=False, engine="whisper")
    return time.monotonic() - started


async def test_while_the_database_answers_each_caption_is_stored_before_its_caller_goes_on() -> (
    None
):
    store = FakeTranscripts()
    q = queue(store)
    try:
        await save(q, caption(1))
        assert store.log == [("stored", "ana-1")]  # before the caption is published
        await save(q, caption(1, lang="en"))
        assert store.log[-1] == ("stored", "ana-1:en")
        assert store.translations[0][1] == "apertium"
        assert store.terms["ana-1:en"] == (AppliedTerm("a", "b", True),)
        assert store.segment_engines["ana-1"] == "whisper"
        assert q.pending == 0 and not q.behind
    finally:
        await q.aclose()
    assert store.closed


async def test_an_outage_delays_lines_in_order_and_loses_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = outage()
    q = queue(store)
    pending_before = metric_value("interpreter_transcript_pending")
    said = [
        caption(1),
        caption(1, lang="en"),
        caption(2),
        caption(2, lang="en", text="a first translation"),
        caption(2, lang="en", text="the translation that replaces it"),
        caption(3),
    ]
    try:
        with caplog.at_level(logging.INFO, logger="interpreter.transcript_queue"):
            waits = [await save(q, c) for c in said]
            # the first caption waits for one failed attempt; the rest know of the outage
            assert waits[0] < 0.3
            assert max(waits[1:]) < 0.05, waits
            assert q.behind and q.pending == len(said)
            assert metric_value("interpreter_transcript_pending") == pending_before + len(said)
            await asyncio.sleep(0.2)  # still away: retried, nothing stored, nothing dropped
            assert store.log == [] and q.pending == len(said)
            store.failures = 0  # the database is back
            async with asyncio.timeout(2):
                await q.flush()
        assert store.log == [("stored", c.segment_id) for c in said]
        assert store.translations[-1][0].text == "the translation that replaces it"
        assert metric_value("interpreter_transcript_pending") == pending_before
        assert not q.behind and q.lost == 0 and q.stored == len(said)
        messages = [r.message for r in caplog.records]
        assert "transcript writes pending" in messages
        caught_up = [r for r in caplog.records if r.message == "transcript caught up"]
        assert len(caught_up) == 1 and caught_up[0].written == len(said)
        # healthy again: the next caption is stored before its caller goes on
        await save(q, caption(4))
        assert store.log[-1] == ("stored", "ana-4")
    finally:
        await q.aclose()


async def test_a_hung_database_holds_a_caption_up_once_and_no_other() -> None:
    store = FakeTranscripts(delay=30.0)
    q = queue(store, first_attempt_wait=0.2)
    try:
        first = await save(q, caption(1))
        assert 0.15 < first < 0.5  # gave up waiting; the write goes on behind
        assert q.behind
        assert await save(q, caption(2)) < 0.05
        assert await save(q, caption(2, lang="en")) < 0.05
        store.delay = 0.0  # later writes are fast; the hung one still takes its time
        assert q.pending == 3
    finally:
        q.flush_timeout = 0.1
        await q.aclose()
    assert q.lost == 3  # the hung write never finished: counted, not silently gone


async def test_captions_queued_behind_a_failing_write_go_out_when_it_fails() -> None:
    store = outage()
    store.delay = 0.2  # each failed attempt takes this long
    q = queue(store, first_attempt_wait=2.0)
    try:
        waits = await asyncio.gather(save(q, caption(1)), save(q, caption(1, lang="en")))
        assert max(waits) < 0.6, waits  # one failed attempt, not the 2 s wait
        assert q.pending == 2
        store.failures = 0
        async with asyncio.timeout(3):
            await q.flush()
        assert store.log == [("stored", "ana-1"), ("stored", "ana-1:en")]
    finally:
        await q.aclose()


async def test_the_bound_drops_new_lines_loudly_and_keeps_the_older_ones(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = outage()
    q = queue(store)
    q.limit = 3
    dropped_before = metric_value("interpreter_transcript_lost_total", reason="limit")
    try:
        with caplog.at_level(logging.ERROR, logger="interpreter.transcript_queue"):
            for n in range(1, 6):
                await save(q, caption(n))
        assert q.pending == 3
        assert metric_value("interpreter_transcript_lost_total", reason="limit") == (
            dropped_before + 2
        )
        drops = [r for r in caplog.records if r.message.startswith("transcript line dropped")]
        assert len(drops) == 1  # once per outage, not once per line
        store.failures = 0
        async with asyncio.timeout(2):
            await q.flush()
        assert store.log == [("stored", f"ana-{n}") for n in (1, 2, 3)]
    finally:
        await q.aclose()


async def test_the_character_bound_counts_text() -> None:
    store = outage()
    q = queue(store)
    q.limit_chars = 25
    try:
        await save(q, caption(1, text="x" * 20))
        await save(q, caption(2, text="y" * 10))  # would pass 25 characters
        await save(q, caption(3, text="z" * 5))
        assert q.pending == 2 and q.lost == 1
    finally:
        store.failures = 0
        await q.aclose()
    assert [c.segment_id for c, _ in store.segments] == ["ana-1", "ana-3"]


async def test_a_refused_line_is_not_retried() -> None:
    store = FakeTranscripts(failures=1, error=ValueError("bad row"))
    q = queue(store)
    try:
        with pytest.raises(ValueError):
            await save(q, caption(1))  # the caller hears of it (the pipeline logs it)
        await save(q, caption(2))
        assert store.log == [("stored", "ana-2")]
        assert not q.behind and q.lost == 1
    finally:
        await q.aclose()


async def test_a_queued_line_the_database_refuses_is_logged_and_the_rest_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = outage()
    q = queue(store)
    refused_before = metric_value("interpreter_transcript_lost_total", reason="refused")
    try:
        for n in (1, 2, 3):
            await save(q, caption(n))
        with caplog.at_level(logging.ERROR, logger="interpreter.transcript_queue"):
            store.failures, store.error = 1, TranscriptStoreError("refused a write")
            async with asyncio.timeout(2):
                await q.flush()
        assert store.log == [("stored", "ana-2"), ("stored", "ana-3")]
        assert any(r.message == "queued transcript line refused" for r in caplog.records)
        assert metric_value("interpreter_transcript_lost_total", reason="refused") == (
            refused_before + 1
        )
    finally:
        await q.aclose()


async def test_close_flushes_what_the_database_takes_in_time() -> None:
    store = outage()
    q = queue(store, flush_timeout=3.0)
    for n in (1, 2, 3):
        await save(q, caption(n))

    async def back_soon() -> None:
        await asyncio.sleep(0.2)
        store.failures = 0

    task = asyncio.create_task(back_soon())
    await q.aclose()
    await task
    assert store.log == [("stored", f"ana-{n}") for n in (1, 2, 3)]
    assert store.closed and q.lost == 0
    with pytest.raises(TranscriptStoreError):
        await save(q, caption(4))


async def test_close_gives_up_after_its_bound_and_says_how_many_lines_were_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = outage()
    q = queue(store, flush_timeout=0.3)
    lost_before = metric_value("interpreter_transcript_lost_total", reason="shutdown")
    pending_before = metric_value("interpreter_transcript_pending")
    for n in (1, 2, 3):
        await save(q, caption(n))
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="interpreter.transcript_queue"):
        await q.aclose()
    assert time.monotonic() - started < 1.5
    assert store.closed and store.log == []
    lost = [r for r in caplog.records if r.message == "transcript lines not stored"]
    assert len(lost) == 1 and lost[0].lines == 3  # type: ignore[attr-defined]
    assert metric_value("interpreter_transcript_lost_total", reason="shutdown") == lost_before + 3
    assert metric_value("interpreter_transcript_pending") == pending_before


async def test_a_caller_cancelled_while_waiting_leaves_its_line_queued() -> None:
    store = FakeTranscripts(delay=0.2)
    q = queue(store, first_attempt_wait=1.0)
    try:
        waiting = asyncio.create_task(save(q, caption(1)))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await eventually(lambda: store.log == [("stored", "ana-1")], within=2.0)
    finally:
        await q.aclose()


@pytest.fixture
def restartable_postgres() -> Iterator[PostgresCluster]:
    if not _pg_binaries():
        message = "PostgreSQL not installed (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    pg = PostgresCluster.create()
    try:
        yield pg
    finally:
        pg.remove()


async def test_the_store_rides_out_a_real_postgresql_restart(
    restartable_postgres: PostgresCluster,
) -> None:
    pg = restartable_postgres
    store = await TranscriptStore.open(pg.url)
    q = queue(store, retry_first_delay=0.05, retry_max_delay=0.2)
    try:
        await save(q, caption(1))  # a pooled connection, which the restart will make stale
        await asyncio.to_thread(pg.stop_server)
        waits = [await save(q, c) for c in (caption(1, lang="en"), caption(2))]
        assert max(waits) < 1.5 and q.behind and q.pending == 2
        await asyncio.to_thread(pg.start_server)
        async with asyncio.timeout(10):
            await q.flush()
        assert q.lost == 0
        original = await store.transcript("queue", ORIGINAL)
        english = await store.transcript("queue", Language("en"))
        assert [line.segment_id for line in original.lines] == ["ana-1", "ana-2"]
        assert [line.text for line in english.lines] == ["line 1 in en"]
    finally:
        await q.aclose()


async def test_a_speaker_goes_on_being_captioned_while_the_database_is_away() -> None:
    r = await rig(SCRIPT, targets=(Language("en"), Language("fr")), transcripts=outage())
    q = queue(r.transcripts)
    r.pipeline.transcripts = q
    try:
        await r.speak(2.5)
        await eventually(lambda: len(r.finals("en")) == 2 and len(r.finals("fr")) == 2)
        assert len(r.finals("es")) == 2
        assert not any(kind == "stored" for kind, _ in r.log)
        assert q.pending == 6
        r.transcripts.failures = 0
        async with asyncio.timeout(2):
            await q.flush()
        published = [seg for kind, seg in r.log if kind == "published"]
        stored = [seg for kind, seg in r.log if kind == "stored"]
        assert sorted(stored) == sorted(s.attributes["lk.segment_id"] for s in r.finals())
        # each language's lines are stored in the order they went out
        for suffix in (":en", ":fr"):
            assert [seg for seg in stored if seg.endswith(suffix)] == [
                seg for seg in published if seg.endswith(suffix)
            ]
        sources = [seg for seg in published if ":" not in seg]
        assert [seg for seg in stored if ":" not in seg] == sources
    finally:
        await r.pipeline.aclose()
        await q.aclose()
