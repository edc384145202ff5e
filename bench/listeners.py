"""Listener scaling: what more listeners cost the worker and the server.

One meeting (a LiveKit server and a translator worker on loopback): two Spanish speakers take
turns (the script of ``bench.meeting``, replayed in real time) and are interpreted into English
and French. Two measuring listeners, one per language, are always in the room (so the demand,
both languages, is the same at every step) and time the captions and the voice as
``bench.meeting`` does. At each step N more listener clients join from a separate process (the
"fleet", at a lower priority, so that their CPU is neither the measuring process's nor taken
from the worker), spread over the two languages. Each subscribes to its language's translated
tracks and receives the captions, as the meeting page does (it counts the caption text
streams, interim and final); it does not decode the audio. The same script is spoken at every
step, after a warm-up that is not counted.

Per step: worker CPU seconds (process CPU time of the worker and its job processes, not wall
time) per speaker per minute, livekit-server CPU, the bytes the server sends per listener (at
the fleet's clients, from their WebRTC transport statistics; and the server's own outgoing
total from its Prometheus metrics), the fleet's CPU, caption and voice latency at the measuring
listeners. The verdict: worker CPU per speaker at every step within 10 % of the first step's;
and, since the last step repeats the first fleet size, within 10 % of those steps' mean (a drift
over the meeting then does not count as the listeners' cost).
It needs a quiet machine: a starved worker decodes less often, so its CPU time falls with the
machine's load (the load average is recorded per step).

Run: ``PYTHONPATH=. .venv/bin/python -m bench.listeners [--steps 1,10,50,1] [--minutes 2]``
Writes ``bench/results/listeners.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from livekit import rtc

from bench.meeting import (
    RESULTS,
    ProcessSampler,
    Run,
    measure,
    render_phrases,
    running_stack,
    seat,
    skipped_units,
    speak_turns,
)
from captions.protocol import ATTR_LANGUAGE, TOPIC_TRANSCRIPTION, is_agent_identity
from interpreter.config import DEV_API_KEY, DEV_API_SECRET
from interpreter.livekit_server import LiveKitServer
from interpreter.testing.clients import ListeningClient, Speaker
from interpreter.testing.livekit import REPO, LiveKitFixture, free_port, metric_sum, wait_for
from web.tokens import mint_token

ROOM = "listeners"
SPEAKERS = [("ana", "es"), ("carla", "es")]
LANGUAGES = ("en", "fr")
FLEET_LIMIT_S = 1800.0
"""The fleet process ends itself after this long, whatever happens to the bench."""
FLEET_READY_S = 180.0
"""How long the fleet may take to join and subscribe (50 clients on 2 busy cores)."""
FLEET_NICE = 10
PROMETHEUS_PORT = free_port()


class MetricsServer(LiveKitServer):
    """The project's server configuration plus its Prometheus endpoint on loopback."""

    def config_yaml(self) -> str:
        return super().config_yaml() + f"prometheus:\n  port: {PROMETHEUS_PORT}\n"


def server_metrics() -> dict[str, float]:
    """The server's cumulative packet and byte counters, by direction."""
    url = f"http://127.0.0.1:{PROMETHEUS_PORT}/metrics"
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    return {
        f"{name}_{direction}": metric_sum(text, name, direction=direction)
        for name in ("livekit_packet_bytes", "livekit_packet_total")
        for direction in ("incoming", "outgoing")
    }


# --- the fleet: N listener clients in a process of their own ---------------------------------


