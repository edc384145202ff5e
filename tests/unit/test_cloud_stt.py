"""The cloud recognisers, real plugin code against loopback fakes of the services, as links of
the fallback chain: the failure matrix is asserted on the finals the caller reads.

AssemblyAI runs the real ``assemblyai.STT`` against :class:`AssemblyAIFake`; OpenAI the real
``openai.STT`` against :class:`OpenAITranscriptionFake`. The embedded link is a
:class:`ToneSTT` (recognises the same tone speech, no model).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from interpreter.errors import ConfigError
from interpreter.providers.cloud_stt import (
    AssemblyAISTT,
    AzureSTT,
    OpenAISTT,
    azure_locales,
    parse_azure_locales,
)
from interpreter.providers.stt_fallback import FallbackSTT, FallbackTimings
from interpreter.testing.cloud.assemblyai_ws import AssemblyAIFake
from interpreter.testing.cloud.azure_usp import AzureSpeechFake
from interpreter.testing.cloud.openai_stt import OpenAITranscriptionFake
from interpreter.testing.cloud.tones import MEETING, EnergyVAD, ToneSTT, recognise_speech
from languages import Language

FAST = FallbackTimings(
    stall_after=0.5,
    connect_timeout=1.0,
    probe_after=0.3,
    probe_max=1.0,
    tick=0.02,
    close_timeout=1.0,
)


@pytest.fixture
async def assemblyai() -> AsyncIterator[AssemblyAIFake]:
    async with AssemblyAIFake() as fake:
        yield fake


def assemblyai_chain(fake: AssemblyAIFake) -> tuple[FallbackSTT, ToneSTT]:
    primary = AssemblyAISTT(
        api_key=fake.key, base_url=fake.url, connect_timeout=0.5, read_timeout=1.0
    )
    embedded = ToneSTT(name="embedded")
    return FallbackSTT(chain=[("assemblyai", primary), ("embedded", embedded)], timings=FAST), (
        embedded
    )


async def test_assemblyai_serves_each_turn_with_its_language(assemblyai: AssemblyAIFake) -> None:
    assemblyai.language = "es"
    recogniser, embedded = assemblyai_chain(assemblyai)
    recogniser.update_options(allowed_languages=[Language("en"), Language("es")])
    recogniser.set_vocabulary({Language("en"): ["Nimbus", "LiveKit"], Language("de"): ["Zug"]})
    finals = await recognise_speech(recogniser, ["hola a todos bienvenidos", "gracias"])
    assert [(f.text, f.language, f.provider) for f in finals] == [
        ("hola a todos bienvenidos", "es", "assemblyai"),
        ("gracias", "es", "assemblyai"),
    ]
    assert embedded.streams == 0
    query = assemblyai.queries[0]
    assert query["speech_model"] == "universal-streaming-multilingual"
    assert query["language_detection"] == "true"
    assert query["keyterms_prompt"] == '["Nimbus", "LiveKit"]'  # German is not spoken here
    await recogniser.aclose()


@pytest.mark.parametrize("failure", ["refused", "500", "cut", "hang", "stall", "malformed"])
async def test_assemblyai_failures_lose_no_word(assemblyai: AssemblyAIFake, failure: str) -> None:
    """refused: nothing listens; 500 on the upgrade; cut: closed mid-utterance (1011); hang:
    a handshake never answered; stall: a socket that says nothing; malformed frames."""
    if failure == "refused":
        await assemblyai.refuse()
    else:
        assemblyai.fault = failure  # type: ignore[assignment]
    recogniser, _ = assemblyai_chain(assemblyai)
    began = time.monotonic()
    finals = await recognise_speech(recogniser, MEETING)
    # every utterance exactly once, in order, with the words spoken before the failure
    assert [f.text for f in finals] == list(MEETING)
    if failure == "malformed":
        assert {f.provider for f in finals} == {"assemblyai"}  # skipped, not a failure
    else:
        assert finals[0].provider == "embedded"
        assert finals[0].received - began < 8
    await recogniser.aclose()


async def test_assemblyai_refused_key_is_not_retried_in_a_loop(
    assemblyai: AssemblyAIFake,
) -> None:
    assemblyai.fault = "401"
    recogniser, _ = assemblyai_chain(assemblyai)
    finals = await recognise_speech(recogniser, MEETING, pace=0.004)
    assert [f.text for f in finals] == list(MEETING)
    assert {f.provider for f in finals} == {"embedded"}
    assert assemblyai.connections == 1
    await recogniser.aclose()


async def test_assemblyai_is_used_again_once_it_recovers(assemblyai: AssemblyAIFake) -> None:
    assemblyai.cut_after_words = 1
    assemblyai.inject(["cut"])  # the first connection dies in the first utterance
    recogniser, _ = assemblyai_chain(assemblyai)
    finals = await recognise_speech(recogniser, MEETING, pace=0.006)
    assert [f.text for f in finals] == list(MEETING)
    assert finals[0].provider == "embedded"
    assert finals[-1].provider == "assemblyai"
    await recogniser.aclose()


async def test_every_provider_down_then_one_back(assemblyai: AssemblyAIFake) -> None:
    await assemblyai.refuse()
    recogniser, embedded = assemblyai_chain(assemblyai)
    embedded.refuse = True

    def heal(seconds: float) -> None:
        if seconds > 2.5:
            embedded.refuse = False

    finals = await recognise_speech(recogniser, MEETING, pace=0.005, at=heal)
    assert [f.text for f in finals] == list(MEETING)
    await recogniser.aclose()


# --- OpenAI -----------------------------------------------------------------------------------
@pytest.fixture
async def openai_fake() -> AsyncIterator[OpenAITranscriptionFake]:
    async with OpenAITranscriptionFake() as fake:
        yield fake


def openai_chain(fake: OpenAITranscriptionFake) -> FallbackSTT:
    primary = OpenAISTT(vad=EnergyVAD(), api_key=fake.key, base_url=fake.url, request_timeout=1.0)
    return FallbackSTT(
        chain=[("openai", primary), ("embedded", ToneSTT(name="embedded"))], timings=FAST
    )


async def test_openai_transcribes_utterances_and_the_language_is_identified(
    openai_fake: OpenAITranscriptionFake,
) -> None:
    recogniser = openai_chain(openai_fake)
    recogniser.update_options(
        allowed_languages=[Language("en"), Language("es")], language_prior=Language("en")
    )
    recogniser.set_vocabulary({Language("en"): ["Nimbus"]})
    finals = await recognise_speech(
        recogniser, ["hola a todos bienvenidos", "the nimbus release is ready"]
    )
    assert [(f.text, f.language, f.provider) for f in finals] == [
        ("hola a todos bienvenidos", "es", "openai"),
        ("the nimbus release is ready", "en", "openai"),
    ]
    assert finals[0].end < finals[1].start  # the utterances keep their times
    request = openai_fake.requests[0].body
    assert request["model"] == "gpt-4o-mini-transcribe"
    assert request["prompt"] == "Nimbus."
    assert "language" not in request  # several languages: detected
    await recogniser.aclose()


@pytest.mark.parametrize("failure", ["500", "401", "hang", "cut", "malformed", "refused"])
async def test_openai_failures_lose_no_word(
    openai_fake: OpenAITranscriptionFake, failure: str
) -> None:
    if failure == "refused":
        await openai_fake.refuse()
    else:
        openai_fake.fault = failure  # type: ignore[assignment]
    recogniser = openai_chain(openai_fake)
    finals = await recognise_speech(recogniser, list(MEETING[:3]))
    assert [f.text for f in finals] == list(MEETING[:3])
    assert finals[0].provider == "embedded"
    if failure == "401":
        assert openai_fake.calls == 1
    await recogniser.aclose()


# --- configuration ----------------------------------------------------------------------------
def test_azure_locales_are_full_one_per_language_and_at_most_ten() -> None:
    configured = parse_azure_locales("es-MX, pt-BR")
    assert azure_locales([Language("en"), Language("es")], Language("pt"), configured) == [
        "pt-BR",
        "en-US",
        "es-MX",
    ]
    with pytest.raises(ConfigError, match=r"INTERPRETER_AZURE_STT_LANGUAGES.*region"):
        parse_azure_locales("es")
    with pytest.raises(ConfigError, match="one locale per language"):
        parse_azure_locales("es-ES,es-MX")
    many = "en-US,es-ES,fr-FR,de-DE,it-IT,pt-PT,nl-NL,sv-SE,da-DK,fi-FI,pl-PL"
    with pytest.raises(ConfigError, match="at most 10"):
        parse_azure_locales(many)


def test_azure_stt_identifies_among_the_rooms_locales() -> None:
    azure = AzureSTT(
        key="k",
        url="ws://127.0.0.1:9",
        allowed_languages=[Language("en"), Language("fr")],
        language_prior=Language("es"),
    )
    assert azure.locales == ("es-ES", "en-US", "fr-FR")
    azure.set_vocabulary({Language("fr"): ["Nimbus"], Language("ja"): ["寿司"]})
    assert azure._config.phrase_list == ["Nimbus"]
    assert azure._config.language == ["es-ES", "en-US", "fr-FR"]
    azure.update_languages(allowed=[Language("fr")], prior=Language("es"))
    assert azure._config.language == ["es-ES", "fr-FR"]


def test_an_unknown_assemblyai_model_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="INTERPRETER_ASSEMBLYAI_MODEL"):
        AssemblyAISTT(api_key="k", model="nope")


async def test_the_stack_builds_the_configured_chain_with_the_embedded_stt_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from interpreter.config import load_settings
    from interpreter.providers import whisper_stt
    from interpreter.stack import EmbeddedStack

    monkeypatch.setattr(whisper_stt, "default_vad", lambda **_: EnergyVAD())
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", "k")
    monkeypatch.setenv("INTERPRETER_OPENAI_URL", "http://127.0.0.1:9/v1")
    settings = load_settings(stt="assemblyai,openai")
    recogniser = EmbeddedStack(settings).stt(
        allowed=[Language("en"), Language("es")], prior=Language("es")
    )
    assert isinstance(recogniser, FallbackSTT)
    assert [name for name, _ in recogniser.chain] == ["assemblyai", "openai", "embedded"]
    assert isinstance(recogniser.chain[-1][1], whisper_stt.WhisperSTT)
    assert recogniser.language_prior == "es"
    await recogniser.aclose()
    # AssemblyAI's model does not know Japanese: a Japanese speaker gets no AssemblyAI link
    japanese = EmbeddedStack(settings).stt(allowed=[Language("ja")], prior=Language("ja"))
    assert isinstance(japanese, FallbackSTT)
    assert [name for name, _ in japanese.chain] == ["openai", "embedded"]


# --- Azure: the real native Speech SDK against the USP fake ------------------------------------
@pytest.fixture
async def azure_fake() -> AsyncIterator[AzureSpeechFake]:
    async with AzureSpeechFake() as fake:
        yield fake


def azure_chain(fake: AzureSpeechFake) -> FallbackSTT:
    languages = [Language("en"), Language("es")]
    primary = AzureSTT(
        key="test-key", url=fake.host, allowed_languages=languages, language_prior=Language("es")
    )
    return FallbackSTT(
        chain=[("azure", primary), ("embedded", ToneSTT(name="embedded"))],
        allowed_languages=languages,
        language_prior=Language("es"),
        timings=FAST,
    )


async def test_azure_identifies_the_language_of_each_phrase(azure_fake: AzureSpeechFake) -> None:
    recogniser = azure_chain(azure_fake)
    recogniser.set_vocabulary({Language("es"): ["Nimbus"]})
    finals = await recognise_speech(recogniser, ["hola a todos bienvenidos", "gracias"])
    assert [(f.text, f.language, f.provider) for f in finals] == [
        ("hola a todos bienvenidos.", "es", "azure"),
        ("gracias.", "es", "azure"),
    ]
    assert finals[0].end < finals[1].start
    # continuous language identification among full locales, the speaker's first
    assert azure_fake.queries[0]["lidEnabled"] == "es-ES,en-US"
    context = azure_fake.contexts[0]
    assert context["languageId"]["mode"] == "DetectContinuous"
    assert context["dgi"]["Groups"][0]["Items"] == [{"Text": "Nimbus"}]
    await recogniser.aclose()


@pytest.mark.parametrize("failure", ["refused", "401", "500", "cut", "hang", "stall", "malformed"])
async def test_azure_failures_lose_no_word(azure_fake: AzureSpeechFake, failure: str) -> None:
    if failure == "refused":
        await azure_fake.refuse()
    else:
        azure_fake.fault = failure  # type: ignore[assignment]
    recogniser = azure_chain(azure_fake)
    began = time.monotonic()
    finals = await recognise_speech(recogniser, list(MEETING[:3]))
    texts = [f.text.rstrip(".") for f in finals]
    assert texts == list(MEETING[:3])
    if failure == "malformed":
        assert {f.provider for f in finals} == {"azure"}  # ignored by the SDK, no failover
    else:
        assert finals[0].provider == "embedded"
        assert finals[0].received - began < 8
    if failure == "401":
        assert azure_fake.connections == 1  # a refused key is not retried in a loop
    await recogniser.aclose()


def test_stt_settings_are_checked_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from interpreter.config import load_settings

    monkeypatch.setenv("INTERPRETER_AZURE_STT_LANGUAGES", "es")
    with pytest.raises(ConfigError, match=r"INTERPRETER_AZURE_STT_LANGUAGES: .*full locales"):
        load_settings()
    monkeypatch.setenv("INTERPRETER_AZURE_STT_LANGUAGES", "es-MX,pt-BR")
    assert load_settings().azure_stt_languages == "es-MX,pt-BR"
    monkeypatch.setenv("INTERPRETER_ASSEMBLYAI_MODEL", "nope")
    with pytest.raises(ConfigError, match="INTERPRETER_ASSEMBLYAI_MODEL"):
        load_settings()
