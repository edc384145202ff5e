"""Glossary term accuracy through the room: spoken terms -> recognised -> translated captions.

One livekit-server and translator worker; two rooms, one after the other, the same script in
each: an English speaker says the 20 English sentences of ``bench/data/glossary_sentences.json``
(42 glossary term occurrences, product names among them), then a Spanish speaker says the 20
Spanish ones (40); listeners want Spanish, English and French. The first room has no glossary,
the second has ``bench/data/glossary_terms.csv``, set with ``python -m interpreter glossary set``
while the translators already run (``pickup_s``: from starting that command until every
translator logged the new glossary). English is read by Piper, Spanish by espeak-ng.

Per pair (en->es, es->en, es->fr) and room:

* recognition: term occurrences of each sentence that the recogniser heard (a source caption
  of that sentence holds the term, either number), against those spoken: the STT's own term
  recognition, without and with the glossary's biasing; and terms in captions that were not
  said there (``terms_heard_but_not_said``: what biasing must not cause);
* caption accuracy: of the terms recognised in a source caption, the share whose required
  target (the glossary's, in the number said) is in the translated caption a listener got;
  the goal with the glossary is >= 98 %. Without it, the same targets are looked for, to show
  what the glossary changes.

Run: ``PYTHONPATH=. .venv/bin/python -m bench.terms``. Writes ``bench/results/terms.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from livekit import rtc

from bench.meeting import running_stack
from captions.protocol import CAPTION_SOURCE_SEGMENT_ID, CAPTION_WALL_TIME
from glossary import Glossary, PairTerms, load_glossary
from glossary.enforcement import check_terms, required_terms
from interpreter.testing.audio import piper_speech, read_wav, speak_to_wav
from interpreter.testing.clients import ListeningClient, Speaker, join_listener
from interpreter.testing.livekit import LiveKitFixture, WorkerProcess, wait_for
from languages import Language

RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).parent / "data"
GLOSSARY = DATA / "glossary_terms.csv"
SENTENCES = DATA / "glossary_sentences.json"
PAIRS = (("en", "es"), ("es", "en"), ("es", "fr"))
SPEAKERS = {"en": "ben", "es": "ana"}
LISTENERS = {"es": "lena", "en": "eric", "fr": "fleur"}
GAP = 2.0
"""Seconds of silence after each sentence (each is its own unit)."""
GOAL = 0.98
SAME_SENTENCE = 1.5
"""A source caption belongs to the sentence whose playing ended at most this long before its
end of speech (sentences are 2 s apart)."""


def render(sentences: list[str], language: str, workdir: Path) -> list[np.ndarray]:
    """English read by Piper, Spanish by espeak-ng (the voices the project ships)."""
    if language == "en":
        return [piper_speech(sentence) for sentence in sentences]
    out = []
    for i, sentence in enumerate(sentences):
        path = workdir / f"{language}-{i}.wav"
        samples, _ = read_wav(speak_to_wav(sentence, path, voice=language))
        out.append(samples)
    return out


async def run_room(
    lk: LiveKitFixture,
    worker: WorkerProcess,
    room: str,
    audio: dict[str, list[np.ndarray]],
    *,
    with_glossary: bool,
) -> tuple[dict[str, ListeningClient], dict[str, Any]]:
    rooms: list[rtc.Room] = []
    info: dict[str, Any] = {}
    try:
        listeners = {
            lang: await join_listener(lk, room, ident, lang) for lang, ident in LISTENERS.items()
        }
        rooms += [listener.room for listener in listeners.values()]
        speakers: dict[str, Speaker] = {}
        for lang, ident in SPEAKERS.items():
            r = await lk.connect(room, ident, attributes={"language": lang})
            rooms.append(r)
            speakers[lang] = Speaker(r)
            await speakers[lang].publish()
        watcher = listeners["es"].room
        await wait_for(
            lambda: all(
                len(
                    getattr(
                        watcher.remote_participants.get(f"translator-{ident}"),
                        "track_publications",
                        {},
                    )
                )
                >= 2
                for ident in SPEAKERS.values()
            ),
            within=180,
            what="both translators with their tracks",
        )
        if with_glossary:
            loaded = worker.log().count("glossary loaded")
            set_at = time.monotonic()  # the command's start: its own start-up counts too
            done = await asyncio.to_thread(
                worker.cli, "glossary", "set", "--room", room, str(GLOSSARY)
            )
            info["set"] = done.stdout.strip()
            await wait_for(
                lambda: worker.log().count("glossary loaded") >= loaded + len(SPEAKERS),
                within=30,
                what="every translator to load the glossary",
            )
            info["pickup_s"] = round(time.monotonic() - set_at, 2)
        await wait_for(worker.settled, within=60, what="the worker to settle")
        played: dict[str, list[tuple[float, float]]] = {}
        for lang in ("en", "es"):
            for samples in audio[lang]:
                started = time.time()
                await speakers[lang].play(samples)
                played.setdefault(lang, []).append((started, time.time()))
                await speakers[lang].silence(GAP)
        await asyncio.sleep(8)
        info["played"] = played
        return listeners, info
    finally:
        for r in rooms:
            await r.disconnect()


def _sentence_of(wall_time: float, played: list[tuple[float, float]]) -> int | None:
    """The sentence whose playing covers a caption's end of speech (wall clock)."""
    for i, (start, end) in enumerate(played):
        if start - 0.5 <= wall_time <= end + SAME_SENTENCE:
            return i
    return None


