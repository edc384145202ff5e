"""Speakers left without a translator, and how the worker gives them one again.

LiveKit dispatches a publisher job once, when a participant first publishes. A speaker who
published while no worker was registered, or whose translator died with its worker, gets no
second dispatch. So a worker, once registered, looks through the server's rooms for speakers
without a ``translator-<identity>`` participant and starts their translator jobs itself. With
several workers, only the one holding the ``orphan-sweep`` lease in the shared database looks
(:class:`interpreter.worker.OrphanSweep`), so no speaker is relaunched twice by two workers.

A translator whose own connection failed (its node died, its session could not be resumed)
reports itself lost in the database (:func:`report_lost_translator`); the sweeper then sweeps
at once and relaunches that speaker without waiting for three sweeps (at most once per
``URGENT_AGAIN`` seconds per speaker, so two failing translators cannot chase each other).

A translator whose worker was killed stays in its room for about 20 s: LiveKit waits that long
for a vanished connection to come back. Its ``interpreter.worker`` attribute names the worker's
presence in the database; once that presence has lapsed (a worker never seen there is not
judged), the translator counts as gone: the sweep removes it from the room and relaunches the
speaker's translator at once.

Who is an orphan (:func:`orphans_in`) and when one is due (:class:`OrphanStrikes`) are plain
decisions on room listings; :func:`find_orphans` asks the server, :func:`relaunch` starts the
translator job with the token :func:`recovery_token` mints.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa
from livekit import api, rtc
from livekit.agents import AgentServer
from livekit.protocol import models

from captions.protocol import ATTR_WORKER
from interpreter.agent import agent_join_arguments
from interpreter.config import Settings
from interpreter.lease import Lease

__all__ = [
    "LOST_NORMALLY",
    "LOST_PREFIX",
    "ORPHAN_SWEEP",
    "Orphan",
    "OrphanStrikes",
    "find_orphans",
    "orphans_in",
    "recovery_token",
    "relaunch",
    "remove_stale_agent",
    "report_lost_translator",
    "speaker_key",
]

logger = logging.getLogger("interpreter.recovery")

LOST_PREFIX = "lost/"
"""The leases named ``lost/<hash>`` are lost translators' reports."""
LOST_REPORT_TTL = 60.0
URGENT_AGAIN = 30.0
ORPHAN_SWEEP = 5.0
"""Seconds between two looks for speakers without a translator (a speaker is given one after
three looks in a row found them without: 10-15 s)."""
AGENT_TOKEN_TTL = datetime.timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Orphan:
    """A speaker without a working translator; ``stale_agent`` is the identity of a translator
    still in the room whose worker is gone (empty: there is none)."""

    room: models.Room
    speaker: models.ParticipantInfo
    stale_agent: str = ""


def _publishes_microphone(p: models.ParticipantInfo) -> bool:
    return any(
        t.type == models.TrackType.AUDIO and t.source == models.TrackSource.MICROPHONE
        for t in p.tracks
    )


def orphans_in(
    rooms: Iterable[tuple[models.Room, Sequence[models.ParticipantInfo]]],
    *,
    dead_workers: Collection[str] = (),
) -> list[Orphan]:
    """Human speakers publishing a microphone with no translator agent in their room, or whose
    translator's worker (its ``interpreter.worker`` attribute) is among ``dead_workers``."""
    orphans: list[Orphan] = []
    for room, participants in rooms:
        present = {p.identity: p for p in participants}
        for p in participants:
            if p.kind == models.ParticipantInfo.Kind.AGENT or not _publishes_microphone(p):
                continue
            agent = present.get(agent_join_arguments(p.identity, p.name).identity)
            if agent is None:
                orphans.append(Orphan(room=room, speaker=p))
                continue
            if agent.attributes.get(ATTR_WORKER, "") in dead_workers:
                orphans.append(Orphan(room=room, speaker=p, stale_agent=agent.identity))
    return orphans


async def find_orphans(settings: Settings, *, dead_workers: Collection[str] = ()) -> list[Orphan]:
    """The orphans of every room on the server ``settings`` name (see :func:`orphans_in`)."""
    listing: list[tuple[models.Room, Sequence[models.ParticipantInfo]]] = []
    async with api.LiveKitAPI(settings.http_url, settings.api_key, settings.api_secret) as lk:
        rooms = await lk.room.list_rooms(api.ListRoomsRequest())
        for room in rooms.rooms:
            people = await lk.room.list_participants(api.ListParticipantsRequest(room=room.name))
            listing.append((room, list(people.participants)))
    return orphans_in(listing, dead_workers=dead_workers)


