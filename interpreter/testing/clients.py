"""Room clients for integration tests: a speaker that plays audio into its microphone track,
and a listener that records captions and the audio of the tracks it subscribes to."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from livekit import rtc

from captions.protocol import TOPIC_CAPTIONS as CAPTIONS_DATA_TOPIC
from captions.protocol import TOPIC_TRANSCRIPTION as TRANSCRIPTION_TOPIC

if TYPE_CHECKING:
    from interpreter.testing.livekit import LiveKitFixture

TrackFilter = Callable[[rtc.RemoteTrackPublication, rtc.RemoteParticipant], bool]

FRAME_MS = 10


class Speaker:
    """A participant with a microphone track that can play arbitrary audio in real time."""

    def __init__(self, room: rtc.Room, *, rate: int = 16000) -> None:
        self.room = room
        self.rate = rate
        self.source = rtc.AudioSource(rate, 1)
        self.track = rtc.LocalAudioTrack.create_audio_track("microphone", self.source)
        self.publication: rtc.LocalTrackPublication | None = None

    async def publish(self) -> str:
        self.publication = await self.room.local_participant.publish_track(
            self.track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        return self.publication.sid

    async def play(self, samples: np.ndarray, *, until: asyncio.Event | None = None) -> None:
        """Play float samples in [-1, 1] at ``rate``, in real time (the source paces us).

        ``until`` stops playing at the next frame once set. (Cancelling a task inside
        ``capture_frame`` leaves the audio source unusable, so stop it this way.)"""
        frame = self.rate * FRAME_MS // 1000
        pcm = np.clip(samples * 32768, -32768, 32767).astype(np.int16)
        if len(pcm) % frame:
            pcm = np.concatenate([pcm, np.zeros(frame - len(pcm) % frame, np.int16)])
        for start in range(0, len(pcm), frame):
            if until is not None and until.is_set():
                break
            chunk = pcm[start : start + frame]
            await self.source.capture_frame(rtc.AudioFrame(chunk.tobytes(), self.rate, 1, frame))
        await self.source.wait_for_playout()

    async def silence(self, seconds: float) -> None:
        await self.play(np.zeros(int(seconds * self.rate), dtype=np.float32))


@dataclass
class ReceivedCaption:
    sender: str
    attributes: dict[str, str]
    text: str
    at: float

    @property
    def final(self) -> bool:
        return self.attributes.get("lk.transcription_final") == "true"

    @property
    def language(self) -> str:
        return self.attributes.get("language", "")

    @property
    def translated(self) -> bool:
        return self.attributes.get("translated") == "true"


@dataclass
class ListeningClient:
    """Records every caption (text streams and data messages) and the audio of tracks whose
    name is accepted by ``want_track``."""

    room: rtc.Room
    want_track: TrackFilter = lambda pub, p: False
    captions: list[ReceivedCaption] = field(default_factory=list)
    data_captions: list[dict[str, object]] = field(default_factory=list)
    audio: dict[tuple[str, str], list[tuple[float, np.ndarray]]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _recorders: dict[tuple[str, str], asyncio.Task[None]] = field(default_factory=dict)

    def start(self) -> None:
        self.room.register_text_stream_handler(TRANSCRIPTION_TOPIC, self._on_text_stream)
        self.room.on("data_received", self._on_data)
        self.room.on("track_published", self._on_published)
        self.room.on("track_subscribed", self._on_subscribed)
        self.room.on("track_unsubscribed", self._on_unsubscribed)
        for p in self.room.remote_participants.values():
            for pub in p.track_publications.values():
                self._on_published(pub, p)

    def _on_text_stream(self, reader: rtc.TextStreamReader, sender: str) -> None:
        async def read() -> None:
            text = await reader.read_all()
            attrs = dict(reader.info.attributes or {})
            self.captions.append(ReceivedCaption(sender, attrs, text, time.time()))

        self._spawn(read())

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic == CAPTIONS_DATA_TOPIC:
            self.data_captions.append(json.loads(packet.data))

    def _on_published(self, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
        if self.want_track(pub, p):
            pub.set_subscribed(True)

    def _on_subscribed(
        self, track: rtc.Track, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant
    ) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO and self.want_track(pub, p):
            key = (p.identity, pub.name)
            self._stop_recording(key)
            self._recorders[key] = self._spawn(self._record(track, key))

    def _on_unsubscribed(
        self, track: rtc.Track, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant
    ) -> None:
        # an audio stream left open on an unsubscribed track can go on receiving frames of a
        # later subscription (another participant's): each recording ends with its track
        self._stop_recording((p.identity, pub.name))

    def _stop_recording(self, key: tuple[str, str]) -> None:
        task = self._recorders.pop(key, None)
        if task is not None:
            task.cancel()

    async def _record(self, track: rtc.Track, key: tuple[str, str]) -> None:
        chunks = self.audio.setdefault(key, [])
        stream = rtc.AudioStream.from_track(track=track, sample_rate=16000, num_channels=1)
        try:
            async for ev in stream:
                data = np.frombuffer(ev.frame.data, dtype=np.int16).astype(np.float32) / 32768
                chunks.append((time.time(), data))
        finally:
            await stream.aclose()

    def recorded(self, identity: str, track_name: str) -> np.ndarray:
        chunks = self.audio.get((identity, track_name), [])
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate([c for _, c in chunks]).astype(np.float32)

    def first_loud_audio_at(
        self, identity: str, track_name: str, threshold: float = 0.01
    ) -> float | None:
        for at, chunk in self.audio.get((identity, track_name), []):
            if len(chunk) and float(np.sqrt(np.mean(chunk**2))) > threshold:
                return at
        return None

    def finals(
        self,
        *,
        language: str | None = None,
        sender: str | None = None,
        translated: bool | None = None,
    ) -> list[ReceivedCaption]:
        return [
            c
            for c in self.captions
            if c.final
            and (language is None or c.language == language)
            and (sender is None or c.sender == sender)
            and (translated is None or c.translated == translated)
        ]

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def join_listener(
    lk: LiveKitFixture,
    room: str,
    identity: str,
    language: str,
    *,
    want_track: TrackFilter | None = None,
) -> ListeningClient:
    """Join ``room`` as someone who wants ``language``, subscribing to no track but those
    ``want_track`` accepts, and start recording (the room is ``listener.room``)."""
    r = await lk.connect(room, identity, attributes={"language": language}, auto_subscribe=False)
    listener = (
        ListeningClient(r) if want_track is None else ListeningClient(r, want_track=want_track)
    )
    listener.start()
    return listener
