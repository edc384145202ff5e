"""TTS and translation failover: how long a unit waits when the first cloud provider fails, per
failure kind, and whether it still comes out whole.

TTS: the real ``azure.TTS`` (through :func:`~interpreter.providers.cloud_tts.azure_tts`) on the
loopback :class:`~interpreter.testing.cloud.azure_tts.AzureTTSFake`, then the real
``openai.TTS`` on :class:`~interpreter.testing.cloud.openai_http.OpenAIFake`, then a fake
embedded voice, in a :class:`~interpreter.providers.tts_fallback.FallbackTTS` with the
production budget. Translation: the real ``openai.LLM`` in an
:class:`~interpreter.translation.LLMTranslationEngine` with the production budget (5 s, 3 s
connect/read), preferred by a :class:`~interpreter.translation.TranslationRouter` over a fake
embedded engine, within the pipeline's 12 s.

Per try, the first provider fails one way (``refused``, ``401``, ``500``, ``cut`` a quarter of the
way into the body, ``stall`` after the first piece, ``hang`` without an answer, ``malformed``)
with its cool-down reset, so every try pays the failure. ``seconds``: from the request to the
whole unit (p50/p95); ``wrong``: units whose audio length or text is not exactly the next
provider's whole answer (goal 0). Run: ``PYTHONPATH=. .venv/bin/python -m bench.cloud_failover
[--tries 20]``. Writes ``bench/results/cloud_failover.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import time
from pathlib import Path
from typing import Any

from livekit import rtc
from livekit.agents import APIConnectOptions
from livekit.plugins import openai

from interpreter.providers.cloud_tts import azure_tts, openai_tts
from interpreter.providers.failover import ProviderHealth
from interpreter.providers.tts_fallback import FallbackTTS, TTSMember
from interpreter.testing.cloud._server import Fault, LoopbackService
from interpreter.testing.cloud.azure_tts import AzureTTSFake
from interpreter.testing.cloud.openai_http import OpenAIFake
from interpreter.testing.fakes import FakeTranslation, FakeTTS
from interpreter.translation import LLMTranslationEngine, TranslationRequest, TranslationRouter
from languages import Language

RESULTS = Path(__file__).parent / "results"
KINDS = ("none", "refused", "401", "500", "cut", "stall", "hang", "malformed")
SLOW = ("stall", "hang")
TEXT = "Los resultados del trimestre están listos y lo enviamos hoy."
SOURCE = "The quarter's results are ready and we ship them today."
ANSWER = "Los resultados del trimestre están listos y los enviamos hoy."


async def _inject(service: LoopbackService, kind: str) -> None:
    if kind == "refused":
        await service.refuse()
    else:
        service.fault = None if kind == "none" else _fault(kind)


def _fault(kind: str) -> Fault:
    return kind  # type: ignore[return-value]


def _summary(times: list[float], wrong: int, served: str) -> dict[str, Any]:
    times.sort()
    return {
        "tries": len(times),
        "served_by": served,
        "p50_seconds": round(statistics.median(times), 4),
        "p95_seconds": round(times[round(0.95 * (len(times) - 1))], 4),
        "wrong": wrong,
    }


async def tts_failover(tries: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with AzureTTSFake() as azure, OpenAIFake() as oai:
        members = [
            TTSMember(
                "azure",
                azure_tts(
                    language="es", speaker="a", key=azure.key, region=None, endpoint=azure.endpoint
                ),
            ),
            TTSMember(
                "openai",
                openai_tts(language="es", speaker="a", api_key=oai.key, base_url=oai.base_url),
            ),
            TTSMember("embedded", FakeTTS(seconds=1.0), local=True),
        ]
        for kind in KINDS:
            times: list[float] = []
            wrong, served = 0, ""
            for _ in range(tries if kind not in SLOW else max(3, tries // 4)):
                chain = FallbackTTS(members=members, language="es", health=ProviderHealth())
                await _inject(azure, kind)
                started = time.perf_counter()
                frames = [event.frame async for event in chain.synthesize(TEXT)]
                times.append(time.perf_counter() - started)
                served = chain.last_served or ""
                expected = (azure if served == "azure" else oai).seconds_for(TEXT)
                if abs(rtc.combine_audio_frames(frames).duration - expected) > 0.03:
                    wrong += 1
                await azure.accept()
                azure.fault = None
            out[kind] = _summary(times, wrong, served)
        for member in members:
            await member.tts.aclose()
    return out


async def translation_failover(tries: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    request = TranslationRequest(text=SOURCE, source=Language("en"), target=Language("es"))
    async with OpenAIFake(answer=lambda _messages: ANSWER) as oai:
        llm = openai.LLM(model="bench", api_key=oai.key, base_url=oai.base_url)
        for kind in KINDS:
            times: list[float] = []
            wrong, served = 0, ""
            for _ in range(tries if kind not in SLOW else max(3, tries // 4)):
                engine = LLMTranslationEngine(
                    llm=llm,
                    timeout=5.0,
                    name="openai:bench",
                    conn_options=APIConnectOptions(max_retry=0, retry_interval=0.0, timeout=3.0),
                    health=ProviderHealth(),
                )
                router = TranslationRouter(
                    engines=[FakeTranslation(name="embedded")], preferred=engine, quality={}
                )
                await _inject(oai, kind)
                started = time.perf_counter()
                result = await router.translate_request(request, within=12.0)
                times.append(time.perf_counter() - started)
                served = result.engine
                expected = ANSWER if served == "openai:bench" else f"[es] {SOURCE}"
                wrong += result.text != expected
                await oai.accept()
                oai.fault = None
            out[kind] = _summary(times, wrong, served)
    return out


async def run(tries: int) -> dict[str, Any]:
    return {
        "tts_azure_to_openai": await tts_failover(tries),
        "translation_llm_to_embedded": await translation_failover(tries),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tries", type=int, default=20)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    results = asyncio.run(run(args.tries))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "cloud_failover.json"
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for stage, kinds in results.items():
        for kind, row in kinds.items():
            print(
                f"{stage:28s} {kind:10s} {row['served_by']:13s} p50 {row['p50_seconds']:.3f} s"
                f"  p95 {row['p95_seconds']:.3f} s  wrong {row['wrong']}/{row['tries']}"
            )


if __name__ == "__main__":
    main()
