"""Turn-end latency: a speaker finishes a sentence and stops; how soon is it read and heard?

One livekit-server and translator worker, one room. A Spanish speaker (espeak-ng) and an
English speaker (Piper) take turns, one sentence each (``bench.meeting.PHRASES``), every
sentence followed by 2-4 s of silence (seeded), so each unit ends on the VAD's end of speech.
Listeners want English and Spanish: es->en is voiced by Piper, en->es by espeak-ng.

The turn end is the end of the sentence's last word, found in the rendered audio itself (the
last 10 ms window louder than ``LEVEL_DB`` below the loudest one), in wall time: when
``Speaker.play`` started plus that offset (``pacing_check`` compares when play returned with
the clip's length). From there, per sentence:

* caption latency: -> the translated caption final of the sentence arrives at the listener
  (the one whose ``wall_time`` lies within ``SAME_SENTENCE`` s of the turn end; the last such
  unit when the recogniser split the sentence);
* voice latency: -> the first audible frame (a sound onset after 150 ms of silence) on the
  translator's language track at the listener;
* voice after caption: the difference.

Stages of the unit that ends the turn, each from the previous one, so that they add up to the
two latencies: ``speech_end_seen`` (turn end -> the worker's ``speech_end``: the wall time at
which the worker received the audio where the recogniser says the last word ends),
``stt_final`` (-> final transcript: the wait for the pause to be confirmed and the decode,
which may have run during the pause),
``translation``, ``caption_store_publish`` (transcript store and text-stream send),
``caption_transport`` (-> caption at the listener), ``synthesis_first_chunk`` (caption sent ->
first voice frame captured on the track: voice queue, pacing, TTS first chunk) and
``voice_transport`` (-> audible at the listener). The worker logs translation and publication
per unit ("unit translated"); the STT final and first-audio times are only histograms on its
metrics port, so /metrics is scraped every ``SCRAPE`` s and each single observation (count +1,
the value is the sum's increase) is matched to the unit whose ``speech_end`` plus the value
falls in the scrape window. The VAD's decision is not observable in the room; it is replayed
offline with the worker's own Silero settings on the same audio (``vad_offline``).

Also: the share of units whose source text ends without a sentence or clause boundary, and
per unit what ended it (``commit``: ``pause``, ``final``, ``breath``...), whether its words
come from a decode at the pause before the pause was confirmed (``speculative``) and that
decode's seconds (``decode_s``), from the worker's "unit committed" log lines.

Run: ``PYTHONPATH=. .venv/bin/python -m bench.turn_end [--sentences N]`` (N per language,
default 10). Writes ``bench/results/turn_end.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents import vad
from prometheus_client.parser import text_string_to_metric_families

from bench.meeting import (
    PHRASES,
    ProcessSampler,
    onsets,
    percentile,
    running_stack,
    skipped_units,
)
from bench.meeting import (
    boundary_share as share_without_boundary,
)
from bench.terms import render
from captions.protocol import (
    CAPTION_SEGMENT_ID,
    CAPTION_SOURCE_LANGUAGE,
    CAPTION_SOURCE_SEGMENT_ID,
    CAPTION_WALL_TIME,
)
from interpreter.providers.whisper_stt import default_vad
from interpreter.testing.audio import active_span
from interpreter.testing.clients import ListeningClient, Speaker, join_listener
from interpreter.testing.livekit import LiveKitFixture, WorkerProcess, wait_for

RESULTS = Path(__file__).parent / "results"
RATE = 16000
SEED = 16
GAP = (2.0, 4.0)
"""Seconds of silence after each sentence (uniform, seeded)."""
LEVEL_DB = -40.0
"""The last word ends with the last 10 ms window louder than this, relative to the loudest."""
SAME_SENTENCE = 1.5
"""A caption belongs to the sentence whose turn end is at most this far from its ``wall_time``
(turn ends are at least 4 s apart)."""
SCRAPE = 0.25
"""Seconds between two reads of the worker's /metrics."""
SPEAKERS = {"es": "ana", "en": "ben"}
LISTENERS = {"en": "lena", "es": "sofia"}
TARGET = {"es": "en", "en": "es"}
VOICES = {"en": "piper", "es": "espeak-ng"}
GOALS = {"caption_p50_s": 1.2, "caption_p95_s": 2.0, "voice_p50_s": 1.8}
STAGES = (
    "speech_end_seen",
    "stt_final",
    "translation",
    "caption_store_publish",
    "caption_transport",
    "synthesis_first_chunk",
    "voice_transport",
)
STAGE_HELP = {
    "speech_end_seen": "turn end -> the worker's speech_end (the wall time at which it received the"
    " audio where the recogniser puts the end of the last word): uplink transport plus the"
    " recogniser's word-timestamp error",
    "stt_final": "-> final transcript of the unit (the wait for the pause to be confirmed: a"
    " breath, a sentence end after a shorter silence, or the VAD's end of speech; and the"
    " decode, which runs from the start of the pause when it is speculative, after any"
    " running interim decode)",
    "translation": "-> translation done (lane queue and engine)",
    "caption_store_publish": "-> caption final sent (transcript store, text stream and data"
    " message)",
    "caption_transport": "-> caption final received by the listener",
    "synthesis_first_chunk": "caption sent -> first voice frame captured on the language track"
    " (voice queue, pacing decision, TTS until its first chunk)",
    "voice_transport": "-> first audible frame at the listener (worker audio source, server,"
    " listener jitter buffer)",
    "adds_up": "caption latency = speech_end_seen + stt_final + translation +"
    " caption_store_publish + caption_transport; voice latency = the same without"
    " caption_transport, + synthesis_first_chunk + voice_transport",
}
HISTOGRAMS = {
    "stt_final": ("interpreter_stt_final_seconds", "source_language"),
    "first_audio": ("interpreter_first_audio_seconds", "target_language"),
}


