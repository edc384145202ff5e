"""Background tasks that never die silently, and bounded retries.

Every long-lived task of an agent (the demand loop, lanes, voice loops, the speaker's audio,
orphan sweeps) is started through :func:`spawn`: a task that ends with an exception is logged
with its traceback and counted in ``interpreter_task_failures_total{task=...}``. Operations on
the room that may fail for a moment (publishing a track, setting attributes) go through
:func:`retry`, which tries again with a bounded, growing delay instead of giving up at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from interpreter import metrics

__all__ = ["RETRY_ATTEMPTS", "count_failure", "retry", "spawn"]

logger = logging.getLogger("interpreter.tasks")

T = TypeVar("T")

RETRY_ATTEMPTS = 5
RETRY_FIRST_DELAY = 0.25
RETRY_MAX_DELAY = 4.0


def count_failure(task: str, error: BaseException) -> None:
    """Log ``error`` (with its traceback) as the failure of ``task`` and count it."""
    metrics.TASK_FAILURES.labels(task).inc()
    logger.error(
        "background task failed",
        exc_info=(type(error), error, error.__traceback__),
        extra={"task": task, "error": type(error).__name__},
    )


def _report(task_kind: str) -> Callable[[asyncio.Task[Any]], None]:
    def done(task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            count_failure(task_kind, error)

    return done


def spawn(
    coro: Coroutine[Any, Any, T],
    *,
    task: str,
    name: str | None = None,
    owner: set[asyncio.Task[Any]] | None = None,
) -> asyncio.Task[T]:
    """Start ``coro`` as a task whose failure is logged and counted under ``task``.

    ``owner``, when given, holds the task while it runs (so it is not garbage collected and
    its owner can cancel it on close).
    """
    t = asyncio.create_task(coro, name=name or task)
    t.add_done_callback(_report(task))
    if owner is not None:
        owner.add(t)
        t.add_done_callback(owner.discard)
    return t


async def retry(
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int | None = None,
    first_delay: float | None = None,
    max_delay: float | None = None,
    extra: dict[str, object] | None = None,
) -> T:
    """Await ``operation()`` until it succeeds, at most ``attempts`` times, waiting
    ``first_delay`` then twice as long each time (at most ``max_delay``) in between.

    The last failure is raised. Every failed attempt is counted in
    ``interpreter_retries_total{operation=what}``. Unset arguments take the module's
    ``RETRY_*`` values.
    """
    attempts = RETRY_ATTEMPTS if attempts is None else attempts
    delay = RETRY_FIRST_DELAY if first_delay is None else first_delay
    cap = RETRY_MAX_DELAY if max_delay is None else max_delay
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            metrics.RETRIES.labels(what).inc()
            if attempt == attempts:
                raise
            logger.warning(
                "operation failed, retrying",
                extra={
                    **(extra or {}),
                    "operation": what,
                    "attempt": attempt,
                    "delay": delay,
                    "error": type(e).__name__,
                },
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, cap)
    raise AssertionError("unreachable")
