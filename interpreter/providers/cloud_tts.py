"""The cloud voices: ``livekit.plugins.azure.TTS`` and ``livekit.plugins.openai.TTS``, configured
from :class:`~interpreter.config.Settings` for one language and one speaker.

Azure voices are per locale: :data:`AZURE_VOICES` has a default locale and a few neural voices
per language (the first is the default); ``INTERPRETER_AZURE_TTS_VOICES`` (a comma-separated
list of Azure voice names such as ``es-MX-DaliaNeural``) replaces them for the languages it
names, the language read from each name's locale. OpenAI voices speak every language the
model does (those Whisper recognises); ``INTERPRETER_OPENAI_TTS_VOICES`` chooses among them.
A speaker's identity picks one voice of the list (hashed, so stable across processes and
restarts: two speakers get different voices unless the hash collides).

Azure's plugin puts the text into SSML unescaped (``Tom & Jerry <3`` is invalid XML, which the
service refuses with a 400); :class:`AzureTTS` escapes it. It also maps the project's speaking
rate to SSML prosody, so the voice can catch up like the embedded one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

import aiohttp
from livekit.agents import APIConnectOptions, tts
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr
from livekit.agents.utils import is_given
from livekit.plugins import azure, openai

from interpreter.errors import ConfigError, UnsupportedLanguageError
from interpreter.providers.audio import OUTPUT_SAMPLE_RATE
from languages import WHISPER_LANGUAGES, Language, normalize_language, primary

__all__ = [
    "AZURE_VOICES",
    "OPENAI_TTS_MODEL",
    "OPENAI_VOICES",
    "AzureTTS",
    "azure_tts",
    "azure_voices",
    "openai_tts",
    "openai_voices",
    "parse_azure_voices",
    "parse_openai_voices",
    "pick_voice",
]

OPENAI_TTS_MODEL = "gpt-4o-mini-tts"
"""The default OpenAI speech model (``INTERPRETER_OPENAI_TTS_MODEL``)."""

OPENAI_VOICES: tuple[str, ...] = (
    "alloy",
    "ash",
    "coral",
    "echo",
    "fable",
    "nova",
    "onyx",
    "sage",
    "shimmer",
)
"""Voices every OpenAI speech model has (``tts-1`` included), for distinct speakers."""

# language (or language-region) -> its Azure locale's neural voices, default first
AZURE_VOICES: dict[str, tuple[str, ...]] = {
    "af": ("af-ZA-AdriNeural", "af-ZA-WillemNeural"),
    "ar": ("ar-SA-ZariyahNeural", "ar-SA-HamedNeural"),
    "bg": ("bg-BG-KalinaNeural", "bg-BG-BorislavNeural"),
    "bn": ("bn-IN-TanishaaNeural", "bn-IN-BashkarNeural"),
    "ca": ("ca-ES-JoanaNeural", "ca-ES-EnricNeural", "ca-ES-AlbaNeural"),
    "cs": ("cs-CZ-VlastaNeural", "cs-CZ-AntoninNeural"),
    "cy": ("cy-GB-NiaNeural", "cy-GB-AledNeural"),
    "da": ("da-DK-ChristelNeural", "da-DK-JeppeNeural"),
    "de": ("de-DE-KatjaNeural", "de-DE-ConradNeural", "de-DE-AmalaNeural", "de-DE-KillianNeural"),
    "el": ("el-GR-AthinaNeural", "el-GR-NestorasNeural"),
    "en": (
        "en-US-JennyNeural",
        "en-US-GuyNeural",
        "en-US-AriaNeural",
        "en-US-DavisNeural",
        "en-US-JaneNeural",
        "en-US-JasonNeural",
    ),
    "en-GB": ("en-GB-SoniaNeural", "en-GB-RyanNeural", "en-GB-LibbyNeural"),
    "es": ("es-ES-ElviraNeural", "es-ES-AlvaroNeural", "es-ES-AbrilNeural"),
    "es-MX": ("es-MX-DaliaNeural", "es-MX-JorgeNeural"),
    "et": ("et-EE-AnuNeural", "et-EE-KertNeural"),
    "eu": ("eu-ES-AinhoaNeural", "eu-ES-AnderNeural"),
    "fa": ("fa-IR-DilaraNeural", "fa-IR-FaridNeural"),
    "fi": ("fi-FI-NooraNeural", "fi-FI-HarriNeural", "fi-FI-SelmaNeural"),
    "fr": ("fr-FR-DeniseNeural", "fr-FR-HenriNeural", "fr-FR-EloiseNeural"),
    "fr-CA": ("fr-CA-SylvieNeural", "fr-CA-JeanNeural", "fr-CA-AntoineNeural"),
    "ga": ("ga-IE-OrlaNeural", "ga-IE-ColmNeural"),
    "gl": ("gl-ES-SabelaNeural", "gl-ES-RoiNeural"),
    "he": ("he-IL-HilaNeural", "he-IL-AvriNeural"),
    "hi": ("hi-IN-SwaraNeural", "hi-IN-MadhurNeural"),
    "hr": ("hr-HR-GabrijelaNeural", "hr-HR-SreckoNeural"),
    "hu": ("hu-HU-NoemiNeural", "hu-HU-TamasNeural"),
    "id": ("id-ID-GadisNeural", "id-ID-ArdiNeural"),
    "is": ("is-IS-GudrunNeural", "is-IS-GunnarNeural"),
    "it": ("it-IT-ElsaNeural", "it-IT-DiegoNeural", "it-IT-IsabellaNeural"),
    "ja": ("ja-JP-NanamiNeural", "ja-JP-KeitaNeural"),
    "ko": ("ko-KR-SunHiNeural", "ko-KR-InJoonNeural"),
    "lt": ("lt-LT-OnaNeural", "lt-LT-LeonasNeural"),
    "lv": ("lv-LV-EveritaNeural", "lv-LV-NilsNeural"),
    "ms": ("ms-MY-YasminNeural", "ms-MY-OsmanNeural"),
    "nb": ("nb-NO-PernilleNeural", "nb-NO-FinnNeural"),
    "no": ("nb-NO-PernilleNeural", "nb-NO-FinnNeural"),
    "nl": ("nl-NL-ColetteNeural", "nl-NL-MaartenNeural", "nl-NL-FennaNeural"),
    "pl": ("pl-PL-AgnieszkaNeural", "pl-PL-MarekNeural", "pl-PL-ZofiaNeural"),
    "pt": ("pt-BR-FranciscaNeural", "pt-BR-AntonioNeural"),
    "pt-PT": ("pt-PT-RaquelNeural", "pt-PT-DuarteNeural"),
    "ro": ("ro-RO-AlinaNeural", "ro-RO-EmilNeural"),
    "ru": ("ru-RU-SvetlanaNeural", "ru-RU-DmitryNeural", "ru-RU-DariyaNeural"),
    "sk": ("sk-SK-ViktoriaNeural", "sk-SK-LukasNeural"),
    "sl": ("sl-SI-PetraNeural", "sl-SI-RokNeural"),
    "sr": ("sr-RS-SophieNeural", "sr-RS-NicholasNeural"),
    "sv": ("sv-SE-SofieNeural", "sv-SE-MattiasNeural"),
    "sw": ("sw-KE-ZuriNeural", "sw-KE-RafikiNeural"),
    "ta": ("ta-IN-PallaviNeural", "ta-IN-ValluvarNeural"),
    "th": ("th-TH-PremwadeeNeural", "th-TH-NiwatNeural"),
    "tr": ("tr-TR-EmelNeural", "tr-TR-AhmetNeural"),
    "uk": ("uk-UA-PolinaNeural", "uk-UA-OstapNeural"),
    "ur": ("ur-PK-UzmaNeural", "ur-PK-AsadNeural"),
    "vi": ("vi-VN-HoaiMyNeural", "vi-VN-NamMinhNeural"),
    "zh": ("zh-CN-XiaoxiaoNeural", "zh-CN-YunxiNeural", "zh-CN-YunyangNeural"),
    "zh-TW": ("zh-TW-HsiaoChenNeural", "zh-TW-YunJheNeural"),
}
"""Default Azure neural voices per language (and per regional variant where it differs)."""

_AZURE_VARIABLE = "INTERPRETER_AZURE_TTS_VOICES"
_OPENAI_VARIABLE = "INTERPRETER_OPENAI_TTS_VOICES"


def _voice_locale(voice: str) -> Language:
    """The locale an Azure voice name starts with (``es-MX-DaliaNeural`` -> ``es-MX``)."""
    parts = voice.split("-")
    if len(parts) < 3 or not parts[-1]:
        raise ConfigError(
            f"{_AZURE_VARIABLE}: {voice!r} is not an Azure voice name "
            "(expected <locale>-<Name>, e.g. es-MX-DaliaNeural)"
        )
    try:
        return normalize_language("-".join(parts[:-1]))
    except ValueError as e:
        raise ConfigError(
            f"{_AZURE_VARIABLE}: the locale of {voice!r} is not a language code"
        ) from e


def parse_azure_voices(raw: str | None) -> dict[str, tuple[str, ...]]:
    """``INTERPRETER_AZURE_TTS_VOICES`` as voices per locale (``es-MX``) and per language
    (``es``), in the order given. Raises :class:`ConfigError` naming the variable."""
    table: dict[str, list[str]] = {}
    for voice in (v.strip() for v in (raw or "").split(",")):
        if not voice:
            continue
        locale = _voice_locale(voice)
        for key in dict.fromkeys((str(locale), str(primary(locale)))):
            table.setdefault(key, []).append(voice)
    return {k: tuple(v) for k, v in table.items()}


def parse_openai_voices(raw: str | None) -> tuple[str, ...]:
    """``INTERPRETER_OPENAI_TTS_VOICES`` (comma-separated) or the default list."""
    voices = tuple(dict.fromkeys(v.strip() for v in (raw or "").split(",") if v.strip()))
    for voice in voices:
        if not voice.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"{_OPENAI_VARIABLE}: {voice!r} is not a voice name")
    return voices or OPENAI_VOICES


def _lookup(table: dict[str, tuple[str, ...]], language: Language) -> tuple[str, ...]:
    lang = normalize_language(language)
    return table.get(str(lang)) or table.get(str(primary(lang))) or ()


def azure_voices(language: str, configured: str | None = None) -> tuple[str, ...]:
    """The Azure voices for ``language``, default first: those configured in
    ``INTERPRETER_AZURE_TTS_VOICES`` for it, else :data:`AZURE_VOICES`'.

    Raises :class:`UnsupportedLanguageError` naming the variable when neither has one."""
    lang = normalize_language(language)
    voices = _lookup(parse_azure_voices(configured), lang) or _lookup(AZURE_VOICES, lang)
    if not voices:
        raise UnsupportedLanguageError(
            f"no Azure voice configured for {lang}: add one to {_AZURE_VARIABLE} "
            "(e.g. a <locale>-<Name>Neural voice name from Azure's voice list)"
        )
    return voices


def openai_voices(language: str, configured: str | None = None) -> tuple[str, ...]:
    """The OpenAI voices for ``language`` (they speak the languages Whisper recognises).

    Raises :class:`UnsupportedLanguageError` for another language."""
    lang = normalize_language(language)
    if primary(lang) not in WHISPER_LANGUAGES:
        raise UnsupportedLanguageError(
            f"OpenAI speech does not speak {lang}; take openai out of INTERPRETER_TTS or "
            "put a provider that speaks it before embedded"
        )
    return parse_openai_voices(configured)


def pick_voice(voices: Sequence[str], speaker: str | int | None) -> str:
    """One of ``voices`` for ``speaker``: an identity is hashed (stable everywhere), an
    ordinal takes the ``n``-th, None the first (the default voice)."""
    if speaker is None:
        return voices[0]
    if isinstance(speaker, int):
        return voices[speaker % len(voices)]
    digest = hashlib.sha256(speaker.encode("utf-8")).digest()
    return voices[int.from_bytes(digest[:8], "big") % len(voices)]


class AzureTTS(azure.TTS):
    """``azure.TTS`` with the text escaped for SSML, a speaking rate, and a session of its own
    with bounded connect and read timeouts (closed with the TTS)."""

    def __init__(
        self,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._timeouts = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._owned_session: aiohttp.ClientSession | None = None

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._owned_session is None or self._owned_session.closed:
            self._owned_session = aiohttp.ClientSession(timeout=self._timeouts)
        return self._owned_session

    def update_options(
        self,
        *,
        speed: float | None = None,
        voice: NotGivenOr[str] = NOT_GIVEN,
        language: NotGivenOr[str] = NOT_GIVEN,
        prosody: NotGivenOr[azure.tts.ProsodyConfig] = NOT_GIVEN,
        style: NotGivenOr[azure.tts.StyleConfig] = NOT_GIVEN,
        lexicon_uri: NotGivenOr[str] = NOT_GIVEN,
    ) -> None:
        """The plugin's options, plus ``speed`` (a rate factor, 0.5-2) as SSML prosody."""
        if speed is not None and not is_given(prosody):
            rate = min(max(float(speed), 0.5), 2.0)
            if rate == 1.0:
                self._opts.prosody = NOT_GIVEN  # the voice's own rate: no prosody element
            else:
                prosody = azure.tts.ProsodyConfig(rate=rate)
        super().update_options(
            voice=voice, language=language, prosody=prosody, style=style, lexicon_uri=lexicon_uri
        )

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return super().synthesize(escape(text), conn_options=conn_options)

    async def aclose(self) -> None:
        if self._owned_session is not None:
            await self._owned_session.close()
        await super().aclose()


