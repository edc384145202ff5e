"""Human interpreters in a real room, for the integration tests and the takeover bench.

An :class:`InterpreterClient` is what the console does, without a browser: it joins with an
invite token, publishes its microphone under the name of the language it voices, plays audio
into it, mutes and unmutes it, and drives the booth through the web app's API. The web app runs
in the test's own process (:func:`serving_web_app`), on the worker's database, so booth state,
transcripts and glossaries are the ones the translators use. :class:`LoudTimeline` reads when a
recorded track was audible, which is what every takeover figure is measured from.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from aiohttp import web
from livekit import rtc

from captions.protocol import (
    ATTR_INTERPRETER_LIVE,
    ATTR_ROLE,
    ROLE_INTERPRETER,
    is_agent_identity,
)
from captions.store import TranscriptStore, database_url
from interpreter.testing.clients import FRAME_MS, ListeningClient
from interpreter.testing.livekit import LiveKitFixture, free_port
from web.app import WebConfig, build_app
from web.booth_store import BoothStore
from web.tokens import room_admin_token

__all__ = [
    "LOUD",
    "InterpreterClient",
    "LoudTimeline",
    "WebApp",
    "invite",
    "join_rule_listener",
    "serving_web_app",
    "voice_tone",
]

LOUD = 0.01
"""RMS (full scale 1.0) above which a recorded 10 ms piece counts as audible."""


@dataclass(frozen=True, slots=True)
class WebApp:
    url: str
    """``http://127.0.0.1:<port>`` (no trailing slash)."""
    store: TranscriptStore


@contextlib.asynccontextmanager
async def serving_web_app(lk: LiveKitFixture, data_dir: Path) -> AsyncIterator[WebApp]:
    """The web app (tokens, booth, invites, transcripts) on a free loopback port, on the
    database in ``data_dir`` (the worker's, so both see one booth)."""
    store = await TranscriptStore.open(database_url(db_url=None, data_dir=data_dir))
    booth = BoothStore(store.engine)
    await booth.create_schema()
    config = WebConfig(ws_url=lk.url, api_key=lk.api_key, api_secret=lk.api_secret, dev_keys=True)
    app = build_app(config, transcript_store=store, booth_store=booth)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield WebApp(url=f"http://127.0.0.1:{port}", store=store)
    finally:
        await runner.cleanup()
        await store.aclose()


async def invite(
    session: aiohttp.ClientSession,
    web_url: str,
    lk: LiveKitFixture,
    room: str,
    name: str,
    languages: tuple[str, str],
) -> dict[str, Any]:
    """An organizer's invite (``POST /api/rooms/{room}/interpreters``): the JSON answer."""
    admin = room_admin_token(api_key=lk.api_key, api_secret=lk.api_secret, room=room)
    async with session.post(
        f"{web_url}/api/rooms/{room}/interpreters",
        json={"name": name, "languages": list(languages)},
        headers={"Authorization": f"Bearer {admin}"},
    ) as r:
        body: dict[str, Any] = await r.json()
        if r.status != 200:
            raise AssertionError(f"invite refused: {r.status} {body}")
        return body


def voice_tone(seconds: float, *, rate: int = 16000, pitch: float = 180.0) -> np.ndarray:
    """A steady voice-like sound (a fundamental and a few harmonics): audible in every 10 ms
    piece, so a gap or an overlap at a hand-over shows to the frame."""
    t = np.arange(int(seconds * rate)) / rate
    wave = np.zeros_like(t)
    for k in range(1, 5):
        wave += np.sin(2 * np.pi * pitch * k * t) / k
    out: np.ndarray = (0.2 * wave / np.max(np.abs(wave))).astype(np.float32)
    return out


