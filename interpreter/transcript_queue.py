"""Write-behind for the transcript: a database outage delays transcript lines, never loses them.

A translator agent stores every final caption before it publishes it. While the database
answers, :class:`TranscriptQueue` keeps that order: the caller waits for its write (at most
``first_attempt_wait`` seconds). When a write fails retryably (the database restarts, the
network drops) the caption stays queued, in order, and one background task tries the head of
the queue again with a growing delay until the database answers; captions said meanwhile queue
behind it without waiting, so publishing never waits on a database that is known to be away.
One writer drains the queue first in, first out, so a later version of a segment is never
overtaken by an older one.

The queue is bounded (``limit`` captions, ``limit_chars`` characters of text); a caption that
does not fit is dropped, logged and counted. A write the database refuses (bad data) is not
retried: the waiting caller gets the error, or it is logged and counted. On close the queue
is flushed for at most ``flush_timeout`` seconds before the store is closed, and the lines
left are logged and counted.

Logs: ``transcript writes pending`` (when the queue falls behind, then every
``REPORT_EVERY`` seconds) and ``transcript caught up`` (the queue is empty again: how long it
was behind, how many lines it wrote meanwhile). Metrics: ``interpreter_transcript_pending``,
``interpreter_transcript_lost_total{reason}``, ``interpreter_transcript_behind_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from captions import Caption, CaptionsError, TranscriptStoreError
from captions.store import AppliedTerm, Meeting, TranscriptWriter
from interpreter import metrics
from interpreter.tasks import spawn

__all__ = [
    "FIRST_ATTEMPT_WAIT",
    "FLUSH_TIMEOUT",
    "PENDING_LIMIT",
    "PENDING_LIMIT_CHARS",
    "TranscriptQueue",
    "Transcripts",
]

logger = logging.getLogger("interpreter.transcript_queue")

PENDING_LIMIT = 20_000
"""Captions kept while the database is away (hours of a busy multilingual room)."""
PENDING_LIMIT_CHARS = 16_000_000
"""Characters of caption text kept while the database is away (the memory bound)."""
FIRST_ATTEMPT_WAIT = 1.0
"""Seconds a caller waits for its own write before publishing anyway: a store attempt against
a stopped server fails well within it (the store's own retries sleep 0.35 s)."""
FLUSH_TIMEOUT = 10.0
RETRY_FIRST_DELAY = 0.25
RETRY_MAX_DELAY = 1.0
"""The longest wait between retries: a try against a server that is down costs next to nothing
(refused at once), and this bounds how long the transcript lags once it is back."""
REPORT_EVERY = 10.0


class Transcripts(TranscriptWriter, Protocol):
    """The transcript store as the agent uses it (it closes the store when it ends)."""

    async def aclose(self) -> None: ...


@dataclass(slots=True, kw_only=True)
class _Write:
    meeting: Meeting
    caption: Caption
    interpreter: bool = False
    engine: str = ""
    terms: tuple[AppliedTerm, ...] = ()
    waiting: bool = False
    """A caller awaits :attr:`attempted` (a refusal is raised to it, not logged here)."""
    attempted: asyncio.Future[BaseException | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    """Settled after the first attempt: ``None`` (stored, or queued for a retry) or the error
    that refused it."""

    async def store(self, writer: TranscriptWriter) -> None:
        if self.caption.translated:
            await writer.save_translation(
                self.meeting, self.caption, engine=self.engine, terms=self.terms
            )
        else:
            await writer.save_segment(
                self.meeting, self.caption, interpreter=self.interpreter, engine=self.engine
            )

    def settle(self, error: BaseException | None) -> None:
        if not self.attempted.done():
            self.attempted.set_result(error)


def _retryable(e: BaseException) -> bool:
    return isinstance(e, CaptionsError) and e.retryable


class TranscriptQueue:
    """A :class:`Transcripts` in front of ``writer`` that rides out database outages.

    ``save_segment`` / ``save_translation`` return once the caption is stored, or queued for a
    retry (its first attempt failed retryably or took longer than ``first_attempt_wait``, or
    the queue is already behind); they raise only for a caption the database refused, or
    after :meth:`aclose`. :meth:`aclose` flushes (bounded) and closes ``writer``.
    """

    def __init__(
        self,
        writer: Transcripts,
        *,
        limit: int = PENDING_LIMIT,
        limit_chars: int = PENDING_LIMIT_CHARS,
        first_attempt_wait: float = FIRST_ATTEMPT_WAIT,
        flush_timeout: float = FLUSH_TIMEOUT,
        retry_first_delay: float = RETRY_FIRST_DELAY,
        retry_max_delay: float = RETRY_MAX_DELAY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or limit_chars < 1:
            raise ValueError("the pending limits must be positive")
        self.writer = writer
        self.limit = limit
        self.limit_chars = limit_chars
        self.first_attempt_wait = first_attempt_wait
        self.flush_timeout = flush_timeout
        self.retry_first_delay = retry_first_delay
        self.retry_max_delay = retry_max_delay
        self._monotonic = monotonic
        self._pending: deque[_Write] = deque()
        self._pending_chars = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._drainer: asyncio.Task[None] | None = None
        self._closing = False
        self._behind_since: float | None = None
        self._reported_at = 0.0
        self._written_behind = 0
        self._dropped_behind = 0
        self._most_pending = 0
        self.stored = 0
        """Captions stored so far."""
        self.lost = 0
        """Captions never stored: dropped at the bound, refused, or left at close."""

    @property
    def pending(self) -> int:
        """Captions published (or about to be) but not stored yet."""
        return len(self._pending)

    @property
    def behind(self) -> bool:
        """The queue is riding out an outage or a slow write: new captions do not wait."""
        return self._behind_since is not None

    async def save_segment(
        self, meeting: Meeting, caption: Caption, *, interpreter: bool = False, engine: str = ""
    ) -> None:
        """Store (or queue) a final source caption, as the store's ``save_segment``."""
        await self._save(
            _Write(meeting=meeting, caption=caption, interpreter=interpreter, engine=engine)
        )

    async def save_translation(
        self,
        meeting: Meeting,
        caption: Caption,
        *,
        engine: str = "",
        terms: Sequence[AppliedTerm] = (),
    ) -> None:
        """Store (or queue) a final translated caption, as the store's ``save_translation``."""
        write = _Write(meeting=meeting, caption=caption, engine=engine, terms=tuple(terms))
        await self._save(write)

    async def _save(self, write: _Write) -> None:
        if self._closing:
            raise TranscriptStoreError("the transcript store is closed")
        size = len(write.caption.text)
        if len(self._pending) >= self.limit or self._pending_chars + size > self.limit_chars:
            self._drop(write)
            return
        self._pending.append(write)
        self._pending_chars += size
        self._idle.clear()
        self._most_pending = max(self._most_pending, len(self._pending))
        metrics.TRANSCRIPT_PENDING.inc()
        if self._drainer is None:
            self._drainer = spawn(self._drain(), task="transcript-writes")
        self._wake.set()
        if self._behind_since is not None:
            return  # known outage: the caption waits in the queue, not its publisher
        write.waiting = True
        try:
            error = await asyncio.wait_for(asyncio.shield(write.attempted), self.first_attempt_wait)
        except TimeoutError:
            self._fall_behind("slow")
            return
        finally:
            write.waiting = False
        if error is not None:
            raise error

    def _drop(self, write: _Write) -> None:
        self.lost += 1
        self._dropped_behind += 1
        metrics.TRANSCRIPT_LOST.labels("limit").inc()
        if self._dropped_behind == 1 or self._dropped_behind % 1000 == 0:
            logger.error(
                "transcript line dropped: too many pending",
                extra={
                    "segment_id": write.caption.segment_id,
                    "pending": len(self._pending),
                    "pending_chars": self._pending_chars,
                    "dropped": self._dropped_behind,
                },
            )

    def _fall_behind(self, reason: str) -> None:
        now = self._monotonic()
        if self._behind_since is None:
            self._behind_since = now
            for write in self._pending:  # callers queued behind the failed write go on too
                write.settle(None)
            self._written_behind = 0
            self._dropped_behind = 0
            self._most_pending = len(self._pending)
        elif now - self._reported_at < REPORT_EVERY:
            return
        self._reported_at = now
        logger.warning(
            "transcript writes pending",
            extra={
                "pending": len(self._pending),
                "seconds": round(now - self._behind_since, 3),
                "reason": reason,
            },
        )

    def _caught_up(self) -> None:
        if self._behind_since is None:
            return
        seconds = self._monotonic() - self._behind_since
        self._behind_since = None
        metrics.TRANSCRIPT_BEHIND.observe(seconds)
        logger.info(
            "transcript caught up",
            extra={
                "seconds": round(seconds, 3),
                "written": self._written_behind,
                "most_pending": self._most_pending,
                "dropped": self._dropped_behind,
            },
        )

    def _done(self, write: _Write) -> None:
        self._pending.popleft()
        self._pending_chars -= len(write.caption.text)
        metrics.TRANSCRIPT_PENDING.dec()
        if not self._pending:
            self._idle.set()

    async def _drain(self) -> None:
        delay = self.retry_first_delay
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            write = self._pending[0]
            try:
                await write.store(self.writer)
            except Exception as e:
                if _retryable(e):
                    write.settle(None)
                    self._fall_behind(type(e.__cause__ or e).__name__)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry_max_delay)
                    continue
                self._done(write)
                self._refused(write, e)
                continue
            delay = self.retry_first_delay
            self._done(write)
            self.stored += 1
            if self._behind_since is not None:
                self._written_behind += 1
            write.settle(None)
            if not self._pending:
                self._caught_up()

    def _refused(self, write: _Write, e: Exception) -> None:
        self.lost += 1
        metrics.TRANSCRIPT_LOST.labels("refused").inc()
        if write.waiting and not write.attempted.done():
            write.settle(e)  # its caller logs it, as a failure of the transcript stage
            return
        write.settle(None)
        logger.error(
            "queued transcript line refused",
            exc_info=None if isinstance(e, CaptionsError) else e,
            extra={"segment_id": write.caption.segment_id, "error": type(e).__name__},
        )

    async def flush(self) -> None:
        """Wait until every queued caption is stored (or refused); bound it with
        ``asyncio.timeout``."""
        await self._idle.wait()

    async def aclose(self) -> None:
        """Flush for at most ``flush_timeout`` seconds, then close the writer. New captions
        are refused from now on; the lines left are logged and counted."""
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        started = self._monotonic()
        try:
            if self._drainer is not None:
                await asyncio.wait({self._drainer}, timeout=self.flush_timeout)
                if not self._drainer.done():
                    self._drainer.cancel()
                    await asyncio.wait({self._drainer})
            left = len(self._pending)
            if left:
                self.lost += left
                metrics.TRANSCRIPT_LOST.labels("shutdown").inc(left)
                metrics.TRANSCRIPT_PENDING.dec(left)
                for write in self._pending:
                    write.settle(None)
                self._pending.clear()
                self._pending_chars = 0
                self._idle.set()
                logger.error(
                    "transcript lines not stored",
                    extra={
                        "lines": left,
                        "flush_seconds": round(self._monotonic() - started, 3),
                    },
                )
            else:
                self._caught_up()
        finally:
            await self.writer.aclose()
