"""The interpreters' booth in the deployment's database: who is live on which language of a room,
and the hand-overs (offers and requests) waiting for an answer.

Why the database and not the web app's memory: several web-app processes may serve one room,
and "at most one live interpreter per language" must hold across all of them. The database
enforces it with constraints, not with checks that two requests could both pass: the live table
has the primary key (room, language) — one holder per language — and UNIQUE (room, identity) —
one language per holder. ``take`` is an INSERT that does nothing on a conflict; a hand-over and a
change of direction are conditional UPDATEs in one transaction, whose row count says whether the
state they were decided on still held. On SQLite (WAL) every write transaction starts with
``BEGIN IMMEDIATE``, so writers queue for the lock instead of failing when one upgrades a stale
read; on PostgreSQL the constraints settle what READ COMMITTED lets through.

Pending items lapse :data:`~captions.protocol.PENDING_TTL` seconds after they were made; that is
computed on every read with the store's clock (injectable for tests), and lapsed rows are swept
by the next write. The tables live in their own :data:`metadata`, next to the transcript tables;
the caller owns the engine (:attr:`captions.store.TranscriptStore.engine`), and every database
call runs in a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from captions.protocol import MAX_ROOM_NAME, PENDING_TTL
from captions.store import create_tables, write_transaction
from languages import Language
from web.errors import WebError

__all__ = [
    "BoothChange",
    "BoothConflict",
    "BoothState",
    "BoothStore",
    "BoothStoreError",
    "Pending",
    "PendingKind",
    "Released",
    "booth_live",
    "booth_pending",
    "metadata",
]

logger = logging.getLogger("web.booth")

T = TypeVar("T")

PendingKind = Literal["offer", "request"]

_IDENTITY: Final = 256
_LANGUAGE: Final = 35
_ATTEMPTS: Final = 4

metadata = sa.MetaData()
"""The booth tables alone: created by :meth:`BoothStore.create_schema`."""

booth_live = sa.Table(
    "booth_live",
    metadata,
    sa.Column("room", sa.String(MAX_ROOM_NAME), primary_key=True),
    sa.Column("language", sa.String(_LANGUAGE), primary_key=True),
    sa.Column("identity", sa.String(_IDENTITY), nullable=False),
    # when this identity became live on this language (store clock): reconciliation judges
    # only rows older than the participant list it was given
    sa.Column("since", sa.Float, nullable=False),
    sa.UniqueConstraint("room", "identity", name="booth_live_one_language_each"),
)

booth_pending = sa.Table(
    "booth_pending",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("room", sa.String(MAX_ROOM_NAME), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("language", sa.String(_LANGUAGE), nullable=False),
    sa.Column("sender", sa.String(_IDENTITY), nullable=False),
    sa.Column("recipient", sa.String(_IDENTITY), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    # asking again refreshes the item instead of queueing a copy
    sa.UniqueConstraint("room", "language", "sender", "recipient", name="booth_pending_once"),
    sa.Index("booth_pending_inbox", "room", "recipient", "language", "created"),
)


class BoothStoreError(WebError):
    """The booth database could not be reached or refused a write (``retryable`` for a busy or
    unreachable database)."""


class BoothConflict(WebError):
    """The booth is not in a state where the action applies; ``code`` names why (the web API's
    error code: ``booth_taken``, ``already_live``, ``not_live``, ``booth_free``, ``stale``,
    ``no_pending``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """An offer (from the live interpreter to a partner) or a request (from a partner to the
    live interpreter) on one language, waiting for the recipient's answer."""

    id: str
    kind: PendingKind
    language: Language
    sender: str
    recipient: str
    created: float
    expires_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BoothState:
    """A room's booth at one instant (``now``, on the store's clock)."""

    room: str
    live: Mapping[Language, str]
    """Language -> the identity live on it."""
    pending: tuple[Pending, ...]
    """Unexpired items, oldest first."""
    now: float

    def live_on(self, identity: str) -> Language | None:
        """The language ``identity`` is live on, if any."""
        return next((lang for lang, who in self.live.items() if who == identity), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class BoothChange:
    """What one action did, with the state right after it committed."""

    state: BoothState
    moves: tuple[tuple[str, str], ...] = ()
    """``(identity, language now live on or "")`` for each identity whose live language
    changed, in the order the room should learn it (a hand-over: the new holder first)."""
    handed_over_by: str | None = None
    """The old holder of an accepted hand-over: their microphone is silenced after the new
    holder is set and before their own attribute is cleared."""
    changed: bool = False
    """Whether anything changed (a live language or a pending item)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Released:
    """What reconciliation removed: holders no longer in the room and their pending items."""

    live: tuple[tuple[Language, str], ...] = ()
    """``(language, identity)`` of each holder released."""
    pending: int = 0
    """Pending items dropped."""


@dataclass(slots=True)
class _Draft:
    """The result of a transaction, and a refusal to raise only after it commits (a stale
    hand-over still consumes its pending item)."""

    moves: list[tuple[str, str]] = field(default_factory=list)
    handed_over_by: str | None = None
    changed: bool = False
    refusal: BoothConflict | None = None


def _check_room(room: str) -> None:
    if not isinstance(room, str) or not 0 < len(room) <= MAX_ROOM_NAME or "\x00" in room:
        raise ValueError(f"a room name has 1 to {MAX_ROOM_NAME} characters")


class BoothStore:
    """Async access to the booth tables in the database behind ``engine`` (SQLite or
    PostgreSQL); the caller owns the engine and disposes of it.

    ``clock`` (Unix seconds) decides when pending items lapse; ``pending_ttl`` is their life.
    Database failures raise :class:`BoothStoreError`; an action that does not apply raises
    :class:`BoothConflict`. Actions take the caller's identity and languages as the web app
    verified them; they never check who may ask.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        clock: Callable[[], float] = time.time,
        pending_ttl: float = PENDING_TTL,
    ) -> None:
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise BoothStoreError(f"the booth needs SQLite or PostgreSQL, not {dialect}")
        self._engine = engine
        self._sqlite = dialect == "sqlite"
        self._insert = sqlite_dialect.insert if self._sqlite else pg_dialect.insert
        self._clock = clock
        self._ttl = pending_ttl

    def now(self) -> float:
        """The store's clock (what pending items and reconciliation are judged by)."""
        return self._clock()

    # --- plumbing -----------------------------------------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args)
        except sa.exc.SQLAlchemyError as e:
            retryable = isinstance(e, (sa.exc.OperationalError, sa.exc.InterfaceError))
            raise BoothStoreError("booth database error", retryable=retryable) from e

    def _writing(self) -> AbstractContextManager[sa.Connection]:
        # the write lock at once on SQLite, not at the first write, where a read snapshot gone
        # stale would fail at once instead
        return write_transaction(self._engine)

    def _write(
        self,
        operation: Callable[..., _Draft],
        room: str,
        *args: Any,
        clash: BoothConflict | None = None,
    ) -> BoothChange:
        """Run ``operation(conn, now, room, *args)`` in one write transaction (retried when the
        database is busy) and read the state it left; then raise its refusal if it has one.
        ``clash`` is what a constraint violation means for this operation (a concurrent writer
        changed the rows its checks read)."""
        for attempt in range(_ATTEMPTS):
            try:
                with self._writing() as conn:
                    now = self._clock()
                    self._sweep(conn, room, now)
                    draft = operation(conn, now, room, *args)
                    state = self._state(conn, room, now)
                break
            except sa.exc.IntegrityError as e:
                if clash is None:
                    raise
                raise clash from e
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as e:
                if attempt == _ATTEMPTS - 1:
                    raise
                logger.warning(
                    "booth write retried",
                    extra={"attempt": attempt + 1, "error": type(e.orig).__name__},
                )
                time.sleep(0.05 * 2**attempt)
        if draft.refusal is not None:
            raise draft.refusal
        return BoothChange(
            state=state,
            moves=tuple(draft.moves),
            handed_over_by=draft.handed_over_by,
            changed=draft.changed,
        )

    def _sweep(self, conn: sa.Connection, room: str, now: float) -> None:
        t = booth_pending
        conn.execute(sa.delete(t).where(t.c.room == room, t.c.created <= now - self._ttl))

    def _state(self, conn: sa.Connection, room: str, now: float) -> BoothState:
        live_rows = conn.execute(
            sa.select(booth_live.c.language, booth_live.c.identity)
            .where(booth_live.c.room == room)
            .order_by(booth_live.c.language)
        ).all()
        t = booth_pending
        pending_rows = conn.execute(
            sa.select(t)
            .where(t.c.room == room, t.c.created > now - self._ttl)
            .order_by(t.c.created, t.c.id)
        ).all()
        return BoothState(
            room=room,
            live={Language(r.language): r.identity for r in live_rows},
            pending=tuple(self._pending(r) for r in pending_rows),
            now=now,
        )

    def _pending(self, row: sa.Row[Any]) -> Pending:
        return Pending(
            id=row.id,
            kind=cast(PendingKind, row.kind),
            language=Language(row.language),
            sender=row.sender,
            recipient=row.recipient,
            created=row.created,
            expires_at=row.created + self._ttl,
        )

    @staticmethod
    def _holder(conn: sa.Connection, room: str, language: str) -> str | None:
        t = booth_live
        found: str | None = conn.execute(
            sa.select(t.c.identity).where(t.c.room == room, t.c.language == language)
        ).scalar_one_or_none()
        return found

    @staticmethod
    def _live_on(conn: sa.Connection, room: str, identity: str) -> Language | None:
        t = booth_live
        found: str | None = conn.execute(
            sa.select(t.c.language).where(t.c.room == room, t.c.identity == identity)
        ).scalar_one_or_none()
        return None if found is None else Language(found)

    def _add_pending(
        self,
        conn: sa.Connection,
        *,
        room: str,
        kind: PendingKind,
        language: str,
        sender: str,
        recipient: str,
        now: float,
    ) -> None:
        t = booth_pending
        insert = self._insert(t).values(
            id=secrets.token_hex(8),
            room=room,
            kind=kind,
            language=language,
            sender=sender,
            recipient=recipient,
            created=now,
        )
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=[t.c.room, t.c.language, t.c.sender, t.c.recipient],
                set_={"kind": insert.excluded.kind, "created": insert.excluded.created},
            )
        )

    def _answered(
        self, conn: sa.Connection, room: str, recipient: str, language: str, sender: str | None
    ) -> Pending:
        """Remove and return the oldest item on ``language`` addressed to ``recipient`` (from
        ``sender`` when given; lapsed items were swept before). ``no_pending`` when there is
        none, or when a concurrent answer removed it first."""
        t = booth_pending
        query = sa.select(t).where(
            t.c.room == room, t.c.recipient == recipient, t.c.language == language
        )
        if sender is not None:
            query = query.where(t.c.sender == sender)
        row = conn.execute(query.order_by(t.c.created, t.c.id).limit(1)).one_or_none()
        if row is None or conn.execute(sa.delete(t).where(t.c.id == row.id)).rowcount != 1:
            raise BoothConflict("no_pending", f"nothing on {language} is waiting for your answer")
        return self._pending(row)

    # --- schema and reads ---------------------------------------------------------------------
    async def create_schema(self) -> None:
        """Create the booth tables if they are missing (safe when processes race to do it)."""
        await self._run(self._create_schema)

    def _create_schema(self) -> None:
        try:
            create_tables(self._engine, metadata)
        except sa.exc.DBAPIError as e:
            raise BoothStoreError("could not create the booth tables", retryable=True) from e

    async def state(self, room: str) -> BoothState:
        """``room``'s booth now."""
        _check_room(room)
        return await self._run(self._read_state, room)

    def _read_state(self, room: str) -> BoothState:
        with self._engine.connect() as conn:
            return self._state(conn, room, self._clock())

    async def reconcile(self, room: str, present: Collection[str], *, listed_at: float) -> Released:
        """Release the holders of ``room`` who are not ``present`` and drop the pending items of
        absent participants. ``present`` is the room's participant list taken at ``listed_at``
        (:meth:`now` before asking for it): rows made after that are not judged by it."""
        _check_room(room)
        return await self._run(self._reconcile, room, frozenset(present), listed_at)

    def _reconcile(self, room: str, present: frozenset[str], listed_at: float) -> Released:
        state = self._read_state(room)  # cheap read first: most calls find nothing to do
        gone = {who for who in state.live.values() if who not in present}
        gone |= {
            who
            for p in state.pending
            for who in (p.sender, p.recipient)
            if who not in present and p.created <= listed_at
        }
        if not gone:
            return Released()
        live, pending = booth_live, booth_pending
        with self._writing() as conn:
            released = conn.execute(
                sa.delete(live)
                .where(live.c.room == room, live.c.identity.in_(gone), live.c.since <= listed_at)
                .returning(live.c.language, live.c.identity)
            ).all()
            dropped = conn.execute(
                sa.delete(pending).where(
                    pending.c.room == room,
                    sa.or_(pending.c.sender.in_(gone), pending.c.recipient.in_(gone)),
                    pending.c.created <= listed_at,
                )
            ).rowcount
        return Released(
            live=tuple((Language(r.language), r.identity) for r in released), pending=dropped
        )

    # --- actions ------------------------------------------------------------------------------
    async def take(self, room: str, identity: str, language: Language) -> BoothChange:
        """Make ``identity`` live on ``language``. Unchanged when they already are; refused
        with ``booth_taken`` when someone else is, ``already_live`` when they are live on
        another language."""
        _check_room(room)
        return await self._run(self._write, self._take, room, identity, language)

    def _take(
        self, conn: sa.Connection, now: float, room: str, identity: str, language: str
    ) -> _Draft:
        insert = (
            self._insert(booth_live)
            .values(room=room, language=language, identity=identity, since=now)
            .on_conflict_do_nothing()
            .returning(booth_live.c.identity)  # a row back: inserted; none: a clash
        )
        for _ in range(_ATTEMPTS):
            mine = self._live_on(conn, room, identity)
            if mine == language:
                return _Draft()
            if mine is not None:
                raise _already_live(identity, mine)
            if conn.execute(insert).first() is not None:
                return _Draft(moves=[(identity, language)], changed=True)
            # A concurrent writer got there first (PostgreSQL waited for it to commit; each
            # statement reads the latest commits under READ COMMITTED): say who.
            holder = self._holder(conn, room, language)
            if holder is not None and holder != identity:
                raise _booth_taken(holder, language)
            # the row we clashed with is gone again, or is our own: look once more
        raise BoothStoreError("the booth keeps changing under this request", retryable=True)

    async def release(self, room: str, identity: str, language: Language) -> BoothChange:
        """``identity`` stops being live on ``language`` (``not_live`` when they are not)."""
        _check_room(room)
        return await self._run(self._write, self._release, room, identity, language)

    def _release(
        self, conn: sa.Connection, now: float, room: str, identity: str, language: str
    ) -> _Draft:
        t = booth_live
        deleted = conn.execute(
            sa.delete(t).where(t.c.room == room, t.c.language == language, t.c.identity == identity)
        ).rowcount
        if deleted != 1:
            raise _not_live(language)
        return _Draft(moves=[(identity, "")], changed=True)

    async def offer(self, room: str, identity: str, language: Language, to: str) -> BoothChange:
        """The live interpreter on ``language`` offers it to ``to`` (``not_live`` when the
        caller is not live on it). Offering again refreshes the offer."""
        _check_room(room)
        return await self._run(self._write, self._offer, room, identity, language, to)

    def _offer(
        self, conn: sa.Connection, now: float, room: str, identity: str, language: str, to: str
    ) -> _Draft:
        if self._holder(conn, room, language) != identity:
            raise _not_live(language)
        self._add_pending(
            conn, room=room, kind="offer", language=language, sender=identity, recipient=to, now=now
        )
        return _Draft(changed=True)

    async def request(self, room: str, identity: str, language: Language) -> BoothChange:
        """``identity`` asks the interpreter live on ``language`` to hand it over
        (``booth_free`` when nobody is live on it, ``already_live`` when the caller is)."""
        _check_room(room)
        return await self._run(self._write, self._request, room, identity, language)

    def _request(
        self, conn: sa.Connection, now: float, room: str, identity: str, language: str
    ) -> _Draft:
        holder = self._holder(conn, room, language)
        if holder is None:
            raise BoothConflict("booth_free", f"nobody is live on {language}; use 'take'")
        if holder == identity:
            raise BoothConflict("already_live", f"you are live on {language} already")
        self._add_pending(
            conn,
            room=room,
            kind="request",
            language=language,
            sender=identity,
            recipient=holder,
            now=now,
        )
        return _Draft(changed=True)

    async def accept(
        self, room: str, identity: str, language: Language, *, sender: str | None = None
    ) -> BoothChange:
        """Answer yes to the oldest pending item on ``language`` addressed to ``identity`` (from
        ``sender`` when given): an offer makes the caller live in place of the offerer, a
        request makes the requester live in place of the caller, in one step. ``no_pending``
        when there is no such item; ``stale`` (the item is used up) when the one handing over
        is no longer live on ``language``; ``already_live`` when the one taking over is live
        on another language."""
        _check_room(room)
        # UNIQUE (room, identity) can only clash when the one taking over went live elsewhere
        clash = BoothConflict(
            "already_live", "the interpreter taking over is live on another language"
        )
        return await self._run(
            functools.partial(self._write, clash=clash),
            self._accept,
            room,
            identity,
            language,
            sender,
        )

    def _accept(
        self,
        conn: sa.Connection,
        now: float,
        room: str,
        identity: str,
        language: str,
        sender: str | None,
    ) -> _Draft:
        item = self._answered(conn, room, identity, language, sender)
        if item.kind == "offer":
            new, old = identity, item.sender
        else:
            new, old = item.sender, identity
        elsewhere = self._live_on(conn, room, new)
        if elsewhere is not None and elsewhere != language:
            raise _already_live(new, elsewhere)
        t = booth_live
        moved = conn.execute(
            sa.update(t)
            .where(t.c.room == room, t.c.language == language, t.c.identity == old)
            .values(identity=new, since=now)
        ).rowcount
        if moved != 1:
            stale = BoothConflict("stale", f"{old} is no longer live on {language}")
            return _Draft(changed=True, refusal=stale)  # the used-up item stays removed
        return _Draft(moves=[(new, language), (old, "")], handed_over_by=old, changed=True)

    async def decline(
        self, room: str, identity: str, language: Language, *, sender: str | None = None
    ) -> BoothChange:
        """Answer no to the oldest pending item on ``language`` addressed to ``identity`` (from
        ``sender`` when given): it is removed (``no_pending`` when there is none)."""
        _check_room(room)
        return await self._run(self._write, self._decline, room, identity, language, sender)

    def _decline(
        self,
        conn: sa.Connection,
        now: float,
        room: str,
        identity: str,
        language: str,
        sender: str | None,
    ) -> _Draft:
        self._answered(conn, room, identity, language, sender)
        return _Draft(changed=True)

    async def direction(
        self, room: str, identity: str, language: Language, *, other: Language
    ) -> BoothChange:
        """``identity`` (pair ``language`` / ``other``) voices ``language`` from now on: when
        live on ``other`` they move to ``language`` in one step (``booth_taken`` when someone
        is live on it); otherwise nothing changes here."""
        _check_room(room)
        # the primary key (room, language) can only clash when someone took it after the check
        clash = BoothConflict("booth_taken", f"someone is live on {language}; send 'request'")
        return await self._run(
            functools.partial(self._write, clash=clash),
            self._direction,
            room,
            identity,
            language,
            other,
        )

    def _direction(
        self,
        conn: sa.Connection,
        now: float,
        room: str,
        identity: str,
        language: str,
        other: str,
    ) -> _Draft:
        if self._live_on(conn, room, identity) != other:
            return _Draft()
        holder = self._holder(conn, room, language)
        if holder is not None:
            raise _booth_taken(holder, language)
        t = booth_live
        moved = conn.execute(
            sa.update(t)
            .where(t.c.room == room, t.c.identity == identity, t.c.language == other)
            .values(language=language, since=now)
        ).rowcount
        if moved != 1:
            return _Draft()
        return _Draft(moves=[(identity, language)], changed=True)


def _booth_taken(holder: str, language: str) -> BoothConflict:
    return BoothConflict("booth_taken", f"{holder} is live on {language}; send 'request'")


def _already_live(identity: str, language: str) -> BoothConflict:
    return BoothConflict("already_live", f"{identity} is live on {language}; release it first")


def _not_live(language: str) -> BoothConflict:
    return BoothConflict("not_live", f"you are not live on {language}")
