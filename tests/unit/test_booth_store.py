"""The interpreters' booth in the database, on SQLite and PostgreSQL (the ``db_url`` fixture):
every action and refusal, lapsing hand-overs, reconciliation with the room, and the one rule
that matters most — never two live interpreters on one language, also when many requests race
through two store instances (two engines on one database, as two web-app processes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable

import pytest

from captions.store import TranscriptStore
from interpreter.testing.fakes import FakeClock
from languages import Language
from web.booth_store import BoothChange, BoothConflict, BoothStore

ROOM = "standup"
EN, ES, FR = Language("en"), Language("es"), Language("fr")


@pytest.fixture
async def transcripts(db_url: str) -> AsyncIterator[TranscriptStore]:
    async with await TranscriptStore.open(db_url) as store:
        yield store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(transcripts: TranscriptStore, clock: FakeClock) -> BoothStore:
    booth = BoothStore(transcripts.engine, clock=clock)
    await booth.create_schema()
    await booth.create_schema()  # a second process starting finds the tables
    return booth


async def refused(code: str, action: Awaitable[object]) -> BoothConflict:
    with pytest.raises(BoothConflict) as caught:
        await action
    assert caught.value.code == code, caught.value.message
    return caught.value


async def test_take_and_release(store: BoothStore) -> None:
    change = await store.take(ROOM, "ian", EN)
    assert change.changed and change.moves == (("ian", "en"),)
    assert change.state.live == {"en": "ian"}
    assert (await store.state(ROOM)).live == {"en": "ian"}
    assert (await store.state("other-room")).live == {}

    again = await store.take(ROOM, "ian", EN)  # idempotent: nothing to tell the room
    assert not again.changed and again.moves == ()

    taken = await refused("booth_taken", store.take(ROOM, "iva", EN))
    assert "ian" in taken.message and "request" in taken.message
    await refused("already_live", store.take(ROOM, "ian", ES))

    await refused("not_live", store.release(ROOM, "iva", EN))
    released = await store.release(ROOM, "ian", EN)
    assert released.moves == (("ian", ""),) and released.state.live == {}
    await refused("not_live", store.release(ROOM, "ian", EN))
    assert (await store.take(ROOM, "iva", EN)).state.live == {"en": "iva"}


async def test_an_accepted_offer_hands_over_in_one_step(store: BoothStore) -> None:
    await store.take(ROOM, "ian", EN)
    await refused("not_live", store.offer(ROOM, "iva", EN, "ian"))
    offered = await store.offer(ROOM, "ian", EN, "iva")
    (item,) = offered.state.pending
    assert (item.kind, item.language, item.sender, item.recipient) == ("offer", "en", "ian", "iva")
    assert offered.state.live == {"en": "ian"}  # nothing moves before the answer

    await refused("no_pending", store.accept(ROOM, "ian", EN))  # not addressed to him
    accepted = await store.accept(ROOM, "iva", EN)
    assert accepted.moves == (("iva", "en"), ("ian", ""))
    assert accepted.handed_over_by == "ian"
    assert accepted.state.live == {"en": "iva"} and accepted.state.pending == ()
    await refused("no_pending", store.accept(ROOM, "iva", EN))


async def test_an_accepted_request_hands_over_to_the_requester(store: BoothStore) -> None:
    await refused("booth_free", store.request(ROOM, "iva", EN))
    await store.take(ROOM, "ian", EN)
    await refused("already_live", store.request(ROOM, "ian", EN))
    requested = await store.request(ROOM, "iva", EN)
    (item,) = requested.state.pending
    assert (item.kind, item.sender, item.recipient) == ("request", "iva", "ian")

    await refused("no_pending", store.accept(ROOM, "iva", EN))  # the holder answers, not her
    accepted = await store.accept(ROOM, "ian", EN, sender="iva")
    assert accepted.moves == (("iva", "en"), ("ian", ""))
    assert accepted.handed_over_by == "ian"
    assert accepted.state.live == {"en": "iva"}


async def test_decline_removes_the_item_and_changes_nothing_else(store: BoothStore) -> None:
    await store.take(ROOM, "ian", EN)
    await store.request(ROOM, "iva", EN)
    await refused("no_pending", store.decline(ROOM, "ian", EN, sender="ana"))
    declined = await store.decline(ROOM, "ian", EN)
    assert declined.moves == () and declined.changed
    assert declined.state.live == {"en": "ian"} and declined.state.pending == ()
    await refused("no_pending", store.decline(ROOM, "ian", EN))


async def test_accept_answers_the_oldest_item_or_the_one_from_to(
    store: BoothStore, clock: FakeClock
) -> None:
    await store.take(ROOM, "ian", EN)
    await store.request(ROOM, "iva", EN)
    clock.advance(1)
    await store.request(ROOM, "ana", EN)
    accepted = await store.accept(ROOM, "ian", EN, sender="ana")
    assert accepted.state.live == {"en": "ana"}
    # Iva's request was addressed to Ian, who is no longer live: used up, and refused
    await refused("stale", store.accept(ROOM, "ian", EN))
    assert (await store.state(ROOM)).pending == ()


async def test_asking_again_refreshes_the_item_instead_of_queueing_a_copy(
    store: BoothStore, clock: FakeClock
) -> None:
    await store.take(ROOM, "ian", EN)
    await store.request(ROOM, "iva", EN)
    clock.advance(50)
    state = (await store.request(ROOM, "iva", EN)).state
    (item,) = state.pending
    assert item.expires_at - state.now == 60


async def test_an_offer_from_someone_no_longer_live_is_stale_and_used_up(
    store: BoothStore,
) -> None:
    await store.take(ROOM, "ian", EN)
    await store.offer(ROOM, "ian", EN, "iva")
    await store.release(ROOM, "ian", EN)
    await refused("stale", store.accept(ROOM, "iva", EN))
    assert (await store.state(ROOM)).live == {}
    await refused("no_pending", store.accept(ROOM, "iva", EN))


async def test_accepting_while_live_elsewhere_is_refused_and_keeps_the_offer(
    store: BoothStore,
) -> None:
    await store.take(ROOM, "ian", EN)
    await store.take(ROOM, "iva", ES)
    await store.offer(ROOM, "ian", EN, "iva")
    await refused("already_live", store.accept(ROOM, "iva", EN))
    state = await store.state(ROOM)
    assert state.live == {"en": "ian", "es": "iva"} and len(state.pending) == 1
    await store.release(ROOM, "iva", ES)
    assert (await store.accept(ROOM, "iva", EN)).state.live == {"en": "iva"}


async def test_direction_moves_a_live_interpreter_to_the_other_language(
    store: BoothStore,
) -> None:
    # not live: nothing changes here (the console renames its track)
    assert (await store.direction(ROOM, "ian", EN, other=ES)).moves == ()
    await store.take(ROOM, "ian", ES)
    moved = await store.direction(ROOM, "ian", EN, other=ES)
    assert moved.moves == (("ian", "en"),) and moved.state.live == {"en": "ian"}
    assert (await store.direction(ROOM, "ian", EN, other=ES)).moves == ()  # already there

    await store.take(ROOM, "iva", ES)
    await refused("booth_taken", store.direction(ROOM, "ian", ES, other=EN))
    assert (await store.state(ROOM)).live == {"en": "ian", "es": "iva"}


async def test_pending_items_lapse_after_a_minute(store: BoothStore, clock: FakeClock) -> None:
    await store.take(ROOM, "ian", EN)
    await store.offer(ROOM, "ian", EN, "iva")
    clock.advance(45)
    state = await store.state(ROOM)
    (item,) = state.pending
    assert item.expires_at - state.now == pytest.approx(15)
    clock.advance(15)
    assert (await store.state(ROOM)).pending == ()
    await refused("no_pending", store.accept(ROOM, "iva", EN))
    assert (await store.state(ROOM)).live == {"en": "ian"}


async def test_reconcile_releases_who_left_and_drops_their_items(
    store: BoothStore, clock: FakeClock
) -> None:
    await store.take(ROOM, "ian", EN)
    await store.take(ROOM, "iva", ES)
    await store.request(ROOM, "ana", EN)  # ana -> ian
    await store.offer(ROOM, "iva", ES, "ian")  # iva -> ian

    listed_at = store.now()
    nothing = await store.reconcile(ROOM, {"ian", "iva", "ana"}, listed_at=listed_at)
    assert nothing.live == () and nothing.pending == 0

    gone = await store.reconcile(ROOM, {"iva", "ana"}, listed_at=listed_at)
    assert gone.live == (("en", "ian"),) and gone.pending == 2
    state = await store.state(ROOM)
    assert state.live == {"es": "iva"} and state.pending == ()


async def test_reconcile_does_not_judge_rows_newer_than_its_list(
    store: BoothStore, clock: FakeClock
) -> None:
    listed_at = store.now()  # the room listed before Ian joined and took
    clock.advance(0.5)
    await store.take(ROOM, "ian", EN)
    released = await store.reconcile(ROOM, set(), listed_at=listed_at)
    assert released.live == ()
    assert (await store.state(ROOM)).live == {"en": "ian"}


async def test_one_winner_when_many_race_to_take_through_two_stores(
    db_url: str, clock: FakeClock
) -> None:
    # two engines on one database: two web-app processes
    async with (
        await TranscriptStore.open(db_url) as first,
        await TranscriptStore.open(db_url) as second,
    ):
        stores = [BoothStore(first.engine), BoothStore(second.engine)]
        await asyncio.gather(*(s.create_schema() for s in stores))
        contenders = [f"interpreter-{n}" for n in range(8)]
        winners = set()
        for _ in range(20):
            results = await asyncio.gather(
                *(stores[n % 2].take(ROOM, who, EN) for n, who in enumerate(contenders)),
                return_exceptions=True,
            )
            won = [
                who
                for who, r in zip(contenders, results, strict=True)
                if not isinstance(r, BaseException)
            ]
            lost = [r for r in results if isinstance(r, BaseException)]
            assert len(won) == 1, results
            assert all(isinstance(r, BoothConflict) and r.code == "booth_taken" for r in lost), lost
            (winner,) = won
            winners.add(winner)
            for s in stores:
                assert (await s.state(ROOM)).live == {"en": winner}
            await stores[1].release(ROOM, winner, EN)
        assert winners  # and the room is free again
        assert (await stores[0].state(ROOM)).live == {}


async def test_one_answer_wins_when_an_offer_is_accepted_twice_at_once(
    store: BoothStore,
) -> None:
    await store.take(ROOM, "ian", EN)
    await store.offer(ROOM, "ian", EN, "iva")
    results = await asyncio.gather(
        *(store.accept(ROOM, "iva", EN) for _ in range(4)), return_exceptions=True
    )
    done = [r for r in results if isinstance(r, BoothChange)]
    assert len(done) == 1, results
    assert all(
        isinstance(r, BoothConflict) and r.code == "no_pending" for r in results if r not in done
    )
    assert (await store.state(ROOM)).live == {"en": "iva"}
