"""What the web app needs to run, as plain values (the CLI builds it from its settings)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["WebConfig", "is_loopback_host"]


def is_loopback_host(host: str) -> bool:
    """Whether binding to ``host`` keeps a service on this machine (``127.0.0.0/8``, ``::1``,
    ``localhost``); the wildcard addresses and every other name or address do not."""
    name = host.strip().strip("[]").lower()
    if name in ("localhost", "ip6-localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


@dataclass(frozen=True, slots=True, kw_only=True)
class WebConfig:
    """The web app's configuration.

    ``ws_url`` is what browsers connect to; ``http_url`` is where this app reaches LiveKit's
    server API (default: ``ws_url`` with ``ws`` made ``http``). ``store_url`` is the transcript
    database (SQLAlchemy URL); without it :func:`web.app.run_web` serves no transcripts.
    ``dev_keys`` says that ``api_key``/``api_secret`` are the public development pair: the app
    says so once at start-up, and :func:`web.app.run_web` refuses to serve them beyond loopback.

    Production mode: ``room_access`` ``"passcode"`` lets only rooms with an organizer's passcode
    be joined (``"open"``: a room without one is open); ``token_rate_limit`` and
    ``booth_rate_limit`` are requests per client address a minute (0: no limit), the address
    taken from the last ``X-Forwarded-For`` entry with ``trust_forwarded``.
    """

    ws_url: str
    api_key: str
    api_secret: str = field(repr=False)
    http_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    store_url: str | None = field(default=None, repr=False)  # may hold a password
    dev_keys: bool = False
    room_access: Literal["open", "passcode"] = "open"
    token_rate_limit: float = 60.0
    booth_rate_limit: float = 600.0
    trust_forwarded: bool = False

    def __post_init__(self) -> None:
        if not self.api_key or not self.api_secret:
            raise ValueError("the web app needs the LiveKit API key and secret")
        if not self.http_url:
            http = self.ws_url.replace("wss://", "https://", 1).replace("ws://", "http://", 1)
            object.__setattr__(self, "http_url", http)
