"""Glossary cost: loading a large glossary file, and finding terms in each unit.

* load: a 10,000-concept JSON glossary (en/es/fr), parsed, checked and indexed for en->es;
* find: a 1,000-concept glossary (one to three words per term, plus 50 do-not-translate
  names) looked up in 2,000 meeting-style units of 8 to 30 words, a third of them holding a
  glossary term (a concept singular or plural, a name as written): per-unit time
  p50/p95/max, and the whole glossary step around a translation (the unit's terms with their
  targets, then the check of the output). Goal: < 10 ms p95;
* apertium: translation time per unit without and with the unit's terms (what enforcement
  adds inside the engine: a cached lookup of each term's default translation, and a second
  pass when a term must be protected), and the glossary targets found in the output, on the
  term sentences of ``bench/data`` (text, no speech).

Run: ``PYTHONPATH=. .venv/bin/python -m bench.glossary``. Writes ``bench/results/glossary.json``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

from bench.meeting import percentile
from glossary import load_glossary, parse_glossary
from glossary.enforcement import check_terms, engine_terms, required_terms
from interpreter.testing.speech import SPANISH_IN_ENGLISH
from interpreter.translation.apertium import ApertiumEngine
from languages import Language

RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).parent / "data"
EN, ES = Language("en"), Language("es")

_SYLLABLES = ["ka", "lo", "mi", "ne", "ro", "ta", "vi", "su", "de", "po", "ran", "tel", "ver"]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))


def _glossary_json(concepts: int, keep: int, rng: random.Random) -> bytes:
    terms: list[dict[str, str]] = []
    seen: set[str] = set()
    while len(terms) < concepts:
        en = " ".join(_word(rng) for _ in range(rng.randint(1, 3)))
        if en in seen:
            continue
        seen.add(en)
        terms.append({"en": en, "es": en[::-1], "fr": en.upper()})
    names = [f"Zeph{_word(rng).capitalize()}{i}" for i in range(keep)]
    return json.dumps({"terms": terms, "keep": names}, indent=1).encode()


async def apertium_with_and_without() -> dict[str, Any]:
    """Apertium on the term sentences of ``bench/data`` (text, no speech): time per unit and
    glossary targets in the output, without and with the unit's terms."""
    glossary = load_glossary(DATA / "glossary_terms.csv")
    script = json.loads((DATA / "glossary_sentences.json").read_text(encoding="utf-8"))
    engine = ApertiumEngine()
    out: dict[str, Any] = {}
    try:
        for src, tgt in (("en", "es"), ("es", "en"), ("es", "fr")):
            source, target = Language(src), Language(tgt)
            pair = glossary.pair(source, target)
            await engine.prewarm([engine.check_pair(source, target)])
            figures: dict[str, Any] = {}
            for label, use in (("without", False), ("with", True)):
                times: list[float] = []
                correct = total = 0
                for _ in range(2):  # the second round is the steady state (term cache warm)
                    times.clear()
                    correct = total = 0
                    for text in script[src]:
                        required = required_terms(pair, text)
                        started = time.perf_counter()
                        output = await engine.translate(
                            text,
                            source=source,
                            target=target,
                            glossary=engine_terms(required) if use else None,
                        )
                        times.append((time.perf_counter() - started) * 1000)
                        checked = check_terms(required, output, target)
                        total += len(checked)
                        correct += sum(c.found for c in checked)
                figures[label] = {
                    "ms_p50": round(percentile(times, 50) or 0.0, 2),
                    "ms_p95": round(percentile(times, 95) or 0.0, 2),
                    "terms": total,
                    "correct": correct,
                }
            figures["added_ms_p50"] = round(
                figures["with"]["ms_p50"] - figures["without"]["ms_p50"], 2
            )
            figures["added_ms_p95"] = round(
                figures["with"]["ms_p95"] - figures["without"]["ms_p95"], 2
            )
            out[f"{src}-{tgt}"] = figures
    finally:
        await engine.aclose()
    return out


def main() -> None:
    rng = random.Random(7)
    big = _glossary_json(10_000, 100, rng)
    started = time.perf_counter()
    glossary = parse_glossary(big, "json")
    glossary.pair(EN, ES)
    load_s = time.perf_counter() - started

    small = parse_glossary(_glossary_json(1_000, 50, rng), "json")
    started = time.perf_counter()
    pair = small.pair(EN, ES)
    index_s = time.perf_counter() - started
    terms = [(c.term(EN) or "", True) for c in small.concepts] + [(k, False) for k in small.keep]
    filler = " ".join(SPANISH_IN_ENGLISH).replace(".", "").split()
    units: list[str] = []
    for i in range(2_000):
        words = [rng.choice(filler) for _ in range(rng.randint(8, 30))]
        if i % 3 == 0:
            term, countable = rng.choice(terms)  # names are not pluralised
            plural = countable and rng.random() < 0.5
            words.insert(rng.randrange(len(words)), term + ("s" if plural else ""))
        units.append(" ".join(words))
    times: list[float] = []
    step_times: list[float] = []
    found = 0
    for unit in units:
        started = time.perf_counter()
        found += len(pair.find(unit))
        times.append((time.perf_counter() - started) * 1000)
        # the whole step around a translation: terms of the unit, then the output checked
        started = time.perf_counter()
        required = required_terms(pair, unit)
        output = unit
        for required_term in required:
            output = output.replace(required_term.source, required_term.target)
        check_terms(required, output, ES)
        step_times.append((time.perf_counter() - started) * 1000)
    result: dict[str, Any] = {
        "load_10000_concepts_s": round(load_s, 3),
        "index_1000_concepts_ms": round(index_s * 1000, 2),
        "find_per_unit_ms": {
            "p50": round(percentile(times, 50) or 0.0, 3),
            "p95": round(percentile(times, 95) or 0.0, 3),
            "max": round(max(times), 3),
            "units": len(units),
        },
        "glossary_step_per_unit_ms": {
            "p50": round(percentile(step_times, 50) or 0.0, 3),
            "p95": round(percentile(step_times, 95) or 0.0, 3),
            "max": round(max(step_times), 3),
        },
        "apertium": asyncio.run(apertium_with_and_without()),
        "terms_found": found,
        "units_with_a_term": len(units[::3]),
        "targets": {"load_10000_concepts_s": 1.0, "glossary_step_p95_ms": 10.0},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "glossary.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
