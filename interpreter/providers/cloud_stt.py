"""The cloud recognisers: ``livekit.plugins.assemblyai.STT``, ``azure.STT`` and ``openai.STT``,
configured for a room's languages, with the project's two hooks on top.

Each class is the official plugin class, configured, plus:

* ``update_languages(allowed=..., prior=...)``: the room's languages and the speaker's.
  AssemblyAI identifies the language of every turn itself (the multilingual models); on the
  Universal-3 Pro family the languages also steer it (``language_codes``, at most 10).
  Azure identifies it continuously among full locales (``es`` -> ``es-ES``, from
  ``INTERPRETER_AZURE_STT_LANGUAGES`` or the default locale of the language's Azure voices),
  at most 10 of them, the speaker's first; a change reconnects its open streams, so it is
  made only when the set changes. OpenAI gets the one language when there is one, and
  detects otherwise.
* ``set_vocabulary(terms)``, like :meth:`~interpreter.providers.whisper_stt.WhisperSTT.
  set_vocabulary`: AssemblyAI key terms (applied live), Azure phrase list (from the next
  connection: the plugin has no live update), the OpenAI prompt.
* ``language_trust``: how far the languages it reports are believed by
  :class:`~interpreter.providers.stt_fallback.FallbackSTT`, which identifies the others from
  the text with ``langdetect`` (AssemblyAI tags partials ``en`` until a turn ends; OpenAI's
  transcription models say no language unless it was given).

Every connection is bounded: AssemblyAI gets an aiohttp session with connect and read
timeouts (the plugin's shared session has aiohttp's 300 s default, which a stalled handshake
waits out), OpenAI requests have a total budget; Azure's native SDK has none of its own
(it reports a dead service after ~72 s), which is what the fallback's watchdog is for.

OpenAI transcription is not streaming: :class:`OpenAISTT` cuts the audio into utterances
with a VAD and sends each (``stt.StreamAdapter`` would do the same but drops the
utterance's times, which the captions and the fallback's replay need).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

import aiohttp
from livekit import rtc
from livekit.agents import APIConnectOptions, APITimeoutError, stt, utils, vad
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr
from livekit.agents.utils import is_given
from livekit.plugins import assemblyai, azure, openai

from interpreter.errors import ConfigError, UnsupportedLanguageError
from interpreter.providers.stt_fallback import LanguageTrust
from languages import Language, normalize_language, primary

if TYPE_CHECKING:
    from interpreter.config import Settings

__all__ = [
    "ASSEMBLYAI_LANGUAGES",
    "AZURE_MAX_LANGUAGES",
    "AssemblyAISTT",
    "AzureSTT",
    "OpenAISTT",
    "azure_locales",
    "cloud_stt",
    "parse_azure_locales",
    "recognises",
]

logger = logging.getLogger("interpreter.providers.cloud_stt")

ASSEMBLYAI_LANGUAGES: Mapping[str, frozenset[str]] = {
    "universal-streaming-english": frozenset({"en"}),
    "universal-streaming-multilingual": frozenset({"en", "es", "fr", "de", "it", "pt"}),
    "u3-rt-pro": frozenset({"en", "es", "fr", "de", "it", "pt"}),
    "universal-3-5-pro": frozenset({"en", "es", "fr", "de", "it", "pt"}),
    "universal-3-6-pro": frozenset({"en", "es", "fr", "de", "it", "pt"}),
}
"""The languages each AssemblyAI streaming model recognises (their documentation)."""
_U3_PRO = ("u3-rt-pro", "universal-3-5-pro", "universal-3-6-pro")
_MAX_KEYTERMS = 100
_MAX_KEYTERM_CHARS = 50

AZURE_MAX_LANGUAGES = 10
"""Candidates Azure's continuous language identification accepts."""
_AZURE_LOCALES_VARIABLE = "INTERPRETER_AZURE_STT_LANGUAGES"


def _bounded_session(connect: float, read: float) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)
    )


def _terms_for(
    terms: Mapping[Language, Sequence[str]], allowed: Sequence[Language] | None
) -> list[str]:
    """The terms of the allowed languages (all when any is allowed), de-duplicated."""
    out: dict[str, None] = {}
    for language, words in terms.items():
        if allowed is None or any(primary(language) == primary(a) for a in allowed):
            out.update((w.strip(), None) for w in words if w.strip())
    return list(out)


