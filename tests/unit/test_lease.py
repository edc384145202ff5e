"""The lease in the database: one holder at a time, renewed by its holder, taken over once it
expires, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from captions.store import TranscriptStore
from interpreter.lease import (
    Lease,
    LeaseState,
    forget_expired,
    lease_states,
    process_holder_id,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[sa.Engine]:
    store = await TranscriptStore.open(db_url)
    try:
        yield store.engine
    finally:
        await store.aclose()


def lease(engine: sa.Engine, holder: str, clock: Clock | None = None, ttl: float = 10.0) -> Lease:
    return Lease(engine, name="orphan-sweep", holder=holder, ttl=ttl, clock=clock)


async def test_one_holder_at_a_time_until_it_releases(engine: sa.Engine) -> None:
    clock = Clock()
    a, b = lease(engine, "worker-a", clock), lease(engine, "worker-b", clock)
    await a.create_schema()
    assert await a.acquire()
    assert not await b.acquire()
    assert await a.acquire()  # renewal
    assert await b.current_holder() == "worker-a"
    await b.release()  # not b's to release
    assert await a.current_holder() == "worker-a"
    await a.release()
    assert await a.current_holder() is None
    assert await b.acquire()
    assert not await a.acquire()


async def test_an_expired_lease_passes_to_the_next_and_renewal_keeps_it(
    engine: sa.Engine,
) -> None:
    clock = Clock()
    a, b = lease(engine, "worker-a", clock), lease(engine, "worker-b", clock)
    await a.create_schema()
    assert await a.acquire()
    clock.now += 8
    assert await a.acquire()  # renewed: good for 10 s from here
    clock.now += 8
    assert not await b.acquire()  # 16 s after the first take, 8 after the renewal
    clock.now += 3
    assert await b.acquire()  # a stopped renewing: expired
    assert not await a.acquire()  # a comes back: b has it now
    assert await a.current_holder() == "worker-b"


async def test_contenders_racing_for_a_free_lease_get_exactly_one_winner(
    engine: sa.Engine,
) -> None:
    contenders = [lease(engine, f"worker-{i}") for i in range(6)]
    await contenders[0].create_schema()
    won = await asyncio.gather(*(c.acquire() for c in contenders))
    assert sum(won) == 1
    winner = contenders[won.index(True)]
    assert await winner.current_holder() == winner.holder


async def test_the_database_clock_judges_expiry(engine: sa.Engine) -> None:
    a = lease(engine, process_holder_id(), ttl=0.3)
    b = lease(engine, process_holder_id(), ttl=0.3)
    assert a.holder != b.holder
    await a.create_schema()
    assert await a.acquire()
    assert not await b.acquire()
    deadline = time.monotonic() + 5
    while not await b.acquire():
        assert time.monotonic() < deadline, "the lease never expired"
        await asyncio.sleep(0.1)
    assert await a.current_holder() == b.holder


async def test_presences_tell_the_live_from_the_lapsed_and_old_ones_are_forgotten(
    engine: sa.Engine,
) -> None:
    clock = Clock()
    alive = Lease(engine, name="worker/a", holder="host/1", ttl=4.0, clock=clock)
    dead = Lease(engine, name="worker/b", holder="host/2", ttl=4.0, clock=clock)
    other = Lease(engine, name="orphan-sweep", holder="host/1", ttl=4.0, clock=clock)
    odd = Lease(engine, name="worker_c", holder="host/3", ttl=4.0, clock=clock)  # not a prefix hit
    await alive.create_schema()
    for held in (alive, dead, other, odd):
        assert await held.acquire()
    assert await lease_states(engine, "worker/", clock=clock) == {
        "worker/a": LeaseState("host/1", live=True),
        "worker/b": LeaseState("host/2", live=True),
    }
    clock.now += 3.0
    assert await alive.acquire()  # renewed; b's worker was killed
    clock.now += 2.0
    assert await lease_states(engine, "worker/", clock=clock) == {
        "worker/a": LeaseState("host/1", live=True),
        "worker/b": LeaseState("host/2", live=False),
    }
    # lapsed for 1 s: kept (the sweep still needs to know b is dead)
    assert await forget_expired(engine, "worker/", older_than=60.0, clock=clock) == 0
    clock.now += 60.0
    assert await forget_expired(engine, "worker/", older_than=60.0, clock=clock) == 1
    assert set(await lease_states(engine, "worker", clock=clock)) == {"worker/a", "worker_c"}
    assert await other.current_holder() is None  # expired, but not a presence: kept
