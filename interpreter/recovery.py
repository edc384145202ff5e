"""Speakers left without a translator, and how the worker gives them one again.

LiveKit dispatches a publisher job once, when a participant first publishes. A speaker who
published while no worker was registered, or whose translator died with its worker, gets no
second dispatch. So a worker, once registered, looks through the server's rooms for speakers
without a ``translator-<identity>`` participant and starts their translator jobs itself.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from livekit import api
from livekit.agents import AgentServer
from livekit.agents.job import JobAcceptArguments, RunningJobInfo
from livekit.protocol import agent, models

from interpreter.config import Settings

__all__ = ["Orphan", "find_orphans", "relaunch"]

logger = logging.getLogger("interpreter.recovery")


@dataclass(frozen=True, slots=True)
class Orphan:
    room: models.Room
    speaker: models.ParticipantInfo


def _publishes_microphone(p: models.ParticipantInfo) -> bool:
    return any(
        t.type == models.TrackType.AUDIO and t.source == models.TrackSource.MICROPHONE
        for t in p.tracks
    )


async def find_orphans(settings: Settings, *, prefix: str) -> list[Orphan]:
    """Human speakers publishing a microphone with no translator in their room."""
    orphans: list[Orphan] = []
    async with api.LiveKitAPI(settings.http_url, settings.api_key, settings.api_secret) as lk:
        rooms = await lk.room.list_rooms(api.ListRoomsRequest())
        for room in rooms.rooms:
            people = await lk.room.list_participants(api.ListParticipantsRequest(room=room.name))
            present = {p.identity for p in people.participants}
            for p in people.participants:
                if p.kind == models.ParticipantInfo.Kind.AGENT or not _publishes_microphone(p):
                    continue
                if prefix + p.identity not in present:
                    orphans.append(Orphan(room=room, speaker=p))
    return orphans


async def relaunch(
    server: AgentServer,
    settings: Settings,
    orphan: Orphan,
    *,
    identity: str,
    attributes: dict[str, str],
) -> None:
    """Start a publisher job for ``orphan`` on this worker, as a dispatch would have."""
    name = f"Translator ({orphan.speaker.name or orphan.speaker.identity})"
    token = (
        api.AccessToken(settings.api_key, settings.api_secret)
        .with_identity(identity)
        .with_name(name)
        .with_kind("agent")
        .with_attributes(attributes)
        .with_grants(
            api.VideoGrants(
                room_join=True,
                room=orphan.room.name,
                agent=True,
                can_update_own_metadata=True,
            )
        )
        .with_ttl(datetime.timedelta(hours=24))
        .to_jwt()
    )
    job = agent.Job(
        id=f"recovered-{orphan.room.sid}-{orphan.speaker.sid}",
        room=orphan.room,
        type=agent.JobType.JT_PUBLISHER,
        participant=orphan.speaker,
    )
    info = RunningJobInfo(
        accept_arguments=JobAcceptArguments(
            name=name, identity=identity, metadata="", attributes=attributes
        ),
        job=job,
        url=settings.ws_url,
        token=token,
        worker_id=server.id,
        fake_job=False,
    )
    # livekit-agents 1.8 has no public call for a job the server did not dispatch; this is
    # the call its own simulate_job makes
    await server._proc_pool.launch_job(info)
    logger.info(
        "translator relaunched for a speaker without one",
        extra={"room": orphan.room.name, "job_id": job.id},
    )