# --- AssemblyAI -------------------------------------------------------------------------------
class AssemblyAISTT(assemblyai.STT):
    """``assemblyai.STT`` (Universal Streaming v3) with bounded connections, the room's
    languages and the glossary as key terms.

    ``model`` must be one of :data:`ASSEMBLYAI_LANGUAGES` (a start-up error names
    ``INTERPRETER_ASSEMBLYAI_MODEL`` otherwise). ``connect_timeout`` bounds the TCP connect,
    ``read_timeout`` each read until the socket is upgraded (a long-lived socket is not
    killed by it).
    """

    language_trust: LanguageTrust = "finals"

    def __init__(
        self,
        *,
        api_key: str,
        model: str = "universal-streaming-multilingual",
        base_url: str | None = None,
        allowed_languages: Sequence[Language] | None = None,
        language_prior: Language | None = None,
        connect_timeout: float = 3.0,
        read_timeout: float = 5.0,
    ) -> None:
        if model not in ASSEMBLYAI_LANGUAGES:
            raise ConfigError(
                f"INTERPRETER_ASSEMBLYAI_MODEL: unknown model {model!r}; use one of "
                + ", ".join(ASSEMBLYAI_LANGUAGES)
            )
        super().__init__(
            api_key=api_key,
            model=cast(Any, model),
            language_detection=model != "universal-streaming-english",
            base_url=base_url or "wss://streaming.assemblyai.com",
        )
        self._timeouts = (connect_timeout, read_timeout)
        self._own_session: aiohttp.ClientSession | None = None
        self._allowed: tuple[Language, ...] | None = None
        self._terms: Mapping[Language, Sequence[str]] = {}
        self.update_languages(allowed=allowed_languages, prior=language_prior)

    @property
    def languages(self) -> frozenset[str]:
        """Primary language codes the model recognises."""
        return ASSEMBLYAI_LANGUAGES[self.model]

    @property
    def session(self) -> aiohttp.ClientSession:
        # the plugin's shared session has no timeouts; ours bounds connect and handshake
        if self._own_session is None or self._own_session.closed:
            self._own_session = _bounded_session(*self._timeouts)
        self._session = self._own_session
        return self._own_session

    def update_languages(
        self, *, allowed: Sequence[Language] | None, prior: Language | None
    ) -> None:
        """The room's languages (the model identifies each turn's among them)."""
        self._allowed = tuple(allowed) if allowed is not None else None
        if self.model in _U3_PRO and allowed:
            codes = [primary(x) for x in ([prior] if prior else []) + list(allowed)]
            known = [str(c) for c in dict.fromkeys(codes) if c in self.languages][:10]
            self.update_options(language_codes=known)
        self.set_vocabulary(self._terms)

    def set_vocabulary(self, terms: Mapping[Language, Sequence[str]]) -> None:
        """Key terms (``keyterms_prompt``) from the room's languages' terms; applied to open
        streams at once. AssemblyAI takes up to 100 terms of up to 50 characters."""
        self._terms = dict(terms)
        chosen = [t for t in _terms_for(terms, self._allowed) if len(t) <= _MAX_KEYTERM_CHARS]
        if len(chosen) > _MAX_KEYTERMS:
            logger.info("AssemblyAI key terms cut", extra={"terms": len(chosen)})
        self.update_options(keyterms_prompt=chosen[:_MAX_KEYTERMS])

    async def aclose(self) -> None:
        await super().aclose()
        if self._own_session is not None:
            await self._own_session.close()


