"""Human interpreters in a real room: the booth race, takeover, fallback, hand-over, refusals.

Real LiveKit server, real translator worker, the web app in this process on the worker's
database. Bounds here are generous (they hold on a loaded 2-core machine); the takeover
latencies themselves are measured by ``python -m bench.takeover``.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest
import webvtt
from livekit import rtc

from interpreter.testing.audio import piper_speech
from interpreter.testing.booth import (
    InterpreterClient,
    LoudTimeline,
    WebApp,
    invite,
    join_rule_listener,
    serving_web_app,
    voice_tone,
)
from interpreter.testing.clients import Speaker
from interpreter.testing.livekit import LiveKitFixture, WorkerProcess, wait_for
from interpreter.testing.speech import SPANISH, render

READY = 60.0
GRACE = 3.0  # the worker's default mute grace (INTERPRETER_MUTE_GRACE)
SILENCED_WITHIN = 1.0  # goal 0.3 s at the agent; the listener adds transport, load adds more
RESUMED_WITHIN = GRACE + 3.0  # goal grace + 1 s; a unit must be translated and voiced too


@pytest.fixture
async def web_app(livekit_server: LiveKitFixture, worker: WorkerProcess) -> AsyncIterator[WebApp]:
    async with serving_web_app(livekit_server, worker.data_dir) as app:
        yield app


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def _talk_in_a_loop(
    speaker: Speaker, speech: np.ndarray, stop: asyncio.Event
) -> asyncio.Task[None]:
    async def talk() -> None:
        while not stop.is_set():
            await speaker.play(speech, until=stop)

    return asyncio.ensure_future(talk())


async def test_two_interpreters_racing_for_one_language_never_both_win(
    livekit_server: LiveKitFixture, worker: WorkerProcess, http: aiohttp.ClientSession
) -> None:
    room = "booth-race"
    # two web-app instances, each with its own database engine, on one database: like two
    # web-app processes behind a load balancer
    async with (
        serving_web_app(livekit_server, worker.data_dir) as first,
        serving_web_app(livekit_server, worker.data_dir) as second,
    ):
        ian = await InterpreterClient.join(
            livekit_server,
            http,
            first.url,
            await invite(http, first.url, livekit_server, room, "Ian", ("es", "en")),
        )
        iva = await InterpreterClient.join(
            livekit_server,
            http,
            second.url,
            await invite(http, second.url, livekit_server, room, "Iva", ("en", "es")),
        )
        try:
            wins = {ian.identity: 0, iva.identity: 0}
            for _ in range(20):
                results = await asyncio.gather(ian.booth("take", "en"), iva.booth("take", "en"))
                statuses = sorted(status for status, _, _ in results)
                assert statuses == [200, 409], results
                winner = ian if results[0][0] == 200 else iva
                loser_body = results[1][1] if winner is ian else results[0][1]
                assert loser_body["error"] == "booth_taken", loser_body
                wins[winner.identity] += 1
                state = await ian.state()
                assert state["live"] == {"en": winner.identity}
                status, body, _ = await winner.booth("release", "en")
                assert status == 200 and "en" not in body["live"], body
            print(f"\nwins over 20 races: {wins}")
        finally:
            await ian.leave()
            await iva.leave()


async def test_interpreter_takes_over_mutes_and_drops_and_the_machine_covers(
    livekit_server: LiveKitFixture,
    worker: WorkerProcess,
    web_app: WebApp,
    http: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    room = "booth-takeover"
    spanish = render(SPANISH, "es", tmp_path / "es.wav")
    english = piper_speech(
        "Good morning everyone. The budget for next year is ready. We will review it together "
        "after the break. Thank you for your patience."
    )
    grant = await invite(http, web_app.url, livekit_server, room, "Ian Reyes", ("es", "en"))
    ian_id = grant["identity"]
    lena = await join_rule_listener(livekit_server, room, "lena", "en")
    ana_room = await livekit_server.connect(room, "ana", name="Ana", attributes={"language": "es"})
    stop = asyncio.Event()
    talking: asyncio.Task[None] | None = None
    ian: InterpreterClient | None = None
    machine = LoudTimeline(lena, "translator-ana", "en")
    human = LoudTimeline(lena, ian_id, "en")
    try:
        ana = Speaker(ana_room)
        await ana.publish()
        await wait_for(
            lambda: "translator-ana" in lena.room.remote_participants,
            within=READY,
            what="translator-ana",
        )
        talking = _talk_in_a_loop(ana, spanish, stop)
        await wait_for(lambda: machine.last_loud() is not None, within=READY, what="machine voice")
        ian = await InterpreterClient.join(livekit_server, http, web_app.url, grant)
        await ian.publish("en")
        ian.speak(english)

        # take while the machine is talking
        await wait_for(lambda: machine.loud_at(time.time()), within=30, what="machine mid-unit")
        status, body, took = await ian.booth("take", "en")
        assert status == 200, body
        assert body["live"] == {"en": ian_id}
        await asyncio.sleep(SILENCED_WITHIN + 1.0)
        last = machine.last_loud(after=took - 5) or took
        print(f"\ntake -> machine silent at the listener: {last - took:+.3f} s")
        assert last - took <= SILENCED_WITHIN, f"machine voiced {last - took:.2f}s after take"
        heard = human.first_loud(after=took)
        assert heard is not None, "the listener does not hear the interpreter"
        print(f"take -> interpreter audible at the listener: {heard - took:+.3f} s")
        agent = lena.room.remote_participants["translator-ana"]
        await wait_for(
            lambda: "en" not in agent.attributes.get("interpreter.languages", "").split(","),
            within=2,
            what="translator-ana to stop listing en",
        )
        await wait_for(
            lambda: any(c.sender == ian_id for c in lena.finals(language="en")),
            within=30,
            what="an English caption from the interpreter's speech",
        )
        state = await ian.state()
        assert state["voices"].get("en") == "human", state
        quiet_since = time.time()
        await asyncio.sleep(3.0)
        assert machine.last_loud(after=quiet_since) is None, "machine voiced over the human"
        machine_en = [c for c in lena.finals(language="en", translated=True) if c.at >= quiet_since]
        assert not machine_en, f"machine captions in en while the human is live: {machine_en}"

        # a cough (1 s) changes nothing; a mute longer than the grace brings the machine back
        ian.mute()
        await asyncio.sleep(1.0)
        ian.unmute()
        await asyncio.sleep(GRACE + 1.0)
        assert machine.last_loud(after=quiet_since) is None, "a cough let the machine speak"
        ian.mute()
        muted = time.time()
        await wait_for(
            lambda: machine.first_loud(after=muted) is not None,
            within=RESUMED_WITHIN + 5,
            what="the machine voice after a long mute",
        )
        back = machine.first_loud(after=muted)
        assert back is not None
        print(f"mute -> machine voice back: {back - muted:+.3f} s (grace {GRACE} s)")
        assert GRACE - 0.5 <= back - muted <= RESUMED_WITHIN, f"{back - muted:.2f}s"
        await wait_for(
            lambda: "en" in agent.attributes.get("interpreter.languages", "").split(","),
            within=2,
            what="translator-ana to list en again",
        )
        assert (await ian.state())["voices"].get("en") == "machine"

        # unmute: the machine stops again
        await wait_for(lambda: machine.loud_at(time.time()), within=30, what="machine mid-unit")
        ian.unmute()
        unmuted = time.time()
        await asyncio.sleep(SILENCED_WITHIN + 1.0)
        last = machine.last_loud(after=unmuted - 5) or unmuted
        print(f"unmute -> machine silent: {last - unmuted:+.3f} s")
        assert last - unmuted <= SILENCED_WITHIN

        # the interpreter drops: the machine covers, the booth is released
        await ian.leave()
        left = time.time()
        ian = None
        await wait_for(
            lambda: machine.first_loud(after=left) is not None,
            within=15,
            what="the machine voice after the interpreter left",
        )
        print(
            "disconnect -> machine voice back:",
            f"{(machine.first_loud(after=left) or left) - left:+.3f} s",
        )
        async with http.get(
            f"{web_app.url}/api/rooms/{room}/booth",
            headers={"Authorization": f"Bearer {livekit_server.token(room, 'lena')}"},
        ) as r:
            assert r.status == 200
            assert "en" not in (await r.json())["live"]
    finally:
        stop.set()
        if talking is not None:
            await talking
        if ian is not None:
            await ian.leave()
        await ana_room.disconnect()
        await lena.aclose()
        await lena.room.disconnect()

    # the transcript says who interpreted
    vtt = worker.cli(
        "transcript", "export", "--room", room, "--lang", "en", "--format", "vtt"
    ).stdout
    voices = {c.voice for c in webvtt.from_buffer(io.StringIO(vtt)).captions}
    assert "Ian Reyes (interpreter)" in voices, voices


async def test_hand_over_between_two_interpreters_has_no_gap_and_no_overlap(
    livekit_server: LiveKitFixture,
    worker: WorkerProcess,
    web_app: WebApp,
    http: aiohttp.ClientSession,
) -> None:
    room = "booth-handover"
    ian_grant = await invite(http, web_app.url, livekit_server, room, "Ian", ("es", "en"))
    iva_grant = await invite(http, web_app.url, livekit_server, room, "Iva", ("en", "es"))
    lena = await join_rule_listener(livekit_server, room, "lena", "en")
    ian = await InterpreterClient.join(livekit_server, http, web_app.url, ian_grant)
    iva = await InterpreterClient.join(livekit_server, http, web_app.url, iva_grant)
    try:
        await ian.publish("en")
        await iva.publish("en")
        iva.mute()  # the passive interpreter's microphone is off
        ian.speak(voice_tone(5.0, pitch=170.0))
        iva.speak(voice_tone(5.0, pitch=220.0))
        status, body, _ = await ian.booth("take", "en")
        assert status == 200, body
        old = LoudTimeline(lena, ian.identity, "en")
        new = LoudTimeline(lena, iva.identity, "en")
        await wait_for(lambda: old.loud_at(time.time()), within=10, what="Ian audible")

        status, body, _ = await ian.booth("offer", "en", to=iva.identity)
        assert status == 200, body
        assert any(p["kind"] == "offer" and p["to"] == iva.identity for p in body["pending"])
        # like the console: open the microphone, then accept (listeners subscribe to it only
        # once Iva is live, so nobody hears it early)
        iva.unmute()
        status, body, accepted = await iva.booth("accept", "en")
        assert status == 200, body
        assert body["live"] == {"en": iva.identity}
        await asyncio.sleep(2.0)

        old_last = old.last_loud(after=accepted - 5)
        new_first = new.first_loud(after=accepted - 5)
        assert old_last is not None and new_first is not None
        gap = new_first - old_last
        print(f"\naccept -> new voice audible: {new_first - accepted:+.3f} s; gap {gap:+.3f} s")
        assert new_first - accepted <= 1.0
        # the 0.3 s goal is bench.takeover's (p95 0.07 s there); a loaded machine adds
        # scheduling and the first subscription to the new interpreter's track
        assert gap <= 1.0, f"{gap:.3f}s without an interpreter at the hand-over"
        both = [t for t, loud in new.pieces() if loud and old.loud_at(t, within=0.01)]
        assert len(both) <= 2, f"two voices at once for {len(both) * 10} ms"
        assert (
            lena.room.remote_participants[ian.identity].attributes.get("interpreter.live", "") == ""
        )
        assert (
            lena.room.remote_participants[iva.identity].attributes.get("interpreter.live") == "en"
        )

        # a declined request leaves things as they were
        status, body, _ = await ian.booth("request", "en")
        assert status == 200, body
        status, body, _ = await iva.booth("decline", "en")
        assert status == 200 and body["live"] == {"en": iva.identity} and not body["pending"]
    finally:
        await ian.leave()
        await iva.leave()
        await lena.aclose()
        await lena.room.disconnect()


async def test_a_participant_cannot_become_an_interpreter(
    livekit_server: LiveKitFixture, web_app: WebApp, http: aiohttp.ClientSession
) -> None:
    room = "booth-refusals"
    async with http.post(
        f"{web_app.url}/api/token",
        json={"room": room, "name": "Mallory", "language": "en", "role": "interpreter"},
    ) as r:
        assert r.status == 403
    async with http.post(
        f"{web_app.url}/api/token", json={"room": room, "name": "Mallory", "language": "en"}
    ) as r:
        assert r.status == 200
        grant = await r.json()
    mallory = rtc.Room()
    await mallory.connect(grant["url"], grant["token"])
    watcher = await livekit_server.connect(room, "watcher")
    try:
        # no grant to change her own attributes: the server refuses or ignores it
        try:
            await asyncio.wait_for(
                mallory.local_participant.set_attributes(
                    {"role": "interpreter", "interpreter.live": "en"}
                ),
                timeout=5,
            )
        except Exception as e:  # refused: what we want
            print(f"\nattribute update refused: {type(e).__name__}")
        await asyncio.sleep(1.0)
        seen = watcher.remote_participants[grant["identity"]].attributes
        assert seen.get("role") == "participant" and "interpreter.live" not in seen, seen
        # and the booth refuses her token
        async with http.post(
            f"{web_app.url}/api/rooms/{room}/booth",
            json={"action": "take", "language": "en"},
            headers={"Authorization": f"Bearer {grant['token']}"},
        ) as r:
            assert r.status == 403
            assert (await r.json())["error"] == "not_interpreter"
        # nor may she invite herself
        async with http.post(
            f"{web_app.url}/api/rooms/{room}/interpreters",
            json={"name": "Mallory", "languages": ["es", "en"]},
            headers={"Authorization": f"Bearer {grant['token']}"},
        ) as r:
            assert r.status == 403
    finally:
        await mallory.disconnect()
        await watcher.disconnect()
