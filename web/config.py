"""What the web app needs to run, as plain values (the CLI builds it from its settings)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["WebConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WebConfig:
    """The web app's configuration.

    ``ws_url`` is what browsers connect to; ``http_url`` is where this app reaches LiveKit's
    server API (default: ``ws_url`` with ``ws`` made ``http``). ``store_url`` is the transcript
    database (SQLAlchemy URL); without it :func:`web.app.run_web` serves no transcripts.
    ``dev_keys`` says that ``api_key``/``api_secret`` are the public development pair: the app
    says so once at start-up.
    """

    ws_url: str
    api_key: str
    api_secret: str = field(repr=False)
    http_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    store_url: str | None = field(default=None, repr=False)  # may hold a password
    dev_keys: bool = False

    def __post_init__(self) -> None:
        if not self.api_key or not self.api_secret:
            raise ValueError("the web app needs the LiveKit API key and secret")
        if not self.http_url:
            http = self.ws_url.replace("wss://", "https://", 1).replace("ws://", "http://", 1)
            object.__setattr__(self, "http_url", http)