@dataclass
class Sentence:
    speaker: str
    language: str
    text: str
    audio: np.ndarray
    gap: float
    last_word: float  # seconds into ``audio`` where the last word ends
    started_at: float = 0.0  # wall time ``Speaker.play`` began
    returned_at: float = 0.0  # wall time it returned

    @property
    def ended_at(self) -> float:
        """Wall time the last word ended (the turn end)."""
        return self.started_at + self.last_word

    @property
    def target(self) -> str:
        return TARGET[self.language]


def last_word_end(samples: np.ndarray) -> float:
    """Seconds into ``samples`` where the last window within ``LEVEL_DB`` of the loudest ends."""
    win = RATE // 100
    n = len(samples) // win
    rms = np.sqrt(np.mean(samples[: n * win].reshape(n, win) ** 2, axis=1) + 1e-12)
    loudest = 20 * float(np.log10(rms.max()))
    _, end = active_span(samples, RATE, threshold_db=loudest + LEVEL_DB)
    return end / RATE


def script(per_language: int, workdir: Path) -> list[Sentence]:
    """Alternating Spanish and English sentences, each with its seeded gap."""
    rng = random.Random(SEED)
    audio = {lang: render(PHRASES[lang][:per_language], lang, workdir) for lang in SPEAKERS}
    out: list[Sentence] = []
    for i in range(per_language):
        for lang, speaker in SPEAKERS.items():
            samples = audio[lang][i]
            out.append(
                Sentence(
                    speaker=speaker,
                    language=lang,
                    text=PHRASES[lang][i],
                    audio=samples,
                    gap=round(rng.uniform(*GAP), 2),
                    last_word=last_word_end(samples),
                )
            )
    return out


