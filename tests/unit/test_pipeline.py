"""One speaker's pipeline on fakes: what listeners read and what the store keeps."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from captions.live import CaptionPublisher
from captions.store import AppliedTerm, Meeting
from glossary import parse_glossary
from interpreter import pipeline as pipeline_module
from interpreter.pipeline import SpeakerPipeline
from interpreter.testing.checks import eventually, metric_value
from interpreter.testing.fakes import (
    FakeAudioSource,
    FakeClock,
    FakeRoom,
    FakeSTT,
    FakeTranscripts,
    FakeTranslation,
    FakeTTS,
    Scripted,
    TextStream,
    audio_frames,
    feed,
    final,
    interim,
)
from interpreter.translation import TranslationEngine, TranslationRequest, TranslationRouter
from languages import Language

EN, ES, FR, DE = Language("en"), Language("es"), Language("fr"), Language("de")
MEETING = Meeting(room_sid="RM_test", room_name="room")


@dataclass
class Rig:
    pipeline: SpeakerPipeline
    room: FakeRoom
    stt: FakeSTT
    transcripts: FakeTranscripts
    log: list[tuple[str, str]]
    voices: dict[Language, FakeTTS] = field(default_factory=dict)

    @property
    def streams(self) -> list[TextStream]:
        return self.room.local_participant.text_streams

    def finals(self, language: str | None = None) -> list[TextStream]:
        return [
            s
            for s in self.streams
            if s.attributes["lk.transcription_final"] == "true"
            and (language is None or s.attributes["language"] == language)
        ]

    async def speak(self, seconds: float) -> None:
        await self.pipeline.interpret(feed(audio_frames(seconds)), track_sid="TR_mic")


async def rig(
    script: Iterable[Scripted],
    *,
    targets: Iterable[Language] = (EN, FR),
    translation: TranslationEngine | None = None,
    transcripts: FakeTranscripts | None = None,
    stt: FakeSTT | None = None,
    **kwargs: Any,
) -> Rig:
    log: list[tuple[str, str]] = []
    room = FakeRoom()
    room.local_participant.log = log
    store = transcripts or FakeTranscripts()
    store.log = log
    fake_stt = stt or FakeSTT(script)
    voices: dict[Language, FakeTTS] = {}

    def voice(lang: Language) -> FakeTTS:
        voices[lang] = FakeTTS(seconds=0.05)
        return voices[lang]

    p = SpeakerPipeline(
        room=room,  # type: ignore[arg-type]
        speaker_identity="ana",
        speaker_name="Ana Lima",
        stt=fake_stt,
        translation=translation or FakeTranslation(),
        tts_factory=voice,
        captions=CaptionPublisher(participant=room.local_participant),  # type: ignore[arg-type]
        transcripts=store,
        meeting=MEETING,
        clock=FakeClock(),
        audio_source=FakeAudioSource,
        **kwargs,
    )
    await p.set_targets(frozenset(targets))
    return Rig(p, room, fake_stt, store, log, voices)


SCRIPT = [
    interim("Hola", language="es", start=0.0, end=0.5, unstable="a"),
    final("Hola a todos.", language="es", start=0.0, end=1.0),
    final("Gracias por venir.", language="es", start=1.2, end=2.0),
]


async def test_a_final_becomes_a_source_caption_then_one_translation_per_lane_stored_first() -> (
    None
):
    r = await rig(SCRIPT)
    try:
        await r.speak(2.5)
        await eventually(lambda: len(r.finals("en")) == 2 and len(r.finals("fr")) == 2)

        spanish = r.finals("es")
        assert [s.text for s in spanish] == ["Hola a todos.", "Gracias por venir."]
        assert [s.text for s in r.finals("en")] == ["[en] Hola a todos.", "[en] Gracias por venir."]
        assert [s.text for s in r.finals("fr")] == ["[fr] Hola a todos.", "[fr] Gracias por venir."]
        first = spanish[0].attributes["lk.segment_id"]
        assert first.startswith("ana-")
        for stream in r.finals("en"):
            a = stream.attributes
            assert a["translated"] == "true" and a["source_language"] == "es"
            assert a["lk.transcribed_track_id"] == "TR_mic"
            assert a["lk.segment_id"] == f"{a['source_segment_id']}:en"
            assert stream.sender_identity == "ana"
        # every final was stored before it was published, and a source caption goes out
        # before its translations
        for s in r.finals():
            seg = s.attributes["lk.segment_id"]
            assert r.log.index(("stored", seg)) < r.log.index(("published", seg))
            src = s.attributes["source_segment_id"]
            assert r.log.index(("published", src)) <= r.log.index(("published", seg))
        assert [c.text for c, _ in r.transcripts.segments] == [s.text for s in spanish]
        assert {engine for _, engine in r.transcripts.translations} == {"fake"}
        # finals also go out as data messages
        data = [json.loads(d) for d, _ in r.room.local_participant.data]
        assert {(d["language"], d["translated"]) for d in data} == {
            ("es", False),
            ("en", True),
            ("fr", True),
        }
        # and the translations are voiced, in order
        await eventually(lambda: len(r.voices[EN].spoken) == 2)
        assert [t for t, _ in r.voices[EN].spoken] == [
            "[en] Hola a todos.",
            "[en] Gracias por venir.",
        ]
    finally:
        await r.pipeline.aclose()


async def test_interim_captions_update_the_segment_the_final_closes() -> None:
    script = [
        interim("Hola", language="es", start=0.0, end=0.4, unstable="a to"),
        interim("Hola", language="es", start=0.0, end=0.5, unstable="a to"),  # same text
        interim("Hola a", language="es", start=0.0, end=0.7, unstable="todos"),
        final("Hola a todos.", language="es", start=0.0, end=1.0),
    ]
    r = await rig(script, targets=())
    try:
        await r.speak(1.2)
        texts = [(s.text, s.attributes["lk.transcription_final"]) for s in r.streams]
        assert texts == [
            ("Hola a to", "false"),
            ("Hola a todos", "false"),
            ("Hola a todos.", "true"),
        ]
        assert len({s.attributes["lk.segment_id"] for s in r.streams}) == 1
        assert r.room.local_participant.data and len(r.room.local_participant.data) == 1
        assert r.transcripts.segments and len(r.transcripts.segments) == 1  # interims not kept
    finally:
        await r.pipeline.aclose()


async def test_a_unit_in_the_targets_own_language_is_not_translated() -> None:
    translation = FakeTranslation()
    script = [final("See you tomorrow.", language="en", start=0.0, end=1.0)]
    r = await rig(script, targets=(EN, FR), translation=translation)
    try:
        await r.speak(1.5)
        await eventually(lambda: len(r.finals("fr")) == 1)
        await asyncio.sleep(0.05)
        assert [s.text for s in r.finals("en")] == ["See you tomorrow."]  # the source only
        assert r.finals("en")[0].attributes["translated"] == "false"
        assert [(src, tgt) for _, src, tgt in translation.calls] == [(EN, FR)]
    finally:
        await r.pipeline.aclose()


async def test_a_failing_lane_leaves_the_other_lanes_and_the_source_captions_alone() -> None:
    # the engine knows no German: that lane fails on every unit
    translation = FakeTranslation(languages=("es", "en"))
    before = metric_value("interpreter_stage_errors_total", stage="translation", language="de")
    r = await rig(SCRIPT, targets=(EN, DE), translation=translation)
    try:
        await r.speak(2.5)
        await eventually(lambda: len(r.finals("en")) == 2)
        assert len(r.finals("es")) == 2
        assert r.finals("de") == []
        after = metric_value("interpreter_stage_errors_total", stage="translation", language="de")
        assert after - before == 2
    finally:
        await r.pipeline.aclose()


async def test_the_store_keeps_the_engine_that_translated_not_the_router() -> None:
    router = TranslationRouter(
        engines=(FakeTranslation(name="apertium", languages=("es", "en")),),
        preferred=FakeTranslation(name="llm:test", languages=("es", "fr")),
        quality={},
    )
    r = await rig(SCRIPT[1:2], targets=(EN, FR), translation=router)
    try:
        await r.speak(1.5)
        await eventually(lambda: len(r.transcripts.translations) == 2)
        engines = {c.language: engine for c, engine in r.transcripts.translations}
        assert engines == {EN: "apertium", FR: "llm:test"}
    finally:
        await r.pipeline.aclose()


async def test_the_store_keeps_the_recogniser_that_heard_each_source_line() -> None:
    by_cloud = final("Hola a todos.", language="es", start=0.0, end=1.0)
    by_cloud.event.alternatives[0].metadata = {"stt_provider": "assemblyai"}
    unnamed = final("Gracias por venir.", language="es", start=1.2, end=2.0)
    r = await rig([by_cloud, unnamed], targets=(EN,))
    try:
        await r.speak(2.5)
        await eventually(lambda: len(r.transcripts.segments) == 2)
        engines = r.transcripts.segment_engines
        # a recogniser that names no provider per unit is named by its own provider property
        assert list(engines.values()) == ["assemblyai", r.stt.provider]
    finally:
        await r.pipeline.aclose()


async def test_after_an_llm_timeout_the_fallback_still_translates_within_the_bound() -> None:
    # the LLM runs into its own timeout; the pipeline's bound is the same number of seconds
    llm = FakeTranslation(name="llm:slow", languages=("es", "en"), delay=60.0, timeout=0.3)
    apertium = FakeTranslation(name="apertium", languages=("es", "en"))
    router = TranslationRouter(engines=(apertium,), preferred=llm, quality={})
    r = await rig(SCRIPT[1:2], targets=(EN,), translation=router, translation_timeout=0.3)
    try:
        await r.speak(1.5)
        # the LLM would take 60 s: only its 0.3 s timeout lets the fallback answer (the wait
        # is generous for a loaded machine)
        await eventually(lambda: len(r.finals("en")) == 1, within=3.0)
        assert r.finals("en")[0].text == "[en] Hola a todos."
        assert [engine for _, engine in r.transcripts.translations] == ["apertium"]
        assert llm.calls and apertium.calls
    finally:
        await r.pipeline.aclose()


async def test_a_store_error_is_logged_and_counted_and_the_caption_still_goes_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FakeTranscripts(failures=1, error=ValueError("bad row"))
    before = metric_value("interpreter_stage_errors_total", stage="transcript", language="es")
    r = await rig(SCRIPT, targets=(EN,), transcripts=store)
    try:
        with caplog.at_level(logging.ERROR, logger="interpreter.pipeline"):
            await r.speak(2.5)
        await eventually(lambda: len(r.finals("en")) == 2)
        assert [s.text for s in r.finals("es")] == ["Hola a todos.", "Gracias por venir."]
        assert [c.text for c, _ in store.segments] == ["Gracias por venir."]
        assert metric_value(
            "interpreter_stage_errors_total", stage="transcript", language="es"
        ) == (before + 1)
        failed = [rec for rec in caplog.records if rec.message == "transcript failed"]
        assert failed and failed[0].exc_info is not None  # an unexpected error: its traceback
    finally:
        await r.pipeline.aclose()


async def test_an_unexpected_error_in_one_unit_does_not_end_the_interpretation() -> None:
    translation = FakeTranslation(failures=1, error=KeyError("bug"))
    r = await rig(SCRIPT[1:], targets=(EN,), translation=translation)
    r.room.local_participant.stream_failures = 1  # the first source caption cannot be sent
    r.voices[EN].failures = 1
    try:
        await r.speak(2.5)
        await eventually(lambda: len(r.finals("en")) == 1)
        # the first unit lost its source caption and its translation; the second has both
        assert [s.text for s in r.finals("es")] == ["Gracias por venir."]
        assert [s.text for s in r.finals("en")] == ["[en] Gracias por venir."]
        # it was stored all the same
        assert len(r.transcripts.segments) == 2
    finally:
        await r.pipeline.aclose()


async def test_a_failed_stt_stream_is_replaced_and_later_units_are_captioned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pipeline_module, "STT_RESTART_DELAY", 0.01)
    stt = FakeSTT(SCRIPT, fail_at=1.1)
    before = metric_value("interpreter_task_failures_total", task="stt")
    r = await rig(SCRIPT, targets=(), stt=stt)
    try:
        await r.speak(2.5)
        assert [s.text for s in r.finals("es")] == ["Hola a todos.", "Gracias por venir."]
        assert len(stt.streams) == 2
        assert metric_value("interpreter_task_failures_total", task="stt") == before + 1
        # units of the new stream keep counting: no segment id is reused
        ids = [s.attributes["lk.segment_id"] for s in r.finals("es")]
        assert len(set(ids)) == 2
    finally:
        await r.pipeline.aclose()


async def test_a_language_without_a_voice_gets_no_track_and_the_others_do() -> None:
    room = FakeRoom()

    def voice(lang: Language) -> FakeTTS:
        if lang == DE:
            from interpreter.errors import UnsupportedLanguageError

            raise UnsupportedLanguageError("no German voice", alternatives=("en",))
        return FakeTTS()

    p = SpeakerPipeline(
        room=room,  # type: ignore[arg-type]
        speaker_identity="ana",
        speaker_name="Ana",
        stt=FakeSTT(),
        translation=FakeTranslation(),
        tts_factory=voice,
        captions=CaptionPublisher(participant=room.local_participant),  # type: ignore[arg-type]
        audio_source=FakeAudioSource,
    )
    try:
        await p.set_targets(frozenset({EN, DE}))
        assert p.targets == {EN}
        assert room.local_participant.published == ["en"]
        await p.set_targets(frozenset())
        assert room.local_participant.published == []
    finally:
        await p.aclose()


# --- glossary ----------------------------------------------------------------------------------
class _TermAwareTranslation(FakeTranslation):
    """Writes each glossary target in place of its source term (as the real engines do)."""

    def __init__(self, *, honour: bool = True) -> None:
        super().__init__(languages=("en", "es"))
        self.honour = honour
        self.glossaries: list[dict[str, str] | None] = []

    async def _translate(self, request: TranslationRequest) -> str:
        glossary = dict(request.glossary) if request.glossary is not None else None
        self.glossaries.append(glossary)
        text = request.text
        for source, target in (glossary or {}).items():
            text = text.replace(source, target if self.honour else source.upper())
        return f"[{request.target}] {text}"


_GLOSSARY = parse_glossary(b"en,es,keep\ndeliverable,entregable,\nNimbus,,yes\n", "csv")


async def test_only_the_units_glossary_terms_go_to_the_engine_and_are_checked_and_stored() -> None:
    engine = _TermAwareTranslation()
    script = [
        final("The deliverables of Nimbus.", language="en", start=0.0, end=1.0),
        final("Nothing special here.", language="en", start=1.2, end=2.0),
    ]
    before = metric_value("interpreter_glossary_terms_total", target_language="es")
    r = await rig(script, targets=(ES,), translation=engine, glossary=_GLOSSARY)
    try:
        await r.speak(2.5)
        await eventually(lambda: len(r.finals("es")) == 2)
        assert engine.glossaries == [{"deliverables": "entregables", "Nimbus": "Nimbus"}, None]
        assert r.finals("es")[0].text == "[es] The entregables of Nimbus."
        # the voice says the checked text the captions show
        await eventually(lambda: len(r.voices[ES].spoken) == 2)
        assert r.voices[ES].spoken[0][0] == "[es] The entregables of Nimbus."
        first = r.transcripts.translations[0][0].segment_id
        assert r.transcripts.terms[first] == (
            AppliedTerm("deliverables", "entregables", True),
            AppliedTerm("Nimbus", "Nimbus", True),
        )
        after = metric_value("interpreter_glossary_terms_total", target_language="es")
        assert after - before == 2
    finally:
        await r.pipeline.aclose()


async def test_a_missed_term_is_counted_logged_and_stored_as_missed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = _TermAwareTranslation(honour=False)
    before = metric_value("interpreter_glossary_misses_total", target_language="es")
    r = await rig(
        [final("One deliverable.", language="en", start=0.0, end=1.0)],
        targets=(ES,),
        translation=engine,
        glossary=_GLOSSARY,
    )
    try:
        with caplog.at_level(logging.WARNING, logger="interpreter.pipeline"):
            await r.speak(1.5)
            await eventually(lambda: len(r.finals("es")) == 1)
        assert metric_value("interpreter_glossary_misses_total", target_language="es") == (
            before + 1
        )
        (segment,) = r.transcripts.terms
        assert r.transcripts.terms[segment] == (AppliedTerm("deliverable", "entregable", False),)
        record = next(rec for rec in caplog.records if "glossary terms missing" in rec.message)
        assert record.misses == 1  # type: ignore[attr-defined]
        assert "deliverable" not in record.getMessage()  # counts in logs, never speech
    finally:
        await r.pipeline.aclose()


async def test_a_new_glossary_applies_from_the_next_unit() -> None:
    engine = _TermAwareTranslation()
    r = await rig(
        [final("One deliverable.", language="en", start=0.0, end=1.0)],
        targets=(ES,),
        translation=engine,
    )
    try:
        await r.speak(1.5)
        await eventually(lambda: len(r.finals("es")) == 1)
        r.pipeline.glossary = _GLOSSARY
        r.stt.pending = [final("Two deliverables.", language="en", start=2.0, end=2.5)]
        await r.speak(1.5)
        await eventually(lambda: len(r.finals("es")) == 2)
        assert engine.glossaries == [None, {"deliverables": "entregables"}]
    finally:
        await r.pipeline.aclose()


# --- human interpreters ------------------------------------------------------------------------
async def test_a_covered_lane_publishes_no_caption_and_voices_nothing() -> None:
    translation = FakeTranslation()
    r = await rig(SCRIPT, targets=(EN, FR), translation=translation)
    try:
        r.pipeline.set_covered(frozenset({EN, DE}))  # DE has no lane yet
        await r.pipeline.set_targets(frozenset({EN, FR, DE}))
        assert r.room.local_participant.published == ["en", "fr", "de"]  # tracks stay
        await r.speak(2.5)
        await eventually(lambda: len(r.finals("fr")) == 2)
        await asyncio.sleep(0.05)
        assert len(r.finals("es")) == 2  # the source captions go on
        assert r.finals("en") == [] and r.finals("de") == []
        assert {target for _, _, target in translation.calls} == {FR}
        assert r.voices[EN].spoken == [] and r.voices[DE].spoken == []
        assert {c.language for c, _ in r.transcripts.translations} == {FR}
        assert r.pipeline.covered == {EN, DE}
    finally:
        await r.pipeline.aclose()


async def test_uncovering_interprets_only_the_units_spoken_after_the_human_stopped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = await rig([final("Hola a todos.", language="es", start=0.0, end=1.0)], targets=(EN,))
    clock = r.pipeline.clock
    assert isinstance(clock, FakeClock)
    try:
        r.pipeline.set_covered(frozenset({EN}))
        await r.speak(1.5)  # voiced by the human
        clock.advance(10.0)
        stopped = clock() - 1.0  # the human went quiet a second ago
        r.stt.pending = [final("Gracias por venir.", language="es", start=2.0, end=2.5)]
        await r.speak(1.5)  # after the human stopped: nobody voiced it
        await asyncio.sleep(0.05)
        assert r.finals("en") == [] and r.voices[EN].spoken == []
        resumed = r.pipeline.set_covered(frozenset(), since={EN: stopped})
        assert resumed == {EN: pipeline_module.HeldUnits(replayed=1, dropped=1)}
        await eventually(lambda: len(r.voices[EN].spoken) == 1)
        assert [s.text for s in r.finals("en")] == ["[en] Gracias por venir."]
        assert r.voices[EN].spoken == [("[en] Gracias por venir.", 1.0)]
        # and from now on the lane goes on as before
        r.stt.pending = [final("Adiós.", language="es", start=3.2, end=3.5)]
        await r.speak(1.0)
        await eventually(lambda: len(r.voices[EN].spoken) == 2)
    finally:
        await r.pipeline.aclose()


async def test_a_translation_that_finishes_while_covered_is_held_not_published() -> None:
    translation = FakeTranslation(delay=0.2)
    r = await rig(SCRIPT[1:2], targets=(EN,), translation=translation)
    try:
        await r.speak(1.5)
        await eventually(lambda: bool(translation.calls))  # being translated
        r.pipeline.set_covered(frozenset({EN}))
        await asyncio.sleep(0.3)
        assert r.finals("en") == [] and r.transcripts.translations == []
        resumed = r.pipeline.set_covered(frozenset(), since={EN: 0.0})
        assert resumed == {EN: pipeline_module.HeldUnits(replayed=1, dropped=0)}
        await eventually(lambda: len(r.finals("en")) == 1)
    finally:
        await r.pipeline.aclose()


async def test_a_covered_lane_holds_only_the_last_thirty_seconds_of_speech() -> None:
    r = await rig([final("Uno.", language="es", start=0.0, end=1.0)], targets=(EN,))
    clock = r.pipeline.clock
    assert isinstance(clock, FakeClock)
    try:
        r.pipeline.set_covered(frozenset({EN}))
        await r.speak(1.5)
        clock.advance(pipeline_module.HELD_SECONDS + 10.0)
        r.stt.pending = [final("Dos.", language="es", start=2.0, end=2.5)]
        await r.speak(1.5)
        await asyncio.sleep(0.05)
        resumed = r.pipeline.set_covered(frozenset(), since={EN: 0.0})
        assert resumed == {EN: pipeline_module.HeldUnits(replayed=1, dropped=1)}
        await eventually(lambda: len(r.finals("en")) == 1)
        assert r.finals("en")[0].text == "[en] Dos."
    finally:
        await r.pipeline.aclose()


async def test_an_interpreter_is_captioned_only_while_live_in_the_live_language() -> None:
    script = [
        interim("Good", language="es", start=0.0, end=0.5),
        final("Good morning.", language="es", start=0.0, end=1.0),  # not live yet
        interim("Welcome", language="es", start=1.6, end=2.0),
        final("Welcome all.", language="es", start=1.6, end=2.4),
    ]
    r = await rig(script, targets=(), interpreter=True)
    try:
        await r.speak(1.5)
        assert r.streams == [] and r.transcripts.segments == []  # not live: nothing at all
        r.pipeline.set_interpreter_live(EN)
        await r.speak(1.5)
        (caption,) = r.finals()
        assert caption.text == "Welcome all."
        assert caption.attributes["language"] == "en"  # what they interpret into
        assert caption.attributes["translated"] == "false"
        assert caption.sender_identity == "ana"
        assert [s.attributes["language"] for s in r.streams] == ["en", "en"]  # interim, final
        ((stored, interpreter),) = r.transcripts.segments
        assert interpreter and stored.language == EN and stored.speaker_name == "Ana Lima"
        r.pipeline.set_interpreter_live(None)
        r.stt.pending = [final("Off the record.", language="en", start=3.2, end=3.5)]
        await r.speak(1.0)
        assert len(r.finals()) == 1 and len(r.transcripts.segments) == 1
    finally:
        await r.pipeline.aclose()
