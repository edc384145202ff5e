"""LiveKit access tokens: the one place this project mints and checks them, and makes the
identities and display names that go into them.

PyJWT warns (``InsecureKeyLengthWarning``) about every HMAC key shorter than 32 bytes, on every
signature and every check. The only such key this system accepts is the public development
secret (configuration refuses short production secrets), and the web app says once at start-up
that it is in use, so the warning is silenced here, around the signing and checking alone,
instead of repeating on every request.
"""

from __future__ import annotations

import datetime
import re
import secrets
import unicodedata
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from jwt.warnings import InsecureKeyLengthWarning
from livekit import api
from livekit.api.access_token import Claims

from captions.protocol import is_reserved_identity

__all__ = [
    "MAX_NAME_LENGTH",
    "TokenChecker",
    "check_display_name",
    "mint_token",
    "new_identity",
    "room_admin_token",
]

MAX_NAME_LENGTH = 64
"""Display names: at most this many characters."""
_SUFFIX_BYTES = 3


@contextmanager
def _short_keys_allowed() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        yield


def check_display_name(name: str) -> str:
    """``name`` as a display name (1 to :data:`MAX_NAME_LENGTH` characters, no control
    characters); raises ``ValueError`` saying what is wrong."""
    if not name:
        raise ValueError("a display name is required")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"the display name is longer than {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ValueError("the display name contains control characters")
    return name


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:24].strip("-")
    if not slug or is_reserved_identity(slug):
        slug = f"guest-{slug}".strip("-")[:24].strip("-")
    return slug


def new_identity(name: str) -> str:
    """A unique identity that still says who it is: ``ana-lima-3f9c2a``; never one that could
    pass for an agent's."""
    return f"{_slug(name)}-{secrets.token_hex(_SUFFIX_BYTES)}"


def mint_token(
    *,
    api_key: str,
    api_secret: str,
    room: str,
    identity: str,
    name: str = "",
    attributes: dict[str, str] | None = None,
    can_publish: bool = True,
    can_subscribe: bool = True,
    can_publish_data: bool = True,
    can_update_own_metadata: bool = False,
    ttl: datetime.timedelta = datetime.timedelta(hours=6),
) -> str:
    """A signed JWT that lets ``identity`` join ``room`` with the given permissions."""
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=can_publish,
        can_subscribe=can_subscribe,
        can_publish_data=can_publish_data,
        can_update_own_metadata=can_update_own_metadata,
    )
    token = (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_name(name or identity)
        .with_grants(grants)
        .with_ttl(ttl)
    )
    if attributes:
        token = token.with_attributes(attributes)
    with _short_keys_allowed():
        return token.to_jwt()


def room_admin_token(
    *,
    api_key: str,
    api_secret: str,
    room: str,
    ttl: datetime.timedelta = datetime.timedelta(minutes=1),
) -> str:
    """A short-lived token for LiveKit's server API that administers ``room`` only."""
    token = (
        api.AccessToken(api_key, api_secret)
        .with_grants(api.VideoGrants(room_admin=True, room=room))
        .with_ttl(ttl)
    )
    with _short_keys_allowed():
        return token.to_jwt()


class TokenChecker:
    """Checks tokens signed with one key pair (``livekit.api.TokenVerifier``, without the
    short-key warning)."""

    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        leeway: datetime.timedelta = datetime.timedelta(seconds=60),
    ) -> None:
        self._verifier = api.TokenVerifier(api_key, api_secret, leeway=leeway)

    def verify(self, token: str) -> Claims:
        """The token's claims; raises (PyJWT's many error types) when it is not valid."""
        with _short_keys_allowed():
            return self._verifier.verify(token)