# --- Azure ------------------------------------------------------------------------------------
def parse_azure_locales(raw: str | None) -> dict[str, Language]:
    """``INTERPRETER_AZURE_STT_LANGUAGES`` as a locale per primary language.

    Raises :class:`ConfigError` naming the variable for a code without a region, two locales
    of one language, or more than :data:`AZURE_MAX_LANGUAGES`."""
    table: dict[str, Language] = {}
    for code in (c.strip() for c in (raw or "").split(",")):
        if not code:
            continue
        try:
            locale = normalize_language(code)
        except ValueError as e:
            raise ConfigError(f"{_AZURE_LOCALES_VARIABLE}: {code!r} is not a locale") from e
        if locale == primary(locale):
            raise ConfigError(
                f"{_AZURE_LOCALES_VARIABLE}: Azure needs full locales; write {code!r} with its"
                " region (e.g. es-ES, pt-BR)"
            )
        if primary(locale) in table:
            raise ConfigError(
                f"{_AZURE_LOCALES_VARIABLE}: {table[primary(locale)]} and {locale} are one"
                " language; Azure identifies one locale per language"
            )
        table[primary(locale)] = locale
    if len(table) > AZURE_MAX_LANGUAGES:
        raise ConfigError(
            f"{_AZURE_LOCALES_VARIABLE}: {len(table)} locales; Azure's language identification"
            f" takes at most {AZURE_MAX_LANGUAGES}"
        )
    return table


def _azure_locale(language: Language, configured: Mapping[str, Language]) -> Language:
    if primary(language) in configured:
        return configured[primary(language)]
    if language != primary(language):
        return language  # already a locale (pt-BR)
    from interpreter.providers.cloud_tts import azure_voices

    try:
        voice = azure_voices(language)[0]
    except UnsupportedLanguageError as e:
        raise UnsupportedLanguageError(
            f"no Azure recognition locale known for {language}: add one to"
            f" {_AZURE_LOCALES_VARIABLE} (e.g. {language}-XX)"
        ) from e
    return normalize_language(voice.rsplit("-", 1)[0])


def azure_locales(
    allowed: Sequence[Language] | None,
    prior: Language | None,
    configured: Mapping[str, Language],
) -> list[Language]:
    """The locales Azure identifies among: the speaker's first, one per language, at most
    :data:`AZURE_MAX_LANGUAGES` (the rest are dropped, with a warning naming the fix)."""
    wanted = [x for x in ([prior] if prior else []) + list(allowed or ()) if x]
    if not wanted:
        wanted = list(configured.values()) or [Language("en")]
    locales: dict[str, Language] = {}
    for language in wanted:
        try:
            locale = _azure_locale(normalize_language(language), configured)
        except UnsupportedLanguageError:
            logger.warning("Azure cannot recognise a language", extra={"language": language})
            continue
        locales.setdefault(primary(locale), locale)
    chosen = list(locales.values())
    if len(chosen) > AZURE_MAX_LANGUAGES:
        logger.warning(
            "more room languages than Azure identifies; the speaker's and the first others"
            " are used (set INTERPRETER_STT without azure for such rooms)",
            extra={"languages": len(chosen)},
        )
    return chosen[:AZURE_MAX_LANGUAGES]


class AzureSTT(azure.STT):
    """``azure.STT`` (native Speech SDK) with continuous language identification among the
    room's locales and the glossary as a phrase list.

    ``url``: a ``ws(s)://host[:port]`` speech host, or a full recognition endpoint URL
    (``INTERPRETER_AZURE_STT_URL``); without one, ``region``'s service is used.
    ``locales``: ``INTERPRETER_AZURE_STT_LANGUAGES`` (see :func:`parse_azure_locales`).
    """

    language_trust: LanguageTrust = "all"

    def __init__(
        self,
        *,
        key: str,
        region: str | None = None,
        url: str | None = None,
        locales: str | None = None,
        allowed_languages: Sequence[Language] | None = None,
        language_prior: Language | None = None,
    ) -> None:
        self._configured = parse_azure_locales(locales)
        self._terms: Mapping[Language, Sequence[str]] = {}
        self._locales = azure_locales(allowed_languages, language_prior, self._configured)
        endpoint: dict[str, Any] = {}
        if url:
            path = url.split("://", 1)[-1].partition("/")[2]
            endpoint = {"speech_endpoint": url} if path else {"speech_host": url}
        else:
            endpoint = {"speech_region": region or NOT_GIVEN}
        super().__init__(speech_key=key, language=list(self._locales), **endpoint)

    @property
    def locales(self) -> tuple[Language, ...]:
        """The locales identified among now."""
        return tuple(self._locales)

    def update_languages(
        self, *, allowed: Sequence[Language] | None, prior: Language | None
    ) -> None:
        """New candidate locales; open streams reconnect, so only when they changed."""
        locales = azure_locales(allowed, prior, self._configured)
        if set(locales) == set(self._locales):
            return
        self._locales = locales
        self.set_vocabulary(self._terms)
        self.update_options(language=list(locales))

    def set_vocabulary(self, terms: Mapping[Language, Sequence[str]]) -> None:
        """A phrase list of every term of the candidate languages; streams opened from now on
        use it (the plugin passes it to the recognizer it creates per connection)."""
        self._terms = dict(terms)
        allowed = [primary(x) for x in self._locales]
        chosen = _terms_for(terms, [Language(a) for a in allowed])
        # the plugin keeps the phrase list in its options; each stream copies them
        self._config.phrase_list = chosen or None


