"""Replay of a scripted multilingual meeting through a real LiveKit server and worker.

Three speakers (two Spanish, one English) take turns for about five minutes, sometimes talking
over each other; listeners want English and French. Every phrase is espeak-ng speech played in
real time into a microphone track, so the worker sees exactly what a live meeting gives it.

Measured, per phrase and target language:

* caption latency: end of the source phrase (when its last sample was played) -> the
  translated caption final that covers it arrives at a listener (the caption whose speech
  ends within ``SAME_PHRASE`` s of the phrase's end; a phrase without one is counted and
  listed as missing: the recogniser heard nothing in it);
* voice latency: end of the source phrase -> the listener hears the translated voice start
  on the translator's language track (a sound onset after at least 150 ms of silence);
* lag growth: last minute's caption-latency p50 against the first minute's;
* the share of source units whose text ends without a sentence or clause boundary
  (``boundary_share``: units cut mid-clause);
* worker CPU (all its processes) and peak resident memory.

``--capacity`` instead makes N speakers talk at once (each into two target languages) for a
minute, for N = 1, 2, 3, ..., and reports the largest N that stays real time: caption latency
p95 under 4 s, no voice unit dropped for lateness, and no more captions missing than with one
speaker (plus 5 points): the phrases the recogniser never understands are missing at any load.

Run: ``PYTHONPATH=. .venv/bin/python -m bench.meeting [--minutes 5] [--capacity]``
Writes ``bench/results/meeting.json`` (or ``capacity.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import json
import re
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from livekit import rtc

from interpreter.config import DEV_API_KEY, DEV_API_SECRET, load_settings
from interpreter.livekit_server import LiveKitServer, ensure_server_binary
from interpreter.testing.audio import read_wav, speak_to_wav
from interpreter.testing.clients import ListeningClient, Speaker, join_listener
from interpreter.testing.livekit import LiveKitFixture, WorkerProcess, free_server_ports, wait_for

RESULTS = Path(__file__).parent / "results"
RATE = 16000
SAME_PHRASE = 1.5
"""A caption belongs to a phrase when its speech ended at most this long before or after the
phrase did (consecutive phrases of one speaker end at least 2.5 s apart)."""

PHRASES = {
    "es": [
        "Buenos días a todos. Hoy vamos a hablar del presupuesto del año que viene.",
        "Necesitamos más tiempo para terminar el proyecto.",
        "El equipo de ventas ha trabajado muy bien este mes.",
        "La nueva oficina abrirá en primavera.",
        "Por favor, envíenme el informe antes del viernes.",
        "Tenemos que contratar a más personas para el equipo técnico.",
        "Los gastos de viaje han bajado mucho este año.",
        "Creo que debemos cambiar la forma de organizar las reuniones.",
        "Gracias por venir y bienvenidos a la reunión.",
        "Ahora vamos a ver los números con más detalle.",
    ],
    "en": [
        "Thank you all for coming to the meeting today.",
        "The new office will open in the spring.",
        "Please send me the report before Friday.",
        "We need to hire more people for the technical team.",
        "Travel costs have gone down a lot this year.",
        "I think we should change the way we organise our meetings.",
        "Sales have grown in every country where we work.",
        "Let us look at the numbers in more detail.",
        "The project needs more time than we planned.",
        "I agree with the proposal, but we need a clear budget.",
    ],
}


@dataclass
class Phrase:
    speaker: str
    language: str
    text: str
    audio: np.ndarray
    ended_at: float = 0.0  # wall time its last sample was played


@dataclass
class Run:
    phrases: list[Phrase] = field(default_factory=list)
    started: float = 0.0


def render_phrases(workdir: Path) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    for lang, texts in PHRASES.items():
        out[lang] = []
        for i, text in enumerate(texts):
            samples, _ = read_wav(speak_to_wav(text, workdir / f"{lang}-{i}.wav", voice=lang))
            out[lang].append(samples)
    return out


class ProcessSampler:
    """CPU seconds and peak RSS of a process and its children, sampled once a second.

    ``samples`` keeps every sample as (wall time, CPU seconds so far, resident memory of all
    the processes) for benches that look at a run window by window."""

    def __init__(self, pid: int) -> None:
        self._root = psutil.Process(pid)
        self.peak_rss = 0
        self.samples: list[tuple[float, float, int]] = []
        self._cpu: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            if self.sample() is None:
                return

    def sample(self) -> tuple[float, float, int] | None:
        """Sample now (also from another thread); ``None`` once the process has gone."""
        with self._lock:
            try:
                procs = [self._root, *self._root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return None
            rss = 0
            for p in procs:
                try:
                    t = p.cpu_times()
                    self._cpu[p.pid] = t.user + t.system + t.children_user + t.children_system
                    rss += p.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            self.peak_rss = max(self.peak_rss, rss)
            taken = (time.time(), sum(self._cpu.values()), rss)
            self.samples.append(taken)
            return taken

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        with self._lock:
            return sum(self._cpu.values())


BOUNDARY = (".", "!", "?", ";", ":", ",", "。", "！", "？", "…")
"""A unit whose source text ends with one of these ends at a sentence or clause boundary."""


def boundary_share(texts: list[str]) -> dict[str, Any]:
    """How many of the source units ``texts`` end without a sentence or clause boundary."""
    open_ended = [t.strip() for t in texts if not t.strip().endswith(BOUNDARY)]
    return {
        "units": len(texts),
        "without_boundary": len(open_ended),
        "share": round(len(open_ended) / len(texts), 3) if texts else None,
        "texts_without_boundary": open_ended,
    }


def skipped_units(log: str) -> dict[str, Any]:
    """Voice units the worker dropped for lateness, in all and per language."""
    languages = re.findall(r"unit not voiced: too late.* language=(\S+)", log)
    return {
        "voice_units_skipped_late": len(languages),
        "voice_units_skipped_by_language": dict(collections.Counter(languages)),
    }


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(np.array(values), q))


def onsets(chunks: list[tuple[float, np.ndarray]], *, gap: float = 0.15) -> list[float]:
    """Wall times at which sound starts after at least ``gap`` seconds of silence."""
    found: list[float] = []
    silent_for = gap
    for at, chunk in chunks:
        seconds = len(chunk) / RATE
        loud = len(chunk) > 0 and float(np.sqrt(np.mean(chunk**2))) > 0.01
        if loud and silent_for >= gap:
            found.append(at - seconds)
        silent_for = 0.0 if loud else silent_for + seconds
    return found


def measure(run: Run, listeners: dict[str, ListeningClient]) -> dict[str, Any]:
    caption_lat: list[tuple[float, float]] = []  # (phrase end relative to start, latency)
    voice_lat: list[float] = []
    detail: list[dict[str, Any]] = []
    starts: dict[tuple[str, str], list[float]] = {}
    missing = 0
    for phrase in run.phrases:
        for lang, listener in listeners.items():
            if lang == phrase.language:
                continue
            # the caption whose speech ends where the phrase ends (its ``wall_time``): a
            # phrase the recogniser missed must not borrow the caption of the next one
            finals = [
                c
                for c in listener.finals(language=lang, sender=phrase.speaker, translated=True)
                if abs(float(c.attributes.get("wall_time", 0)) - phrase.ended_at) <= SAME_PHRASE
                and c.at >= phrase.ended_at - 0.5
            ]
            if not finals:
                missing += 1
                detail.append(
                    {
                        "speaker": phrase.speaker,
                        "target": lang,
                        "ended_s": round(phrase.ended_at - run.started, 2),
                        "source": phrase.text,
                        "missing": True,
                    }
                )
                continue
            caption = min(finals, key=lambda c: c.at)
            caption_lat.append((phrase.ended_at - run.started, caption.at - phrase.ended_at))
            detail.append(
                {
                    "speaker": phrase.speaker,
                    "target": lang,
                    "ended_s": round(phrase.ended_at - run.started, 2),
                    "caption_latency_s": round(caption.at - phrase.ended_at, 2),
                    "speech_end_offset_s": round(
                        float(caption.attributes["wall_time"]) - phrase.ended_at, 2
                    ),
                    "source": phrase.text,
                    "caption": caption.text,
                }
            )
            key = (f"translator-{phrase.speaker}", lang)
            if key not in starts:  # once per track: a long run has many phrases per track
                starts[key] = onsets(listener.audio.get(key, []))
            later = [t for t in starts[key] if t >= caption.at - 0.3]
            if later:
                voice_lat.append(later[0] - phrase.ended_at)
    lat = [x for _, x in caption_lat]
    first = [x for t, x in caption_lat if t <= 60]
    last_start = max((t for t, _ in caption_lat), default=0) - 60
    last = [x for t, x in caption_lat if t >= last_start]
    return {
        "phrases": len(run.phrases),
        "captions_matched": len(lat),
        "captions_missing": missing,
        "caption_latency_s": {
            "p50": percentile(lat, 50),
            "p95": percentile(lat, 95),
            "max": max(lat, default=None),
        },
        "voice_latency_s": {
            "p50": percentile(voice_lat, 50),
            "p95": percentile(voice_lat, 95),
            "count": len(voice_lat),
        },
        "lag_growth": {
            "first_minute_p50": percentile(first, 50),
            "last_minute_p50": percentile(last, 50),
        },
        "per_phrase": detail,
    }


async def speak_turns(
    run: Run,
    speakers: dict[str, tuple[Speaker, str]],
    audio: dict[str, list[np.ndarray]],
    minutes: float,
) -> None:
    """Turns in a fixed order; every fourth turn the next speaker starts 1.5 s early."""
    order = itertools.cycle(list(speakers))
    counters = {lang: itertools.cycle(range(len(PHRASES[lang]))) for lang in PHRASES}
    deadline = run.started + minutes * 60
    turn = 0
    pending: set[asyncio.Task[None]] = set()

    async def say(name: str, phrase: Phrase) -> None:
        await speakers[name][0].play(phrase.audio)
        phrase.ended_at = time.time()

    while time.time() < deadline:
        name = next(order)
        lang = speakers[name][1]
        for _ in range(2):  # two phrases a turn
            i = next(counters[lang])
            phrase = Phrase(name, lang, PHRASES[lang][i], audio[lang][i])
            run.phrases.append(phrase)
            task = asyncio.create_task(say(name, phrase))
            pending.add(task)
            task.add_done_callback(pending.discard)
            overlap = turn % 4 == 3
            duration = len(phrase.audio) / RATE
            await asyncio.sleep(max(0.5, duration - (1.5 if overlap else 0.0)) + 0.6)
            turn += 1
    await asyncio.gather(*pending)
    for speaker, _ in speakers.values():
        await speaker.silence(1.0)


@contextlib.asynccontextmanager
async def running_stack(
    workdir: Path, tag: str, *, server_class: type[LiveKitServer] = LiveKitServer
) -> AsyncIterator[tuple[LiveKitFixture, WorkerProcess]]:
    """A fresh livekit-server and translator worker for one measurement (``server_class``:
    a subclass that configures the server further)."""
    server = server_class(
        binary=ensure_server_binary(load_settings()),
        ports=free_server_ports(),
        api_key=DEV_API_KEY,
        api_secret=DEV_API_SECRET,
        dev_keys=True,
        log_file=workdir / f"livekit-server-{tag}.log",
    )
    server.start()
    lk = LiveKitFixture(server)
    worker = WorkerProcess(lk, workdir / f"worker-{tag}.log")
    try:
        yield lk, worker
    finally:
        worker.stop()
        server.stop()


def _translator_tracks(lang: str) -> Any:
    def want(pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> bool:
        return p.identity.startswith("translator-") and pub.name == lang

    return want


async def join_listeners(
    lk: LiveKitFixture, room: str, rooms: list[rtc.Room]
) -> dict[str, ListeningClient]:
    listeners: dict[str, ListeningClient] = {}
    for ident, lang in (("lena", "en"), ("fleur", "fr")):
        listeners[lang] = await join_listener(
            lk, room, ident, lang, want_track=_translator_tracks(lang)
        )
        rooms.append(listeners[lang].room)
    return listeners


async def join_speakers(
    lk: LiveKitFixture, room: str, people: list[tuple[str, str]], rooms: list[rtc.Room]
) -> dict[str, tuple[Speaker, str]]:
    speakers: dict[str, tuple[Speaker, str]] = {}
    for ident, lang in people:
        r = await lk.connect(room, ident, attributes={"language": lang})
        rooms.append(r)
        speakers[ident] = (Speaker(r), lang)
        await speakers[ident][0].publish()
    await wait_for(
        lambda: all(
            len(
                getattr(
                    rooms[0].remote_participants.get(f"translator-{s}"), "track_publications", {}
                )
            )
            >= 2
            for s in speakers
        ),
        within=60 + 30 * len(speakers),
        what="every translator with its tracks",
    )
    return speakers


async def seat(
    lk: LiveKitFixture,
    worker: WorkerProcess,
    room: str,
    people: list[tuple[str, str]],
    rooms: list[rtc.Room],
) -> tuple[dict[str, ListeningClient], dict[str, tuple[Speaker, str]]]:
    """The measuring listeners and then the speakers ``people`` join ``room``; returns once
    every translator has its tracks and the worker has settled."""
    listeners = await join_listeners(lk, room, rooms)
    speakers = await join_speakers(lk, room, people, rooms)
    await wait_for(worker.settled, within=60, what="the worker to settle")
    return listeners, speakers


async def meeting(minutes: float, workdir: Path) -> dict[str, Any]:
    audio = render_phrases(workdir)
    rooms: list[rtc.Room] = []
    async with running_stack(workdir, "meeting") as (lk, worker):
        sampler = ProcessSampler(worker.proc.pid)
        try:
            listeners, speakers = await seat(
                lk, worker, "meeting", [("ana", "es"), ("ben", "en"), ("carla", "es")], rooms
            )
            sampler.start()
            run = Run(started=time.time())
            await speak_turns(run, speakers, audio, minutes)
            await asyncio.sleep(6)
            cpu = sampler.stop()
            wall = time.time() - run.started
            result = measure(run, listeners)
            result.update(
                {
                    "minutes": round(wall / 60, 2),
                    "speakers": {k: v[1] for k, v in speakers.items()},
                    "listener_languages": list(listeners),
                    "worker_cpu_seconds": round(cpu, 1),
                    "worker_cpu_share_of_2_cores": round(cpu / wall / 2, 3),
                    "worker_peak_rss_mb": round(sampler.peak_rss / 2**20, 1),
                    **skipped_units(worker.log()),
                    # every listener receives the source captions: one listener's will do
                    "boundary_share": boundary_share(
                        [c.text for c in next(iter(listeners.values())).finals(translated=False)]
                    ),
                }
            )
            for listener in listeners.values():
                await listener.aclose()
            return result
        finally:
            for r in rooms:
                await r.disconnect()


async def capacity_step(
    n: int, seconds: float, audio: dict[str, list[np.ndarray]], workdir: Path
) -> dict[str, Any]:
    """``n`` Spanish speakers talking at once, each interpreted into English and French."""
    rooms: list[rtc.Room] = []
    async with running_stack(workdir, f"capacity-{n}") as (lk, worker):
        try:
            listeners, speakers = await seat(
                lk, worker, "load", [(f"s{i}", "es") for i in range(n)], rooms
            )
            run = Run(started=time.time())

            async def talk(name: str, offset: int) -> None:
                speaker = speakers[name][0]
                for i in itertools.count(offset):
                    if time.time() >= run.started + seconds:
                        return
                    k = i % len(PHRASES["es"])
                    phrase = Phrase(name, "es", PHRASES["es"][k], audio["es"][k])
                    run.phrases.append(phrase)
                    await speaker.play(phrase.audio)
                    phrase.ended_at = time.time()
                    await speaker.silence(0.6)

            await asyncio.gather(*(talk(name, j * 3) for j, name in enumerate(speakers)))
            await asyncio.sleep(6)
            result = measure(run, listeners)
            skipped = skipped_units(worker.log())
            p95 = result["caption_latency_s"]["p95"]
            result.update(
                {
                    "speakers": n,
                    "target_languages": 2,
                    **skipped,
                    "missing_share": round(
                        result["captions_missing"]
                        / max(1, result["captions_missing"] + result["captions_matched"]),
                        3,
                    ),
                    "keeps_up": bool(
                        p95 is not None and p95 < 4.0 and skipped["voice_units_skipped_late"] == 0
                    ),
                }
            )
            for listener in listeners.values():
                await listener.aclose()
            return result
        finally:
            for r in rooms:
                await r.disconnect()


async def capacity(max_speakers: int, seconds: float, workdir: Path) -> dict[str, Any]:
    audio = render_phrases(workdir)
    steps: list[dict[str, Any]] = []
    for n in range(1, max_speakers + 1):
        step = await capacity_step(n, seconds, audio, workdir)
        # Captions missing because the recogniser never understood a phrase are missing
        # whatever the load; more missing than with one speaker means the load lost them.
        baseline = steps[0]["missing_share"] if steps else step["missing_share"]
        step["real_time"] = step["keeps_up"] and step["missing_share"] <= baseline + 0.05
        steps.append(step)
        print(json.dumps(step, indent=1), flush=True)
        if not step["real_time"]:
            break
    best = max((s["speakers"] for s in steps if s["real_time"]), default=0)
    return {"steps": steps, "max_real_time_speakers_x_targets": f"{best} x 2"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--capacity", action="store_true")
    parser.add_argument("--max-speakers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-meeting-") as tmp:
        if args.capacity:
            result = asyncio.run(capacity(args.max_speakers, args.seconds, Path(tmp)))
            name = "capacity"
        else:
            result = asyncio.run(meeting(args.minutes, Path(tmp)))
            name = "meeting"
    result["targets"] = {
        "caption_latency_p50_s": 1.5,
        "caption_latency_p95_s": 3.0,
        "voice_latency_p50_s": 2.5,
        "lag_growth_max": 0.2,
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
