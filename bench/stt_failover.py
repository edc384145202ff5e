"""STT failover: how long the chain takes to leave a failing cloud recogniser, and how many
words are lost, per failure kind.

The real ``assemblyai.STT`` plugin (through :class:`~interpreter.providers.cloud_stt.
AssemblyAISTT`, production timeouts) talks to the loopback :class:`~interpreter.testing.cloud.
assemblyai_ws.AssemblyAIFake`, and the real ``azure.STT`` (native Speech SDK) to
:class:`~interpreter.testing.cloud.azure_usp.AzureSpeechFake`; the embedded link is a
:class:`~interpreter.testing.cloud.tones.ToneSTT`. All recognise the tone language from the
audio they get, so a lost stretch of audio is a lost word. Speech is pushed in real time,
with the production :class:`~interpreter.providers.stt_fallback.FallbackTimings`.

Per try, one failure is injected:

* ``refused`` (nothing listens), ``401``, ``500`` (the upgrade refused), ``hang`` (a handshake
  never answered), ``stall`` (a socket that says nothing): the failure starts with the stream
  (the first word comes 0.3 s later; the watchdog counts speech only);
* ``cut``: the socket closes with 1011 after the third word (mid-utterance); it starts then;
* ``malformed``: garbage frames among the valid ones, which must not cause a failover.

``failover_seconds``: from the failure's start to the chain's decision to replay into the
next provider (p50/p95 over the tries); ``first_final_seconds``: from the end of the first
utterance's speech to its final; ``words_lost``/``words_repeated``: against the words spoken
(goal 0). Run: ``PYTHONPATH=. .venv/bin/python -m bench.stt_failover [--tries 8]
[--providers assemblyai,azure]``. Writes ``bench/results/stt_failover.json`` (per provider).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from livekit.agents import stt

from interpreter.providers.cloud_stt import AssemblyAISTT, AzureSTT
from interpreter.providers.stt_fallback import FallbackSTT, FallbackTimings
from interpreter.testing.cloud.assemblyai_ws import AssemblyAIFake
from interpreter.testing.cloud.azure_usp import AzureSpeechFake
from interpreter.testing.cloud.tones import (
    END_SILENCE,
    GAP_SECONDS,
    WORD_SECONDS,
    ToneSTT,
    recognise_speech,
)
from languages import Language

RESULTS = Path(__file__).parent / "results"
KINDS = ("refused", "401", "500", "hang", "stall", "cut", "malformed")
SPEECH = ["hello everyone welcome to the meeting today", "we discuss the budget and plans"]
LEAD = 0.3
CUT_AFTER = 3


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 3)


class _Decisions(logging.Handler):
    """When the chain decided to leave a provider (wall clock, ``time.monotonic``)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("STT provider failed"):
            self.times.append(time.monotonic())


def _lost_and_repeated(spoken: list[str], heard: list[str]) -> tuple[int, int]:
    want, got = Counter(spoken), Counter(heard)
    return sum((want - got).values()), sum((got - want).values())


def _primary(provider: str, fake: AssemblyAIFake | AzureSpeechFake) -> stt.STT[Any]:
    if isinstance(fake, AssemblyAIFake):
        return AssemblyAISTT(api_key=fake.key, base_url=fake.url)
    return AzureSTT(key=fake.key, url=fake.host, allowed_languages=[Language("en")])


async def one_try(provider: str, kind: str) -> dict[str, Any]:
    words = [w for u in SPEECH for w in u.split()]
    first_words = len(SPEECH[0].split())
    fake = AssemblyAIFake() if provider == "assemblyai" else AzureSpeechFake()
    async with fake:
        if kind == "refused":
            await fake.refuse()
        elif kind != "none":
            fake.cut_after_words = CUT_AFTER
            fake.fault = kind  # type: ignore[assignment]
        recogniser = FallbackSTT(
            chain=[(provider, _primary(provider, fake)), ("embedded", ToneSTT(name="embedded"))],
            timings=FallbackTimings(),
        )
        decisions = _Decisions()
        log = logging.getLogger("interpreter.providers.stt_fallback")
        log.addHandler(decisions)
        log.setLevel(logging.INFO)
        began = time.monotonic()
        try:
            finals = await recognise_speech(recogniser, SPEECH, pace=0.02, limit=120)
        finally:
            log.removeHandler(decisions)
            await recogniser.aclose()
    # audio time -> wall clock: pushed in real time from ``began``
    word_end = WORD_SECONDS + GAP_SECONDS
    # a connection fault is there from the stream's start; a cut from the word it follows
    failure_at = LEAD + CUT_AFTER * word_end if kind == "cut" else 0.0
    first_speech_end = LEAD + first_words * word_end - GAP_SECONDS
    heard = [w.strip(".,?!") for f in finals for w in f.text.split()]  # Azure punctuates
    lost, repeated = _lost_and_repeated(words, heard)
    result: dict[str, Any] = {
        "kind": kind,
        "words_lost": lost,
        "words_repeated": repeated,
        "finals": len(finals),
        "providers": [f.provider for f in finals],
        "failover_seconds": (
            round(decisions.times[0] - began - failure_at, 3) if decisions.times else None
        ),
        "first_final_seconds": (
            round(finals[0].received - began - first_speech_end - END_SILENCE, 3)
            if finals
            else None
        ),
    }
    return result


def summarise(tries: list[dict[str, Any]]) -> dict[str, Any]:
    failovers = [t["failover_seconds"] for t in tries if t["failover_seconds"] is not None]
    firsts = [t["first_final_seconds"] for t in tries if t["first_final_seconds"] is not None]
    return {
        "tries": len(tries),
        "failed_over": len(failovers),
        "failover_p50": percentile(failovers, 0.5),
        "failover_p95": percentile(failovers, 0.95),
        "first_final_after_end_of_speech_p50": percentile(firsts, 0.5),
        "first_final_after_end_of_speech_p95": percentile(firsts, 0.95),
        "words_lost_total": sum(t["words_lost"] for t in tries),
        "words_repeated_total": sum(t["words_repeated"] for t in tries),
        "exactly_one_final_per_utterance": all(t["finals"] == len(SPEECH) for t in tries),
        "mean_words_lost": statistics.fmean(t["words_lost"] for t in tries),
    }


async def main(provider: str, tries: int, kinds: list[str]) -> dict[str, Any]:
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("livekit").setLevel(logging.CRITICAL)  # the injected faults' tracebacks
    out: dict[str, Any] = {
        "provider": provider,
        "speech": SPEECH,
        "words": sum(len(u.split()) for u in SPEECH),
        "timings": repr(FallbackTimings()),
        "kinds": {},
    }
    baseline = [await one_try(provider, "none") for _ in range(max(1, tries // 2))]
    out["no_failure"] = summarise(baseline)
    for kind in kinds:
        results = [await one_try(provider, kind) for _ in range(tries)]
        out["kinds"][kind] = summarise(results) | {"tries_detail": results}
        print(provider, kind, json.dumps(summarise(results)))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tries", type=int, default=8)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument(
        "--providers", default="assemblyai,azure", help="cloud recognisers to fail, in turn"
    )
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "stt_failover.json"
    # a run of some providers or kinds updates those in the file and keeps the others
    results: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    for provider in args.providers.split(","):
        fresh = asyncio.run(main(provider, args.tries, args.kinds.split(",")))
        kept = results.get(provider, {}).get("kinds", {})
        results[provider] = fresh | {"kinds": kept | fresh["kinds"]}
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
