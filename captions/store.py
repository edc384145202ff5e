"""The transcript store: every final caption of a meeting, in SQLite or PostgreSQL.

A *meeting* is one LiveKit room session (one room sid); a room name can host many meetings over
time, and exports pick the latest one unless a sid is given. A *segment* is what one speaker
said, in the language they said it; a *translation* is its text in another language. Writes
are upserts keyed by the segment id, so a retried write never duplicates a line, and several
translator agents (processes, machines) can write one meeting at once.

Times are stored as wall-clock Unix seconds (when the speech started and ended); exports turn
them into offsets from the meeting start, which is the room's creation time when the agents
know it, or else the start of the first thing anyone said.

The database is any SQLAlchemy URL (``INTERPRETER_DB_URL``); by default a SQLite file under the
data directory, opened in WAL mode with a busy timeout so concurrent writers wait for each
other instead of failing. Every database call runs on the store's own small thread pool, never
on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, Connection, Engine, make_url

from captions.errors import TranscriptNotFoundError, TranscriptStoreError
from captions.schema import meetings, metadata, segments, translation_terms, translations
from captions.segments import Caption
from languages import Language

__all__ = [
    "ORIGINAL",
    "AppliedTerm",
    "Meeting",
    "MeetingInfo",
    "Transcript",
    "TranscriptLanguage",
    "TranscriptLine",
    "TranscriptNotFoundError",
    "TranscriptStore",
    "TranscriptStoreError",
    "TranscriptWriter",
    "create_tables",
    "database_url",
    "write_transaction",
]

logger = logging.getLogger("captions.store")

ORIGINAL: Final = "original"
"""The transcript of what was said, each segment in the language it was spoken."""

TranscriptLanguage = Language | Literal["original"]

DB_FILE_NAME = "transcripts.sqlite3"
SQLITE_BUSY_TIMEOUT = 15.0
WRITE_ATTEMPTS = 4
# A room created long before anyone spoke keeps its creation time as the meeting start; a
# creation time further back than this from the first speech is treated as bogus.
MAX_START_GAP = 7 * 86400.0
MAX_ID_LENGTH = 512
MAX_NAME_LENGTH = 512
MAX_TEXT_LENGTH = 100_000


def create_tables(
    engine: sa.Engine, tables: sa.MetaData, *, attempts: int = WRITE_ATTEMPTS
) -> None:
    """Create the missing tables of ``tables`` (blocking). Several processes may open a fresh
    database at once and both see no table; the loser of the CREATE race finds the tables on
    the next try. The last failure is raised (``sqlalchemy.exc.DBAPIError``)."""
    for attempt in range(attempts):
        try:
            tables.create_all(engine, checkfirst=True)
            _add_missing_columns(engine, tables)
            return
        except sa.exc.DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


@contextlib.contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[Connection]:
    """A write transaction on ``engine`` (committed on success). On SQLite it takes the write
    lock at once (``BEGIN IMMEDIATE``, waiting up to the busy timeout), so a transaction that
    reads before it writes queues for the lock instead of failing when its read went stale."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn


def _add_missing_columns(engine: sa.Engine, tables: sa.MetaData) -> None:
    """Add the columns a later release gave an existing table (each has a server default, so
    old rows stay valid): the one migration the stores need, additive only."""
    inspector = sa.inspect(engine)
    for table in tables.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if column.server_default is None and not column.nullable:
                raise RuntimeError(f"cannot add {table.name}.{column.name}: it has no default")
            ddl = sa.schema.CreateColumn(column).compile(dialect=engine.dialect)
            with engine.begin() as conn:
                conn.execute(sa.text(f'ALTER TABLE "{table.name}" ADD COLUMN {ddl}'))
            logger.info(
                "transcript database column added",
                extra={"table": table.name, "column": column.name},
            )


T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Meeting:
    """One LiveKit room session, as a translator agent knows it."""

    room_sid: str
    room_name: str
    started_at: float | None = None
    """Unix seconds the room was created, when known."""

    def __post_init__(self) -> None:
        if not self.room_sid or len(self.room_sid) > MAX_ID_LENGTH:
            raise ValueError("a meeting needs a room sid of 1 to 512 characters")
        if not self.room_name or len(self.room_name) > MAX_NAME_LENGTH:
            raise ValueError("a meeting needs a room name of 1 to 512 characters")
        if "\x00" in self.room_sid + self.room_name:
            raise ValueError("room sids and names cannot contain NUL")