class FleetClient:
    """One listener: its language's translated tracks (not decoded) and every caption."""

    def __init__(self, room: rtc.Room, language: str) -> None:
        self.room = room
        self.language = language
        self.captions = 0
        self._tasks: set[asyncio.Task[None]] = set()
        room.register_text_stream_handler(TOPIC_TRANSCRIPTION, self._on_caption)
        room.on("track_published", self._want)
        for p in room.remote_participants.values():
            for pub in p.track_publications.values():
                self._want(pub, p)

    def _want(self, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
        if is_agent_identity(p.identity) and pub.name == self.language:
            pub.set_subscribed(True)

    def _on_caption(self, reader: rtc.TextStreamReader, sender: str) -> None:
        async def read() -> None:
            await reader.read_all()
            self.captions += 1

        task = asyncio.ensure_future(read())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def subscribed(self) -> int:
        return sum(
            1
            for p in self.room.remote_participants.values()
            for pub in p.track_publications.values()
            if pub.subscribed and pub.track is not None
        )

    async def received_bytes(self) -> tuple[int, int]:
        """Bytes received over the WebRTC transports (every packet: audio, captions, control)
        and of those the audio's RTP payload."""
        stats = await self.room.get_rtc_stats()
        every = [*stats.subscriber_stats, *stats.publisher_stats]
        transport = sum(
            s.transport.transport.bytes_received
            for s in every
            if s.WhichOneof("stats") == "transport"
        )
        media = sum(
            s.inbound_rtp.inbound.bytes_received
            for s in every
            if s.WhichOneof("stats") == "inbound_rtp"
        )
        return transport, media


async def fleet(url: str, count: int, tracks_each: int) -> None:
    """Join ``count`` listeners, print ``ready``, then answer ``mark`` lines on stdin with the
    clients' received bytes and captions and this process's CPU seconds; ``stop`` ends it."""
    # the fleet stands for listeners on their own devices: on the worker's machine it takes
    # the CPU only when the worker and the server leave it idle
    os.nice(FLEET_NICE)
    me = psutil.Process()
    clients: list[FleetClient] = []
    joining = asyncio.Semaphore(5)

    async def join(i: int) -> None:
        language = LANGUAGES[i % len(LANGUAGES)]
        token = mint_token(
            api_key=DEV_API_KEY,
            api_secret=DEV_API_SECRET,
            room=ROOM,
            identity=f"listener-{i}",
            attributes={ATTR_LANGUAGE: language},
        )
        async with joining:
            room = rtc.Room()
            await room.connect(url, token, options=rtc.RoomOptions(auto_subscribe=False))
        clients.append(FleetClient(room, language))

    await asyncio.gather(*(join(i) for i in range(count)))
    await wait_for(
        lambda: all(c.subscribed() >= tracks_each for c in clients),
        within=FLEET_READY_S,
        what="every fleet listener to subscribe",
        interval=0.5,
    )
    print("ready", flush=True)
    try:
        while True:
            line = (await asyncio.to_thread(sys.stdin.readline)).strip()
            if line != "mark":
                break
            cpu = me.cpu_times()
            received = await asyncio.gather(*(c.received_bytes() for c in clients))
            mark = {
                "at": time.time(),
                "cpu_s": cpu.user + cpu.system,
                "received_bytes": [t for t, _ in received],
                "received_media_bytes": [m for _, m in received],
                "captions": [c.captions for c in clients],
                "rss_mb": me.memory_info().rss / 2**20,
            }
            print(json.dumps(mark), flush=True)
    finally:
        for c in clients:
            await c.room.disconnect()


class Fleet:
    """The parent's handle on a fleet process."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, url: str, count: int, tracks_each: int) -> Fleet:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.listeners",
            "--fleet-of",
            str(count),
            "--url",
            url,
            "--tracks-each",
            str(tracks_each),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
        )
        fleet = cls(proc)
        line = await fleet._line(FLEET_READY_S + 60)
        if line != "ready":
            await fleet.stop()
            raise RuntimeError(f"fleet of {count} did not get ready: {line!r}")
        return fleet

    async def _line(self, within: float) -> str:
        assert self.proc.stdout is not None
        return (await asyncio.wait_for(self.proc.stdout.readline(), within)).decode().strip()

    async def mark(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"mark\n")
        await self.proc.stdin.drain()
        mark: dict[str, Any] = json.loads(await self._line(60))
        return mark

    async def stop(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                assert self.proc.stdin is not None
                self.proc.stdin.write(b"stop\n")
                await self.proc.stdin.drain()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


# --- the measuring side -----------------------------------------------------------------------


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


@dataclass(frozen=True, slots=True)
class Counters:
    """Every cumulative counter a step reads at its start and at its end."""

    at: float
    worker_cpu: float
    worker_rss: int
    server_cpu: float
    own_cpu: float
    server: dict[str, float]
    fleet: dict[str, Any]
    load: float

    @classmethod
    async def read(cls, sampler: ProcessSampler, server: psutil.Process, fleet: Fleet) -> Counters:
        marked = await fleet.mark()
        taken = sampler.sample()
        if taken is None:
            raise RuntimeError("the worker has gone")
        return cls(
            at=taken[0],
            worker_cpu=taken[1],
            worker_rss=taken[2],
            server_cpu=cpu_seconds(server),
            own_cpu=cpu_seconds(psutil.Process()),
            server=await asyncio.to_thread(server_metrics),
            fleet=marked,
            load=os.getloadavg()[0],
        )

    def per_client(self, before: Counters, key: str) -> list[float]:
        """The fleet's counter ``key`` per client, since ``before``."""
        return [b - a for a, b in zip(before.fleet[key], self.fleet[key], strict=True)]


async def step(
    n: int,
    minutes: float,
    lk: LiveKitFixture,
    sampler: ProcessSampler,
    speakers: dict[str, tuple[Speaker, str]],
    probes: dict[str, ListeningClient],
    audio: dict[str, list[np.ndarray]],
) -> dict[str, Any]:
    """``n`` fleet listeners join; the script is spoken once; what it cost, and the latency."""
    assert lk.server.pid is not None
    server = psutil.Process(lk.server.pid)
    fleet = await Fleet.start(lk.url, n, len(speakers))
    try:
        await asyncio.sleep(3)  # subscriptions settle before the count starts
        before = await Counters.read(sampler, server, fleet)
        run = Run(started=time.time())
        await speak_turns(run, speakers, audio, minutes)
        await asyncio.sleep(6)
        after = await Counters.read(sampler, server, fleet)
    finally:
        await fleet.stop()
    wall_min = (after.at - before.at) / 60
    worker_cpu = after.worker_cpu - before.worker_cpu
    kbit_s = 8 / 1000 / (wall_min * 60)
    received = after.per_client(before, "received_bytes")
    media = after.per_client(before, "received_media_bytes")
    captions = after.per_client(before, "captions")
    quality = measure(run, probes)

    def sent(key: str) -> float:
        return after.server[key] - before.server[key]

    return {
        "fleet_listeners": n,
        "listeners_in_room": n + len(probes),
        "minutes": round(wall_min, 2),
        "phrases": len(run.phrases),
        "worker_cpu_s": round(worker_cpu, 1),
        "worker_cpu_s_per_speaker_per_min": round(worker_cpu / len(speakers) / wall_min, 2),
        "worker_rss_mb": round(after.worker_rss / 2**20),
        "server_cpu_s_per_min": round((after.server_cpu - before.server_cpu) / wall_min, 2),
        "server_sent_kbit_s_total": round(sent("livekit_packet_bytes_outgoing") * kbit_s, 1),
        "server_sent_packets_per_s": round(sent("livekit_packet_total_outgoing") / (wall_min * 60)),
        "received_kbit_s_per_fleet_listener": {
            "mean": round(sum(received) / len(received) * kbit_s, 1),
            "min": round(min(received) * kbit_s, 1),
            "max": round(max(received) * kbit_s, 1),
            "audio_payload_mean": round(sum(media) / len(media) * kbit_s, 1),
        },
        "captions_per_fleet_listener": {"min": min(captions), "max": max(captions)},
        "fleet_cpu_s_per_min": round((after.fleet["cpu_s"] - before.fleet["cpu_s"]) / wall_min, 2),
        "fleet_rss_mb": round(after.fleet["rss_mb"]),
        "measuring_process_cpu_s_per_min": round((after.own_cpu - before.own_cpu) / wall_min, 2),
        "load_avg_1min": [round(before.load, 2), round(after.load, 2)],
        "caption_latency_s": quality["caption_latency_s"],
        "voice_latency_s": quality["voice_latency_s"],
        "captions_matched": quality["captions_matched"],
        "captions_missing": quality["captions_missing"],
    }


async def bench(
    steps: list[int], minutes: float, workdir: Path, *, warmup: float = 1.0
) -> dict[str, Any]:
    audio = render_phrases(workdir)
    rooms: list[rtc.Room] = []
    results: list[dict[str, Any]] = []
    async with running_stack(workdir, "listeners", server_class=MetricsServer) as (lk, worker):
        sampler = ProcessSampler(worker.proc.pid)
        try:
            probes, speakers = await seat(lk, worker, ROOM, SPEAKERS, rooms)
            sampler.start()
            # the first phrases through a fresh worker cost more (first decodes, first
            # translations per route): they are spoken before the first step
            await speak_turns(Run(started=time.time()), speakers, audio, warmup)
            for n in steps:
                results.append(await step(n, minutes, lk, sampler, speakers, probes, audio))
                print(json.dumps(results[-1]), flush=True)
                await asyncio.sleep(8)  # the departed listeners' tracks and state go
            sampler.stop()
            skipped = skipped_units(worker.log())
            for listener in probes.values():
                await listener.aclose()
        finally:
            for room in rooms:
                await room.disconnect()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "speakers": dict(SPEAKERS),
        "target_languages": list(LANGUAGES),
        "measuring_listeners": list(probes),
        "minutes_per_step": minutes,
        "warmup_minutes": warmup,
        "fleet_decodes_audio": False,
        "fleet_nice": FLEET_NICE,
        "steps": results,
        **skipped,
        **summary(results),
    }


