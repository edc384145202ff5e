"""Which languages a translator must produce, from who is in the room.

Plain and synchronous: the agent feeds it what the room says (participants' ``language``
attributes, room metadata) and the current time; it answers which target languages to add and
which to drop. A target nobody wants any more is dropped only after ``linger`` seconds, so a
listener who flips languages back and forth, or reconnects, does not make tracks flap.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from captions.protocol import ATTR_LANGUAGE
from interpreter.errors import UnknownLanguageError
from languages import Language, normalize_language

__all__ = [
    "DEMAND_LINGER",
    "DEMAND_POLL",
    "DemandChange",
    "LanguageDemand",
    "RoomMember",
    "room_languages",
]

logger = logging.getLogger("interpreter.demand")

DEMAND_LINGER = 5.0
"""Seconds a target nobody wants any more is kept before its track goes."""
DEMAND_POLL = 1.0
"""Seconds between two looks at the room when no event asked for one sooner."""


@dataclass(frozen=True, slots=True)
class RoomMember:
    """What the demand needs to know of one participant in the room."""

    identity: str
    attributes: Mapping[str, str]
    is_agent: bool = False


@dataclass(frozen=True, slots=True)
class DemandChange:
    added: frozenset[Language]
    removed: frozenset[Language]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)


def room_languages(metadata: str) -> frozenset[Language]:
    """Languages listed in room metadata ``{"languages": [...]}``; bad entries are skipped."""
    if not metadata.strip():
        return frozenset()
    try:
        data = json.loads(metadata)
    except json.JSONDecodeError:
        logger.warning("room metadata is not JSON; no room languages")
        return frozenset()
    listed = data.get("languages", []) if isinstance(data, dict) else []
    if not isinstance(listed, list):
        logger.warning("room metadata 'languages' is not a list; ignored")
        return frozenset()
    found = (_normalized(str(code), "room metadata") for code in listed)
    return frozenset(lang for lang in found if lang is not None)


def _normalized(code: str, where: str) -> Language | None:
    try:
        return normalize_language(code)
    except UnknownLanguageError:
        logger.warning("unknown language ignored", extra={"where": where, "code": code[:32]})
        return None


class LanguageDemand:
    """The set of target languages for one speaker's translator."""

    def __init__(self, *, speaker_identity: str, linger: float = DEMAND_LINGER) -> None:
        self._speaker = speaker_identity
        self._linger = linger
        self._active: set[Language] = set()
        self._unwanted_since: dict[Language, float] = {}

    @property
    def targets(self) -> frozenset[Language]:
        return frozenset(self._active)

    def wanted(
        self,
        participants: Iterable[RoomMember],
        *,
        room: Iterable[Language] = (),
        speaker_language: Language | None,
    ) -> frozenset[Language]:
        """Every language someone else wants to hear, or the room always produces, except the
        speaker's own."""
        out: set[Language] = set(room)
        for p in participants:
            if p.is_agent or p.identity == self._speaker:
                continue
            code = p.attributes.get(ATTR_LANGUAGE)
            if code:
                lang = _normalized(code, "participant attribute")
                if lang is not None:
                    out.add(lang)
        if speaker_language is not None:
            out.discard(speaker_language)
        return frozenset(out)

    def update(self, wanted: frozenset[Language], *, now: float) -> DemandChange:
        """Apply what is wanted at ``now`` (seconds, any monotonic clock)."""
        added = wanted - self._active
        self._active |= added
        for lang in wanted:
            self._unwanted_since.pop(lang, None)
        removed: set[Language] = set()
        for lang in self._active - wanted:
            since = self._unwanted_since.setdefault(lang, now)
            if now - since >= self._linger:
                removed.add(lang)
        self._active -= removed
        for lang in removed:
            del self._unwanted_since[lang]
        return DemandChange(frozenset(added), frozenset(removed))

    def next_deadline(self) -> float | None:
        """When a pending removal falls due (so the caller knows when to call again)."""
        if not self._unwanted_since:
            return None
        return min(self._unwanted_since.values()) + self._linger
