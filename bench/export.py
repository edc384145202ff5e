"""Transcript store and export benchmark: a synthetic 2-hour meeting.

Writes 10,000 source segments (four speakers talking English, Spanish and French over two
hours) and their translations into the other two languages (30,000 rows), through the same
async store API the translator agents use, with four concurrent writers. Then exports every
language (``original``, ``en``, ``es``, ``fr``) in every format (WebVTT, SRT, JSON), timing the
database query and the rendering together, as the HTTP endpoint does.

Run from the repository root::

    PYTHONPATH=. python -m bench.export                       # SQLite in a temp dir
    PYTHONPATH=. python -m bench.export --db-url postgresql://...   # or PostgreSQL
    scripts/pg_test_server.sh run sh -c \
        'PYTHONPATH=. python -m bench.export --db-url "$INTERPRETER_TEST_PG_URL"'

Writes ``bench/results/export.json`` (``export_<dialect>.json`` with ``--db-url``).
Target: every export < 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from captions import Caption
from captions.export import FORMATS, render
from captions.store import ORIGINAL, Meeting, TranscriptStore, database_url
from languages import Language

RESULTS = Path(__file__).resolve().parent / "results"
LANGUAGES = (Language("en"), Language("es"), Language("fr"))
SPEAKERS = (
    ("ana", "Ana Lima", "en"),
    ("bo", "Bo Chen", "es"),
    ("chen", "Chen Wei", "fr"),
    ("dara", "Dara O'Neill", "en"),
)
WORDS = (
    "the budget meeting next week board revenue costs quarter team project plan customers "
    "<numbers> & results -- growth region product launch support question answer agree"
).split()
T0 = 1_800_000_000.0
TARGET_S = 2.0


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 28))) + "."


def _meeting_captions(segments: int, hours: float, seed: int) -> list[list[Caption]]:
    """Per speaker, in speaking order: each source caption followed by its translations."""
    rng = random.Random(seed)
    step = hours * 3600 / segments
    per_speaker: list[list[Caption]] = [[] for _ in SPEAKERS]
    for n in range(segments):
        who = rng.randrange(len(SPEAKERS))
        identity, name, lang = SPEAKERS[who]
        start = n * step + rng.uniform(0, step * 0.2)
        end = start + rng.uniform(step * 0.4, step * 0.95)
        seg = f"{identity}-{n}"
        for target in (Language(lang), *(t for t in LANGUAGES if t != lang)):
            per_speaker[who].append(
                Caption(
                    segment_id=seg if target == lang else f"{seg}:{target}",
                    source_segment_id=seg,
                    speaker_identity=identity,
                    speaker_name=name,
                    track_sid=f"TR_{identity}",
                    language=target,
                    source_language=Language(lang),
                    text=_text(rng),
                    final=True,
                    start=start,
                    end=end,
                    wall_time=T0 + end,
                )
            )
    return per_speaker


async def _write(store: TranscriptStore, meeting: Meeting, captions: list[Caption]) -> list[float]:
    latencies = []
    for c in captions:
        began = time.perf_counter()
        await store.save_caption(meeting, c, engine="bench")
        latencies.append(time.perf_counter() - began)
    return latencies


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(db_url: str, segments: int, hours: float, repeats: int) -> dict[str, Any]:
    meeting = Meeting(room_sid="RM_bench", room_name="bench", started_at=T0)
    per_speaker = _meeting_captions(segments, hours, seed=1)
    rows = sum(len(c) for c in per_speaker)
    async with await TranscriptStore.open(db_url, threads=4) as store:
        began = time.perf_counter()
        lat = await asyncio.gather(*(_write(store, meeting, c) for c in per_speaker))
        write_s = time.perf_counter() - began
        latencies = [x for chunk in lat for x in chunk]

        exports: dict[str, dict[str, Any]] = {}
        for language in (ORIGINAL, *LANGUAGES):
            for fmt in FORMATS:
                timings = []
                for _ in range(repeats):
                    t = time.perf_counter()
                    transcript = await store.transcript("bench", language)
                    queried = time.perf_counter() - t
                    body = await asyncio.to_thread(render, transcript, fmt)
                    timings.append((time.perf_counter() - t, queried))
                best = min(timings)
                exports[f"{language}.{fmt}"] = {
                    "lines": len(transcript.lines),
                    "bytes": len(body.encode()),
                    "seconds": round(best[0], 3),
                    "query_seconds": round(best[1], 3),
                    "render_seconds": round(best[0] - best[1], 3),
                    "within_target": best[0] < TARGET_S,
                }
                print(f"{language}.{fmt}: {exports[f'{language}.{fmt}']}", flush=True)
        dialect = store.dialect
    return {
        "dialect": dialect,
        "meeting_hours": hours,
        "source_segments": segments,
        "rows_written": rows,
        "writers": len(per_speaker),
        "write_seconds": round(write_s, 2),
        "writes_per_second": round(rows / write_s, 1),
        "write_latency_ms": {
            "p50": round(statistics.median(latencies) * 1000, 2),
            "p95": round(_pct(latencies, 0.95) * 1000, 2),
            "max": round(max(latencies) * 1000, 2),
        },
        "target_seconds": TARGET_S,
        "slowest_export_seconds": max(e["seconds"] for e in exports.values()),
        "exports": exports,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--db-url", help="database URL (default: SQLite in a temp dir)")
    parser.add_argument("--segments", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3, help="best of N per export")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db_url or database_url(db_url=None, data_dir=Path(tmp))
        result = asyncio.run(run(url, args.segments, args.hours, args.repeats))
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    name = "export.json" if args.db_url is None else f"export_{result['dialect']}.json"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    print(f"slowest export {result['slowest_export_seconds']} s; wrote {RESULTS / name}")


if __name__ == "__main__":
    main()