class OrphanStrikes:
    """When an orphan is due for a relaunch.

    At the first sweep (of a worker process), every orphan is due at once: those speakers have
    been waiting since before it registered or took over the sweep. Later, an orphan is due
    once it has been seen in ``needed`` sweeps in a row: a dispatch in flight takes seconds, and
    a relaunch racing it would replace its translator (one at a time, but a needless change).
    An orphan whose translator's worker is gone is due at once: no dispatch will come for it;
    so is one whose translator reported itself lost (``urgent``), unless that speaker was
    relaunched that way less than ``urgent_again`` seconds ago.
    """

    def __init__(self, *, needed: int = 3, urgent_again: float = URGENT_AGAIN) -> None:
        self._needed_later = needed
        self._needed = 1
        self._strikes: dict[tuple[str, str], int] = {}
        self._urgent_again = urgent_again
        self._urgent_at: dict[tuple[str, str], float] = {}

    def due(
        self, orphans: Sequence[Orphan], *, urgent: Collection[str] = (), now: float = 0.0
    ) -> list[Orphan]:
        """Record one sweep's ``orphans``; return those to relaunch now. ``urgent`` holds the
        :func:`speaker_key` of speakers whose translators reported themselves lost, ``now``
        is the time on a monotonic clock."""
        seen = {(o.room.sid, o.speaker.identity) for o in orphans}
        self._strikes = {key: self._strikes.get(key, 0) + 1 for key in seen}
        self._urgent_at = {
            key: at for key, at in self._urgent_at.items() if now - at < self._urgent_again
        }
        out: list[Orphan] = []
        for orphan in orphans:
            key = (orphan.room.sid, orphan.speaker.identity)
            lost = speaker_key(*key) in urgent and key not in self._urgent_at
            if orphan.stale_agent or lost or self._strikes.get(key, 0) >= self._needed:
                del self._strikes[key]
                if lost:
                    self._urgent_at[key] = now
                out.append(orphan)
        self._needed = self._needed_later
        return out

    def forget(self) -> None:
        """Start counting over (the sweep was interrupted: another worker swept meanwhile);
        the first sweep's leniency is not given again."""
        self._strikes.clear()


def speaker_key(room_sid: str, speaker_identity: str) -> str:
    """``<room sid>/<speaker identity>``: one speaker in one room session."""
    return f"{room_sid}/{speaker_identity}"


async def report_lost_translator(
    engine: sa.Engine, *, room_sid: str, speaker_identity: str
) -> None:
    """Tell the sweeper (through the database behind ``engine``) that the translator of
    ``speaker_identity`` in room ``room_sid`` lost its connection: a lease named
    ``lost/<hash>`` held by the :func:`speaker_key`, live for ``LOST_REPORT_TTL`` seconds.

    Raises :class:`~interpreter.lease.LeaseError` when the database fails."""
    key = speaker_key(room_sid, speaker_identity)
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    report = Lease(engine, name=f"{LOST_PREFIX}{digest}", holder=key[:256], ttl=LOST_REPORT_TTL)
    await report.create_schema()
    await report.acquire()


LOST_NORMALLY: Final = frozenset(
    {
        rtc.DisconnectReason.CLIENT_INITIATED,  # the job ended itself (speaker left, shutdown)
        rtc.DisconnectReason.DUPLICATE_IDENTITY,  # another translator of the speaker took over
        rtc.DisconnectReason.PARTICIPANT_REMOVED,  # removed by the sweep or an organizer
        rtc.DisconnectReason.ROOM_DELETED,
        rtc.DisconnectReason.ROOM_CLOSED,
    }
)
"""Why a translator's room connection may end without it being lost."""


def recovery_token(settings: Settings, orphan: Orphan, *, worker: str = "") -> str:
    """The token of ``orphan``'s translator agent: its identity, name and attributes (which say
    whose translator it is: the job itself names no participant; and ``worker``, the presence
    of the worker that runs it)."""
    accept = agent_join_arguments(orphan.speaker.identity, orphan.speaker.name, worker=worker)
    return (
        api.AccessToken(settings.api_key, settings.api_secret)
        .with_identity(accept.identity)
        .with_name(accept.name)
        .with_kind("agent")
        .with_attributes(accept.attributes or {})
        .with_grants(
            api.VideoGrants(
                room_join=True,
                room=orphan.room.name,
                agent=True,
                can_update_own_metadata=True,
            )
        )
        .with_ttl(AGENT_TOKEN_TTL)
        .to_jwt()
    )


async def relaunch(
    server: AgentServer, settings: Settings, orphan: Orphan, *, worker: str = ""
) -> None:
    """Start ``orphan``'s translator on this worker (presence ``worker``), as a dispatch would
    have; a stale translator of a dead worker is removed from the room first.

    livekit-agents' public call for a job the server did not dispatch is
    :meth:`~livekit.agents.AgentServer.simulate_job`, which starts a *room* job; the agent
    joins with :func:`recovery_token`, and the entrypoint finds its speaker from the token's
    attributes (:func:`interpreter.agent.speaker_of_job`)."""
    if orphan.stale_agent:
        await remove_stale_agent(settings, orphan)
    await server.simulate_job(
        orphan.room.name,
        room_info=orphan.room,
        token=recovery_token(settings, orphan, worker=worker),
    )
    logger.info(
        "translator relaunched for a speaker without one",
        extra={
            "room": orphan.room.name,
            "speaker_sid": orphan.speaker.sid,
            "replaces": orphan.stale_agent or None,
        },
    )


async def remove_stale_agent(settings: Settings, orphan: Orphan) -> None:
    """Take ``orphan``'s stale translator out of its room (listeners see it leave at once, not
    when LiveKit gives up waiting for it). One already gone is no error; a failure is logged,
    and the relaunched translator, joining with the same identity, replaces it anyway."""
    try:
        async with api.LiveKitAPI(settings.http_url, settings.api_key, settings.api_secret) as lk:
            await lk.room.remove_participant(
                api.RoomParticipantIdentity(room=orphan.room.name, identity=orphan.stale_agent)
            )
    except api.TwirpError as e:
        if e.code != api.TwirpErrorCode.NOT_FOUND:
            logger.warning(
                "could not remove a stale translator",
                extra={"room": orphan.room.name, "agent": orphan.stale_agent, "error": e.message},
            )
        return
    logger.info(
        "stale translator removed: its worker is gone",
        extra={"room": orphan.room.name, "agent": orphan.stale_agent},
    )