@dataclass(frozen=True, slots=True)
class AppliedTerm:
    """A glossary term a translation had to contain: ``source`` as said, ``target`` as
    required, and whether the translation contains it."""

    source: str
    target: str
    found: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptLine:
    """One line of an exported transcript; times are seconds from the meeting start."""

    segment_id: str
    speaker_identity: str
    speaker_name: str
    language: Language
    source_language: Language
    text: str
    start: float
    end: float
    translated: bool
    interpreter: bool
    """The line is a human interpreter's speech, not a participant's own words."""
    engine: str
    """The engine: the translation engine for a machine translation, the recogniser (STT
    provider) for a line as spoken; empty when unknown."""
    terms: tuple[AppliedTerm, ...] = ()
    """The glossary terms the translation had to contain (translated lines only)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript:
    """The transcript of one meeting in one language (or ``"original"``), in time order."""

    room_name: str
    room_sid: str
    language: TranscriptLanguage
    meeting_start: float
    """Unix seconds every line's ``start``/``end`` counts from."""
    lines: tuple[TranscriptLine, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class MeetingInfo:
    """A stored meeting, for listings."""

    room_name: str
    room_sid: str
    started_at: float | None
    """Unix seconds of the meeting start (``None`` while nothing was said)."""
    last_activity: float | None
    segments: int
    languages: tuple[Language, ...]


class TranscriptWriter(Protocol):
    """What a translator agent needs of the store (a fake in tests implements it too)."""

    async def save_segment(
        self, meeting: Meeting, caption: Caption, *, interpreter: bool = False, engine: str = ""
    ) -> None: ...

    async def save_translation(
        self,
        meeting: Meeting,
        caption: Caption,
        *,
        engine: str = "",
        terms: Sequence[AppliedTerm] = (),
    ) -> None: ...


def database_url(*, db_url: str | None, data_dir: Path) -> str:
    """``db_url`` when set (``INTERPRETER_DB_URL``), else the SQLite file in ``data_dir``."""
    if db_url:
        return db_url
    return f"sqlite:///{(data_dir / DB_FILE_NAME).resolve()}"


def _normalise_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as e:
        raise TranscriptStoreError("INTERPRETER_DB_URL is not a database URL") from e
    # A bare postgresql:// URL means psycopg2 to SQLAlchemy; this project ships psycopg 3.
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise TranscriptStoreError(
            "INTERPRETER_DB_URL must be a sqlite:/// or postgresql:// URL, "
            f"not {parsed.get_backend_name()}"
        )
    return parsed


def _check_caption(caption: Caption) -> None:
    if not caption.final:
        raise ValueError("only final captions are stored")
    if not caption.segment_id or len(caption.source_segment_id) > MAX_ID_LENGTH:
        raise ValueError("segment ids must have 1 to 512 characters")
    if len(caption.speaker_identity) > MAX_NAME_LENGTH or len(caption.speaker_name) > 4096:
        raise ValueError("speaker identity or name too long")
    if len(caption.text) > MAX_TEXT_LENGTH:
        raise ValueError("caption text too long to store")


def _storable(caption: Caption) -> Caption:
    """``caption`` without NUL characters, which PostgreSQL text cannot hold."""
    fields = ("source_segment_id", "speaker_identity", "speaker_name", "text")
    if not any("\x00" in getattr(caption, f) for f in fields):
        return caption
    return dataclasses.replace(
        caption, **{f: getattr(caption, f).replace("\x00", "") for f in fields}
    )


def _wall_span(caption: Caption) -> tuple[float, float]:
    duration = max(0.0, caption.end - caption.start)
    return caption.wall_time - duration, caption.wall_time


class _Database:
    """The synchronous core; every method is one short transaction, run on a pool thread."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.dialect = url.get_backend_name()
        self._meeting_ids: dict[str, int] = {}
        self._meeting_lock = threading.Lock()
        if self.dialect == "sqlite":
            self.engine = self._sqlite_engine(url)
        else:
            # fail within seconds, not minutes, when the server is unreachable
            timeout = {} if "connect_timeout" in url.query else {"connect_timeout": 10}
            self.engine = sa.create_engine(
                url,
                pool_pre_ping=True,
                pool_size=4,
                max_overflow=4,
                connect_args=timeout,
                future=True,
            )

    @staticmethod
    def _sqlite_engine(url: URL) -> Engine:
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise TranscriptStoreError("the SQLite transcript store needs a file path")
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False},
            future=True,
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL: readers never block the writer and a crash keeps every committed write.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine

    def create_schema(self) -> None:
        database = (self.url.database or "") if self.dialect == "sqlite" else ""
        new_file = bool(database) and not os.path.exists(database)
        try:
            create_tables(self.engine, metadata)
        except sa.exc.DBAPIError as e:
            raise TranscriptStoreError(
                "could not create the transcript tables", retryable=True
            ) from e
        if new_file and os.path.exists(database):
            os.chmod(database, 0o600)  # transcripts are personal data

    def close(self) -> None:
        self.engine.dispose()

    def _insert(self, table: sa.Table) -> Any:
        if self.dialect == "postgresql":
            return pg_dialect.insert(table)
        return sqlite_dialect.insert(table)

    def _retrying(self, operation: Callable[[Connection], T]) -> T:
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    return operation(conn)
            except sa.exc.IntegrityError as e:
                # A meeting id cached before a purge is the one integrity error a retry fixes.
                if attempt > 0 or not self._meeting_ids:
                    raise TranscriptStoreError("the transcript database refused a write") from e
                with self._meeting_lock:
                    self._meeting_ids.clear()
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as e:
                if attempt == WRITE_ATTEMPTS - 1:
                    raise TranscriptStoreError(
                        "the transcript database is busy or unreachable", retryable=True
                    ) from e
                logger.warning(
                    "transcript write retried",
                    extra={"attempt": attempt + 1, "error": type(e.orig).__name__},
                )
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    def _meeting_id(self, conn: Connection, meeting: Meeting) -> int:
        cached = self._meeting_ids.get(meeting.room_sid)
        if cached is not None:
            return cached
        stmt = self._insert(meetings).values(
            room_sid=meeting.room_sid,
            room_name=meeting.room_name,
            started_at=meeting.started_at,
            created_at=time.time(),
        )
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["room_sid"]))
        row = conn.execute(
            sa.select(meetings.c.id, meetings.c.started_at).where(
                meetings.c.room_sid == meeting.room_sid
            )
        ).one()
        if meeting.started_at is not None and (
            row.started_at is None or meeting.started_at < row.started_at
        ):
            conn.execute(
                meetings.update()
                .where(meetings.c.id == row.id)
                .values(started_at=meeting.started_at)
            )
        return int(row.id)

    def _remember(self, meeting: Meeting, meeting_id: int) -> None:
        with self._meeting_lock:
            self._meeting_ids[meeting.room_sid] = meeting_id

    def save_segment(
        self, meeting: Meeting, caption: Caption, interpreter: bool, engine: str
    ) -> None:
        wall_start, wall_end = _wall_span(caption)
        values = {
            "engine": engine,
            "speaker_identity": caption.speaker_identity,
            "speaker_name": caption.speaker_name,
            "language": str(caption.language),
            "wall_start": wall_start,
            "wall_end": wall_end,
            "text": caption.text,
            "interpreter": interpreter,
            "updated_at": time.time(),
        }

        def write(conn: Connection) -> int:
            meeting_id = self._meeting_id(conn, meeting)
            stmt = self._insert(segments).values(
                meeting_id=meeting_id, segment_id=caption.source_segment_id, **values
            )
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["meeting_id", "segment_id"], set_=values)
            )
            return meeting_id

        self._remember(meeting, self._retrying(write))

    def save_translation(
        self, meeting: Meeting, caption: Caption, engine: str, terms: Sequence[AppliedTerm]
    ) -> None:
        wall_start, wall_end = _wall_span(caption)
        values = {"text": caption.text, "engine": engine, "updated_at": time.time()}
        key = {"segment_id": caption.source_segment_id, "language": str(caption.language)}

        def write(conn: Connection) -> int:
            meeting_id = self._meeting_id(conn, meeting)
            # The source line normally exists already; if its write was lost, keep the
            # translation anyway under a placeholder that the original transcript skips.
            placeholder = self._insert(segments).values(
                meeting_id=meeting_id,
                segment_id=caption.source_segment_id,
                speaker_identity=caption.speaker_identity,
                speaker_name=caption.speaker_name,
                language=str(caption.source_language),
                wall_start=wall_start,
                wall_end=wall_end,
                text="",
                interpreter=False,
                updated_at=time.time(),
            )
            conn.execute(placeholder.on_conflict_do_nothing())
            stmt = self._insert(translations).values(
                meeting_id=meeting_id,
                segment_id=caption.source_segment_id,
                language=str(caption.language),
                **values,
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["meeting_id", "segment_id", "language"], set_=values
                )
            )
            # A rewritten translation replaces its terms.
            t = translation_terms.c
            conn.execute(
                translation_terms.delete().where(
                    t.meeting_id == meeting_id,
                    t.segment_id == key["segment_id"],
                    t.language == key["language"],
                )
            )
            if terms:
                conn.execute(
                    translation_terms.insert(),
                    [
                        {
                            "meeting_id": meeting_id,
                            **key,
                            "position": i,
                            "source": term.source.replace("\x00", ""),
                            "target": term.target.replace("\x00", ""),
                            "found": term.found,
                        }
                        for i, term in enumerate(terms)
                    ],
                )
            return meeting_id

        self._remember(meeting, self._retrying(write))

    def _find_meeting(self, conn: Connection, room: str, sid: str | None) -> sa.Row[Any]:
        query = sa.select(meetings).where(meetings.c.room_name == room)
        if sid is not None:
            query = query.where(meetings.c.room_sid == sid)
        query = query.order_by(
            sa.func.coalesce(meetings.c.started_at, meetings.c.created_at).desc(),
            meetings.c.id.desc(),
        ).limit(1)
        row = conn.execute(query).first()
        if row is None:
            raise TranscriptNotFoundError(
                "no transcript for this meeting" if sid else "no transcript for this room"
            )
        return row

    @staticmethod
    def _languages(conn: Connection, meeting_id: int) -> tuple[Language, ...]:
        spoken = sa.select(segments.c.language.label("language")).where(
            segments.c.meeting_id == meeting_id, segments.c.text != ""
        )
        translated = sa.select(translations.c.language.label("language")).where(
            translations.c.meeting_id == meeting_id
        )
        rows = conn.execute(sa.union(spoken, translated)).scalars()
        return tuple(sorted(Language(r) for r in rows))

    def languages(self, room: str, sid: str | None) -> tuple[Language, ...]:
        with self.engine.connect() as conn:
            meeting = self._find_meeting(conn, room, sid)
            return self._languages(conn, meeting.id)

    def transcript(self, room: str, language: TranscriptLanguage, sid: str | None) -> Transcript:
        with self.engine.connect() as conn:
            meeting = self._find_meeting(conn, room, sid)
            first = conn.execute(
                sa.select(sa.func.min(segments.c.wall_start)).where(
                    segments.c.meeting_id == meeting.id
                )
            ).scalar()
            start = _meeting_start(meeting.started_at, first)
            s, t = segments.c, translations.c
            columns = (
                s.segment_id,
                s.speaker_identity,
                s.speaker_name,
                s.language,
                s.wall_start,
                s.wall_end,
                s.interpreter,
            )
            spoken = sa.select(
                *columns,
                s.text,
                s.engine,
                sa.literal(False).label("translated"),
            ).where(s.meeting_id == meeting.id, s.text != "")
            query: sa.Select[Any] | sa.CompoundSelect[Any]
            if language == ORIGINAL:
                query = spoken.where(s.interpreter.is_(False)).order_by(s.wall_start, s.segment_id)
            else:
                # Two plain selects instead of one outer join with an OR: PostgreSQL plans
                # these well even before it has statistics on freshly written tables.
                translated = (
                    sa.select(
                        *columns,
                        t.text,
                        t.engine,
                        sa.literal(True).label("translated"),
                    )
                    .select_from(
                        translations.join(
                            segments,
                            sa.and_(s.meeting_id == t.meeting_id, s.segment_id == t.segment_id),
                        )
                    )
                    .where(t.meeting_id == meeting.id, t.language == language)
                    .where(s.language != language)
                )
                query = sa.union_all(spoken.where(s.language == language), translated)
                query = query.order_by(query.selected_columns.wall_start, "segment_id")
            rows = conn.execute(query).all()
            if not rows:
                available = self._languages(conn, meeting.id)
                raise TranscriptNotFoundError(
                    "no transcript in this language",
                    available=(ORIGINAL, *available) if available else (),
                )
            terms: dict[str, list[AppliedTerm]] = {}
            if language != ORIGINAL:
                tt = translation_terms.c
                for term in conn.execute(
                    sa.select(tt.segment_id, tt.source, tt.target, tt.found)
                    .where(tt.meeting_id == meeting.id, tt.language == language)
                    .order_by(tt.segment_id, tt.position)
                ):
                    terms.setdefault(term.segment_id, []).append(
                        AppliedTerm(term.source, term.target, bool(term.found))
                    )
        lines = tuple(
            TranscriptLine(
                segment_id=r.segment_id,
                speaker_identity=r.speaker_identity,
                speaker_name=r.speaker_name,
                language=Language(r.language) if language == ORIGINAL else Language(language),
                source_language=Language(r.language),
                text=r.text,
                start=max(0.0, r.wall_start - start),
                end=max(0.0, r.wall_end - start),
                translated=bool(r.translated),
                interpreter=bool(r.interpreter),
                engine=r.engine or "",
                terms=tuple(terms.get(r.segment_id, ())) if r.translated else (),
            )
            for r in rows
        )
        return Transcript(
            room_name=meeting.room_name,
            room_sid=meeting.room_sid,
            language=language,
            meeting_start=start,
            lines=lines,
        )

    def meetings(self, room: str | None) -> list[MeetingInfo]:
        stats = (
            sa.select(
                segments.c.meeting_id,
                sa.func.count().label("n"),
                sa.func.min(segments.c.wall_start).label("first"),
                sa.func.max(segments.c.wall_end).label("last"),
            )
            .group_by(segments.c.meeting_id)
            .subquery()
        )
        query = sa.select(meetings, stats.c.n, stats.c.first, stats.c.last).select_from(
            meetings.outerjoin(stats, stats.c.meeting_id == meetings.c.id)
        )
        if room is not None:
            query = query.where(meetings.c.room_name == room)
        query = query.order_by(
            sa.func.coalesce(meetings.c.started_at, meetings.c.created_at), meetings.c.id
        )
        with self.engine.connect() as conn:
            return [
                MeetingInfo(
                    room_name=r.room_name,
                    room_sid=r.room_sid,
                    started_at=(
                        _meeting_start(r.started_at, r.first) if r.first is not None else None
                    ),
                    last_activity=r.last,
                    segments=r.n or 0,
                    languages=self._languages(conn, r.id),
                )
                for r in conn.execute(query).all()
            ]

    def purge(self, cutoff: float) -> int:
        last = (
            sa.select(sa.func.max(segments.c.wall_end))
            .where(segments.c.meeting_id == meetings.c.id)
            .scalar_subquery()
        )
        stale = sa.select(meetings.c.id).where(
            sa.func.coalesce(last, meetings.c.created_at) < cutoff
        )

        def delete(conn: Connection) -> int:
            ids = list(conn.execute(stale).scalars())
            for chunk in _chunks(ids, 500):
                conn.execute(
                    translation_terms.delete().where(translation_terms.c.meeting_id.in_(chunk))
                )
                conn.execute(translations.delete().where(translations.c.meeting_id.in_(chunk)))
                conn.execute(segments.delete().where(segments.c.meeting_id.in_(chunk)))
                conn.execute(meetings.delete().where(meetings.c.id.in_(chunk)))
            return len(ids)

        purged = self._retrying(delete)
        with self._meeting_lock:
            self._meeting_ids.clear()
        return purged


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _meeting_start(created: float | None, first_speech: float | None) -> float:
    if first_speech is None:
        return created or 0.0
    if created is None or created <= 0 or first_speech - created > MAX_START_GAP:
        return first_speech
    return min(created, first_speech)


class TranscriptStore:
    """Async access to the transcript database; open with :meth:`open`, end with :meth:`aclose`.

    Every call runs on the store's own threads, so a slow disk or a busy database never blocks
    the event loop, and transcript writes never queue behind model inference.
    """

    def __init__(self, *, database: _Database, threads: int = 2) -> None:
        self._db = database
        self._executor = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="transcript-store"
        )
        self._closed = False

    @classmethod
    async def open(cls, url: str, *, threads: int = 2) -> TranscriptStore:
        """Connect to ``url`` and create the tables if they are missing.

        Raises :class:`TranscriptStoreError` for a bad URL or an unreachable database.
        """
        parsed = _normalise_url(url)

        def connect() -> _Database:
            database = _Database(parsed)
            try:
                database.create_schema()
            except sa.exc.SQLAlchemyError as e:
                database.close()
                raise TranscriptStoreError(
                    "could not open the transcript database", retryable=True
                ) from e
            except BaseException:
                database.close()
                raise
            return database

        database = await asyncio.to_thread(connect)
        logger.debug(
            "transcript store open",
            extra={"db": parsed.render_as_string(hide_password=True)},
        )
        return cls(database=database, threads=threads)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._db.dialect

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (SQLite in WAL mode, or a PostgreSQL pool), for other tables
        of the same deployment database (the room glossaries); closed with the store."""
        return self._db.engine

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise TranscriptStoreError("the transcript store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args))
        except sa.exc.SQLAlchemyError as e:
            # unreachable, restarting, connection lost, pool exhausted: a later call may work
            transient = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)
            raise TranscriptStoreError(
                "transcript database error", retryable=isinstance(e, transient)
            ) from e

    async def save_segment(
        self, meeting: Meeting, caption: Caption, *, interpreter: bool = False, engine: str = ""
    ) -> None:
        """Store (or replace) a final source caption: what the speaker said, as they said it.

        ``interpreter`` marks a human interpreter's speech; it appears in the transcript of its
        language but not in the original one. ``engine`` names the recogniser that heard it.
        """
        _check_caption(caption)
        if caption.translated:
            raise ValueError("a translated caption goes to save_translation")
        if len(engine) > MAX_NAME_LENGTH:
            raise ValueError("engine name too long to store")
        await self._run(self._db.save_segment, meeting, _storable(caption), interpreter, engine)

    async def save_translation(
        self,
        meeting: Meeting,
        caption: Caption,
        *,
        engine: str = "",
        terms: Sequence[AppliedTerm] = (),
    ) -> None:
        """Store (or replace) a final translated caption of a source segment, with the
        glossary ``terms`` it had to contain."""
        _check_caption(caption)
        if not caption.translated:
            raise ValueError("an untranslated caption goes to save_segment")
        if any(len(t.source) + len(t.target) > MAX_TEXT_LENGTH for t in terms):
            raise ValueError("glossary term too long to store")
        await self._run(
            self._db.save_translation, meeting, _storable(caption), engine, tuple(terms)
        )

    async def save_caption(
        self, meeting: Meeting, caption: Caption, *, engine: str = "", interpreter: bool = False
    ) -> None:
        """:meth:`save_segment` or :meth:`save_translation`, whichever ``caption`` is."""
        if caption.translated:
            await self.save_translation(meeting, caption, engine=engine)
        else:
            await self.save_segment(meeting, caption, interpreter=interpreter)

    async def languages(self, room: str, *, meeting: str | None = None) -> tuple[Language, ...]:
        """Languages with at least one line in the room's latest meeting (or ``meeting``).

        Raises :class:`TranscriptNotFoundError` when the room has no stored meeting.
        """
        return await self._run(self._db.languages, room, meeting)

    async def transcript(
        self, room: str, language: TranscriptLanguage, *, meeting: str | None = None
    ) -> Transcript:
        """The room's latest meeting (or ``meeting``) in ``language``, or ``"original"``.

        Raises :class:`TranscriptNotFoundError` for an unknown room or a language with no lines.
        """
        return await self._run(self._db.transcript, room, language, meeting)

    async def segments(
        self, room: str, language: TranscriptLanguage, *, meeting: str | None = None
    ) -> tuple[TranscriptLine, ...]:
        """The lines of :meth:`transcript`."""
        return (await self.transcript(room, language, meeting=meeting)).lines

    async def meetings(self, *, room: str | None = None) -> list[MeetingInfo]:
        """Every stored meeting (of ``room``), oldest first."""
        return await self._run(self._db.meetings, room)

    async def purge(self, *, older_than: datetime.timedelta, now: float | None = None) -> int:
        """Delete meetings with nothing said for ``older_than``; returns how many."""
        if older_than.total_seconds() < 0:
            raise ValueError("older_than must not be negative")
        cutoff = (time.time() if now is None else now) - older_than.total_seconds()
        purged = await self._run(self._db.purge, cutoff)
        logger.info("transcripts purged", extra={"meetings": purged})
        return purged

    async def aclose(self) -> None:
        """Wait for pending writes, then release the database connections."""
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._executor.shutdown, wait=True)
        await asyncio.to_thread(self._db.close)

    async def __aenter__(self) -> TranscriptStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