def measure(
    listeners: dict[str, ListeningClient],
    glossary: Glossary,
    script: dict[str, list[str]],
    played: dict[str, list[tuple[float, float]]],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for src, tgt in PAIRS:
        pair = glossary.pair(Language(src), Language(tgt))
        listener = listeners[tgt]
        sender = SPEAKERS[src]  # captions name the speaker they transcribe
        source_captions = listener.finals(language=src, sender=sender, translated=False)
        sources = {c.attributes[CAPTION_SOURCE_SEGMENT_ID]: c.text for c in source_captions}
        # what the recogniser heard of each sentence (a sentence may be cut into two units)
        heard: dict[int | None, list[str]] = {}
        for c in source_captions:
            index = _sentence_of(float(c.attributes[CAPTION_WALL_TIME]), played[src])
            heard.setdefault(index, []).append(c.text)
        spoken_total = recognised = invented = 0
        for i, sentence in enumerate(script[src]):
            spoken = Counter(_concepts(pair, sentence))
            got = Counter(t for text in heard.get(i, []) for t in _concepts(pair, text))
            spoken_total += sum(spoken.values())
            recognised += sum(min(n, got[k]) for k, n in spoken.items())
            invented += sum(max(0, n - spoken[k]) for k, n in got.items())
        invented += sum(len(_concepts(pair, text)) for text in heard.get(None, []))
        required = correct = 0
        misses: list[dict[str, str]] = []
        for caption in listener.finals(language=tgt, sender=sender, translated=True):
            source = sources.get(caption.attributes[CAPTION_SOURCE_SEGMENT_ID], "")
            for checked in check_terms(required_terms(pair, source), caption.text, pair.target):
                required += 1
                correct += checked.found
                if not checked.found:
                    misses.append(
                        {"term": checked.term.target, "source": source, "caption": caption.text}
                    )
        out[f"{src}-{tgt}"] = {
            "spoken_terms": spoken_total,
            "recognised_terms": recognised,
            "recognition_rate": round(recognised / max(1, spoken_total), 3),
            "terms_heard_but_not_said": invented,
            "terms_in_recognised_units": required,
            "correct_in_captions": correct,
            "caption_accuracy": round(correct / required, 3) if required else None,
            "source_captions": len(sources),
            "misses": misses,
        }
    return out


def _concepts(pair: PairTerms, text: str) -> list[str]:
    """The glossary terms in ``text``, each occurrence (the source term as the glossary has it,
    so singular and plural count as one term)."""
    return [f.value.source.casefold() for f in pair.find(text)]


async def bench(workdir: Path, limit: int | None = None) -> dict[str, Any]:
    script = {
        lang: sentences[:limit]
        for lang, sentences in json.loads(SENTENCES.read_text(encoding="utf-8")).items()
    }
    glossary = load_glossary(GLOSSARY)
    audio = {lang: render(script[lang], lang, workdir) for lang in ("en", "es")}
    result: dict[str, Any] = {"glossary": GLOSSARY.name, "sentences": SENTENCES.name}
    async with running_stack(workdir, "terms") as (lk, worker):
        for label, with_glossary in (("without_glossary", False), ("with_glossary", True)):
            room = f"terms-{label.replace('_', '-')}"
            print(f"room {room}: speaking {sum(len(v) for v in script.values())} sentences")
            listeners, info = await run_room(lk, worker, room, audio, with_glossary=with_glossary)
            pairs = measure(listeners, glossary, script, info.pop("played"))
            result[label] = {**info, "pairs": pairs}
            result[label]["captions"] = {
                lang: [
                    {"sender": c.sender, "text": c.text, **c.attributes}
                    for c in listener.captions
                    if c.final
                ]
                for lang, listener in listeners.items()
            }
            for listener in listeners.values():
                await listener.aclose()
    result["goal_caption_accuracy_with_glossary"] = GOAL
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, help="say only the first N of each language")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-terms-") as tmp:
        result = asyncio.run(bench(Path(tmp), args.sentences))
    (RESULTS / "terms.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    summary = {
        label: {
            pair: {k: v for k, v in figures.items() if k != "misses"}
            for pair, figures in result[label]["pairs"].items()
        }
        for label in ("without_glossary", "with_glossary")
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
