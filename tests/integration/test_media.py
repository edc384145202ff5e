"""Real media through a real livekit-server: what one client says, another hears."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from livekit import rtc

from interpreter.testing.audio import active_span, aligned_correlation, read_wav, speak_to_wav
from interpreter.testing.clients import Speaker
from interpreter.testing.livekit import LiveKitFixture, wait_for

RATE = 16000
MAX_STRETCH = 0.5  # seconds of concealment a loaded receiver may insert


async def test_published_wav_is_heard_by_another_client(
    livekit_server: LiveKitFixture, tmp_path: Path
) -> None:
    text = "The quick brown fox jumps over the lazy dog. Interpretation works in real time."
    sent, rate = read_wav(speak_to_wav(text, tmp_path / "speech.wav", rate=RATE))
    assert rate == RATE
    # a second of silence either side, as a microphone would give
    pad = np.zeros(RATE, dtype=np.float32)
    signal = np.concatenate([pad, sent, pad])

    listener = await livekit_server.connect("media-room", "listener")
    speaker = await livekit_server.connect("media-room", "speaker")
    received: list[np.ndarray] = []
    subscribed = asyncio.Event()
    done = asyncio.Event()

    async def read(track: rtc.Track) -> None:
        stream = rtc.AudioStream.from_track(track=track, sample_rate=RATE, num_channels=1)
        async for ev in stream:
            received.append(np.frombuffer(ev.frame.data, dtype=np.int16).astype(np.float32))
            if done.is_set():
                break
        await stream.aclose()

    tasks: list[asyncio.Task[None]] = []

    @listener.on("track_subscribed")
    def _on_track(
        track: rtc.Track, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant
    ) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO and p.identity == "speaker":
            tasks.append(asyncio.create_task(read(track)))
            subscribed.set()

    try:
        mic = Speaker(speaker, rate=RATE)
        await mic.publish()
        await asyncio.wait_for(subscribed.wait(), 15)
        await mic.play(signal)
        # let the last packets cross the server
        await wait_for(
            lambda: sum(len(c) for c in received) >= len(signal), within=5, what="all audio"
        )
        done.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
    finally:
        await speaker.disconnect()
        await listener.disconnect()

    got = (np.concatenate(received) / 32768.0).astype(np.float32)
    s0, s1 = active_span(sent, RATE)
    r0, r1 = active_span(got, RATE)
    sent_duration, got_duration = (s1 - s0) / RATE, (r1 - r0) / RATE
    # nothing lost; a busy receiver's jitter buffer may stretch the timing by a few hundred ms
    assert 0.95 * sent_duration <= got_duration <= 1.05 * sent_duration + MAX_STRETCH, (
        f"received {got_duration:.2f}s of speech, sent {sent_duration:.2f}s"
    )
    ncc = aligned_correlation(sent[s0:s1], got, rate=RATE)
    print(f"speech sent {sent_duration:.3f}s, received {got_duration:.3f}s, NCC {ncc:.3f}")
    assert ncc >= 0.8, f"received audio does not match what was sent (NCC {ncc:.3f})"
