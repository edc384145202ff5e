"""Rate limits per client address: a token bucket for each (address, endpoint group).

A bucket holds up to ``burst`` requests and refills at ``per_minute / 60`` a second; a request
that finds it empty is refused with 429, ``Retry-After`` (whole seconds until a request fits
again) and the usual JSON error. The decision (:class:`RateLimiter`) is a plain class on an
injectable clock; :func:`rate_limit_middleware` applies it to the endpoint groups that need it.
Buckets that have refilled completely say nothing a fresh bucket would not, so they are dropped
when the table grows past ``max_clients`` and memory stays bounded whatever the traffic.

The client address is the TCP peer's; behind a reverse proxy every request comes from the
proxy, so ``trust_forwarded`` takes the last ``X-Forwarded-For`` entry instead (the address
the proxy itself saw; earlier entries are the client's own claims and are ignored).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware

__all__ = ["RateLimit", "RateLimiter", "client_address", "rate_limit_middleware"]

MAX_CLIENTS: Final = 10_000


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``per_minute`` requests a minute on average, ``burst`` at once (default: a minute's
    worth). ``per_minute`` 0 means no limit."""

    per_minute: float
    burst: float | None = None

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    @property
    def capacity(self) -> float:
        return max(1.0, self.burst if self.burst is not None else self.per_minute)

    @property
    def rate(self) -> float:
        """Requests a second."""
        return self.per_minute / 60.0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets per key under one :class:`RateLimit`, on ``clock`` (seconds)."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._max = max_clients
        self._buckets: dict[str, _Bucket] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def _refilled(self, bucket: _Bucket, now: float) -> float:
        elapsed = max(0.0, now - bucket.updated)
        return min(self.limit.capacity, bucket.tokens + elapsed * self.limit.rate)

    def acquire(self, key: str) -> float:
        """Take one request for ``key``: 0.0 when it may go ahead, else the seconds to wait
        before one would fit (nothing is taken then)."""
        if not self.limit.enabled:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(self.limit.capacity, now)
        tokens = self._refilled(bucket, now)
        bucket.updated = now
        if tokens >= 1.0:
            bucket.tokens = tokens - 1.0
            return 0.0
        bucket.tokens = tokens
        return (1.0 - tokens) / self.limit.rate

    def _forget_full(self, now: float) -> None:
        full = [
            k for k, b in self._buckets.items() if self._refilled(b, now) >= self.limit.capacity
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self._max:  # all busy: forget the longest idle half
            idle = sorted(self._buckets, key=lambda k: self._buckets[k].updated)
            for key in idle[: len(idle) // 2 + 1]:
                del self._buckets[key]


def client_address(request: web.Request, *, trust_forwarded: bool = False) -> str:
    """The address a request is counted against (see the module's note on proxies)."""
    if trust_forwarded:
        forwarded = request.headers.get("X-Forwarded-For", "")
        last = forwarded.split(",")[-1].strip()
        if last:
            return last
    return request.remote or "unknown"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Group = Callable[[web.Request], str | None]


def rate_limit_middleware(
    limiters: dict[str, RateLimiter], group: Group, *, trust_forwarded: bool = False
) -> Middleware:
    """An aiohttp middleware that counts each request in the limiter of its ``group(request)``
    (``None``: not limited) and refuses it with 429 when that bucket is empty."""

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        name = group(request)
        limiter = limiters.get(name) if name is not None else None
        if limiter is not None:
            wait = limiter.acquire(
                f"{name}|{client_address(request, trust_forwarded=trust_forwarded)}"
            )
            if wait > 0:
                retry = max(1, math.ceil(wait))
                return web.json_response(
                    {
                        "error": "rate_limited",
                        "message": f"too many requests: try again in {retry} s",
                        "retry_after": retry,
                    },
                    status=429,
                    headers={"Retry-After": str(retry), "Cache-Control": "no-store"},
                )
        return await handler(request)

    return limit
