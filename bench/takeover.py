"""Human takeover latencies, measured at a listener: take, mute, unmute, hand-over.

One livekit-server, translator worker and web app; a Spanish speaker talks without stopping
(espeak-ng sentences in a loop), so the machine always has something to say in English. A
listener of English subscribes by the one rule third-party clients follow (translator tracks
named ``en``, and the interpreter live on ``en``: :func:`interpreter.testing.booth.
join_rule_listener`), and records what it hears. Two invited interpreters (es/en) publish ``en``
tracks with a steady voice-like tone. Each try:

* ``take_to_machine_silent``: from sending ``take`` (the machine mid-unit) to the last audible
  10 ms of the machine's ``en`` track at the listener (goal 0.3 s);
* ``take_to_human_audible``: from sending ``take`` to the first audible 10 ms of the
  interpreter's track at the listener (subscription included);
* ``mute_to_machine_back``: from the interpreter muting to the machine's first audible 10 ms
  (the grace, 3 s by default, is inside it: goal grace + 1 s), and ``..._after_grace``;
* ``unmute_to_machine_silent``: from unmuting (the machine mid-unit again) to its last sound;
* ``agent_latency``: the translators' own figure, from their log: from the room event (or
  the end of the grace) to the voice silenced or resumed, by cause;
* ``accept_to_new_voice``: from sending ``accept`` (the partner's offer) to the new
  interpreter's first audible 10 ms (goal 0.3 s; they open the microphone when the answer
  arrives, the slower order: the console opens it before sending ``accept``), with the
  ``handover_gap`` (new first sound minus old last sound; negative is overlap) and
  ``handover_overlap`` (seconds both were audible).

Run: ``PYTHONPATH=. .venv/bin/python -m bench.takeover [--tries 20]``. Writes
``bench/results/takeover.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.meeting import percentile, running_stack
from interpreter.testing.booth import (
    InterpreterClient,
    LoudTimeline,
    invite,
    join_rule_listener,
    serving_web_app,
    voice_tone,
)
from interpreter.testing.clients import Speaker
from interpreter.testing.livekit import wait_for
from interpreter.testing.speech import SPANISH, render

RESULTS = Path(__file__).parent / "results"
ROOM = "takeover-bench"
GRACE = 3.0
SETTLE = 1.5
"""Seconds waited after a change before reading the listener's recording of it."""
GOALS = {
    "take_to_machine_silent": 0.3,
    "take_to_human_audible": 0.3,
    "mute_to_machine_back_after_grace": 1.0,
    "unmute_to_machine_silent": 0.3,
    "accept_to_new_voice": 0.3,
}


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50) or 0.0, 3),
        "p95": round(percentile(values, 95) or 0.0, 3),
        "max": round(max(values), 3) if values else None,
        "values": [round(v, 3) for v in values],
    }


async def machine_mid_unit(machine: LoudTimeline) -> None:
    await wait_for(lambda: machine.loud_at(time.time()), within=30, what="the machine mid-unit")


