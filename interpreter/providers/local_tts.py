"""The offline voice catalogue and a per-language, per-speaker voice router.

:func:`voices_for` lists the voices that speak a language, best first: English has the Piper
voice (``en_US-joe-medium``) in several pitch variants, then espeak-ng's English; every other
voiced language has espeak-ng variants. :class:`LocalTTS` picks one voice for a language and a
speaker and behaves as a livekit-agents ``tts.TTS``::

    tts = LocalTTS(language="es", voice_seed="alice")   # same speaker -> same voice, always
    async for ev in tts.synthesize("Hola a todos."): source.capture_frame(ev.frame)

Speakers are told apart by their voice: a string seed (a participant identity) is hashed to a
voice, so it is stable across processes and restarts but two speakers may share one; an
integer seed (the speaker's ordinal in the room) gives distinct voices to as many speakers as
the language has voices.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal, Never

from livekit.agents import APIConnectOptions, tts
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS

from interpreter.errors import UnsupportedLanguageError
from interpreter.providers.audio import OUTPUT_NUM_CHANNELS, OUTPUT_SAMPLE_RATE
from interpreter.providers.espeak_tts import (
    ESPEAK_LANGUAGES,
    ESPEAK_VARIANTS,
    EspeakTTS,
    espeak_voice_for,
)
from interpreter.providers.piper_tts import PIPER_VOICE_NAME, PiperTTS
from languages import Language, normalize_language

__all__ = ["LocalTTS", "Voice", "voiced_languages", "voices_for"]

Engine = Literal["piper", "espeak"]

# Pitch factors of the Piper variants: all transcribed word-perfectly by Whisper base.
_PIPER_PITCHES: tuple[tuple[str, float], ...] = (
    ("", 1.0),
    ("-high", 1.15),
    ("-low", 0.88),
    ("-higher", 1.22),
)


@dataclass(frozen=True, slots=True)
class Voice:
    """One offline voice: an engine, its voice name and a variant."""

    id: str
    """Stable identifier, e.g. ``piper:en_US-joe-medium-high`` or ``espeak:es+f2``."""
    language: Language
    """The language this voice speaks (as asked for, e.g. ``pt-BR``)."""
    engine: Engine
    """``piper`` (neural, English) or ``espeak`` (formant, many languages)."""
    name: str
    """Engine voice: the Piper model name or the espeak-ng voice (``pt-br``)."""
    variant: str | None = None
    """espeak-ng variant (``m3``, ``f2``); None for the plain voice or for Piper."""
    pitch: float = 1.0
    """Piper pitch factor (1.0 is the voice as recorded)."""

    def create_tts(self, *, speed: float = 1.0) -> PiperTTS | EspeakTTS:
        """Return the engine ``tts.TTS`` that speaks with this voice."""
        if self.engine == "piper":
            return PiperTTS(speed=speed, pitch=self.pitch)
        return EspeakTTS(language=self.language, variant=self.variant, speed=speed)


def voiced_languages() -> tuple[Language, ...]:
    """Every language (BCP-47) that has at least one offline voice, sorted."""
    return tuple(sorted(Language(code) for code in ESPEAK_LANGUAGES))


def voices_for(language: str) -> list[Voice]:
    """The offline voices that speak ``language``, best first.

    Raises :class:`UnknownLanguageError` for a code that names no language, and
    :class:`UnsupportedLanguageError` naming the language and listing the voiced languages
    (``alternatives``) when no offline voice speaks it.
    """
    lang = normalize_language(language)
    try:
        espeak_voice = espeak_voice_for(lang)
    except UnsupportedLanguageError as e:
        raise UnsupportedLanguageError(
            f"no offline voice speaks {lang!r}; voiced languages: " + ", ".join(e.alternatives),
            alternatives=e.alternatives,
        ) from None
    voices: list[Voice] = []
    if lang.split("-")[0] == "en":  # a US voice beats a robotic one for any English
        voices.extend(
            Voice(
                id=f"piper:{PIPER_VOICE_NAME}{suffix}",
                language=lang,
                engine="piper",
                name=PIPER_VOICE_NAME,
                pitch=pitch,
            )
            for suffix, pitch in _PIPER_PITCHES
        )
    voices.extend(
        Voice(
            id=f"espeak:{espeak_voice}+{variant}",
            language=lang,
            engine="espeak",
            name=espeak_voice,
            variant=variant,
        )
        for variant in ESPEAK_VARIANTS
    )
    return voices


def _pick(voices: list[Voice], seed: str | int | None) -> Voice:
    # only the best engine's voices: a second English speaker gets another Piper variant,
    # not the robotic espeak-ng English
    best = [v for v in voices if v.engine == voices[0].engine]
    if seed is None:
        return best[0]
    if isinstance(seed, int):
        return best[seed % len(best)]
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return best[int.from_bytes(digest[:8], "big") % len(best)]


class LocalTTS(tts.TTS[Never]):
    """Offline TTS for one language and one speaker's voice (48 kHz mono ``tts.TTS``).

    English is spoken by Piper, every other voiced language by espeak-ng. Construction fails
    with :class:`UnsupportedLanguageError` (listing the voiced languages) when no offline
    voice speaks ``language``.
    """

    def __init__(
        self,
        *,
        language: str,
        voice_seed: str | int | None = None,
        voice: Voice | None = None,
        speed: float = 1.0,
    ) -> None:
        """``language``: BCP-47 code. ``voice_seed``: who is being voiced; a string (a
        participant identity) always maps to the same voice, an integer ``n`` takes the
        ``n``-th voice so ordinals give distinct voices. ``voice``: an explicit voice from
        :func:`voices_for` (overrides the seed). ``speed``: speaking-rate factor (1.3 is 30 %
        faster)."""
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True),
            sample_rate=OUTPUT_SAMPLE_RATE,
            num_channels=OUTPUT_NUM_CHANNELS,
        )
        self._voice = voice or _pick(voices_for(language), voice_seed)
        self._engine = self._voice.create_tts(speed=speed)
        self._engine.on("metrics_collected", self._forward_metrics)
        self._engine.on("error", self._forward_error)

    @property
    def voice(self) -> Voice:
        """The voice this instance speaks with."""
        return self._voice

    @property
    def language(self) -> Language:
        """The language this instance speaks."""
        return self._voice.language

    @property
    def model(self) -> str:
        return self._engine.model

    @property
    def provider(self) -> str:
        return self._engine.provider

    @property
    def speed(self) -> float:
        """Current speaking-rate factor."""
        return self._engine.speed

    def update_options(self, *, speed: float | None = None) -> None:
        """Change the speaking rate (e.g. 1.3 to catch up); applies to text synthesised
        from now on."""
        self._engine.update_options(speed=speed)

    def prewarm(self) -> None:
        self._engine.prewarm()

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return self._engine.synthesize(text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.SynthesizeStream:
        return self._engine.stream(conn_options=conn_options)

    async def aclose(self) -> None:
        self._engine.off("metrics_collected", self._forward_metrics)
        self._engine.off("error", self._forward_error)
        await self._engine.aclose()

    def _forward_metrics(self, *args: object) -> None:
        self.emit("metrics_collected", *args)

    def _forward_error(self, *args: object) -> None:
        self.emit("error", *args)
