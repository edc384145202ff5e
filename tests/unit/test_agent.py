"""The per-speaker agent in a fake room: how it follows who is there and what they want."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from captions.store import Meeting
from glossary import GlossaryStoreError
from glossary.store import GlossaryStore
from interpreter import tasks
from interpreter.agent import AgentTunings, SpeakerAgent, agent_join_arguments
from interpreter.config import load_settings
from interpreter.demand import DEMAND_POLL
from interpreter.pacing import Pacing
from interpreter.testing.checks import eventually, metric_value
from interpreter.testing.fakes import (
    FakeAudioSource,
    FakeClock,
    FakeRoom,
    FakeStack,
    FakeSTT,
    FakeTranscripts,
    audio_frames,
    feed,
    final,
)
from languages import Language

EN, ES, FR = Language("en"), Language("es"), Language("fr")
LINGER = 5.0
GRACE = 3.0


class Scene:
    """A room with the speaker ``ana`` (Spanish) and her agent."""

    def __init__(
        self,
        *,
        role: str | None = None,
        poll: float = 60.0,
        glossaries: GlossaryStore | None = None,
        attributes: dict[str, str] | None = None,
        stack: FakeStack | None = None,
        transcripts: FakeTranscripts | None = None,
        grace: float = GRACE,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self.room = FakeRoom(name="meeting")
        attributes = {"language": "es"} | ({"role": role} if role else {}) | (attributes or {})
        self.room.join("ana", attributes=attributes, name="Ana Lima")
        self.clock = FakeClock()
        self.stack = stack or FakeStack()
        self.left: list[str] = []
        self.sources: list[FakeAudioSource] = []
        self.agent = SpeakerAgent(
            room=self.room,  # type: ignore[arg-type]
            speaker_identity="ana",
            speaker_name="Ana Lima",
            providers=self.stack,
            transcripts=transcripts,
            meeting=Meeting(room_sid="RM_test", room_name="meeting") if transcripts else None,
            glossaries=glossaries,
            tunings=AgentTunings(
                demand_linger=LINGER, demand_poll=poll, glossary_poll=0.05, mute_grace=grace
            ),
            on_speaker_left=lambda: self.left.append("ana"),
            clock=self.clock,
            monotonic=monotonic or self.clock,
            audio_source=self._source,
        )

    def _source(self) -> FakeAudioSource:
        self.sources.append(FakeAudioSource())
        return self.sources[-1]

    @property
    def tracks(self) -> list[str]:
        return self.room.local_participant.published

    @property
    def languages_attribute(self) -> str | None:
        return self.room.local_participant.attributes.get("interpreter.languages")

    def interpreter(self, identity: str = "ivy", *, muted: bool = False) -> None:
        """An invited interpreter (es/en) joins and publishes their microphone."""
        self.room.join(
            identity,
            attributes={
                "role": "interpreter",
                "interpreter.languages": "es,en",
                "language": "es",
                "interpreter.live": "",
            },
            name="Ivy",
        )
        self.room.publish_microphone(identity, name="en", muted=muted)

    def live(self, identity: str = "ivy", language: str = "en") -> None:
        self.room.set_attributes(identity, {"interpreter.live": language})


@pytest.fixture
async def scene() -> Scene:
    return Scene()


async def test_a_listener_with_a_new_language_gets_a_target_a_track_and_the_attribute() -> None:
    s = Scene()
    try:
        await s.agent.refresh()
        assert s.tracks == [] and s.languages_attribute == ""
        s.room.join("lena", language="en")
        await s.agent.refresh()
        assert s.agent.pipeline.targets == {EN}
        assert s.tracks == ["en"]
        assert s.languages_attribute == "en"
        s.room.join("pablo", language="es")  # the speaker's own language: nothing to add
        s.room.join("fred", language="fr")
        await s.agent.refresh()
        assert sorted(s.tracks) == ["en", "fr"]
        assert s.languages_attribute == "en,fr"
        # the STT is told which languages may be spoken, the speaker's as the prior
        last = s.stack.stt_instance.options[-1]
        assert set(last["allowed_languages"]) == {EN, ES, FR}
        assert last["language_prior"] == ES
    finally:
        await s.agent.aclose()


async def test_a_leaving_listeners_language_goes_only_after_the_linger() -> None:
    s = Scene()
    try:
        s.room.join("lena", language="en")
        await s.agent.refresh()
        s.room.leave("lena")
        await s.agent.refresh()
        s.clock.advance(LINGER - 0.1)
        await s.agent.refresh()
        assert s.tracks == ["en"] and s.languages_attribute == "en"
        s.clock.advance(0.2)
        await s.agent.refresh()
        assert s.tracks == []
        assert s.languages_attribute == ""
        assert s.room.local_participant.tracks[0].unpublished
    finally:
        await s.agent.aclose()


async def test_an_interpreter_is_captioned_and_not_translated() -> None:
    s = Scene(role="interpreter")
    try:
        s.room.join("lena", language="en")
        await s.agent.refresh()
        assert s.agent.pipeline.interpreter
        assert s.agent.pipeline.targets == frozenset()
        assert s.tracks == []
    finally:
        await s.agent.aclose()


async def test_room_events_wake_the_demand_loop_and_the_speaker_leaving_ends_the_job() -> None:
    s = Scene(poll=60.0)  # no polling within the test: only events can trigger a refresh
    s.agent.start()
    try:
        await eventually(lambda: s.languages_attribute == "")
        s.room.join("lena", language="en")
        await eventually(lambda: s.tracks == ["en"])
        s.room.set_attributes("lena", {"language": "fr"})
        await eventually(lambda: "fr" in s.tracks)
        s.room.leave("lena")
        assert s.left == []  # a listener leaving does not end the job
        s.room.leave("ana")
        assert s.left == ["ana"]
    finally:
        await s.agent.aclose()


async def test_the_agent_subscribes_to_the_speakers_microphone_when_it_appears() -> None:
    s = Scene()
    s.agent.start()
    try:
        other = s.room.join("lena", language="en")
        s.room.publish_microphone("lena")
        mic = s.room.publish_microphone("ana")
        assert mic.subscribed
        assert not any(p.subscribed for p in other.track_publications.values())
    finally:
        await s.agent.aclose()


async def test_failed_track_publishing_and_attribute_setting_are_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks, "RETRY_FIRST_DELAY", 0.001)
    s = Scene()
    s.room.local_participant.publish_failures = 2
    s.room.local_participant.attribute_failures = 2
    try:
        s.room.join("lena", language="en")
        await s.agent.refresh()
        assert s.tracks == ["en"]
        assert s.languages_attribute == "en"
    finally:
        await s.agent.aclose()


async def test_a_refresh_that_keeps_failing_is_counted_and_the_demand_loop_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks, "RETRY_FIRST_DELAY", 0.001)
    before = metric_value("interpreter_task_failures_total", task="demand-refresh")
    s = Scene(poll=0.01)
    # more failures than one refresh retries: the first refresh fails, a later one succeeds
    s.room.local_participant.attribute_failures = tasks.RETRY_ATTEMPTS + 1
    s.room.join("lena", language="en")
    s.agent.start()
    try:
        await eventually(lambda: s.languages_attribute == "en")
        assert metric_value("interpreter_task_failures_total", task="demand-refresh") == before + 1
    finally:
        await s.agent.aclose()


async def test_a_track_that_cannot_be_published_is_tried_again_on_the_next_refresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks, "RETRY_FIRST_DELAY", 0.001)
    s = Scene()
    s.room.local_participant.publish_failures = tasks.RETRY_ATTEMPTS
    try:
        s.room.join("lena", language="en")
        await s.agent.refresh()
        assert s.tracks == [] and s.languages_attribute == ""
        await s.agent.refresh()
        assert s.tracks == ["en"] and s.languages_attribute == "en"
    finally:
        await s.agent.aclose()


async def test_a_failed_speaker_audio_task_is_logged_with_its_traceback_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    s = Scene()
    before = metric_value("interpreter_task_failures_total", task="speaker-pipeline")
    mic = s.room.publish_microphone("ana")
    try:
        with caplog.at_level(logging.ERROR, logger="interpreter.tasks"):
            # not a real track: reading its audio fails
            s.agent.on_track_subscribed(
                object(),  # type: ignore[arg-type]
                mic,  # type: ignore[arg-type]
                s.room.remote_participants["ana"],  # type: ignore[arg-type]
            )
            await eventually(
                lambda: (
                    metric_value("interpreter_task_failures_total", task="speaker-pipeline")
                    == before + 1
                )
            )
        failure = [r for r in caplog.records if r.message == "background task failed"]
        assert failure and failure[0].exc_info is not None
        assert failure[0].__dict__["task"] == "speaker-pipeline"
    finally:
        await s.agent.aclose()


def test_the_agent_joins_as_translator_of_its_speaker() -> None:
    join = agent_join_arguments("ana", "Ana Lima")
    assert join.identity == "translator-ana"
    assert join.attributes == {"interpreter.source": "ana", "interpreter.languages": ""}
    assert join.name == "Translator (Ana Lima)"


def test_tunings_come_from_settings_and_only_what_is_set_overrides() -> None:
    default = AgentTunings.from_settings(load_settings())
    assert default == AgentTunings()
    assert default.demand_poll == DEMAND_POLL
    tuned = AgentTunings.from_settings(load_settings(pacing_max_lag=6.0, demand_linger=1.5))
    assert tuned.pacing == Pacing(max_lag=6.0)
    assert tuned.demand_linger == 1.5
    assert tuned.demand_poll == default.demand_poll
    assert tuned.translation_timeout == default.translation_timeout


def test_settings_refuse_inconsistent_pacing(monkeypatch: pytest.MonkeyPatch) -> None:
    from interpreter.errors import ConfigError

    monkeypatch.setenv("INTERPRETER_PACING_RELAXED", "3")
    monkeypatch.setenv("INTERPRETER_PACING_FULL_SPEED", "2")
    with pytest.raises(ConfigError):
        load_settings()


async def test_the_agent_closes_even_when_a_room_event_arrives_as_it_closes() -> None:
    s = Scene(poll=60.0)
    s.agent.start()
    await eventually(lambda: s.languages_attribute == "")
    s.room.join("lena", language="en")  # wakes the demand loop in the tick it is cancelled
    async with asyncio.timeout(2):
        await s.agent.aclose()


GLOSSARY_CSV = b"en,es,keep\ndeliverable,entregable,\nNimbus,,yes\n"


@pytest.fixture
async def glossaries(tmp_path: Path) -> AsyncIterator[GlossaryStore]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store = GlossaryStore(engine)
    await store.create_schema()
    yield store
    engine.dispose()


async def test_the_rooms_glossary_is_picked_up_replaced_and_dropped_while_running(
    glossaries: GlossaryStore,
) -> None:
    s = Scene(glossaries=glossaries)
    stt = s.stack.stt_instance
    s.agent.start()
    try:
        await asyncio.sleep(0.15)
        assert s.agent.pipeline.glossary is None and stt.vocabularies == []
        await glossaries.put("meeting", GLOSSARY_CSV, "csv")
        await eventually(lambda: s.agent.pipeline.glossary is not None)
        assert stt.vocabularies[-1][ES] == ("Nimbus", "entregable")
        assert stt.vocabularies[-1][EN] == ("Nimbus", "deliverable")
        # a speaker of a language nobody in the room has yet still gets the names biased
        assert stt.vocabularies[-1][Language("de")] == ("Nimbus",)
        await glossaries.put("meeting", b"en,es\nroadmap,hoja de ruta\n", "csv")
        await eventually(lambda: stt.vocabularies[-1].get(EN) == ("roadmap",))
        glossary = s.agent.pipeline.glossary
        assert glossary is not None and glossary.vocabulary(ES) == ("hoja de ruta",)
        await glossaries.delete("meeting")
        await eventually(lambda: s.agent.pipeline.glossary is None)
        assert stt.vocabularies[-1] == {}
        await glossaries.put("other-room", GLOSSARY_CSV, "csv")  # not ours
        await asyncio.sleep(0.15)
        assert s.agent.pipeline.glossary is None
    finally:
        await s.agent.aclose()


async def test_a_failing_glossary_lookup_is_counted_and_the_glossary_in_use_stays(
    glossaries: GlossaryStore, caplog: pytest.LogCaptureFixture
) -> None:
    await glossaries.put("meeting", GLOSSARY_CSV, "csv")
    s = Scene(glossaries=glossaries)
    await s.agent.refresh_glossary()
    in_use = s.agent.pipeline.glossary
    assert in_use is not None
    before = metric_value("interpreter_task_failures_total", task="glossary-refresh")

    async def unreachable(room: str) -> int | None:
        raise GlossaryStoreError("glossary database error", retryable=True)

    glossaries.revision = unreachable  # type: ignore[method-assign]
    s.agent.start()
    try:
        with caplog.at_level(logging.ERROR, logger="interpreter.tasks"):
            await eventually(
                lambda: (
                    metric_value("interpreter_task_failures_total", task="glossary-refresh")
                    >= before + 2
                )
            )
        assert s.agent.pipeline.glossary is in_use
    finally:
        await s.agent.aclose()


# --- human interpreters ------------------------------------------------------------------------
def takeovers(event: str, cause: str, language: str = "en") -> float:
    return metric_value(
        "interpreter_takeover_events_total", language=language, event=event, cause=cause
    )


async def test_a_live_unmuted_interpreter_silences_the_language_and_a_long_mute_resumes_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    s = Scene()
    silenced, resumed = takeovers("silenced", "live"), takeovers("resumed", "muted")
    try:
        s.room.join("lena", language="en")
        s.interpreter()
        await s.agent.refresh()
        assert s.languages_attribute == "en"  # an interpreter who is not live changes nothing
        s.live()
        with caplog.at_level(logging.INFO, logger="interpreter.agent"):
            await s.agent.refresh()
        assert s.agent.pipeline.covered == {EN}
        assert s.tracks == ["en"]  # silent, still published
        assert s.languages_attribute == ""  # the machine no longer voices en
        assert takeovers("silenced", "live") == silenced + 1
        record = next(r for r in caplog.records if r.message == "machine voice silenced")
        assert (record.language, record.cause, record.interpreter) == ("en", "live", "ivy")  # type: ignore[attr-defined]
        # a cough: shorter than the grace, nothing changes
        s.room.set_muted("ivy")
        await s.agent.refresh()
        s.clock.advance(GRACE - 0.1)
        await s.agent.refresh()
        assert s.agent.pipeline.covered == {EN} and s.languages_attribute == ""
        s.room.set_muted("ivy", False)
        await s.agent.refresh()
        # a real mute: the machine comes back once it is as long as the grace
        s.room.set_muted("ivy")
        await s.agent.refresh()
        s.clock.advance(GRACE - 0.1)
        await s.agent.refresh()
        assert s.agent.pipeline.covered == {EN}
        assert s.agent.takeover.next_deadline() == pytest.approx(s.clock() + 0.1)
        s.clock.advance(0.1)
        with caplog.at_level(logging.INFO, logger="interpreter.agent"):
            await s.agent.refresh()
        assert s.agent.pipeline.covered == frozenset()
        assert s.languages_attribute == "en"
        assert takeovers("resumed", "muted") == resumed + 1
        record = next(r for r in caplog.records if r.message == "machine voice resumed")
        assert (record.cause, record.replayed, record.dropped) == ("muted", 0, 0)  # type: ignore[attr-defined]
        # unmuting silences it again at once
        s.room.set_muted("ivy", False)
        await s.agent.refresh()
        assert s.agent.pipeline.covered == {EN} and s.languages_attribute == ""
    finally:
        await s.agent.aclose()


async def test_an_interpreter_live_but_muted_from_the_start_does_not_silence_the_machine() -> None:
    s = Scene()
    try:
        s.room.join("lena", language="en")
        s.interpreter(muted=True)
        s.live()
        await s.agent.refresh()
        assert s.agent.pipeline.covered == frozenset() and s.languages_attribute == "en"
        s.room.set_muted("ivy", False)
        await s.agent.refresh()
        assert s.agent.pipeline.covered == {EN} and s.languages_attribute == ""
    finally:
        await s.agent.aclose()


@pytest.mark.parametrize("how", ["unpublished", "left"])
async def test_the_machine_resumes_at_once_when_the_interpreter_unpublishes_or_leaves(
    how: str,
) -> None:
    s = Scene()
    before = takeovers("resumed", how)
    try:
        s.room.join("lena", language="en")
        s.interpreter()
        s.live()
        await s.agent.refresh()
        assert s.languages_attribute == ""
        if how == "unpublished":
            s.room.unpublish("ivy")
        else:
            s.room.leave("ivy")
        await s.agent.refresh()  # no time passes
        assert s.agent.pipeline.covered == frozenset()
        assert s.languages_attribute == "en"
        assert takeovers("resumed", how) == before + 1
    finally:
        await s.agent.aclose()


async def test_room_events_silence_the_voice_before_the_demand_loop_runs() -> None:
    s = Scene(poll=60.0)
    s.room.join("lena", language="en")
    s.interpreter()
    s.agent.start()
    try:
        await eventually(lambda: s.languages_attribute == "en")
        (source,) = s.sources
        s.live()  # the event handler carries out the takeover, synchronously
        assert s.agent.pipeline.covered == {EN}
        assert source.cleared == 1  # what the en track still had to play is gone
        await eventually(lambda: s.languages_attribute == "")
        s.room.unpublish("ivy")
        assert s.agent.pipeline.covered == frozenset()
        await eventually(lambda: s.languages_attribute == "en")
    finally:
        await s.agent.aclose()


async def test_the_demand_loop_wakes_when_the_mute_grace_ends() -> None:
    grace = 0.2
    s = Scene(poll=60.0, grace=grace, monotonic=time.monotonic)
    s.room.join("lena", language="en")
    s.interpreter()
    s.live()
    s.agent.start()
    try:
        await eventually(lambda: s.languages_attribute == "")
        muted = time.monotonic()
        s.room.set_muted("ivy")
        await eventually(lambda: s.languages_attribute == "en")
        waited = time.monotonic() - muted
        assert grace <= waited < grace + 0.5  # at the grace end, not at the next poll
    finally:
        await s.agent.aclose()


async def test_an_interpreter_speaker_is_captioned_in_their_live_language_only_while_live() -> None:
    stt = FakeSTT(
        [
            final("Good morning.", language="en", start=0.0, end=1.0),
            final("Welcome.", language="en", start=1.6, end=2.4),
        ]
    )
    store = FakeTranscripts()
    s = Scene(
        role="interpreter",
        attributes={"interpreter.languages": "es,en", "interpreter.live": ""},
        stack=FakeStack(stt=stt),
        transcripts=store,
    )
    try:
        s.room.join("lena", language="en")
        await s.agent.refresh()
        assert s.agent.pipeline.interpreter_live is None
        await s.agent.pipeline.interpret(feed(audio_frames(1.5)), track_sid="TR_mic")
        assert s.room.local_participant.text_streams == [] and store.segments == []
        s.room.set_attributes("ana", {"interpreter.live": "en"})
        await s.agent.refresh()
        assert stt.options[-1] == {"allowed_languages": (EN,), "language_prior": EN}
        await s.agent.pipeline.interpret(feed(audio_frames(1.5)), track_sid="TR_mic")
        finals = [
            t
            for t in s.room.local_participant.text_streams
            if t.attributes["lk.transcription_final"] == "true"
        ]
        assert [(t.text, t.attributes["language"]) for t in finals] == [("Welcome.", "en")]
        assert [(c.speaker_name, interpreter) for c, interpreter in store.segments] == [
            ("Ana Lima", True)
        ]
        assert s.tracks == []  # an interpreter is never translated or voiced
        s.room.set_attributes("ana", {"interpreter.live": ""})
        await s.agent.refresh()
        assert s.agent.pipeline.interpreter_live is None
        assert stt.options[-1]["language_prior"] == ES
    finally:
        await s.agent.aclose()


def test_the_mute_grace_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert AgentTunings.from_settings(load_settings()).mute_grace == GRACE
    monkeypatch.setenv("INTERPRETER_MUTE_GRACE", "1.5")
    assert AgentTunings.from_settings(load_settings()).mute_grace == 1.5


async def test_after_a_long_mute_only_what_was_said_since_the_mute_began_is_interpreted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stt = FakeSTT(
        [
            final("Lo que la intérprete dijo.", language="es", start=0.0, end=1.0),
            final("Lo que nadie dijo.", language="es", start=1.6, end=2.4),
        ]
    )
    s = Scene(stack=FakeStack(stt=stt))
    try:
        s.room.join("lena", language="en")
        s.interpreter()
        s.live()
        await s.agent.refresh()
        await s.agent.pipeline.interpret(feed(audio_frames(1.5)), track_sid="TR_mic")
        s.clock.advance(1.0)
        s.room.set_muted("ivy")
        await s.agent.refresh()
        s.clock.advance(0.5)
        await s.agent.pipeline.interpret(feed(audio_frames(1.5)), track_sid="TR_mic")
        await asyncio.sleep(0.05)
        streams = s.room.local_participant.text_streams
        assert [t.attributes["language"] for t in streams] == ["es", "es"]  # no en caption
        s.clock.advance(GRACE - 0.5)
        with caplog.at_level(logging.INFO, logger="interpreter.agent"):
            await s.agent.refresh()
        record = next(r for r in caplog.records if r.message == "machine voice resumed")
        assert (record.replayed, record.dropped) == (1, 1)  # type: ignore[attr-defined]
        await eventually(lambda: len(s.stack.voices[EN].spoken) == 1)
        assert s.stack.voices[EN].spoken[0][0] == "[en] Lo que nadie dijo."
        assert [t.text for t in streams if t.attributes["language"] == "en"] == [
            "[en] Lo que nadie dijo."
        ]
    finally:
        await s.agent.aclose()


def test_a_connection_still_reconnecting_or_dropped_abnormally_counts_as_lost() -> None:
    from typing import cast

    from livekit import rtc
    from livekit.rtc import EventEmitter

    from interpreter.agent import ConnectionWatch

    def watch() -> tuple[EventEmitter[str], ConnectionWatch]:
        room: EventEmitter[str] = EventEmitter()
        return room, ConnectionWatch(cast(rtc.Room, room))

    room, connection = watch()
    assert connection.lost_because() is None
    room.emit("reconnecting")
    assert connection.lost_because() == "still reconnecting"  # the server ended the job
    room.emit("reconnected")
    assert connection.lost_because() is None
    room.emit("disconnected", rtc.DisconnectReason.CLIENT_INITIATED)  # the job ended itself
    assert connection.lost_because() is None
    for normal in (
        rtc.DisconnectReason.DUPLICATE_IDENTITY,
        rtc.DisconnectReason.PARTICIPANT_REMOVED,
    ):
        room, connection = watch()
        room.emit("disconnected", normal)  # replaced, or removed by the sweep
        assert connection.lost_because() is None
    room, connection = watch()
    room.emit("disconnected", rtc.DisconnectReason.STATE_MISMATCH)
    assert connection.lost_because() == "STATE_MISMATCH"
