"""Transcripts of a real meeting: what listeners saw is what the exports hold."""

from __future__ import annotations

import asyncio
import io
import os
import signal
from pathlib import Path

import webvtt
from livekit import rtc

from interpreter.testing.clients import Speaker, join_listener
from interpreter.testing.livekit import (
    LiveKitFixture,
    WorkerProcess,
    server_of_its_own,
    wait_for,
)
from interpreter.testing.speech import ENGLISH, SPANISH, render

READY = 60.0


def export(worker: WorkerProcess, room: str, lang: str, fmt: str = "vtt") -> str:
    """The transcript of ``room`` in ``lang``, exported from ``worker``'s database."""
    return worker.cli(
        "transcript", "export", "--room", room, "--lang", lang, "--format", fmt
    ).stdout


def cue_text(cue: webvtt.Caption) -> str:
    return " ".join(cue.text.split())


def assert_sane(vtt: str) -> list[webvtt.Caption]:
    cues: list[webvtt.Caption] = list(webvtt.from_buffer(io.StringIO(vtt)).captions)
    ends: dict[str, float] = {}
    for cue in cues:
        assert cue.voice, f"cue without a speaker voice span: {cue.raw_text!r}"
        assert cue.start_in_seconds < cue.end_in_seconds
        assert cue.start_in_seconds >= ends.get(cue.voice, 0.0) - 1e-3, "overlap for a speaker"
        ends[cue.voice] = cue.end_in_seconds
    return cues


async def test_exports_hold_every_caption_a_listener_saw(
    livekit_server: LiveKitFixture, worker: WorkerProcess, tmp_path: Path
) -> None:
    room_name = "minutes"
    spanish = render(SPANISH[:2], "es", tmp_path / "es.wav")
    english = render(ENGLISH[:2], "en", tmp_path / "en.wav")
    rooms: list[rtc.Room] = []
    try:
        lena = await join_listener(livekit_server, room_name, "lena", "en")
        lena_room = lena.room
        rooms.append(lena_room)
        ana_room = await livekit_server.connect(
            room_name, "ana", name="Ana Lima", attributes={"language": "es"}
        )
        ben_room = await livekit_server.connect(
            room_name, "ben", name="Ben Okafor", attributes={"language": "en"}
        )
        rooms += [ana_room, ben_room]
        ana, ben = Speaker(ana_room), Speaker(ben_room)
        await asyncio.gather(ana.publish(), ben.publish())
        await wait_for(
            lambda: (
                {"translator-ana", "translator-ben"} <= set(lena_room.remote_participants)
                and len(lena_room.remote_participants["translator-ana"].track_publications) >= 1
            ),
            within=READY * 2,
            what="both translators",
        )
        await wait_for(worker.settled, within=READY, what="the worker's idle process")
        await ana.play(spanish)
        await ana.silence(1.5)
        await ben.play(english)
        await ben.silence(2.5)
        await wait_for(
            lambda: (
                len(lena.finals(language="en", translated=True)) >= 2
                and len(lena.finals(language="en", translated=False)) >= 2
            ),
            within=30,
            what="English captions of both speakers",
        )
        await asyncio.sleep(1)
        seen = lena.finals(language="en")
        await lena.aclose()
    finally:
        for r in rooms:
            await r.disconnect()

    english_vtt = await asyncio.to_thread(export, worker, room_name, "en")
    cues = assert_sane(english_vtt)
    exported = " ".join(cue_text(c) for c in cues)
    for caption in seen:
        assert " ".join(caption.text.split()) in exported, f"{caption.text!r} not exported"
    assert len(cues) == len(seen), "one cue per final segment"
    assert {c.voice for c in cues} == {"Ana Lima", "Ben Okafor"}
    original = assert_sane(await asyncio.to_thread(export, worker, room_name, "original"))
    assert {c.voice for c in original} == {"Ana Lima", "Ben Okafor"}
    assert any("proyecto" in cue_text(c) for c in original)  # Spanish as spoken
    print(f"\n{len(cues)} English cues, {len(original)} original cues")


async def test_a_killed_worker_loses_no_caption_and_duplicates_none(
    livekit_server: LiveKitFixture, tmp_path: Path, output_dir: Path
) -> None:
    # a server of its own: the session's worker must not take (or rescue) this speaker
    with server_of_its_own(livekit_server, output_dir / "crash-livekit-server.log") as own:
        await _kill_worker_mid_meeting(own, tmp_path, output_dir)


async def _kill_worker_mid_meeting(
    livekit_server: LiveKitFixture, tmp_path: Path, output_dir: Path
) -> None:
    room_name = "crash"
    first = render(SPANISH[:1], "es", tmp_path / "first.wav")
    second = render(SPANISH[1:2], "es", tmp_path / "second.wav")
    log = output_dir / "crash-worker.log"
    crashed = WorkerProcess(livekit_server, log)
    rooms: list[rtc.Room] = []
    restarted: WorkerProcess | None = None
    try:
        lena = await join_listener(livekit_server, room_name, "lena", "en")
        lena_room = lena.room
        rooms.append(lena_room)
        ana_room = await livekit_server.connect(room_name, "ana", attributes={"language": "es"})
        rooms.append(ana_room)
        ana = Speaker(ana_room)
        await ana.publish()
        await wait_for(
            lambda: "translator-ana" in lena_room.remote_participants, within=READY, what="agent"
        )
        await wait_for(crashed.settled, within=READY, what="the worker's idle process")
        await ana.play(first)
        await ana.silence(2)
        await wait_for(
            lambda: len(lena.finals(language="en", translated=True)) >= 1,
            within=20,
            what="a caption before the crash",
        )
        # SIGKILL the worker and everything it started, mid-meeting
        os.killpg(crashed.proc.pid, signal.SIGKILL)
        crashed.proc.wait()
        await wait_for(
            lambda: "translator-ana" not in lena_room.remote_participants,
            within=60,
            what="the dead translator to leave the room",
        )
        restarted = WorkerProcess(livekit_server, log)
        await wait_for(
            lambda: "translator-ana" in lena_room.remote_participants,
            within=READY,
            what="a translator for ana again after the restart",
        )
        await wait_for(restarted.settled, within=READY, what="the worker's idle process")
        before = len(lena.finals(language="en", translated=True))
        await ana.play(second)
        await ana.silence(2)
        await wait_for(
            lambda: len(lena.finals(language="en", translated=True)) > before,
            within=20,
            what="a caption after the restart",
        )
        seen = lena.finals(language="en", translated=True)
        await lena.aclose()
    finally:
        for r in rooms:
            await r.disconnect()
        if restarted is not None:
            restarted.stop()
        crashed.stop()

    cues = assert_sane(await asyncio.to_thread(export, crashed, room_name, "en"))
    texts = [cue_text(c) for c in cues]
    for caption in seen:
        assert " ".join(caption.text.split()) in " ".join(texts), f"{caption.text!r} lost"
    assert len(texts) == len(set(texts)), f"duplicated lines: {texts}"