async def bench(workdir: Path, tries: int) -> dict[str, Any]:
    spanish = render(SPANISH, "es", workdir / "es.wav")
    figures: dict[str, list[float]] = {
        name: []
        for name in (
            "take_to_machine_silent",
            "take_to_human_audible",
            "mute_to_machine_back",
            "mute_to_machine_back_after_grace",
            "unmute_to_machine_silent",
            "accept_to_new_voice",
            "handover_gap",
            "handover_overlap",
        )
    }
    async with (
        running_stack(workdir, "takeover") as (lk, worker),
        serving_web_app(lk, worker.data_dir) as web,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
    ):
        lena = await join_rule_listener(lk, ROOM, "lena", "en")
        ana_room = await lk.connect(ROOM, "ana", name="Ana", attributes={"language": "es"})
        ana = Speaker(ana_room)
        await ana.publish()
        stop = asyncio.Event()

        async def talk() -> None:
            while not stop.is_set():
                await ana.play(spanish, until=stop)

        talking = asyncio.ensure_future(talk())
        ian = await InterpreterClient.join(
            lk, http, web.url, await invite(http, web.url, lk, ROOM, "Ian", ("es", "en"))
        )
        iva = await InterpreterClient.join(
            lk, http, web.url, await invite(http, web.url, lk, ROOM, "Iva", ("en", "es"))
        )
        machine = LoudTimeline(lena, "translator-ana", "en")
        timelines = {
            ian.identity: LoudTimeline(lena, ian.identity, "en"),
            iva.identity: LoudTimeline(lena, iva.identity, "en"),
        }
        try:
            await ian.publish("en")
            await iva.publish("en")
            ian.speak(voice_tone(5.0, pitch=170.0))
            iva.speak(voice_tone(5.0, pitch=220.0))
            await wait_for(lambda: machine.last_loud() is not None, within=90, what="machine voice")
            live, passive = ian, iva
            passive.mute()
            for n in range(tries):
                # take, the machine mid-unit
                await machine_mid_unit(machine)
                sent = time.time()
                status, body, _ = await live.booth("take", "en")
                assert status == 200, body
                await asyncio.sleep(SETTLE)
                last = machine.last_loud(after=sent - 1) or sent
                heard = timelines[live.identity].first_loud(after=sent)
                figures["take_to_machine_silent"].append(max(0.0, last - sent))
                if heard is not None:
                    figures["take_to_human_audible"].append(heard - sent)
                # a long mute: the machine comes back
                live.mute()
                muted = time.time()
                await wait_for(
                    lambda m=muted: machine.first_loud(after=m) is not None,  # type: ignore[misc]
                    within=20,
                    what="machine voice after the mute",
                )
                back = (machine.first_loud(after=muted) or muted) - muted
                figures["mute_to_machine_back"].append(back)
                figures["mute_to_machine_back_after_grace"].append(back - GRACE)
                # unmute, the machine mid-unit: it stops
                await machine_mid_unit(machine)
                live.unmute()
                unmuted = time.time()
                await asyncio.sleep(SETTLE)
                last = machine.last_loud(after=unmuted - 1) or unmuted
                figures["unmute_to_machine_silent"].append(max(0.0, last - unmuted))
                # hand over to the passive partner
                status, body, _ = await live.booth("offer", "en", to=passive.identity)
                assert status == 200, body
                sent = time.time()
                status, body, _ = await passive.booth("accept", "en")
                assert status == 200, body
                passive.unmute()
                await asyncio.sleep(SETTLE)
                old_last = timelines[live.identity].last_loud(after=sent - 2) or sent
                new_first = timelines[passive.identity].first_loud(after=sent - 2)
                if new_first is not None:
                    figures["accept_to_new_voice"].append(new_first - sent)
                    figures["handover_gap"].append(new_first - old_last)
                    both = [
                        t
                        for t, loud in timelines[passive.identity].pieces()
                        if loud
                        and t >= sent - 2
                        and timelines[live.identity].loud_at(t, within=0.01)
                    ]
                    figures["handover_overlap"].append(len(both) * 0.01)
                # the new live interpreter releases and takes next time; the old one (muted
                # by the server at the hand-over) is the passive partner now
                status, body, _ = await passive.booth("release", "en")
                assert status == 200, body
                live, passive = passive, live
                passive.mute()
                print(
                    f"try {n + 1}/{tries}: "
                    + ", ".join(f"{k} {v[-1]:.3f}" for k, v in figures.items() if v),
                    flush=True,
                )
        finally:
            stop.set()
            await talking
            await ian.leave()
            await iva.leave()
            await ana_room.disconnect()
            await lena.aclose()
            await lena.room.disconnect()
        log = worker.log()
    return {
        "tries": tries,
        "grace_s": GRACE,
        "goals_s": GOALS,
        "figures": {name: summary(values) for name, values in figures.items()},
        "agent_latency": agent_latencies(log),
    }


def agent_latencies(log: str) -> dict[str, Any]:
    """The translators' own figure for each change (their "machine voice silenced|resumed"
    log lines): seconds from the room event, or from the end of the grace, to the voice
    silenced or resumed, by event and cause."""
    found: dict[str, list[float]] = {}
    pattern = r"machine voice (silenced|resumed) cause=(\w+).*?latency=([\d.]+)"
    for match in re.finditer(pattern, log):
        found.setdefault(f"{match[1]}_{match[2]}", []).append(float(match[3]))
    return {key: summary(values) for key, values in sorted(found.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=20)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-takeover-") as tmp:
        result = asyncio.run(bench(Path(tmp), args.tries))
    (RESULTS / "takeover.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: {q: v[q] for q in ("n", "p50", "p95", "max")}
                for k, v in result["figures"].items()
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
