"""Room glossaries in the deployment's database: one glossary file per room, set by an organizer.

The table ``room_glossaries`` lives in its own :data:`metadata`, next to the transcript tables
of the same database (SQLite in WAL mode or PostgreSQL); the caller owns the engine. A file is
parsed and checked whole before anything is written, and stored as it was sent, so what an
organizer downloads is what they uploaded.

Every row carries a ``revision`` that grows by one on every write, so a translator can poll
:meth:`GlossaryStore.revision` cheaply and reload only when it changes. Deleting a glossary
keeps its row, without the file, as a marker of the last revision: a glossary set again later
continues from there and never repeats a revision a poller has already seen.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast, get_args

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from glossary.errors import GlossaryStoreError
from glossary.files import Format, parse_glossary
from glossary.terms import Glossary

__all__ = ["MAX_ROOM_LENGTH", "GlossaryStore", "StoredGlossary", "metadata", "room_glossaries"]

logger = logging.getLogger("glossary.store")

MAX_ROOM_LENGTH: Final = 128
"""Characters in a room name (LiveKit's own limit; the web API checks the full room rule)."""

SCHEMA_ATTEMPTS = 4

T = TypeVar("T")

metadata = sa.MetaData()
"""The glossary tables alone: created by :meth:`GlossaryStore.create_schema`."""

room_glossaries = sa.Table(
    "room_glossaries",
    metadata,
    sa.Column("room", sa.String(MAX_ROOM_LENGTH), primary_key=True),
    sa.Column("format", sa.String(8), nullable=False),
    # The file as uploaded; NULL once deleted (the row stays to carry the revision on).
    sa.Column("data", sa.LargeBinary, nullable=True),
    sa.Column("terms", sa.Integer, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

_FORMATS: Final[frozenset[str]] = frozenset(get_args(Format))


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredGlossary:
    """A room's glossary file as stored."""

    room: str
    format: Format
    data: bytes
    """The file exactly as it was set."""
    terms: int
    """Concepts plus do-not-translate terms (``len`` of the parsed glossary)."""
    revision: int
    """Grows on every change of the room's glossary, deletions included; never repeats."""
    updated_at: float
    """Unix seconds of the last change."""


def _check_room(room: str) -> None:
    if not isinstance(room, str) or not 0 < len(room) <= MAX_ROOM_LENGTH or "\x00" in room:
        raise ValueError(f"a room name has 1 to {MAX_ROOM_LENGTH} characters")


def _stored(row: sa.Row[Any]) -> StoredGlossary:
    return StoredGlossary(
        room=row.room,
        format=_format(row.format),
        data=bytes(row.data),
        terms=row.terms,
        revision=row.revision,
        updated_at=row.updated_at,
    )


def _format(value: str) -> Format:
    if value not in _FORMATS:
        raise GlossaryStoreError(f"the glossary database holds an unknown format {value!r}")
    return cast(Format, value)


class GlossaryStore:
    """Async access to the room glossaries in the database behind ``engine``.

    The caller owns ``engine`` (the transcript store's: :attr:`TranscriptStore.engine`) and
    disposes of it; every database call runs in a thread, never on the event loop. Database
    failures raise :class:`~glossary.errors.GlossaryStoreError`.
    """

    def __init__(self, engine: sa.Engine) -> None:
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise GlossaryStoreError(f"room glossaries need SQLite or PostgreSQL, not {dialect}")
        self._engine = engine
        self._insert = pg_dialect.insert if dialect == "postgresql" else sqlite_dialect.insert

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args)
        except sa.exc.SQLAlchemyError as e:
            retryable = isinstance(e, (sa.exc.OperationalError, sa.exc.InterfaceError))
            raise GlossaryStoreError("glossary database error", retryable=retryable) from e

    async def create_schema(self) -> None:
        """Create the glossary table if it is missing (safe when processes race to do it)."""
        await self._run(self._create_schema)

    def _create_schema(self) -> None:
        # Two processes starting on a fresh database both see no table; the loser of the
        # CREATE race finds it on the next try.
        for attempt in range(SCHEMA_ATTEMPTS):
            try:
                metadata.create_all(self._engine, checkfirst=True)
                return
            except sa.exc.DBAPIError as e:
                if attempt == SCHEMA_ATTEMPTS - 1:
                    raise GlossaryStoreError(
                        "could not create the glossary table", retryable=True
                    ) from e
                time.sleep(0.1 * (attempt + 1))

    async def put(self, room: str, data: bytes, fmt: Format) -> StoredGlossary:
        """Check ``data`` as a glossary file in ``fmt`` and make it ``room``'s glossary.

        Raises :class:`~glossary.errors.GlossaryError` (with every problem) for a file that is
        refused; nothing is stored then. Replaces any earlier glossary of the room.
        """
        _check_room(room)
        data = bytes(data)
        parsed = await asyncio.to_thread(parse_glossary, data, fmt, name=f"glossary of {room}")
        return await self._run(self._put, room, data, fmt, len(parsed))

    def _put(self, room: str, data: bytes, fmt: Format, terms: int) -> StoredGlossary:
        table = room_glossaries
        now = time.time()
        insert = self._insert(table).values(
            room=room, format=fmt, data=data, terms=terms, revision=1, updated_at=now
        )
        upsert = insert.on_conflict_do_update(
            index_elements=[table.c.room],
            set_={
                "format": insert.excluded.format,
                "data": insert.excluded.data,
                "terms": insert.excluded.terms,
                # one statement: concurrent writers each get their own revision
                "revision": table.c.revision + 1,
                "updated_at": insert.excluded.updated_at,
            },
        ).returning(table.c.revision)
        with self._engine.begin() as conn:
            revision: int = conn.execute(upsert).scalar_one()
        return StoredGlossary(
            room=room, format=fmt, data=data, terms=terms, revision=revision, updated_at=now
        )

    async def get(self, room: str) -> StoredGlossary | None:
        """``room``'s glossary file, or ``None`` when it has none."""
        _check_room(room)
        return await self._run(self._get, room)

    def _get(self, room: str) -> StoredGlossary | None:
        table = room_glossaries
        query = sa.select(table).where(table.c.room == room, table.c.data.is_not(None))
        with self._engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else _stored(row)

    async def delete(self, room: str) -> bool:
        """Remove ``room``'s glossary; ``False`` when it had none."""
        _check_room(room)
        return await self._run(self._delete, room)

    def _delete(self, room: str) -> bool:
        table = room_glossaries
        stmt = (
            sa.update(table)
            .where(table.c.room == room, table.c.data.is_not(None))
            .values(data=None, terms=0, revision=table.c.revision + 1, updated_at=time.time())
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount > 0

    async def revision(self, room: str) -> int | None:
        """The revision of ``room``'s glossary (``None``: it has none); one indexed lookup,
        for polling. Any change, a deletion followed by a new file included, gives a revision
        never returned before for this room."""
        _check_room(room)
        return await self._run(self._revision, room)

    def _revision(self, room: str) -> int | None:
        table = room_glossaries
        query = sa.select(table.c.revision).where(table.c.room == room, table.c.data.is_not(None))
        with self._engine.connect() as conn:
            found: int | None = conn.execute(query).scalar_one_or_none()
        return found

    async def load(self, room: str) -> tuple[int, Glossary] | None:
        """``room``'s glossary, parsed, with its revision; ``None`` when it has none.

        Raises :class:`~glossary.errors.GlossaryError` if the stored file no longer passes
        the checks (a stricter version of this package than the one that stored it).
        """
        stored = await self.get(room)
        if stored is None:
            return None
        parsed = await asyncio.to_thread(
            parse_glossary, stored.data, stored.format, name=f"glossary of {room}"
        )
        return stored.revision, parsed
