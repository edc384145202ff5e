"""A lease in the deployment's database: a job that at most one process may do at a time.

Several workers (processes, machines) share one database (``INTERPRETER_DB_URL``); a *lease* is a
named row with its *holder* and an *expiry*. :meth:`Lease.acquire` takes the lease when it is
free or expired, renews it when this holder already has it, and says whether this holder has it
now; :meth:`Lease.release` gives it up at once. Taking and renewing is one
``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` statement, so two contenders can never both win:
on PostgreSQL the conflicting row is locked for the statement, on SQLite (WAL) the transaction
starts with ``BEGIN IMMEDIATE`` and writers queue for the lock.

Expiry is judged by the database's clock (unless a clock is injected, for tests), so workers on
machines whose clocks disagree still agree on who holds the lease. A holder that stops renewing
(killed, cut off from the database) loses the lease ``ttl`` seconds after its last renewal.

A lease of one's own, kept by renewing it, is a *presence*: :func:`lease_states` tells the live
from the lapsed under a name prefix (workers alive and dead), :func:`forget_expired` deletes
long-lapsed ones.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from captions.store import create_tables, write_transaction
from interpreter.errors import InterpreterError

__all__ = [
    "Lease",
    "LeaseError",
    "LeaseState",
    "forget_expired",
    "lease_states",
    "leases",
    "metadata",
    "process_holder_id",
]

logger = logging.getLogger("interpreter.lease")

T = TypeVar("T")

_NAME: Final = 64
_HOLDER: Final = 256

metadata = sa.MetaData()
"""The lease table alone: created by :meth:`Lease.create_schema`."""

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(_NAME), primary_key=True),
    sa.Column("holder", sa.String(_HOLDER), nullable=False),
    # Unix seconds on the clock that judges the lease (the database's unless one is injected)
    sa.Column("expires", sa.Float, nullable=False),
)


class LeaseError(InterpreterError):
    """The lease database could not be reached or refused a write (``retryable``: try again at
    the next renewal; meanwhile the caller does not hold the lease)."""


def process_holder_id() -> str:
    """A holder id unique to this process: host name, process id and a random suffix."""
    return f"{socket.gethostname()[:120]}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


class Lease:
    """The lease ``name`` as ``holder`` sees it, in the database behind ``engine`` (SQLite or
    PostgreSQL; the caller owns the engine).

    ``ttl`` is how long one :meth:`acquire` keeps the lease; renew well within it. ``clock``
    (Unix seconds) replaces the database's clock, for tests. Every database call runs in a
    thread, never on the event loop.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        name: str,
        holder: str,
        ttl: float,
        clock: Callable[[], float] | None = None,
    ) -> None:
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise LeaseError(f"a lease needs SQLite or PostgreSQL, not {dialect}")
        if not 0 < len(name) <= _NAME or not 0 < len(holder) <= _HOLDER:
            raise ValueError(f"a lease name has 1 to {_NAME} characters, a holder 1 to {_HOLDER}")
        if ttl <= 0:
            raise ValueError("a lease lives a positive number of seconds")
        self.engine = engine
        self._sqlite = dialect == "sqlite"
        self._insert = sqlite_dialect.insert if self._sqlite else pg_dialect.insert
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self._clock = clock

    async def create_schema(self) -> None:
        """Create the lease table if it is missing (blocking work in a thread)."""
        await self._run(create_tables, self.engine, metadata)

    async def acquire(self) -> bool:
        """Take the lease if it is free or expired, renew it if this holder has it; return
        whether this holder has it now (until ``ttl`` seconds from now).

        Raises :class:`LeaseError` when the database fails: the caller must then act as if it
        did not hold the lease."""
        return await self._run(self._acquire)

    async def release(self) -> None:
        """Give the lease up now, if this holder has it, so another can take it at once."""
        await self._run(self._release)

    async def current_holder(self) -> str | None:
        """Who holds the lease now (``None``: nobody, or expired)."""
        return await self._run(self._current_holder)

    # --- the synchronous core -----------------------------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await _in_thread(fn, *args)

    def _now(self) -> sa.ColumnElement[float]:
        return _now(self.engine, self._clock)

    def _acquire(self) -> bool:
        t = leases
        now = self._now()
        insert = self._insert(t).values(name=self.name, holder=self.holder, expires=now + self.ttl)
        upsert = insert.on_conflict_do_update(
            index_elements=[t.c.name],
            set_={"holder": insert.excluded.holder, "expires": insert.excluded.expires},
            where=sa.or_(t.c.holder == insert.excluded.holder, t.c.expires <= now),
        ).returning(t.c.holder)
        with write_transaction(self.engine) as conn:
            row = conn.execute(upsert).first()
        return row is not None and row.holder == self.holder

    def _release(self) -> None:
        t = leases
        with write_transaction(self.engine) as conn:
            conn.execute(sa.delete(t).where(t.c.name == self.name, t.c.holder == self.holder))

    def _current_holder(self) -> str | None:
        t = leases
        with self.engine.connect() as conn:
            found: str | None = conn.execute(
                sa.select(t.c.holder).where(t.c.name == self.name, t.c.expires > self._now())
            ).scalar_one_or_none()
        return found


@dataclass(frozen=True, slots=True)
class LeaseState:
    """One lease as :func:`lease_states` finds it."""

    holder: str
    live: bool


async def lease_states(
    engine: sa.Engine, prefix: str, *, clock: Callable[[], float] | None = None
) -> dict[str, LeaseState]:
    """Every lease whose name starts with ``prefix``: its holder, and whether it is live
    (unexpired).

    Raises :class:`LeaseError` when the database fails."""

    def select() -> dict[str, LeaseState]:
        t = leases
        live = (t.c.expires > _now(engine, clock)).label("live")
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.name, t.c.holder, live).where(
                    t.c.name.startswith(prefix, autoescape=True)
                )
            )
            return {row.name: LeaseState(row.holder, bool(row.live)) for row in rows}

    return await _in_thread(select)


async def forget_expired(
    engine: sa.Engine,
    prefix: str,
    *,
    older_than: float,
    clock: Callable[[], float] | None = None,
) -> int:
    """Delete the leases starting with ``prefix`` that expired more than ``older_than`` seconds
    ago (presences of processes long gone); returns how many.

    Raises :class:`LeaseError` when the database fails."""

    def delete() -> int:
        t = leases
        with write_transaction(engine) as conn:
            result = conn.execute(
                sa.delete(t).where(
                    t.c.name.startswith(prefix, autoescape=True),
                    t.c.expires <= _now(engine, clock) - older_than,
                )
            )
            return result.rowcount or 0

    return await _in_thread(delete)


def _now(engine: sa.Engine, clock: Callable[[], float] | None) -> sa.ColumnElement[float]:
    """Now in Unix seconds: ``clock``'s, or else the database's."""
    if clock is not None:
        return sa.literal(clock(), sa.Float)
    if engine.dialect.name == "sqlite":
        return sa.literal_column("((julianday('now') - 2440587.5) * 86400.0)", sa.Float)
    return sa.literal_column("extract(epoch from clock_timestamp())::float8", sa.Float)


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    try:
        return await asyncio.to_thread(fn, *args)
    except sa.exc.SQLAlchemyError as e:
        retryable = isinstance(e, (sa.exc.OperationalError, sa.exc.InterfaceError))
        raise LeaseError("lease database error", retryable=retryable) from e
