"""Soak: a long scripted meeting, measured window by window.

The meeting of ``bench.meeting`` (three speakers in Spanish and English taking turns, listeners
in English and French, a real LiveKit server and worker on loopback) goes on for ``--minutes``
(30 by default). Per ``--window`` minutes (5): caption and voice latency p50/p95 (as
``bench.meeting`` measures them, for the phrases that ended in the window), the worker's CPU
seconds and its resident memory (worker and job processes together; the window's maximum and
its value at the window's end).

Captions lost, kept apart from recognition misses:

* a *recognition miss* is a phrase x target language without a translated caption and without
  a source caption either: the recogniser heard nothing there (``bench.meeting``'s "missing"
  counts these together with the losses);
* a *lost caption* is one the system made and then lost: a source caption a listener received
  whose translation into that listener's language never arrived; a source caption a listener
  received that is not in the stored transcript (``transcript export --lang original``); a
  translated caption a listener received that is not in the stored transcript of its language.

Verdict: caption lag growth (last window's p50 against the first's) and memory growth (at the
last window's end against the first's) at most 10 %, and no caption lost.

Run: ``PYTHONPATH=. .venv/bin/python -m bench.soak [--minutes 30] [--window 5]``
Writes ``bench/results/soak.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from livekit import rtc

from bench.meeting import (
    RESULTS,
    SAME_PHRASE,
    ProcessSampler,
    Run,
    measure,
    render_phrases,
    running_stack,
    seat,
    skipped_units,
    speak_turns,
)
from captions.protocol import CAPTION_SOURCE_SEGMENT_ID, CAPTION_WALL_TIME
from interpreter.testing.clients import ListeningClient
from interpreter.testing.livekit import WorkerProcess

ROOM = "soak"
SPEAKERS = [("ana", "es"), ("ben", "en"), ("carla", "es")]
GROWTH_LIMIT = 0.10
STORE_WAIT_S = 30.0
"""How long the stored transcript may take to catch up with the last captions."""


def windows(
    run: Run,
    sampler: ProcessSampler,
    listeners: dict[str, ListeningClient],
    *,
    minutes: float,
    window: float,
) -> list[dict[str, Any]]:
    """Latency, CPU and memory per window of ``window`` minutes from the meeting's start."""
    count = max(1, math.ceil(minutes / window - 1e-9))
    out: list[dict[str, Any]] = []
    for k in range(count):
        start = run.started + k * window * 60
        end = run.started + (k + 1) * window * 60 if k < count - 1 else math.inf
        part = Run(
            phrases=[p for p in run.phrases if start <= p.ended_at < end], started=run.started
        )
        quality = measure(part, listeners)
        inside = [s for s in sampler.samples if start <= s[0] < end]
        before = [s for s in sampler.samples if s[0] < start] or sampler.samples[:1]
        cpu = inside[-1][1] - before[-1][1] if inside and before else None
        seconds = inside[-1][0] - before[-1][0] if inside and before else None
        out.append(
            {
                "window": k + 1,
                "from_min": round(k * window, 2),
                "phrases": quality["phrases"],
                "captions_matched": quality["captions_matched"],
                "captions_missing": quality["captions_missing"],
                "caption_latency_s": quality["caption_latency_s"],
                "voice_latency_s": quality["voice_latency_s"],
                "worker_cpu_s": round(cpu, 1) if cpu is not None else None,
                "worker_cpu_share_of_2_cores": (
                    round(cpu / seconds / 2, 3) if cpu is not None and seconds else None
                ),
                "worker_rss_mb_max": round(max(s[2] for s in inside) / 2**20) if inside else None,
                "worker_rss_mb_end": round(inside[-1][2] / 2**20) if inside else None,
            }
        )
    return out


def missing_split(run: Run, listeners: dict[str, ListeningClient]) -> dict[str, Any]:
    """``bench.meeting``'s missing phrase captions, split into recognition misses (no source
    caption either) and captions recognised but never translated at the listener."""
    detail = measure(run, listeners)["per_phrase"]
    misses: list[dict[str, Any]] = []
    untranslated: list[dict[str, Any]] = []
    for row in (r for r in detail if r.get("missing")):
        ended = run.started + row["ended_s"]
        heard = [
            c
            for c in listeners[row["target"]].finals(sender=row["speaker"], translated=False)
            if abs(float(c.attributes.get(CAPTION_WALL_TIME, 0)) - ended) <= SAME_PHRASE
        ]
        (untranslated if heard else misses).append(row)
    return {"recognition_misses": misses, "recognised_not_translated": untranslated}


def lost_translations(listeners: dict[str, ListeningClient]) -> list[dict[str, str]]:
    """Source captions a listener received whose translation into its language never came."""
    lost: list[dict[str, str]] = []
    for lang, listener in listeners.items():
        got = {
            c.attributes.get(CAPTION_SOURCE_SEGMENT_ID) for c in listener.finals(translated=True)
        }
        for c in listener.finals(translated=False):
            segment = c.attributes.get(CAPTION_SOURCE_SEGMENT_ID, "")
            if c.language != lang and segment not in got:
                lost.append({"listener": lang, "segment": segment, "text": c.text})
    return lost