class MetricsRecorder:
    """Reads the worker's histograms every ``SCRAPE`` s; a histogram whose count rose by one
    between two reads holds one observation (the sum's increase)."""

    def __init__(self, worker: WorkerProcess) -> None:
        self._worker = worker
        self.reads: list[tuple[float, float, dict[tuple[str, str], tuple[float, float]]]] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _read(self) -> dict[tuple[str, str], tuple[float, float]]:
        out: dict[tuple[str, str], list[float]] = {}
        for family in text_string_to_metric_families(self._worker.metrics()):
            for name, label in HISTOGRAMS.values():
                if family.name != name:
                    continue
                for s in family.samples:
                    key = (name, s.labels.get(label, ""))
                    slot = out.setdefault(key, [0.0, 0.0])
                    if s.name == f"{name}_sum":
                        slot[0] += s.value
                    elif s.name == f"{name}_count":
                        slot[1] += s.value
        return {k: (v[0], v[1]) for k, v in out.items()}

    async def _run(self) -> None:
        while not self._stop.is_set():
            before = time.time()
            values = await asyncio.to_thread(self._read)
            self.reads.append((before, time.time(), values))
            await asyncio.sleep(SCRAPE)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    def observations(self) -> tuple[dict[tuple[str, str], list[tuple[float, float, float]]], int]:
        """Per histogram and label: (window start, window end, value) of single observations,
        and how many reads saw more than one (their values cannot be told apart)."""
        found: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        ambiguous = 0
        for (lo, _, old), (_, hi, new) in zip(self.reads, self.reads[1:], strict=False):
            for key, (total, count) in new.items():
                before_total, before_count = old.get(key, (0.0, 0.0))
                if count - before_count == 1:
                    found.setdefault(key, []).append((lo, hi, total - before_total))
                elif count - before_count > 1:
                    ambiguous += 1
        return found, ambiguous


def _observed(
    obs: dict[tuple[str, str], list[tuple[float, float, float]]],
    stage: str,
    label: str,
    speech_end: float,
) -> float | None:
    """The observation of ``stage`` (seconds from ``speech_end``) made inside its window."""
    name, _ = HISTOGRAMS[stage]
    for lo, hi, value in obs.get((name, label), []):
        if lo - 0.05 <= speech_end + value <= hi + 0.05:
            return value
    return None


