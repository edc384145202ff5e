"""Production mode: what a deployment must not do, checked before anything starts.

The development key pair (``devkey`` / ``secret``) is public: whoever reaches a service that
holds it can mint tokens for the LiveKit server, join every room and administer it. So the web
app, the worker, the LiveKit server and ``up`` refuse to start with it unless every service
binds to a loopback address and the LiveKit server is reached at one, where only this machine
reaches them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from interpreter.config import DEV_API_KEY, DEV_API_SECRET, Settings
from interpreter.errors import ConfigError
from web.config import is_loopback_host

__all__ = ["is_loopback_host", "refuse_public_dev_keys"]


def _exposed(settings: Settings) -> list[str]:
    """The settings that put a service beyond loopback, as ``NAME=value``."""
    exposed = []
    if not is_loopback_host(settings.host):
        exposed.append(f"INTERPRETER_HOST={settings.host}")
    for name, url in (
        ("LIVEKIT_URL", settings.livekit_url),  # unset: derived from INTERPRETER_HOST
        ("INTERPRETER_LIVEKIT_API_URL", settings.livekit_api_url),
    ):
        host = urlsplit(url).hostname if url else None
        if host is not None and not is_loopback_host(host):
            exposed.append(f"{name}={url}")
    return exposed


def refuse_public_dev_keys(settings: Settings) -> None:
    """Raise :class:`ConfigError` when the public development keys are in use and a service
    binds beyond loopback (``INTERPRETER_HOST``) or the LiveKit server is reached at an address
    that is not loopback (``LIVEKIT_URL``, ``INTERPRETER_LIVEKIT_API_URL``); the message names
    the variables and the fix."""
    exposed = _exposed(settings) if settings.dev_keys else []
    if not exposed:
        return
    raise ConfigError(
        f"refusing to start: the public development keys ({DEV_API_KEY} / {DEV_API_SECRET}) are"
        f" in use and {' and '.join(exposed)}"
        f" {'are not loopback addresses' if len(exposed) > 1 else 'is not a loopback address'},"
        " so anyone who reaches this deployment could mint tokens and join or administer every"
        " room. Set LIVEKIT_API_KEY and LIVEKIT_API_SECRET (a secret of at least 32 characters,"
        " e.g. from `openssl rand -base64 36`; `livekit-server generate-keys` makes a pair) on"
        " every service, or keep everything on 127.0.0.1 (INTERPRETER_HOST / --host,"
        " LIVEKIT_URL)."
    )