def stored_ids(worker: WorkerProcess, language: str) -> set[str]:
    out = worker.cli(
        "transcript", "export", "--room", ROOM, "--lang", language, "--format", "json"
    ).stdout
    return {str(s["id"]) for s in json.loads(out)["segments"]}


async def missing_from_store(
    worker: WorkerProcess, listeners: dict[str, ListeningClient]
) -> tuple[list[dict[str, str]], dict[str, int]]:
    """Captions the listeners received that the stored transcript lacks (source captions
    in ``original``, translations in their language), once the store has caught up."""
    wanted: dict[str, set[str]] = {"original": set()}
    for lang, listener in listeners.items():
        for c in listener.finals(translated=False):
            wanted["original"].add(c.attributes.get(CAPTION_SOURCE_SEGMENT_ID, ""))
        wanted[lang] = {
            c.attributes.get(CAPTION_SOURCE_SEGMENT_ID, "")
            for c in listener.finals(translated=True)
        }
    deadline = time.monotonic() + STORE_WAIT_S
    while True:
        stored = {lang: await asyncio.to_thread(stored_ids, worker, lang) for lang in wanted}
        absent = [
            {"language": lang, "segment": s}
            for lang, ids in wanted.items()
            for s in sorted(ids - stored[lang])
        ]
        if not absent or time.monotonic() > deadline:
            return absent, {lang: len(ids) for lang, ids in stored.items()}
        await asyncio.sleep(2)


def growth(first: float | None, last: float | None) -> float | None:
    if first is None or last is None or first == 0:
        return None
    return round((last / first - 1) * 100, 1)


async def soak(minutes: float, window: float, workdir: Path) -> dict[str, Any]:
    audio = render_phrases(workdir)
    rooms: list[rtc.Room] = []
    load = [os.getloadavg()]
    async with running_stack(workdir, "soak") as (lk, worker):
        sampler = ProcessSampler(worker.proc.pid)
        try:
            listeners, speakers = await seat(lk, worker, ROOM, SPEAKERS, rooms)
            sampler.start()
            run = Run(started=time.time())
            await speak_turns(run, speakers, audio, minutes)
            await asyncio.sleep(6)
            ended = time.time()
            sampler.stop()
            load.append(os.getloadavg())
            per_window = windows(run, sampler, listeners, minutes=minutes, window=window)
            whole = measure(run, listeners)
            split = missing_split(run, listeners)
            untranslated = lost_translations(listeners)
            unstored, stored = await missing_from_store(worker, listeners)
            skipped = skipped_units(worker.log())
            for listener in listeners.values():
                await listener.aclose()
        finally:
            for r in rooms:
                await r.disconnect()
    lost = len(untranslated) + len(unstored)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "minutes": round((ended - run.started) / 60, 2),
        "window_minutes": window,
        "speakers": dict(SPEAKERS),
        "listener_languages": list(listeners),
        "load_avg_1_5_15": {"start": load[0], "end": load[1]},
        "windows": per_window,
        "whole": {
            "phrases": whole["phrases"],
            "captions_matched": whole["captions_matched"],
            "captions_missing": whole["captions_missing"],
            "caption_latency_s": whole["caption_latency_s"],
            "voice_latency_s": whole["voice_latency_s"],
            "worker_peak_rss_mb": round(sampler.peak_rss / 2**20),
            **skipped,
        },
        "stored_segments": stored,
        "recognition_misses": len(split["recognition_misses"]),
        "lost": {
            "total": lost,
            "recognised_not_translated_phrases": split["recognised_not_translated"],
            "source_captions_without_translation": untranslated,
            "received_but_not_stored": unstored,
        },
        "recognition_miss_detail": split["recognition_misses"],
        "verdict": verdict(per_window, lost),
    }


def verdict(per_window: list[dict[str, Any]], lost: int) -> dict[str, Any]:
    """The last window against the first: caption and voice lag (p50) and memory growth, in %.
    Memory is compared at the windows' ends (the first window's maximum can be a job process
    still loading its models); the growth of the windows' maxima is reported too."""
    first, last = per_window[0], per_window[-1]
    lag = growth(first["caption_latency_s"]["p50"], last["caption_latency_s"]["p50"])
    rss = growth(first["worker_rss_mb_end"], last["worker_rss_mb_end"])
    return {
        "caption_lag_growth_pct": lag,
        "voice_lag_growth_pct": growth(
            first["voice_latency_s"]["p50"], last["voice_latency_s"]["p50"]
        ),
        "rss_growth_pct": rss,
        "rss_max_growth_pct": growth(first["worker_rss_mb_max"], last["worker_rss_mb_max"]),
        "lost_captions": lost,
        "holds": bool(
            lag is not None
            and lag <= GROWTH_LIMIT * 100
            and rss is not None
            and rss <= GROWTH_LIMIT * 100
            and lost == 0
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--window", type=float, default=5.0, help="minutes per window")
    parser.add_argument(
        "--note", default="", help="written into the results (e.g. the run's purpose)"
    )
    args = parser.parse_args()
    if not 0 < args.window <= args.minutes <= 240:
        parser.error("need 0 < --window <= --minutes <= 240")
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        result = asyncio.run(soak(args.minutes, args.window, Path(tmp)))
    if args.note:
        result["note"] = args.note
    (RESULTS / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
