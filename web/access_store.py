"""Room access rules in the deployment's database: the passcode an organizer set for a room.

A room without a row is governed by the deployment's rule (open, or closed until it gets a
passcode: :class:`~web.config.WebConfig` ``room_access``). A passcode is never stored: the row
holds its scrypt hash with a random salt and the scrypt parameters, and a check hashes the
candidate the same way and compares in constant time. Hashing costs tens of milliseconds and
16 MiB on purpose (a stolen database does not give the passcodes away cheaply); it runs in a
thread, never on the event loop, like every database call here.

The table lives in its own :data:`metadata`, next to the transcript tables (SQLite or
PostgreSQL); the caller owns the engine (:attr:`captions.store.TranscriptStore.engine`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
import unicodedata
from collections.abc import Callable
from typing import Any, Final, Literal, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from captions.protocol import MAX_ROOM_NAME
from captions.store import create_tables
from web.errors import WebError

__all__ = [
    "MAX_PASSCODE",
    "MIN_PASSCODE",
    "AccessStore",
    "AccessStoreError",
    "Admission",
    "PasscodeError",
    "check_passcode",
    "hash_passcode",
    "metadata",
    "room_access",
    "verify_passcode",
]

T = TypeVar("T")

MIN_PASSCODE: Final = 6
MAX_PASSCODE: Final = 128
_SCRYPT_N: Final = 2**14
_SCRYPT_R: Final = 8
_SCRYPT_P: Final = 1
_SALT_BYTES: Final = 16
_SCHEME: Final = "scrypt"

Admission = Literal["open", "admitted", "passcode_required", "wrong_passcode"]
"""What a room says to a join: no passcode needed, the right one given, none given, a wrong one."""

metadata = sa.MetaData()
"""The access table alone: created by :meth:`AccessStore.create_schema`."""

room_access = sa.Table(
    "room_access",
    metadata,
    sa.Column("room", sa.String(MAX_ROOM_NAME), primary_key=True),
    sa.Column("passcode_hash", sa.String(256), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)


class AccessStoreError(WebError):
    """The access database could not be reached or refused a write."""


class PasscodeError(WebError):
    """A passcode an organizer cannot set (the message says why)."""


def check_passcode(passcode: object) -> str:
    """``passcode`` as it will be stored and compared (Unicode NFC, without surrounding
    whitespace, which a form or a pipe adds too easily); raises
    :class:`PasscodeError` unless it is a string of :data:`MIN_PASSCODE` to
    :data:`MAX_PASSCODE` characters without control characters."""
    if not isinstance(passcode, str):
        raise PasscodeError("'passcode' must be a string")
    text = unicodedata.normalize("NFC", passcode).strip()
    if not MIN_PASSCODE <= len(text) <= MAX_PASSCODE:
        raise PasscodeError(f"a passcode has {MIN_PASSCODE} to {MAX_PASSCODE} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise PasscodeError("a passcode cannot contain control characters")
    return text


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(passcode: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        passcode.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32
    )


def hash_passcode(passcode: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64) of a checked passcode (blocking: tens of ms)."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(passcode, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return "$".join(
        [_SCHEME, str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest)]
    )


def verify_passcode(candidate: str, stored: str) -> bool:
    """Whether ``candidate`` hashes to ``stored`` (blocking; constant-time comparison). A
    malformed ``stored`` value matches nothing."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(
            unicodedata.normalize("NFC", candidate).strip(),
            base64.b64decode(salt),
            int(n),
            int(r),
            int(p),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


class AccessStore:
    """Async access to the rooms' passcodes in the database behind ``engine`` (SQLite or
    PostgreSQL); the caller owns the engine. Database failures raise
    :class:`AccessStoreError`."""

    def __init__(self, engine: sa.Engine, *, clock: Callable[[], float] = time.time) -> None:
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise AccessStoreError(f"room access needs SQLite or PostgreSQL, not {dialect}")
        self._engine = engine
        self._insert = sqlite_dialect.insert if dialect == "sqlite" else pg_dialect.insert
        self._clock = clock

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args)
        except sa.exc.SQLAlchemyError as e:
            retryable = isinstance(e, (sa.exc.OperationalError, sa.exc.InterfaceError))
            raise AccessStoreError("room access database error", retryable=retryable) from e

    async def create_schema(self) -> None:
        """Create the access table if it is missing (safe when processes race to do it)."""
        await self._run(create_tables, self._engine, metadata)

    async def ping(self) -> None:
        """One round trip to the database (raises :class:`AccessStoreError` without one)."""

        def select_one() -> None:
            with self._engine.connect() as conn:
                conn.execute(sa.select(1)).scalar_one()

        await self._run(select_one)

    async def set_passcode(self, room: str, passcode: object) -> None:
        """Make ``passcode`` (checked with :func:`check_passcode`, which raises
        :class:`PasscodeError`) the passcode of ``room``, replacing any earlier one."""
        text = check_passcode(passcode)
        hashed = await asyncio.to_thread(hash_passcode, text)
        await self._run(self._put, room, hashed)

    def _put(self, room: str, hashed: str) -> None:
        now = self._clock()
        statement = self._insert(room_access).values(
            room=room, passcode_hash=hashed, updated_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=[room_access.c.room],
            set_={"passcode_hash": hashed, "updated_at": now},
        )
        with self._engine.begin() as conn:
            conn.execute(statement)

    async def clear(self, room: str) -> bool:
        """Remove ``room``'s passcode; whether it had one."""
        return await self._run(self._clear, room)

    def _clear(self, room: str) -> bool:
        with self._engine.begin() as conn:
            result = conn.execute(sa.delete(room_access).where(room_access.c.room == room))
        return bool(result.rowcount)

    async def has_passcode(self, room: str) -> bool:
        """Whether an organizer set a passcode for ``room``."""
        return await self._run(self._hash_of, room) is not None

    def _hash_of(self, room: str) -> str | None:
        with self._engine.connect() as conn:
            found: str | None = conn.execute(
                sa.select(room_access.c.passcode_hash).where(room_access.c.room == room)
            ).scalar_one_or_none()
        return found

    async def admit(self, room: str, passcode: str | None) -> Admission:
        """What ``room`` says to someone joining with ``passcode`` (``None``: none given):
        ``open`` when the room has no passcode."""
        stored = await self._run(self._hash_of, room)
        if stored is None:
            return "open"
        if not passcode:
            return "passcode_required"
        matches = await asyncio.to_thread(verify_passcode, passcode, stored)
        return "admitted" if matches else "wrong_passcode"