@dataclass
class InterpreterClient:
    """One invited interpreter in the room: their microphone, their booth calls."""

    room: rtc.Room
    identity: str
    token: str
    web_url: str
    session: aiohttp.ClientSession
    rate: int = 16000
    source: rtc.AudioSource = field(init=False)
    track: rtc.LocalAudioTrack | None = field(default=None, init=False)
    publication: rtc.LocalTrackPublication | None = field(default=None, init=False)
    _player: asyncio.Task[None] | None = field(default=None, init=False)
    _stop: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    def __post_init__(self) -> None:
        self.source = rtc.AudioSource(self.rate, 1)

    @classmethod
    async def join(
        cls, lk: LiveKitFixture, session: aiohttp.ClientSession, web_url: str, grant: dict[str, Any]
    ) -> InterpreterClient:
        """Join the room with an invite (:func:`invite`'s answer)."""
        room = rtc.Room()
        await room.connect(
            grant["url"], grant["token"], options=rtc.RoomOptions(auto_subscribe=False)
        )
        return cls(room, grant["identity"], grant["token"], web_url, session)

    async def publish(self, language: str) -> str:
        """Publish the microphone as the ``language`` track (the console's rule)."""
        self.track = rtc.LocalAudioTrack.create_audio_track(language, self.source)
        self.publication = await self.room.local_participant.publish_track(
            self.track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        return self.publication.sid

    async def unpublish(self) -> None:
        if self.publication is not None:
            await self.room.local_participant.unpublish_track(self.publication.sid)
            self.publication = None

    def mute(self) -> None:
        assert self.track is not None
        self.track.mute()

    def unmute(self) -> None:
        assert self.track is not None
        self.track.unmute()

    def speak(self, samples: np.ndarray, *, loop: bool = True) -> None:
        """Play ``samples`` (float, at ``rate``) into the microphone in real time, in a loop
        until :meth:`hush`."""
        self._stop.clear()

        async def play() -> None:
            frame = self.rate * FRAME_MS // 1000
            pcm = np.clip(samples * 32768, -32768, 32767).astype(np.int16)
            pcm = pcm[: len(pcm) - len(pcm) % frame]
            while not self._stop.is_set():
                for start in range(0, len(pcm), frame):
                    if self._stop.is_set():
                        return
                    chunk = pcm[start : start + frame]
                    await self.source.capture_frame(
                        rtc.AudioFrame(chunk.tobytes(), self.rate, 1, frame)
                    )
                if not loop:
                    return

        self._player = asyncio.ensure_future(play())

    async def hush(self) -> None:
        """Stop playing (at the next 10 ms frame: cancelling inside ``capture_frame`` would
        leave the source unusable)."""
        self._stop.set()
        if self._player is not None:
            await self._player
            self._player = None

    async def booth(
        self, action: str, language: str, to: str | None = None
    ) -> tuple[int, dict[str, Any], float]:
        """``POST /api/rooms/{room}/booth``: status, JSON body and the wall time the answer
        arrived."""
        body: dict[str, Any] = {"action": action, "language": language}
        if to is not None:
            body["to"] = to
        async with self.session.post(
            f"{self.web_url}/api/rooms/{self.room.name}/booth",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
        ) as r:
            return r.status, await r.json(), time.time()

    async def state(self) -> dict[str, Any]:
        """``GET /api/rooms/{room}/booth``."""
        async with self.session.get(
            f"{self.web_url}/api/rooms/{self.room.name}/booth",
            headers={"Authorization": f"Bearer {self.token}"},
        ) as r:
            body: dict[str, Any] = await r.json()
            assert r.status == 200, body
            return body

    async def leave(self) -> None:
        await self.hush()
        await self.room.disconnect()
        await self.source.aclose()


async def join_rule_listener(
    lk: LiveKitFixture, room: str, identity: str, language: str
) -> ListeningClient:
    """A listener of ``language`` that subscribes by the one rule third-party clients follow:
    tracks named ``language`` from translator agents, and from the interpreter live on
    ``language`` (subscribed when their ``interpreter.live`` says so, dropped when it stops)."""
    r = await lk.connect(room, identity, attributes={"language": language}, auto_subscribe=False)

    def wanted(pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> bool:
        if pub.name != language:
            return False
        if is_agent_identity(p.identity):
            return True
        return (
            p.attributes.get(ATTR_ROLE) == ROLE_INTERPRETER
            and p.attributes.get(ATTR_INTERPRETER_LIVE) == language
        )

    listener = ListeningClient(r, want_track=wanted)

    def reapply(_: object, p: rtc.RemoteParticipant) -> None:
        for pub in p.track_publications.values():
            want = wanted(pub, p)
            if want != pub.subscribed:
                pub.set_subscribed(want)

    r.on("participant_attributes_changed", reapply)
    listener.start()
    return listener


class LoudTimeline:
    """When a track a :class:`ListeningClient` recorded was audible (wall clock), judged per
    10 ms piece. Frames arrive in real time, so a piece's time is its arrival time. Pieces are
    judged once, as they come (a bench records for minutes and asks many times a second)."""

    PIECE = 160
    """Samples in 10 ms at the listener's 16 kHz."""

    def __init__(self, listener: ListeningClient, identity: str, track: str) -> None:
        self._listener = listener
        self._key = (identity, track)
        self._judged = 0  # chunks of the recording judged so far
        self._times: list[float] = []
        self._loud: list[bool] = []

    def _catch_up(self) -> None:
        chunks = self._listener.audio.get(self._key, [])
        for at, chunk in chunks[self._judged :]:
            count = max(1, len(chunk) // self.PIECE)
            pieces = chunk[: count * self.PIECE].reshape(count, -1) if len(chunk) else None
            for i in range(count):
                loud = pieces is not None and float(np.sqrt(np.mean(pieces[i] ** 2))) > LOUD
                # pieces of one chunk arrived together; spread them back over its duration
                self._times.append(at - (count - 1 - i) * 0.01)
                self._loud.append(loud)
        self._judged = len(chunks)

    def pieces(self) -> list[tuple[float, bool]]:
        """(arrival time, audible) for every 10 ms piece so far."""
        self._catch_up()
        return list(zip(self._times, self._loud, strict=True))

    def loud_at(self, at: float, *, within: float = 0.05) -> bool:
        """Audible in the ``within`` seconds up to ``at``."""
        self._catch_up()
        start = bisect.bisect_left(self._times, at - within)
        end = bisect.bisect_right(self._times, at)
        return any(self._loud[start:end])

    def last_loud(self, *, after: float = 0.0) -> float | None:
        self._catch_up()
        start = bisect.bisect_left(self._times, after)
        for i in range(len(self._times) - 1, start - 1, -1):
            if self._loud[i]:
                return self._times[i]
        return None

    def first_loud(self, *, after: float) -> float | None:
        self._catch_up()
        start = bisect.bisect_left(self._times, after)
        return next((self._times[i] for i in range(start, len(self._times)) if self._loud[i]), None)
