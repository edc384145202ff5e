"""Small checks the unit tests share: a metric's current value, and waiting for a condition."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prometheus_client import REGISTRY

__all__ = ["eventually", "metric_value"]


def metric_value(name: str, **labels: str) -> float:
    """The current value of one sample of the default registry (0 when never recorded)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def eventually(check: Callable[[], bool], *, within: float = 2.0) -> None:
    """Wait (on the event loop) until ``check()`` holds; fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)