# --- OpenAI -----------------------------------------------------------------------------------
class OpenAISTT(stt.STT[Literal["metrics_collected", "error"]]):
    """``openai.STT`` (``POST /audio/transcriptions``) made streaming: ``vad`` cuts the audio
    into utterances, each sent whole; a final per utterance with its times.

    ``request_timeout`` bounds each request (connect included). ``base_url`` may point at any
    OpenAI-compatible server (``INTERPRETER_OPENAI_URL``).
    """

    def __init__(
        self,
        *,
        vad: vad.VAD,
        api_key: str | None = None,
        model: str = "gpt-4o-mini-transcribe",
        base_url: str | None = None,
        allowed_languages: Sequence[Language] | None = None,
        language_prior: Language | None = None,
        connect_timeout: float = 3.0,
        request_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            capabilities=stt.STTCapabilities(
                streaming=True, interim_results=False, offline_recognize=True
            )
        )
        self._vad = vad
        self._timeouts = (connect_timeout, request_timeout)
        self.wrapped = openai.STT(
            model=model,
            api_key=api_key or "unused",  # an OpenAI-compatible server may need none
            base_url=base_url or NOT_GIVEN,
            detect_language=True,
        )
        self._prompt_terms: Mapping[Language, Sequence[str]] = {}
        self._allowed: tuple[Language, ...] | None = None
        self.language_trust: LanguageTrust = "none"
        self.update_languages(allowed=allowed_languages, prior=language_prior)

    @property
    def model(self) -> str:
        return self.wrapped.model

    @property
    def provider(self) -> str:
        return "openai"

    def update_languages(
        self, *, allowed: Sequence[Language] | None, prior: Language | None
    ) -> None:
        """One allowed language is given to the model; several are detected (and identified
        from the text, as the transcription models report none)."""
        self._allowed = tuple(allowed) if allowed is not None else None
        if allowed is not None and len({primary(x) for x in allowed}) == 1:
            self.wrapped.update_options(language=primary(allowed[0]), detect_language=False)
            self.language_trust = "all"
        else:
            self.wrapped.update_options(detect_language=True)
            self.language_trust = "finals" if self.model == "whisper-1" else "none"
        self.set_vocabulary(self._prompt_terms)

    def set_vocabulary(self, terms: Mapping[Language, Sequence[str]]) -> None:
        """The terms of the room's languages as the transcription prompt."""
        self._prompt_terms = dict(terms)
        chosen = _terms_for(terms, self._allowed)
        self.wrapped.update_options(prompt=", ".join(chosen) + "." if chosen else "")

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        connect, total = self._timeouts
        options = APIConnectOptions(max_retry=0, timeout=min(connect, conn_options.timeout))
        try:
            async with asyncio.timeout(total):
                return await self.wrapped.recognize(buffer, language=language, conn_options=options)
        except TimeoutError as e:
            raise APITimeoutError("OpenAI transcription timed out") from e

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> _UtteranceStream:
        return _UtteranceStream(stt=self, conn_options=conn_options, language=language)

    async def aclose(self) -> None:
        await self.wrapped.aclose()


