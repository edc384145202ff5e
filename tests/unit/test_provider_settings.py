"""Provider chains per stage (INTERPRETER_STT / _TTS / _TRANSLATION): names, order, keys."""

from __future__ import annotations

import pytest

from interpreter.config import load_settings
from interpreter.errors import ConfigError

KEYS = ("ASSEMBLYAI_API_KEY", "AZURE_SPEECH_KEY", "AZURE_SPEECH_REGION", "OPENAI_API_KEY")


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    for var in ("STT", "TTS", "TRANSLATION", "OPENAI_URL", "TRANSLATION_LLM_URL"):
        monkeypatch.delenv(f"INTERPRETER_{var}", raising=False)


def test_default_is_embedded_for_every_stage() -> None:
    settings = load_settings()
    assert [settings.provider_chain(s) for s in ("stt", "tts", "translation")] == [
        ("embedded",)
    ] * 3


def test_embedded_is_appended_and_order_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_SPEECH_KEY", "k")
    monkeypatch.setenv("AZURE_SPEECH_REGION", "westeurope")
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("INTERPRETER_TTS", " Azure , openai,azure")
    assert load_settings().provider_chain("tts") == ("azure", "openai", "embedded")


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        (
            "INTERPRETER_STT",
            "assemblyai",
            "INTERPRETER_STT uses assemblyai, which needs ASSEMBLYAI_API_KEY",
        ),
        ("INTERPRETER_TTS", "azure", "INTERPRETER_TTS uses azure, which needs AZURE_SPEECH_KEY"),
        ("INTERPRETER_TRANSLATION", "openai", "needs OPENAI_API_KEY"),
        ("INTERPRETER_STT", "whisper", "INTERPRETER_STT: unknown provider 'whisper'"),
        ("INTERPRETER_TTS", "assemblyai", "AssemblyAI only recognises speech"),
        ("INTERPRETER_STT", "embedded,openai", "embedded must come last"),
    ],
)
def test_bad_chains_name_the_variable_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, message: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_azure_needs_a_region_or_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_SPEECH_KEY", "k")
    monkeypatch.setenv("INTERPRETER_STT", "azure")
    with pytest.raises(ConfigError, match="AZURE_SPEECH_REGION"):
        load_settings()
    monkeypatch.setenv("INTERPRETER_AZURE_STT_URL", "ws://127.0.0.1:9")
    assert load_settings().provider_chain("stt") == ("azure", "embedded")


def test_an_openai_compatible_url_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERPRETER_OPENAI_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("INTERPRETER_TRANSLATION", "openai")
    assert load_settings().provider_chain("translation") == ("openai", "embedded")


def test_keys_never_appear_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", "aai-secret-value")
    monkeypatch.setenv("AZURE_SPEECH_KEY", "az-secret-value")
    monkeypatch.setenv("OPENAI_API_KEY", "oai-secret-value")
    text = repr(load_settings())
    assert "secret-value" not in text


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # how a compose file passes an optional key: ${OPENAI_API_KEY:-}
    monkeypatch.setenv("OPENAI_API_KEY", "")
    monkeypatch.setenv("INTERPRETER_OPENAI_URL", "")
    monkeypatch.setenv("INTERPRETER_STT", "")
    settings = load_settings()
    assert settings.openai_api_key is None and settings.openai_url is None
    assert settings.provider_chain("stt") == ("embedded",)
