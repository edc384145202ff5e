"""LiveKit access tokens: the one place this project mints them."""

from __future__ import annotations

import datetime

from livekit import api

__all__ = ["mint_token"]


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
    return token.to_jwt()
