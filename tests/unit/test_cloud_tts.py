"""Cloud voices by configuration: a voice per language and speaker, start-up errors that name
the variable, and the chain the provider factory builds (real plugins on loopback fakes)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from livekit import rtc

from interpreter.config import load_settings
from interpreter.errors import ConfigError, UnsupportedLanguageError
from interpreter.providers.cloud_tts import (
    OPENAI_VOICES,
    azure_tts,
    azure_voices,
    openai_voices,
    parse_azure_voices,
    pick_voice,
)
from interpreter.providers.local_tts import LocalTTS
from interpreter.providers.tts_fallback import FallbackTTS
from interpreter.stack import EmbeddedStack
from interpreter.testing.cloud.azure_tts import AzureTTSFake
from interpreter.testing.cloud.openai_http import OpenAIFake
from languages import Language

ES = Language("es")


def test_each_language_has_a_default_azure_voice_of_its_locale() -> None:
    assert azure_voices("es")[0] == "es-ES-ElviraNeural"
    assert azure_voices("es-MX")[0] == "es-MX-DaliaNeural"
    assert azure_voices("pt-PT")[0].startswith("pt-PT-")
    assert azure_voices("pt-BR")[0].startswith("pt-BR-")
    assert azure_voices("en")[0] == "en-US-JennyNeural"
    assert len(azure_voices("de")) > 1  # several speakers, several voices


def test_configured_azure_voices_replace_the_defaults_of_their_language() -> None:
    configured = "es-MX-DaliaNeural, es-MX-JorgeNeural,fr-CA-SylvieNeural"
    assert azure_voices("es", configured) == ("es-MX-DaliaNeural", "es-MX-JorgeNeural")
    assert azure_voices("fr-CA", configured) == ("fr-CA-SylvieNeural",)
    assert azure_voices("de", configured)[0] == "de-DE-KatjaNeural"  # not configured: default


def test_an_azure_voice_name_without_a_locale_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="INTERPRETER_AZURE_TTS_VOICES"):
        parse_azure_voices("Dalia")


def test_a_language_without_a_voice_names_the_variable_that_adds_one() -> None:
    with pytest.raises(UnsupportedLanguageError, match="INTERPRETER_AZURE_TTS_VOICES"):
        azure_voices("mi")
    assert azure_voices("mi", "mi-NZ-AroNeural") == ("mi-NZ-AroNeural",)
    with pytest.raises(UnsupportedLanguageError, match="INTERPRETER_TTS"):
        openai_voices("eo")  # OpenAI speaks what Whisper recognises


def test_speakers_get_stable_and_distinct_voices() -> None:
    assert pick_voice(OPENAI_VOICES, "alice") == pick_voice(OPENAI_VOICES, "alice")
    assert pick_voice(OPENAI_VOICES, None) == OPENAI_VOICES[0]
    assert len({pick_voice(OPENAI_VOICES, n) for n in range(len(OPENAI_VOICES))}) == len(
        OPENAI_VOICES
    )
    speakers = [f"speaker-{n}" for n in range(12)]
    assert len({pick_voice(OPENAI_VOICES, s) for s in speakers}) > 3


@pytest.fixture
async def azure() -> AsyncIterator[AzureTTSFake]:
    async with AzureTTSFake() as fake:
        yield fake


@pytest.fixture
async def oai() -> AsyncIterator[OpenAIFake]:
    async with OpenAIFake() as fake:
        yield fake


@pytest.fixture
def cloud_env(
    monkeypatch: pytest.MonkeyPatch, azure: AzureTTSFake, oai: OpenAIFake
) -> pytest.MonkeyPatch:
    monkeypatch.setenv("AZURE_SPEECH_KEY", azure.key)
    monkeypatch.delenv("AZURE_SPEECH_REGION", raising=False)
    monkeypatch.setenv("INTERPRETER_AZURE_TTS_URL", azure.endpoint)
    monkeypatch.setenv("OPENAI_API_KEY", oai.key)
    monkeypatch.setenv("INTERPRETER_OPENAI_URL", oai.base_url)
    monkeypatch.delenv("INTERPRETER_AZURE_TTS_VOICES", raising=False)
    monkeypatch.delenv("INTERPRETER_OPENAI_TTS_VOICES", raising=False)
    return monkeypatch


def test_the_embedded_default_is_unchanged() -> None:
    assert isinstance(EmbeddedStack(load_settings(tts="embedded")).tts(ES, speaker="a"), LocalTTS)


async def test_the_factory_chains_the_configured_voices_before_the_embedded_one(
    cloud_env: pytest.MonkeyPatch, azure: AzureTTSFake
) -> None:
    stack = EmbeddedStack(load_settings(tts="azure,openai"))
    voice = stack.tts(ES, speaker="alice")
    assert isinstance(voice, FallbackTTS)
    assert [m.name for m in voice.members] == ["azure", "openai", "embedded"]
    frames = [e.frame async for e in voice.synthesize("Hola & adiós <3")]
    assert rtc.combine_audio_frames(frames).duration == pytest.approx(
        azure.seconds_for("Hola & adiós <3"), abs=0.03
    )
    (synthesis,) = azure.syntheses
    assert synthesis.text == "Hola & adiós <3"
    assert synthesis.language == "es-ES"
    assert synthesis.voice == pick_voice(azure_voices("es"), "alice")
    await voice.aclose()


async def test_a_provider_that_cannot_voice_a_language_is_left_out_of_its_chain(
    cloud_env: pytest.MonkeyPatch,
) -> None:
    stack = EmbeddedStack(load_settings(tts="azure,openai"))
    maori = stack.tts(Language("mi"), speaker="alice")  # no Azure voice, no offline voice
    assert isinstance(maori, FallbackTTS)
    assert [m.name for m in maori.members] == ["openai"]
    japanese = stack.tts(Language("ja"), speaker="alice")  # no offline voice
    assert isinstance(japanese, FallbackTTS)
    assert [m.name for m in japanese.members] == ["azure", "openai"]
    with pytest.raises(UnsupportedLanguageError, match="INTERPRETER_AZURE_TTS_VOICES"):
        stack.tts(Language("eo"), speaker="alice")  # nobody speaks Esperanto here
    for voice in (maori, japanese):
        await voice.aclose()


def test_voice_settings_that_cannot_work_fail_at_start_up(
    cloud_env: pytest.MonkeyPatch,
) -> None:
    cloud_env.setenv("INTERPRETER_AZURE_TTS_VOICES", "es-MX-DaliaNeural,Jorge")
    with pytest.raises(ConfigError, match="INTERPRETER_AZURE_TTS_VOICES"):
        EmbeddedStack(load_settings(tts="azure"))
    cloud_env.delenv("INTERPRETER_AZURE_TTS_URL")
    cloud_env.setenv("INTERPRETER_AZURE_STT_URL", "ws://127.0.0.1:9")
    cloud_env.delenv("INTERPRETER_AZURE_TTS_VOICES")
    with pytest.raises(ConfigError, match="INTERPRETER_AZURE_TTS_URL"):
        EmbeddedStack(load_settings(tts="azure"))


async def test_azure_speaks_faster_to_catch_up_and_then_at_its_own_rate(
    azure: AzureTTSFake,
) -> None:
    voice = azure_tts(
        language="es", speaker=None, key=azure.key, region=None, endpoint=azure.endpoint
    )
    for speed in (1.3, 1.0):
        voice.update_options(speed=speed)
        async with voice.synthesize("Hola a todos.") as stream:
            assert (await stream.collect()).duration > 0
    assert [s.prosody_rate for s in azure.syntheses] == ["1.3", None]
    assert azure.syntheses[0].voice == "es-ES-ElviraNeural"  # no speaker: the default voice
    await voice.aclose()