def azure_tts(
    *,
    language: str,
    speaker: str | int | None,
    key: str | None,
    region: str | None,
    endpoint: str | None,
    voices: str | None = None,
    connect_timeout: float = 3.0,
) -> AzureTTS:
    """An Azure voice for ``language`` and ``speaker`` at 48 kHz (no resampling downstream).

    ``endpoint`` (``INTERPRETER_AZURE_TTS_URL``) replaces the region's. Raises
    :class:`UnsupportedLanguageError` when no Azure voice is known for the language."""
    voice = pick_voice(azure_voices(language, voices), speaker)
    locale = _voice_locale(voice)
    if not key:
        raise ConfigError("Azure speech needs AZURE_SPEECH_KEY")
    if not (region or endpoint):
        raise ConfigError("Azure speech needs AZURE_SPEECH_REGION or INTERPRETER_AZURE_TTS_URL")
    return AzureTTS(
        voice=voice,
        language=str(locale),
        sample_rate=OUTPUT_SAMPLE_RATE,
        speech_key=key,
        speech_region=region,
        speech_endpoint=endpoint,
        connect_timeout=connect_timeout,
    )


def openai_tts(
    *,
    language: str,
    speaker: str | int | None,
    api_key: str | None,
    base_url: str | None,
    model: str = OPENAI_TTS_MODEL,
    voices: str | None = None,
) -> openai.TTS:
    """An OpenAI (or OpenAI-compatible) voice for ``language`` and ``speaker``, raw PCM
    (24 kHz; nothing to decode). Raises :class:`UnsupportedLanguageError` for a language the
    model does not speak."""
    voice = pick_voice(openai_voices(language, voices), speaker)
    return openai.TTS(
        model=model,
        voice=voice,
        # an OpenAI-compatible server may need no key; the client insists on one
        api_key=api_key or "unused",
        base_url=base_url or NOT_GIVEN,
        response_format="pcm",
    )