class _UtteranceStream(stt.RecognizeStream):
    def __init__(
        self, *, stt: OpenAISTT, conn_options: APIConnectOptions, language: NotGivenOr[str]
    ) -> None:
        super().__init__(stt=stt, conn_options=conn_options)
        self._openai = stt
        self._language = language

    async def _run(self) -> None:
        vad_stream = self._openai._vad.stream()

        async def forward() -> None:
            async for item in self._input_ch:
                if isinstance(item, rtc.AudioFrame):
                    vad_stream.push_frame(item)
            vad_stream.end_input()

        forwarder = asyncio.create_task(forward(), name="OpenAISTT.forward")
        try:
            async for ev in vad_stream:
                if ev.type == vad.VADEventType.START_OF_SPEECH:
                    self._event_ch.send_nowait(stt.SpeechEvent(stt.SpeechEventType.START_OF_SPEECH))
                elif ev.type == vad.VADEventType.END_OF_SPEECH and ev.frames:
                    await self._recognise(ev)
            await forwarder
        finally:
            await utils.aio.cancel_and_wait(forwarder)
            await vad_stream.aclose()

    async def _recognise(self, ev: vad.VADEvent) -> None:
        end = self.start_time_offset + ev.timestamp - ev.silence_duration
        start = max(self.start_time_offset, end - ev.speech_duration)
        self._event_ch.send_nowait(stt.SpeechEvent(stt.SpeechEventType.END_OF_SPEECH))
        kwargs: dict[str, Any] = {}
        if is_given(self._language):
            kwargs["language"] = self._language
        result = await self._openai.recognize(
            ev.frames, conn_options=APIConnectOptions(max_retry=0), **kwargs
        )
        if not result.alternatives or not result.alternatives[0].text.strip():
            return
        data = result.alternatives[0]
        data.start_time, data.end_time = start, end
        self._event_ch.send_nowait(
            stt.SpeechEvent(stt.SpeechEventType.FINAL_TRANSCRIPT, alternatives=[data])
        )
        duration = sum(f.samples_per_channel / f.sample_rate for f in ev.frames)
        self._event_ch.send_nowait(
            stt.SpeechEvent(
                stt.SpeechEventType.RECOGNITION_USAGE,
                recognition_usage=stt.RecognitionUsage(audio_duration=duration),
            )
        )


# --- the factory ------------------------------------------------------------------------------
def recognises(provider: str, language: Language, *, settings: Settings) -> bool:
    """Whether the configured ``provider`` recognises ``language`` (AssemblyAI: its model's
    languages; Azure: any language with a known locale; OpenAI: any)."""
    if provider == "assemblyai":
        return primary(language) in ASSEMBLYAI_LANGUAGES[settings.assemblyai_model]
    if provider == "azure":
        try:
            _azure_locale(language, parse_azure_locales(settings.azure_stt_languages))
        except UnsupportedLanguageError:
            return False
    return True


def cloud_stt(
    provider: str,
    *,
    settings: Settings,
    allowed: Sequence[Language] | None,
    prior: Language | None,
    vad: vad.VAD | None = None,
) -> stt.STT[Any]:
    """The configured cloud recogniser ``provider`` (``assemblyai``, ``azure``, ``openai``)
    for a speaker (``vad`` cuts utterances for OpenAI). Keys were checked at start-up
    (:meth:`~interpreter.config.Settings.provider_chain`)."""
    s = settings
    if provider == "assemblyai":
        assert s.assemblyai_api_key is not None
        return AssemblyAISTT(
            api_key=s.assemblyai_api_key,
            model=s.assemblyai_model,
            base_url=s.assemblyai_url,
            allowed_languages=allowed,
            language_prior=prior,
        )
    if provider == "azure":
        assert s.azure_speech_key is not None
        return AzureSTT(
            key=s.azure_speech_key,
            region=s.azure_speech_region,
            url=s.azure_stt_url,
            locales=s.azure_stt_languages,
            allowed_languages=allowed,
            language_prior=prior,
        )
    if provider == "openai":
        if vad is None:
            raise ValueError("OpenAI transcription needs a VAD to cut utterances")
        return OpenAISTT(
            vad=vad,
            api_key=s.openai_api_key,
            model=s.openai_stt_model,
            base_url=s.openai_url,
            allowed_languages=allowed,
            language_prior=prior,
        )
    raise ConfigError(f"INTERPRETER_STT: {provider!r} is not a cloud recogniser")