def summary(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Each step against the first: worker CPU per speaker (the verdict), and the server's
    CPU and sent bandwidth per listener added."""
    first = steps[0]
    base = first["worker_cpu_s_per_speaker_per_min"]
    # a step repeated with the first step's fleet (at the end) shows the drift over the meeting
    same = [
        s["worker_cpu_s_per_speaker_per_min"]
        for s in steps
        if s["fleet_listeners"] == first["fleet_listeners"]
    ]
    baseline = sum(same) / len(same)
    for s in steps:
        s["worker_cpu_vs_first_step"] = round(s["worker_cpu_s_per_speaker_per_min"] / base - 1, 3)
        s["worker_cpu_vs_first_size_steps_mean"] = round(
            s["worker_cpu_s_per_speaker_per_min"] / baseline - 1, 3
        )
    added = [s for s in steps if s["fleet_listeners"] != first["fleet_listeners"]]

    def per_added(key: str, s: dict[str, Any]) -> float:
        listeners = int(s["fleet_listeners"]) - int(first["fleet_listeners"])
        return round((float(s[key]) - float(first[key])) / listeners, 3)

    return {
        "per_added_listener": [
            {
                "fleet_listeners": s["fleet_listeners"],
                "server_sent_kbit_s": per_added("server_sent_kbit_s_total", s),
                "server_cpu_s_per_min": per_added("server_cpu_s_per_min", s),
                "fleet_cpu_s_per_min": per_added("fleet_cpu_s_per_min", s),
            }
            for s in added
        ],
        "verdict": {
            "worker_cpu_per_speaker_flat_within_10pct": all(
                abs(s["worker_cpu_vs_first_step"]) <= 0.10 for s in steps
            ),
            "max_deviation_from_first_step": max(abs(s["worker_cpu_vs_first_step"]) for s in steps),
            "first_size_steps": len(same),
            "max_deviation_from_first_size_steps_mean": max(
                abs(s["worker_cpu_vs_first_size_steps_mean"]) for s in steps
            ),
            # a starved worker decodes less often (fewer partial decodes), so its CPU time
            # falls with the machine's load: steps run on a busy machine do not compare
            "steps_with_load_over_cores": [
                s["fleet_listeners"]
                for s in steps
                if max(s["load_avg_1min"]) > (os.cpu_count() or 1)
            ],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps",
        default="1,10,50,1",
        help="fleet sizes, in order (the last one repeats the first)",
    )
    parser.add_argument("--minutes", type=float, default=2.0, help="script length per step")
    parser.add_argument("--warmup", type=float, default=1.0, help="minutes spoken first")
    parser.add_argument("--fleet-of", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--tracks-each", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fleet_of is not None:
        asyncio.run(
            asyncio.wait_for(fleet(args.url, args.fleet_of, args.tracks_each), FLEET_LIMIT_S)
        )
        return
    steps = [int(s) for s in args.steps.split(",")]
    if not steps or min(steps) < 1 or max(steps) > 100:
        parser.error("--steps: fleet sizes between 1 and 100")
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-listeners-") as tmp:
        result = asyncio.run(bench(steps, args.minutes, Path(tmp), warmup=args.warmup))
    (RESULTS / "listeners.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
