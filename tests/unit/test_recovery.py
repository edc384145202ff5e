"""Speakers without an agent: found in room listings, relaunched with the right job."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from livekit import api
from livekit.protocol import agent, models
from prometheus_client import REGISTRY

from interpreter import worker
from interpreter.config import load_settings
from interpreter.recovery import Orphan, OrphanStrikes, orphans_in, recovery_job

ROOM = models.Room(sid="RM_1", name="meeting")
OTHER_ROOM = models.Room(sid="RM_2", name="other")


def person(identity: str, *, mic: bool = True, agent_kind: bool = False) -> models.ParticipantInfo:
    tracks = (
        [models.TrackInfo(type=models.TrackType.AUDIO, source=models.TrackSource.MICROPHONE)]
        if mic
        else [
            models.TrackInfo(
                type=models.TrackType.AUDIO, source=models.TrackSource.SCREEN_SHARE_AUDIO
            )
        ]
    )
    return models.ParticipantInfo(
        sid=f"PA_{identity}",
        identity=identity,
        name=identity.title(),
        kind=models.ParticipantInfo.Kind.AGENT
        if agent_kind
        else models.ParticipantInfo.Kind.STANDARD,
        tracks=tracks,
    )


def test_orphans_are_microphone_publishers_without_their_agent() -> None:
    listing = [
        (
            ROOM,
            [
                person("ana"),  # no translator-ana: an orphan
                person("ben"),
                person("translator-ben", agent_kind=True),
                person("lena", mic=False),  # a listener sharing screen audio only
                person("bot", agent_kind=True),
            ],
        ),
        (OTHER_ROOM, [person("ben")]),  # ben's agent is in the other room, not this one
    ]
    found = {(o.room.name, o.speaker.identity) for o in orphans_in(listing)}
    assert found == {("meeting", "ana"), ("other", "ben")}


def test_orphans_are_due_at_once_after_registration_then_after_two_sweeps() -> None:
    ana, ben = Orphan(ROOM, person("ana")), Orphan(ROOM, person("ben"))
    strikes = OrphanStrikes()
    assert strikes.due([ana]) == [ana]  # waiting since before the worker registered
    assert strikes.due([ben]) == []  # may be a dispatch in flight
    assert strikes.due([ben]) == [ben]
    assert strikes.due([ana]) == []
    assert strikes.due([]) == []  # ana got her agent: the count starts over
    assert strikes.due([ana]) == []


def test_a_relaunch_builds_the_publisher_job_and_the_agents_token() -> None:
    settings = load_settings(livekit_api_key="prod-key", livekit_api_secret="s" * 40)
    orphan = Orphan(ROOM, person("ana"))
    info = recovery_job(settings, orphan, worker_id="AW_1")
    assert info.job.type == agent.JobType.JT_PUBLISHER
    assert info.job.participant.identity == "ana"
    assert info.job.room.name == "meeting"
    assert info.job.id == "recovered-RM_1-PA_ana"
    assert info.accept_arguments.identity == "translator-ana"
    assert info.accept_arguments.attributes == {
        "interpreter.source": "ana",
        "interpreter.languages": "",
    }
    assert info.url == settings.ws_url and info.worker_id == "AW_1"
    claims = api.TokenVerifier(settings.api_key, settings.api_secret).verify(info.token)
    assert claims.identity == "translator-ana"
    assert claims.kind == "agent"
    assert claims.attributes == {"interpreter.source": "ana", "interpreter.languages": ""}
    assert claims.video is not None
    assert claims.video.room == "meeting" and claims.video.room_join and claims.video.agent


async def test_a_failing_sweep_is_counted_and_the_next_sweep_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[int] = []
    relaunched: list[str] = []
    done = asyncio.Event()

    async def find(settings: Any) -> list[Orphan]:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("server unreachable")
        return [Orphan(ROOM, person("ana"))]

    async def relaunch(server: Any, settings: Any, orphan: Orphan) -> None:
        relaunched.append(orphan.speaker.identity)
        done.set()

    monkeypatch.setattr(worker, "find_orphans", find)
    monkeypatch.setattr(worker, "relaunch", relaunch)
    before = REGISTRY.get_sample_value("interpreter_task_failures_total", {"task": "orphan-sweep"})

    class Server:
        id = "AW_1"

    task = asyncio.create_task(
        worker._recover_orphans(Server(), load_settings(orphan_sweep=0.01))  # type: ignore[arg-type]
    )
    try:
        async with asyncio.timeout(2):
            await done.wait()
    finally:
        task.cancel()
    after = REGISTRY.get_sample_value("interpreter_task_failures_total", {"task": "orphan-sweep"})
    assert (after or 0) - (before or 0) == 1
    assert relaunched == ["ana"]  # the first successful sweep relaunches at once
    assert "registered" in capsys.readouterr().out.lower()
