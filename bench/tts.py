"""Offline TTS benchmark: real-time factor, time to first audio, and a TTS -> STT round trip.

For each language, three short meeting sentences are spoken by :class:`LocalTTS` (Piper for
English, espeak-ng for the rest) through ``synthesize()`` and ``stream()``, then transcribed by
the packaged Whisper base model (faster-whisper, language forced, greedy) to get a word error
rate: a low WER means the voice is intelligible, at least to Whisper.

Run from the repository root (a few minutes on 2 cores)::

    PYTHONPATH=. python -m bench.tts                      # all languages
    PYTHONPATH=. python -m bench.tts --languages en,es --speeds 1.0,1.3

Writes ``bench/results/tts.json``. Target: RTF < 0.2. Timings depend on what else the CPU runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soxr
from livekit import rtc

from interpreter.providers.local_tts import LocalTTS, voices_for
from interpreter.providers.piper_tts import load_piper_voice
from interpreter.providers.whisper_model import load_whisper_model

RESULTS = Path(__file__).resolve().parent / "results" / "tts.json"

SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "Good morning everyone, thank you for joining the meeting today.",
        "The new budget will be presented to the board next week.",
        "Please send me your questions before Friday afternoon.",
    ),
    "es": (
        "Buenos días a todos, gracias por venir a la reunión de hoy.",
        "El nuevo presupuesto se presentará al consejo la próxima semana.",
        "Por favor, envíenme sus preguntas antes del viernes por la tarde.",
    ),
    "fr": (
        "Bonjour à tous, merci d'être venus à la réunion d'aujourd'hui.",
        "Le nouveau budget sera présenté au conseil la semaine prochaine.",
        "Envoyez-moi vos questions avant vendredi après-midi, s'il vous plaît.",
    ),
    "de": (
        "Guten Morgen zusammen, vielen Dank für die Teilnahme am heutigen Treffen.",
        "Der neue Haushalt wird nächste Woche dem Vorstand vorgestellt.",
        "Bitte schicken Sie mir Ihre Fragen bis Freitagnachmittag.",
    ),
    "it": (
        "Buongiorno a tutti, grazie per essere venuti alla riunione di oggi.",
        "Il nuovo bilancio sarà presentato al consiglio la prossima settimana.",
        "Per favore, mandatemi le vostre domande entro venerdì pomeriggio.",
    ),
    "pt": (
        "Bom dia a todos, obrigado por virem à reunião de hoje.",
        "O novo orçamento será apresentado ao conselho na próxima semana.",
        "Por favor, enviem-me as vossas perguntas até sexta-feira à tarde.",
    ),
    "pt-BR": (
        "Bom dia a todos, obrigado por participarem da reunião de hoje.",
        "O novo orçamento será apresentado ao conselho na semana que vem.",
        "Por favor, me mandem as suas perguntas até sexta-feira à tarde.",
    ),
    "ca": (
        "Bon dia a tothom, gràcies per venir a la reunió d'avui.",
        "El nou pressupost es presentarà al consell la setmana que ve.",
        "Si us plau, envieu-me les vostres preguntes abans de divendres a la tarda.",
    ),
    "ro": (
        "Bună dimineața tuturor, vă mulțumesc că ați venit la ședința de azi.",
        "Noul buget va fi prezentat consiliului săptămâna viitoare.",
        "Vă rog să-mi trimiteți întrebările înainte de vineri după-amiază.",
    ),
    "nl": (
        "Goedemorgen allemaal, bedankt dat jullie naar de vergadering zijn gekomen.",
        "De nieuwe begroting wordt volgende week aan het bestuur gepresenteerd.",
        "Stuur me alsjeblieft je vragen voor vrijdagmiddag.",
    ),
    "pl": (
        "Dzień dobry wszystkim, dziękuję za przyjście na dzisiejsze spotkanie.",
        "Nowy budżet zostanie przedstawiony zarządowi w przyszłym tygodniu.",
        "Proszę przesłać mi swoje pytania do piątku po południu.",
    ),
    "ru": (
        "Доброе утро всем, спасибо, что пришли на сегодняшнее совещание.",
        "Новый бюджет будет представлен совету на следующей неделе.",
        "Пожалуйста, пришлите мне свои вопросы до пятницы.",
    ),
}

# "en+espeak" measures espeak-ng's English, for comparison with Piper
DEFAULT_CASES = ("en", "en+espeak", *[lang for lang in SENTENCES if lang != "en"])


@dataclass
class CaseResult:
    case: str
    language: str
    voice: str
    speed: float
    sentences: int
    audio_s: float
    synth_wall_s: float
    rtf: float
    ttfa_p50_s: float
    ttfa_max_s: float
    stream_ttfa_s: float
    stream_rtf: float
    wer: float | None
    transcripts: list[str]


def _words(text: str) -> list[str]:
    cleaned = "".join(
        " " if unicodedata.category(ch).startswith("P") else ch for ch in text.casefold()
    )
    return cleaned.split()


def _edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def _to_16k(frame: rtc.AudioFrame) -> np.ndarray[Any, np.dtype[np.float32]]:
    audio = np.frombuffer(frame.data, dtype=np.int16).astype(np.float32) / 32768.0
    return np.asarray(soxr.resample(audio, frame.sample_rate, 16000), dtype=np.float32)


def _transcribe(audio: np.ndarray[Any, np.dtype[np.float32]], language: str) -> str:
    model = load_whisper_model()
    segments, _ = model.transcribe(
        audio,
        language=language.split("-")[0],
        beam_size=1,
        temperature=0.0,
        condition_on_previous_text=False,
        without_timestamps=True,
    )
    return " ".join(s.text.strip() for s in segments)


async def _synthesize(engine: LocalTTS, text: str) -> tuple[rtc.AudioFrame, float, float]:
    """Audio, time to first frame, wall time."""
    started = time.perf_counter()
    first = 0.0
    frames: list[rtc.AudioFrame] = []
    async for ev in engine.synthesize(text):
        if not frames:
            first = time.perf_counter() - started
        frames.append(ev.frame)
    return rtc.combine_audio_frames(frames), first, time.perf_counter() - started


async def _stream(engine: LocalTTS, texts: tuple[str, ...]) -> tuple[float, float, float]:
    """Push the sentences as one paragraph; time to first frame, wall time, audio seconds."""
    started = time.perf_counter()
    first = 0.0
    audio = 0.0
    stream = engine.stream()
    stream.push_text(" ".join(texts))
    stream.end_input()
    async for ev in stream:
        if audio == 0.0:
            first = time.perf_counter() - started
        audio += ev.frame.duration
    await stream.aclose()
    return first, time.perf_counter() - started, audio


async def run_case(case: str, speed: float, *, stt: bool) -> CaseResult:
    language = case.split("+")[0]
    texts = SENTENCES[language]
    if case.endswith("+espeak"):
        voice = next(v for v in voices_for(language) if v.engine == "espeak")
        engine = LocalTTS(language=language, voice=voice, speed=speed)
    else:
        engine = LocalTTS(language=language, voice_seed=0, speed=speed)
    await engine.synthesize("Warm up.").collect()  # first-call costs are not per-sentence costs

    ttfas, walls, audio_s = [], 0.0, 0.0
    errors, ref_words = 0, 0
    transcripts = []
    for text in texts:
        frame, ttfa, wall = await _synthesize(engine, text)
        ttfas.append(ttfa)
        walls += wall
        audio_s += frame.duration
        if stt:
            hyp = await asyncio.to_thread(_transcribe, _to_16k(frame), language)
            transcripts.append(hyp)
            errors += _edit_distance(_words(text), _words(hyp))
            ref_words += len(_words(text))
    stream_ttfa, stream_wall, stream_audio = await _stream(engine, texts)
    await engine.aclose()
    return CaseResult(
        case=case,
        language=language,
        voice=engine.voice.id,
        speed=speed,
        sentences=len(texts),
        audio_s=round(audio_s, 3),
        synth_wall_s=round(walls, 3),
        rtf=round(walls / audio_s, 4),
        ttfa_p50_s=round(statistics.median(ttfas), 4),
        ttfa_max_s=round(max(ttfas), 4),
        stream_ttfa_s=round(stream_ttfa, 4),
        stream_rtf=round(stream_wall / stream_audio, 4),
        wer=round(errors / ref_words, 4) if stt else None,
        transcripts=transcripts,
    )


async def main(cases: list[str], speeds: list[float], *, stt: bool) -> dict[str, Any]:
    started = time.perf_counter()
    load_started = time.perf_counter()
    await asyncio.to_thread(load_piper_voice)
    piper_load_s = time.perf_counter() - load_started
    if stt:
        await asyncio.to_thread(load_whisper_model)
    results = []
    for case in cases:
        for speed in speeds:
            res = await run_case(case, speed, stt=stt)
            results.append(res)
            wer = "-" if res.wer is None else f"{res.wer:.3f}"
            print(
                f"{case:10s} x{speed:<4} rtf={res.rtf:.3f} ttfa={res.ttfa_p50_s:.3f}s "
                f"stream_ttfa={res.stream_ttfa_s:.3f}s wer={wer}",
                flush=True,
            )
    return {
        "benchmark": "tts",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_at_start": os.getloadavg(),
        },
        "stt": "faster-whisper base (packaged), greedy, language forced" if stt else None,
        "piper_load_s": round(piper_load_s, 3),
        "wall_s": round(time.perf_counter() - started, 1),
        "results": [asdict(r) for r in results],
    }


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--languages", default=",".join(DEFAULT_CASES))
    parser.add_argument("--speeds", default="1.0")
    parser.add_argument("--no-stt", action="store_true", help="skip the Whisper round trip")
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args()


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = _parse()
    report = asyncio.run(
        main(
            [c for c in args.languages.split(",") if c],
            [float(s) for s in args.speeds.split(",")],
            stt=not args.no_stt,
        )
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.output}")