def translated_units(log: str) -> dict[tuple[str, str], dict[str, float]]:
    """The worker's "unit translated" lines, by (source segment id, target language)."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    for line in log.splitlines():
        if "unit translated" not in line:
            continue
        fields = dict(re.findall(r"(\w+)=(\S+)", line))
        out[(fields["segment_id"], fields["language"])] = {
            k: float(fields[k]) for k in ("speech_end", "translated_after", "published_after")
        }
    return out


def committed_units(log: str) -> dict[str, dict[str, Any]]:
    """The worker's "unit committed" lines, by source segment id: what ended the unit
    (``commit``), whether a decode at the pause heard it before the pause was confirmed
    (``speculative``), that decode's seconds, and the unit's STT final latency."""
    out: dict[str, dict[str, Any]] = {}
    for line in log.splitlines():
        if "unit committed" not in line:
            continue
        fields = dict(re.findall(r"(\w+)=(\S+)", line))
        decode = fields.get("decode_seconds", "")
        out[fields["segment_id"]] = {
            "commit": fields.get("commit", ""),
            "speculative": fields.get("speculative") == "True",
            "decode_s": float(decode) if decode else None,
            "stt_final_after": float(fields["stt_final_after"]),
        }
    return out


async def vad_offline(sentences: list[Sentence]) -> list[float | None]:
    """Seconds of audio from each sentence's last word to the worker's VAD (same Silero
    settings) ending the speech, replayed on the same audio with the silence that follows."""
    lead = RATE // 2
    out: list[float | None] = []
    for s in sentences:
        samples = np.concatenate(
            [np.zeros(lead, np.float32), s.audio, np.zeros(int(s.gap * RATE), np.float32)]
        )
        pcm = np.clip(samples * 32768, -32768, 32767).astype(np.int16)
        stream = default_vad().stream()
        frame = RATE // 100
        for start in range(0, len(pcm) - frame + 1, frame):
            chunk = pcm[start : start + frame]
            stream.push_frame(rtc.AudioFrame(chunk.tobytes(), RATE, 1, frame))
        stream.end_input()
        last = lead + int(s.last_word * RATE)
        ends = [
            ev.samples_index
            async for ev in stream
            if ev.type == vad.VADEventType.END_OF_SPEECH and ev.samples_index >= last
        ]
        await stream.aclose()
        out.append(round((ends[0] - last) / RATE, 3) if ends else None)
    return out


async def _say_all(sentences: list[Sentence], speakers: dict[str, Speaker]) -> None:
    for s in sentences:
        s.started_at = time.time()
        await speakers[s.speaker].play(s.audio)
        s.returned_at = time.time()
        await speakers[s.speaker].silence(s.gap)


def _stats(values: list[float]) -> dict[str, Any]:
    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 3)

    return {
        "p50": r(percentile(values, 50)),
        "p95": r(percentile(values, 95)),
        "max": r(max(values, default=None)),
        "count": len(values),
    }


def measure_sentence(
    s: Sentence,
    later: Sentence | None,
    listener: ListeningClient,
    units: dict[tuple[str, str], dict[str, float]],
    obs: dict[tuple[str, str], list[tuple[float, float, float]]],
    vad_delay: float | None,
    committed: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "direction": f"{s.language}-{s.target}",
        "source": s.text,
        "turn_end_s_into_clip": round(s.last_word, 3),
        "clip_s": round(len(s.audio) / RATE, 3),
        "gap_s": s.gap,
        "vad_offline_s": vad_delay,
    }
    finals = [
        c
        for c in listener.finals(language=s.target, sender=s.speaker, translated=True)
        if abs(float(c.attributes.get(CAPTION_WALL_TIME, 0)) - s.ended_at) <= SAME_SENTENCE
        and c.at >= s.ended_at - 0.5
    ]
    if not finals:
        row["missing"] = True
        return row
    caption = max(finals, key=lambda c: float(c.attributes[CAPTION_WALL_TIME]))
    segment = caption.attributes[CAPTION_SOURCE_SEGMENT_ID]
    row["caption"] = caption.text
    row["caption_latency_s"] = round(caption.at - s.ended_at, 3)
    # the recogniser may cut a sentence into units: all those whose speech ended within it
    row["units_in_sentence"] = sum(
        s.started_at - 0.5
        <= float(c.attributes.get(CAPTION_WALL_TIME, 0))
        <= s.ended_at + SAME_SENTENCE
        for c in listener.finals(sender=s.speaker, translated=False)
    )
    sources = [
        c
        for c in listener.finals(sender=s.speaker, translated=False)
        if c.attributes.get(CAPTION_SOURCE_SEGMENT_ID) == segment
    ]
    if sources:
        row["source_caption"] = sources[0].text
        row["source_caption_latency_s"] = round(sources[0].at - s.ended_at, 3)
    # the first sound on the track after the turn end (before the next turn of this speaker)
    track = listener.audio.get((f"translator-{s.speaker}", s.target), [])
    bound = later.ended_at if later is not None else float("inf")
    heard = [t for t in onsets(track) if s.ended_at <= t < bound]
    if heard:
        row["voice_latency_s"] = round(heard[0] - s.ended_at, 3)
        row["voice_after_caption_s"] = round(heard[0] - caption.at, 3)
    how = (committed or {}).get(segment)
    if how is not None:
        row["commit"] = how["commit"]
        row["speculative"] = how["speculative"]
        row["decode_s"] = how["decode_s"]
    unit = units.get((segment, s.target))
    if unit is None:
        return row
    end = unit["speech_end"]
    source_language = str(caption.attributes.get(CAPTION_SOURCE_LANGUAGE, s.language))
    stt = _observed(obs, "stt_final", source_language, end)
    if stt is None and how is not None:
        # the same value as the histogram's observation, logged with the unit
        stt = how["stt_final_after"]
    first = _observed(obs, "first_audio", s.target, end)
    stages: dict[str, float | None] = dict.fromkeys(STAGES)
    stages["speech_end_seen"] = end - s.ended_at
    stages["stt_final"] = stt
    if stt is not None:
        stages["translation"] = unit["translated_after"] - stt
    stages["caption_store_publish"] = unit["published_after"] - unit["translated_after"]
    stages["caption_transport"] = caption.at - (end + unit["published_after"])
    if first is not None:
        stages["synthesis_first_chunk"] = first - unit["published_after"]
        voiced = [t for t in onsets(track) if end + first - 0.05 <= t < bound]
        if voiced:
            stages["voice_transport"] = voiced[0] - (end + first)
    row["stages_s"] = {k: None if v is None else round(v, 3) for k, v in stages.items()}
    if stt is not None and vad_delay is not None:
        row["final_decode_after_vad_estimate_s"] = round(end + stt - s.ended_at - vad_delay, 3)
    return row


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for direction in ("es-en", "en-es"):
        mine = [r for r in rows if r["direction"] == direction]

        def col(key: str, rows: list[dict[str, Any]] = mine) -> list[float]:
            return [r[key] for r in rows if r.get(key) is not None]

        stages = {
            stage: _stats(
                [
                    r["stages_s"][stage]
                    for r in mine
                    if "stages_s" in r and r["stages_s"][stage] is not None
                ]
            )
            for stage in STAGES
        }
        caption, voice = _stats(col("caption_latency_s")), _stats(col("voice_latency_s"))
        out[direction] = {
            "voice": VOICES[direction[-2:]],
            "sentences": len(mine),
            "captions_missing": sum(bool(r.get("missing")) for r in mine),
            "sentences_split_into_units": sum(r.get("units_in_sentence", 1) > 1 for r in mine),
            "caption_latency_s": caption,
            "source_caption_latency_s": _stats(col("source_caption_latency_s")),
            "voice_latency_s": voice,
            "voice_after_caption_s": _stats(col("voice_after_caption_s")),
            "stages_s": stages,
            "vad_offline_s": _stats(col("vad_offline_s")),
            "decode_s": _stats(col("decode_s")),
            "commits": dict(collections.Counter(r.get("commit", "unknown") for r in mine)),
            "speculative_commits": sum(bool(r.get("speculative")) for r in mine),
            "final_decode_after_vad_estimate_s": _stats(col("final_decode_after_vad_estimate_s")),
            "without_first_sentence": {
                "why": "the first unit of each direction also pays the translation engine's"
                " first call",
                "caption_latency_s": _stats(col("caption_latency_s", mine[1:])),
                "voice_latency_s": _stats(col("voice_latency_s", mine[1:])),
            },
            "goals_met": {
                "caption_p50": caption["p50"] is not None
                and caption["p50"] <= GOALS["caption_p50_s"],
                "caption_p95": caption["p95"] is not None
                and caption["p95"] <= GOALS["caption_p95_s"],
                "voice_p50": voice["p50"] is not None and voice["p50"] <= GOALS["voice_p50_s"],
            },
        }
    return out


def boundary_share(listeners: dict[str, ListeningClient]) -> dict[str, Any]:
    """Source units (finals) whose text ends without a sentence or clause boundary."""
    out: dict[str, Any] = {}
    for lang, speaker in SPEAKERS.items():
        finals = listeners[TARGET[lang]].finals(sender=speaker, translated=False)
        out[lang] = share_without_boundary([c.text for c in finals])
    units = sum(v["units"] for v in out.values())
    without = sum(v["without_boundary"] for v in out.values())
    out["all"] = {
        "units": units,
        "without_boundary": without,
        "share": round(without / max(1, units), 3),
    }
    return out


def skipped_detail(
    log: str,
    listeners: dict[str, ListeningClient],
    units: dict[tuple[str, str], dict[str, float]],
) -> list[dict[str, Any]]:
    """The units the worker did not voice (too late): lag, source text, and when (from their
    speech end) they were translated and their caption sent."""
    captions = [c for listener in listeners.values() for c in listener.finals()]
    texts = {c.attributes.get(CAPTION_SEGMENT_ID): c.text for c in captions if not c.translated}
    # the log names the translated segment; its caption names the source segment
    source_of = {
        c.attributes.get(CAPTION_SEGMENT_ID): c.attributes.get(CAPTION_SOURCE_SEGMENT_ID)
        for c in captions
        if c.translated
    }
    out = []
    for line in log.splitlines():
        if "unit not voiced: too late" in line:
            fields = dict(re.findall(r"(\w+)=(\S+)", line))
            segment = source_of.get(fields.get("segment_id"))
            unit = units.get((str(segment), fields.get("language", "")), {})
            out.append(
                {
                    "language": fields.get("language"),
                    "lag_s": round(float(fields.get("lag", "nan")), 3),
                    "source": texts.get(segment),
                    "translated_after_s": unit.get("translated_after"),
                    "published_after_s": unit.get("published_after"),
                }
            )
    return out


NOT_MEASURED = {
    "vad_end_of_speech": {
        "reason": "the STT neither logs nor exports when the Silero VAD's end of speech reached"
        " it (the FinalDecode job is queued then); vad_offline_s replays the same VAD and"
        " settings on the same audio, giving its audio-time delay only (no inference lag, no"
        " wait for a running interim decode)",
        "instrumentation": "in WhisperRecognizeStream, on VAD END_OF_SPEECH: a histogram"
        " interpreter_vad_end_seconds (speech end -> VAD end, wall clock) or a per-unit log"
        " field vad_end_after carried on the FINAL_TRANSCRIPT metadata",
    },
    "decode": {
        "reason": "decode_s (per unit, from the pipeline's 'unit committed' line: the seconds"
        " of the decode that heard the unit, with what ended it, commit, and whether that"
        " decode ran at the pause before it was confirmed, speculative) is measured, but not"
        " when it started: for a speculative commit it overlaps the wait for the pause;"
        " final_decode_after_vad_estimate_s subtracts the offline VAD delay from the caption"
        " path (so it also holds uplink transport and VAD inference lag)",
        "instrumentation": "the decode's start (and queue wait) relative to speech_end on the"
        " 'unit committed' line",
    },
    "uplink_transport": {
        "reason": "when the worker received the speaker's audio is not exported; speech_end_seen"
        " holds it together with the recogniser's word-timestamp error",
        "instrumentation": "the pipeline's audio clock offset (wall time received - audio time)"
        " per unit, e.g. in the 'unit translated' line",
    },
    "per_unit_stt_final_and_first_audio": {
        "reason": "first audio is exported only as a histogram; recovered per unit by scraping"
        f" /metrics every {SCRAPE} s (exact values, matched by time; a window with two"
        " observations is lost); stt_final likewise, and from the 'unit committed' line when"
        " the scrape lost it",
        "instrumentation": "stt_final_after and first_audio_after fields on per-unit log lines"
        " ('unit translated', and a 'unit voiced' line in VoiceChannel with queue wait, speed"
        " and TTS first-chunk seconds)",
    },
}


async def bench(per_language: int, workdir: Path) -> dict[str, Any]:
    sentences = script(per_language, workdir)
    rooms: list[rtc.Room] = []
    async with running_stack(workdir, "turn-end") as (lk, worker):
        try:
            listeners, speakers = await _join(lk, rooms)
            await wait_for(worker.settled, within=60, what="the worker to settle")
            recorder = MetricsRecorder(worker)
            recorder.start()
            sampler = ProcessSampler(worker.proc.pid)
            sampler.start()
            load_before = os.getloadavg()
            started = time.time()
            print(f"speaking {len(sentences)} sentences", flush=True)
            await _say_all(sentences, speakers)
            await asyncio.sleep(6)
            await recorder.stop()
            cpu = sampler.stop()
            load_after = os.getloadavg()
            wall = time.time() - started
            log = worker.log()
        finally:
            for r in rooms:
                await r.disconnect()
    for listener in listeners.values():
        await listener.aclose()
    delays = await vad_offline(sentences)
    obs, ambiguous = recorder.observations()
    units = translated_units(log)
    committed = committed_units(log)
    rows = []
    for i, s in enumerate(sentences):
        later = next((x for x in sentences[i + 1 :] if x.speaker == s.speaker), None)
        rows.append(
            measure_sentence(s, later, listeners[s.target], units, obs, delays[i], committed)
        )
    lag = [s.returned_at - s.started_at - len(s.audio) / RATE for s in sentences]
    return {
        "seconds": round(wall, 1),
        "machine": {
            "what": "1-minute load average of the shared 2-core machine when speaking began and"
            " ended, and the worker's CPU (all its processes) meanwhile",
            "load_before": round(load_before[0], 2),
            "load_after": round(load_after[0], 2),
            "worker_cpu_share_of_2_cores": round(cpu / wall / 2, 3),
        },
        "sentences_per_language": per_language,
        "speakers": SPEAKERS,
        "listeners": LISTENERS,
        "gap_s": list(GAP),
        "seed": SEED,
        "turn_end": f"last 10 ms window within {-LEVEL_DB:.0f} dB of the clip's loudest,"
        " at play start + its offset",
        "pacing_check_s": {
            "what": "play returned - (play started + clip length): how far the source's"
            " real-time pacing is from the clock used for the turn end",
            **_stats(lag),
            "min": round(min(lag), 3),
        },
        "stages": STAGE_HELP,
        "directions": summarise(rows),
        "boundary_share": boundary_share(listeners),
        "metric_windows_with_two_observations": ambiguous,
        **skipped_units(log),
        "voice_units_skipped": skipped_detail(log, listeners, units),
        "goals": GOALS,
        "not_measured": NOT_MEASURED,
        "per_sentence": rows,
    }


async def _join(
    lk: LiveKitFixture, rooms: list[rtc.Room]
) -> tuple[dict[str, ListeningClient], dict[str, Speaker]]:
    listeners: dict[str, ListeningClient] = {}
    for lang, ident in LISTENERS.items():

        def want(
            pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant, lang: str = lang
        ) -> bool:
            return p.identity.startswith("translator-") and pub.name == lang

        listeners[lang] = await join_listener(lk, "turn-end", ident, lang, want_track=want)
        rooms.append(listeners[lang].room)
    speakers: dict[str, Speaker] = {}
    for lang, ident in SPEAKERS.items():
        r = await lk.connect("turn-end", ident, attributes={"language": lang})
        rooms.append(r)
        speakers[ident] = Speaker(r)
        await speakers[ident].publish()
    # each speaker's translator voices the other language: its track must reach the listener
    await wait_for(
        lambda: all(
            listeners[TARGET[lang]].audio.get((f"translator-{ident}", TARGET[lang])) is not None
            for lang, ident in SPEAKERS.items()
        ),
        within=120,
        what="both translators' language tracks at the listeners",
    )
    return listeners, speakers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=10, help="per language (at most 10)")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-turn-end-") as tmp:
        result = asyncio.run(bench(min(args.sentences, 10), Path(tmp)))
    (RESULTS / "turn_end.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    summary = {
        direction: {
            k: v
            for k, v in figures.items()
            if k
            in (
                "caption_latency_s",
                "source_caption_latency_s",
                "voice_latency_s",
                "voice_after_caption_s",
                "stages_s",
                "vad_offline_s",
                "captions_missing",
                "goals_met",
            )
        }
        for direction, figures in result["directions"].items()
    }
    summary["boundary_share"] = {k: v["share"] for k, v in result["boundary_share"].items()}
    summary["pacing_check_s"] = result["pacing_check_s"]
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
