"""The provider factory: the embedded default, and an LLM translator by configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from interpreter.config import load_settings
from interpreter.errors import ConfigError
from interpreter.stack import EmbeddedStack
from interpreter.translation import LLMTranslationEngine, TranslationRouter
from languages import Language


def test_default_translator_is_the_embedded_router_without_llm() -> None:
    stack = EmbeddedStack(load_settings())
    translator = stack.translation()
    assert isinstance(translator, TranslationRouter)
    assert stack._llm_translation() is None
    assert (Language("es"), Language("en")) in translator.supported_pairs()


def test_configured_llm_is_preferred(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    # the variable's old name stays an alias of INTERPRETER_OPENAI_URL
    monkeypatch.setenv("INTERPRETER_TRANSLATION_LLM_URL", "http://127.0.0.1:9/v1")
    settings = load_settings(translation_llm_model="local-model")
    assert settings.openai_url == "http://127.0.0.1:9/v1"
    assert settings.provider_chain("translation") == ("openai", "embedded")
    engine = EmbeddedStack(settings)._llm_translation()
    assert isinstance(engine, LLMTranslationEngine)


def test_llm_model_without_key_or_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        load_settings(translation_llm_model="gpt-4.1-mini")


def test_stt_is_limited_to_languages_whisper_knows() -> None:
    stack = EmbeddedStack(load_settings())
    assert stack.recognisable([Language("es"), Language("ga"), Language("en")]) == (
        Language("en"),
        Language("es"),
    )


def test_the_cache_directory_setting_reaches_the_speech_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from interpreter.providers import whisper_stt

    loaded: list[dict[str, Any]] = []

    def fake_load(**kwargs: Any) -> object:
        loaded.append(kwargs)
        return object()

    monkeypatch.setattr(whisper_stt, "load_whisper_model", fake_load)
    monkeypatch.setattr(whisper_stt, "default_vad", lambda **_: object())
    stack = EmbeddedStack(load_settings(cache_dir=tmp_path))
    stt = stack.stt(allowed=[Language("es")], prior=None)
    stt._load_decoder()  # type: ignore[attr-defined]
    assert loaded and loaded[0]["cache_dir"] == tmp_path


def test_prewarm_loads_the_language_detector_only_for_a_cloud_stt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The STT fallback identifies a cloud transcript's language from its text: the detector
    loads in the job process before any job, not on the first transcript (which blocked the
    job's event loop for ~0.4 s)."""
    import languages
    from interpreter.providers import local_tts, whisper_stt

    loads: list[str] = []
    monkeypatch.setattr(languages, "prewarm_detector", lambda: loads.append("langdetect"))
    monkeypatch.setattr(whisper_stt, "default_vad", lambda **_: object())
    monkeypatch.setattr(whisper_stt.WhisperSTT, "prewarm", lambda self: None)
    monkeypatch.setattr(whisper_stt.WhisperSTT, "warm_up", lambda self: None)
    monkeypatch.setattr(local_tts.LocalTTS, "prewarm", lambda self: None)
    EmbeddedStack(load_settings(translation_neural=False)).prewarm()
    assert loads == []
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", "k")
    EmbeddedStack(load_settings(stt="assemblyai", translation_neural=False)).prewarm()
    assert loads == ["langdetect"]
