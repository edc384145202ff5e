"""Which cloud providers of a chain to try now: a pure decision, and how failures are named.

:class:`ProviderHealth` is synchronous and I/O-free (time is passed in, like ``pacing.py``):
the fallback wrappers feed it each provider's successes and failures and ask it whether a
provider may be tried. A failed provider rests for a cool-down (doubling while it keeps
failing, up to a maximum) so that a dead service costs one failed request per cool-down, not
one per unit; rejected credentials (401/403) rest much longer, and are never retried in a loop.
The next request after the cool-down is the probe: when it succeeds the provider is back.

:func:`failure_reason` names a failure for metrics and logs with a fixed vocabulary (never the
error's message, which may echo the request or part of a key).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp
from livekit.agents import APIConnectionError, APIError, APIStatusError, APITimeoutError

__all__ = [
    "AUTH_COOLDOWN",
    "COOLDOWN",
    "MAX_COOLDOWN",
    "IncompleteError",
    "ProviderHealth",
    "RestingError",
    "StalledError",
    "failure_reason",
]

COOLDOWN = 5.0
"""Seconds a provider rests after its first failure."""
MAX_COOLDOWN = 60.0
"""The longest rest after repeated failures (each failure doubles the previous one)."""
AUTH_COOLDOWN = 300.0
"""Seconds a provider rests after rejecting the credentials (401/403): a key does not fix
itself, so it is retried only this rarely, in case it was rotated."""


class StalledError(APIConnectionError):
    """A provider stopped sending (no data for its read timeout)."""

    def __init__(self, message: str = "provider stalled") -> None:
        super().__init__(message, retryable=True)


class IncompleteError(APIError):
    """A provider's answer ended too early to be the whole unit (a cut or truncated body)."""

    def __init__(self, message: str = "answer incomplete") -> None:
        super().__init__(message, retryable=True)


class RestingError(APIError):
    """A provider was not asked: it is resting after a failure."""

    def __init__(self, message: str = "provider resting after a failure") -> None:
        super().__init__(message, retryable=True)


def _causes(error: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def failure_reason(error: BaseException) -> str:
    """A fixed word for ``error`` (its whole cause chain is looked at): ``auth`` (401/403),
    ``status`` (another HTTP status), ``refused`` (no connection), ``stall``, ``timeout``,
    ``partial`` (answer cut or incomplete), ``malformed`` (an answer that does not parse),
    ``connection`` (another transport failure), ``resting`` (not asked: in a cool-down) or
    ``error``."""
    chain = list(_causes(error))
    for e in chain:
        if isinstance(e, APIStatusError):
            return "auth" if e.status_code in (401, 403) else "status"
        status = getattr(e, "status_code", None) or getattr(e, "status", None)
        if isinstance(status, int) and status >= 400:
            return "auth" if status in (401, 403) else "status"
    for e in chain:
        if isinstance(e, RestingError):
            return "resting"
        if isinstance(e, StalledError):
            return "stall"
        if isinstance(e, IncompleteError):
            return "partial"
        if isinstance(e, (ConnectionRefusedError, aiohttp.ClientConnectorError)):
            return "refused"
        name = type(e).__name__
        if name == "ConnectError":  # httpx: the connection could not be made
            return "refused"
        if name in ("RemoteProtocolError", "ClientPayloadError", "ServerDisconnectedError"):
            return "partial"
        if isinstance(e, (ValueError, UnicodeDecodeError)) and not isinstance(e, APIError):
            return "malformed"  # JSONDecodeError is a ValueError
    for e in chain:
        if isinstance(e, (APITimeoutError, TimeoutError, asyncio.TimeoutError)):
            return "timeout"
        if isinstance(e, (APIConnectionError, ConnectionError, aiohttp.ClientError)):
            return "connection"
    return "error"


@dataclass(slots=True)
class _State:
    failures: int = 0
    resting_until: float = 0.0
    reason: str = ""


class ProviderHealth:
    """Cool-downs of the providers of one stage, shared by every request in the process.

    Args:
        cooldown: seconds of rest after a first failure; each further failure in a row doubles
            it, up to ``max_cooldown``.
        auth_cooldown: seconds of rest after rejected credentials.
    """

    def __init__(
        self,
        *,
        cooldown: float = COOLDOWN,
        max_cooldown: float = MAX_COOLDOWN,
        auth_cooldown: float = AUTH_COOLDOWN,
    ) -> None:
        self._cooldown = cooldown
        self._max = max(max_cooldown, cooldown)
        self._auth = auth_cooldown
        self._states: dict[str, _State] = {}

    def available(self, provider: str, now: float) -> bool:
        """Whether ``provider`` may be tried at ``now`` (it is not resting)."""
        state = self._states.get(provider)
        return state is None or now >= state.resting_until

    def resting_until(self, provider: str) -> float:
        """When ``provider``'s current rest ends (0 when it is not resting)."""
        state = self._states.get(provider)
        return 0.0 if state is None else state.resting_until

    def reason(self, provider: str) -> str:
        """Why ``provider`` last failed ("" when it has not, or has recovered)."""
        state = self._states.get(provider)
        return "" if state is None else state.reason

    def failed(self, provider: str, reason: str, now: float) -> float:
        """Record a failure of ``provider``; returns the seconds it now rests."""
        state = self._states.setdefault(provider, _State())
        state.failures += 1
        state.reason = reason
        if reason == "auth":
            rest = self._auth
        else:
            rest = min(self._cooldown * 2 ** (state.failures - 1), self._max)
        state.resting_until = now + rest
        return rest

    def succeeded(self, provider: str) -> bool:
        """Record a success of ``provider``; returns True when it had been failing."""
        state = self._states.pop(provider, None)
        return state is not None
