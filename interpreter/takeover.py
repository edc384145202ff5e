"""Which languages a human interpreter voices now, so the machine voice must be silent.

Plain and synchronous, like :mod:`interpreter.demand`: the agent feeds it the interpreters in
the room (:class:`Seat`: who is live on which language, whether their microphone is published
and muted) and the current time; it answers which languages a human covers and what changed.

The rules, per seat (one interpreter live on one language):

* it covers its language while its audio is published and unmuted;
* a mute shorter than ``grace`` seconds changes nothing (a cough button), so a muted seat
  keeps covering until the mute is ``grace`` old; a seat first seen muted does not cover
  until it unmutes (nobody heard it yet);
* unpublishing and leaving the room end the cover at once;
* a release (the seat's ``interpreter.live`` cleared or moved to the other language) ends it
  after ``release_grace`` seconds, so a hand-over whose two attribute updates arrive with the
  old holder's first leaves no moment in which the machine would speak between two humans.

Each change says when the human started or stopped voicing (``since``, on the caller's
monotonic clock: the start of the mute, the moment the seat was released, unpublished or
left), so the caller can tell which of the units it held back went unvoiced.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from languages import Language

__all__ = [
    "MUTE_GRACE",
    "RELEASE_GRACE",
    "Cause",
    "CoverChange",
    "Seat",
    "Takeover",
    "TakeoverChange",
]

logger = logging.getLogger("interpreter.takeover")

MUTE_GRACE = 3.0
"""Seconds a live interpreter may stay muted before the machine voice resumes."""
RELEASE_GRACE = 0.5
"""Seconds a released seat keeps covering its language (the new holder of a hand-over may be
seen after the old one is cleared)."""

Cause = Literal["live", "published", "unmuted", "muted", "unpublished", "released", "left"]
"""Why a language was covered (``live``, ``published``, ``unmuted``) or uncovered (the
others)."""


@dataclass(frozen=True, slots=True)
class Seat:
    """What the takeover needs to know of one interpreter in the room.

    ``live`` is the language they are live on (``None``: not live); ``published`` says they
    publish an audio track, ``muted`` that none of their audio tracks is unmuted.
    """

    identity: str
    name: str
    live: Language | None
    published: bool
    muted: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CoverChange:
    """One language newly covered or uncovered.

    ``since`` is when the human started voicing it (covered: the update that saw it) or
    stopped (uncovered: the start of the mute, or when the seat was released, unpublished or
    left). ``deadline`` is the grace end that made an uncover due, ``None`` when the room
    changed it (the caller measures its latency from the room event then).
    """

    language: Language
    cause: Cause
    identity: str
    since: float
    deadline: float | None = None


@dataclass(frozen=True, slots=True)
class TakeoverChange:
    covered: tuple[CoverChange, ...] = ()
    uncovered: tuple[CoverChange, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.covered or self.uncovered)


@dataclass(slots=True)
class _SeatState:
    """One interpreter on one language, as last seen."""

    identity: str
    language: Language
    published: bool = False
    counting: bool = False
    """Seen published and unmuted since it went live (or was last published)."""
    muted_since: float | None = None
    """While counting: when the current mute began."""
    unpublished_at: float | None = None
    released_at: float | None = None


class Takeover:
    """The languages human interpreters cover in one room, for one translator."""

    def __init__(self, *, grace: float = MUTE_GRACE, release_grace: float = RELEASE_GRACE) -> None:
        if grace < 0 or release_grace < 0:
            raise ValueError("graces must not be negative")
        self._grace = grace
        self._release_grace = release_grace
        self._seats: dict[tuple[str, Language], _SeatState] = {}
        self._covered: dict[Language, tuple[str, ...]] = {}
        """Each covered language with the seats (identities) covering it."""
        self._next_deadline: float | None = None

    @property
    def grace(self) -> float:
        return self._grace

    @property
    def covered(self) -> frozenset[Language]:
        """The languages a human voices now (as of the last update)."""
        return frozenset(self._covered)

    def update(self, seats: Iterable[Seat], *, now: float) -> TakeoverChange:
        """Apply the interpreters in the room at ``now`` (seconds, any monotonic clock).

        ``seats`` are the interpreters present, live or not; one missing from it has left the
        room. Call it again at :meth:`next_deadline` even if the room did not change.
        """
        present: dict[str, Seat] = {}
        for seat in seats:
            present.setdefault(seat.identity, seat)
        before = {key: replace(state) for key, state in self._seats.items()}
        for seat in present.values():
            if seat.live is None:
                continue
            state = self._seats.setdefault(
                (seat.identity, seat.live),
                _SeatState(identity=seat.identity, language=seat.live),
            )
            state.released_at = None  # live (again) on this language
        for key, state in list(self._seats.items()):
            person = present.get(state.identity)
            if person is None:
                del self._seats[key]  # left the room: the cover ends now
                continue
            if person.live != state.language and state.released_at is None:
                state.released_at = now
            self._observe(state, person, now)
        covered: dict[Language, list[str]] = {}
        for state in self._seats.values():
            if self._covers(state, now):
                covered.setdefault(state.language, []).append(state.identity)
        change = TakeoverChange(
            covered=tuple(
                self._start_of(lang, sorted(covered[lang])[0], before, now)
                for lang in sorted(set(covered) - set(self._covered))
            ),
            uncovered=tuple(
                max(
                    (self._end_of(before[(who, lang)], now) for who in self._covered[lang]),
                    key=lambda c: c.since,  # the last voice to stop
                )
                for lang in sorted(set(self._covered) - set(covered))
            ),
        )
        self._covered = {lang: tuple(sorted(who)) for lang, who in covered.items()}
        for key, state in list(self._seats.items()):
            if state.released_at is not None and not self._covers(state, now):
                del self._seats[key]  # released and its grace is over: forgotten
        self._next_deadline = min(
            (
                end
                for state in self._seats.values()
                if self._covers(state, now)
                for end in self._ends(state)
            ),
            default=None,
        )
        if change:
            logger.debug(
                "human cover changed",
                extra={
                    "covered": [c.language for c in change.covered],
                    "uncovered": [c.language for c in change.uncovered],
                },
            )
        return change

    def next_deadline(self) -> float | None:
        """When a pending grace (a mute, a release) ends, so the caller knows when to call
        :meth:`update` again; ``None`` when none is pending."""
        return self._next_deadline

    # --- rules ----------------------------------------------------------------------------
    def _observe(self, state: _SeatState, seat: Seat, now: float) -> None:
        if not seat.published:
            if state.published:
                state.unpublished_at = now
            state.published = False
            state.counting = False
            state.muted_since = None
        elif not seat.muted:
            state.published = True
            state.counting = True
            state.muted_since = None
        else:
            # a seat never heard since it went live (or published) does not count until it
            # unmutes; one heard keeps counting through a mute shorter than the grace
            state.published = True
            if state.counting and state.muted_since is None:
                state.muted_since = now

    def _ends(self, state: _SeatState) -> list[float]:
        """When the graces running for ``state`` end."""
        ends = []
        if state.muted_since is not None:
            ends.append(state.muted_since + self._grace)
        if state.released_at is not None:
            ends.append(state.released_at + self._release_grace)
        return ends

    def _covers(self, state: _SeatState, now: float) -> bool:
        return state.counting and all(now < end for end in self._ends(state))

    def _start_of(
        self,
        language: Language,
        identity: str,
        before: Mapping[tuple[str, Language], _SeatState],
        now: float,
    ) -> CoverChange:
        old = before.get((identity, language))
        cause: Cause
        if old is None or old.released_at is not None:
            cause = "live"
        elif not old.published:
            cause = "published"
        else:
            cause = "unmuted"
        return CoverChange(language=language, cause=cause, identity=identity, since=now)

    def _end_of(self, old: _SeatState, now: float) -> CoverChange:
        """Why a seat that covered its language at the last update no longer does.

        ``since`` is when its voice stopped: a muted voice stopped when the mute began.
        """
        language, identity = old.language, old.identity
        state = self._seats.get((identity, language))
        if state is None:
            stopped = [t for t in (old.muted_since, old.released_at) if t is not None]
            return CoverChange(
                language=language, cause="left", identity=identity, since=min(stopped, default=now)
            )
        if not state.published:
            unpublished = state.unpublished_at if state.unpublished_at is not None else now
            return CoverChange(
                language=language,
                cause="unpublished",
                identity=identity,
                since=unpublished if old.muted_since is None else old.muted_since,
            )
        graces: list[tuple[float, float, Cause, float]] = []  # (end, start, cause, grace)
        if state.muted_since is not None:
            graces.append(
                (state.muted_since + self._grace, state.muted_since, "muted", self._grace)
            )
        if state.released_at is not None:
            graces.append(
                (
                    state.released_at + self._release_grace,
                    state.released_at,
                    "released",
                    self._release_grace,
                )
            )
        end, _, cause, grace = min(graces)
        return CoverChange(
            language=language,
            cause=cause,
            identity=identity,
            since=min(start for _, start, _, _ in graces),
            deadline=end if grace > 0 else None,  # no grace: the room event made it due
        )
