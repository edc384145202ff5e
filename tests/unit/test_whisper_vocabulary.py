"""Bias terms with the real model: a rare term comes out as written once the vocabulary is set
(mid-stream), the prompt never makes text out of silence or noise, language identification
ignores it, and a prompt at Whisper's limit leaves the transcript its room.

Uses the packaged Whisper base model and Silero VAD; speech is rendered with espeak-ng.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt
import pytest
from livekit.agents import stt

from interpreter.providers.hallucination import normalize_phrase
from interpreter.providers.whisper_model import WhisperDecoder, load_whisper_model
from interpreter.providers.whisper_prompt import WHISPER_PROMPT_LIMIT, Vocabulary
from interpreter.providers.whisper_stt import WhisperSTT
from interpreter.testing.audio import read_wav, speak_to_wav
from languages import Language

pytestmark = pytest.mark.model

RATE = 16_000
EN, ES = Language("en"), Language("es")
# "Quorvex" is an invented product name: without a prompt Whisper base hears espeak's
# voices say "warm-ext" (en) and "Warwick Salton Sejo" (es).
SAID = {
    "en": "Next week we will present Quorvex to the board.",
    "es": "La semana que viene vamos a presentar Quorvex al consejo.",
}
NAMES = ["Nimbus", "Kaltrix", "Zentrix", "Quorvex", "Fenwyx", "Synthara"]
TERMS = {
    EN: [*NAMES, "deliverable", "roadmap", "stakeholder", "onboarding", "backlog"],
    ES: [*NAMES, "entregable", "hoja de ruta", "parte interesada", "incorporación"],
}


def words(text: str) -> list[str]:
    return normalize_phrase(text).split()


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, npt.NDArray[np.float32]]:
    tmp = tmp_path_factory.mktemp("vocabulary")
    return {
        lang: read_wav(speak_to_wav(text, tmp / f"{lang}.wav", voice=lang))[0]
        for lang, text in SAID.items()
    }


@pytest.fixture(scope="module")
def decoder() -> WhisperDecoder:
    return WhisperDecoder(model=load_whisper_model())


def pcm16(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.int16]:
    out: npt.NDArray[np.int16] = (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
    return out


def push(stream: stt.RecognizeStream, audio: npt.NDArray[np.float32]) -> None:
    from livekit import rtc

    pcm = pcm16(audio)
    for i in range(0, len(pcm), 320):
        chunk = pcm[i : i + 320]
        stream.push_frame(rtc.AudioFrame(chunk.tobytes(), RATE, 1, len(chunk)))


def finals(events: list[stt.SpeechEvent]) -> list[stt.SpeechData]:
    return [ev.alternatives[0] for ev in events if ev.type == stt.SpeechEventType.FINAL_TRANSCRIPT]


@pytest.mark.parametrize("lang", ["en", "es"])
async def test_a_rare_term_is_written_as_given_once_the_vocabulary_is_set(
    speech: dict[str, npt.NDArray[np.float32]], lang: str
) -> None:
    engine = WhisperSTT(allowed_languages=[EN, ES])
    gap = np.zeros(int(1.5 * RATE), np.float32)
    async with engine.stream() as stream:
        push(stream, np.concatenate([gap[:4800], speech[lang], gap]))
        before: list[stt.SpeechEvent] = []
        async for ev in stream:
            before.append(ev)
            if ev.type == stt.SpeechEventType.END_OF_SPEECH:
                break
        # the same open stream, the same sentence again, now with the room's terms
        engine.set_vocabulary(TERMS)
        push(stream, np.concatenate([speech[lang], gap]))
        stream.end_input()
        after = [ev async for ev in stream]

    heard_before = " ".join(f.text for f in finals(before))
    heard_after = " ".join(f.text for f in finals(after))
    assert "quorvex" not in words(heard_before), heard_before
    assert re.search(r"\bQuorvex\b", heard_after), heard_after  # spelled as given
    assert {f.language for f in finals(before) + finals(after)} == {lang}
    # the rest of the sentence is still there
    assert "consejo" in words(heard_after) or "board" in words(heard_after), heard_after


def _noises() -> dict[str, npt.NDArray[np.float32]]:
    rng = np.random.default_rng(3)
    clicks = (rng.random(6 * RATE) < 0.0008) * rng.uniform(-0.6, 0.6, 6 * RATE)
    return {
        "digital silence": np.zeros(int(2.5 * RATE), np.float32),
        "long digital silence": np.zeros(6 * RATE, np.float32),
        "faint hiss": (0.001 * rng.standard_normal(int(2.5 * RATE))).astype(np.float32),
        "hiss": (0.003 * rng.standard_normal(6 * RATE)).astype(np.float32),
        "clicks": clicks.astype(np.float32),
    }


@pytest.mark.parametrize("terms", [2, len(TERMS[EN])], ids=["two terms", "eleven terms"])
def test_a_prompt_makes_no_text_out_of_silence_or_noise(
    decoder: WhisperDecoder, terms: int
) -> None:
    # Straight into the decoder, without the VAD that keeps most of this away in a stream:
    # without the guard, Whisper copied the prompt ("Nimbus, Kaltrix.") onto faint hiss
    # and wrote a web address onto digital silence.
    vocabulary = Vocabulary({lang: listed[:terms] for lang, listed in TERMS.items()})
    for kind, audio in _noises().items():
        decoding = decoder.transcribe(audio, allowed=[EN, ES], vocabulary=vocabulary)
        assert decoding.text == "", (kind, decoding.text)


@pytest.mark.parametrize("kind", ["silence", "white noise", "music"])
async def test_half_a_minute_without_speech_gives_no_transcript_with_a_vocabulary(
    kind: str,
) -> None:
    engine = WhisperSTT(allowed_languages=[EN, ES])
    engine.set_vocabulary(TERMS)
    n = 30 * RATE
    t = np.arange(n) / RATE
    if kind == "silence":
        audio = np.zeros(n, np.float32)
    elif kind == "white noise":
        audio = (0.2 * np.random.default_rng(7).standard_normal(n)).astype(np.float32)
    else:
        f0 = 220.0 * 2 ** ((np.floor(t * 2) % 7) / 12) * (1 + 0.03 * np.sin(2 * np.pi * 5.5 * t))
        phase = 2 * np.pi * np.cumsum(f0) / RATE
        tone = sum(a * np.sin(h * phase) for h, a in ((1, 0.5), (2, 0.3), (3, 0.2), (4, 0.1)))
        audio = np.asarray(tone * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) * 0.3, np.float32)
    async with engine.stream() as stream:
        push(stream, audio)
        stream.end_input()
        events = [ev async for ev in stream]
    assert finals(events) == []
    assert all(ev.type != stt.SpeechEventType.INTERIM_TRANSCRIPT for ev in events)


def test_language_identification_does_not_see_the_terms(
    decoder: WhisperDecoder, speech: dict[str, npt.NDArray[np.float32]]
) -> None:
    english_only = Vocabulary({EN: [*TERMS[EN], "the board", "next week", "present"]})
    plain = decoder.transcribe(speech["es"], allowed=[EN, ES])
    biased = decoder.transcribe(speech["es"], allowed=[EN, ES], vocabulary=english_only)
    assert plain.language == biased.language == ES
    assert biased.language_probability == pytest.approx(plain.language_probability)


def test_a_prompt_at_whispers_limit_leaves_the_transcript_its_room(
    decoder: WhisperDecoder, speech: dict[str, npt.NDArray[np.float32]]
) -> None:
    many = [f"{name}{i}" for i in range(100) for name in ("Nimbus", "Zentrix")]
    vocabulary = Vocabulary({EN: ["Quorvex", *many]}, max_tokens=WHISPER_PROMPT_LIMIT)
    decoding = decoder.transcribe(speech["en"], allowed=[EN], vocabulary=vocabulary)
    # a short utterance has a small token budget, which the prompt must not eat into
    assert words(decoding.text)[-3:] == ["to", "the", "board"], decoding.text
    assert "quorvex" in words(decoding.text)


def test_audio_longer_than_a_window_is_biased_too_and_its_silence_stays_silent(
    decoder: WhisperDecoder, speech: dict[str, npt.NDArray[np.float32]]
) -> None:
    # more than one 30 s window goes through faster-whisper's own transcribe(), which takes
    # the terms as hotwords in every window
    gap = np.zeros(14 * RATE, np.float32)
    audio = np.concatenate([gap, speech["en"], gap, speech["en"][: RATE // 2]])
    vocabulary = Vocabulary(TERMS)
    decoding = decoder.transcribe(audio, allowed=[EN], vocabulary=vocabulary)
    heard = words(decoding.text)
    assert heard.count("quorvex") == 1, decoding.text
    assert "board" in heard, decoding.text
    assert not set(heard) & {"nimbus", "zentrix", "kaltrix", "fenwyx", "synthara"}
