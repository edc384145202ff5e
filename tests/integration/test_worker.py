"""The translator worker registers with a real server and is dispatched per speaker."""

from __future__ import annotations

import asyncio
import json
import urllib.request

from livekit import rtc

from interpreter.testing.livekit import LiveKitFixture, WorkerProcess, wait_for


async def test_worker_is_registered(worker: WorkerProcess) -> None:
    def fetch() -> dict[str, object]:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/worker", timeout=5) as r:
            return dict(json.load(r))

    info = await asyncio.to_thread(fetch)
    assert info["worker_type"] == "JT_PUBLISHER"


async def test_translator_joins_when_a_participant_publishes(
    livekit_server: LiveKitFixture, worker: WorkerProcess
) -> None:
    listener = await livekit_server.connect("dispatch-room", "listener-1")
    speaker = await livekit_server.connect("dispatch-room", "ana", attributes={"language": "es"})
    try:
        # joining alone dispatches nothing: a translator is per *publishing* participant
        assert not any(p.startswith("translator-") for p in listener.remote_participants)
        source = rtc.AudioSource(16000, 1)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", source)
        await speaker.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        await wait_for(
            lambda: "translator-ana" in listener.remote_participants,
            within=30,
            what="translator-ana to join",
        )
        agent = listener.remote_participants["translator-ana"]
        assert agent.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        assert agent.attributes.get("interpreter.source") == "ana"
        # the listener publishes nothing, so it has no translator of its own
        assert "translator-listener-1" not in listener.remote_participants
        await wait_for(
            lambda: "translator joined" in worker.log(), within=10, what="the worker's log line"
        )

        # the translator leaves with its speaker
        await speaker.disconnect()
        await wait_for(
            lambda: "translator-ana" not in listener.remote_participants,
            within=20,
            what="translator-ana to leave after its speaker",
        )
    finally:
        await speaker.disconnect()
        await listener.disconnect()
