"""Text-to-speech for many languages with espeak-ng (Debian package ``espeak-ng``).

Formant synthesis: robotic but intelligible, and very cheap (a few milliseconds of CPU per
second of speech), so one ``espeak-ng`` process per request is affordable. Text goes to the
process on stdin (never on the command line, where other users could read it), and the WAV it
writes to stdout is resampled to 48 kHz mono 16-bit and pushed as it arrives: espeak-ng writes
a clause's audio as soon as it has synthesised it, so the voice starts before the whole unit
is rendered.

Speakers get distinct voices through espeak-ng voice variants (``es+m3``, ``es+f2``, ...);
``speed`` sets the rate in words per minute relative to espeak-ng's default of 175.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Never

import numpy as np
from livekit.agents import APIConnectOptions, tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS

from interpreter.errors import ProviderError, UnsupportedLanguageError
from interpreter.providers.audio import (
    OUTPUT_NUM_CHANNELS,
    OUTPUT_SAMPLE_RATE,
    OutputResampler,
    wav_header,
)
from languages import Language, normalize_language

__all__ = [
    "ESPEAK_LANGUAGES",
    "ESPEAK_VARIANTS",
    "EspeakTTS",
    "espeak_voice_for",
]

logger = logging.getLogger("interpreter.providers.tts")

ESPEAK_LANGUAGES: Mapping[str, str] = MappingProxyType(
    {
        "ar": "ar",
        "ca": "ca",
        "cs": "cs",
        "da": "da",
        "de": "de",
        "el": "el",
        "en": "en-us",
        "en-GB": "en-gb",
        "es": "es",
        "es-419": "es-419",
        "es-MX": "es-419",
        "eu": "eu",
        "fi": "fi",
        "fr": "fr-fr",
        "fr-BE": "fr-be",
        "fr-CH": "fr-ch",
        "he": "he",
        "hi": "hi",
        "id": "id",
        "it": "it",
        "ko": "ko",
        "nb": "nb",
        "nl": "nl",
        "no": "nb",
        "pl": "pl",
        "pt": "pt",
        "pt-BR": "pt-br",
        "ro": "ro",
        "ru": "ru",
        "sv": "sv",
        "tr": "tr",
        "uk": "uk",
        "vi": "vi",
    }
)
"""BCP-47 language (canonical form) -> espeak-ng voice. A regional tag not listed here uses
its primary language (``es-AR`` -> ``es``). Deliberately absent: ``ja`` (espeak-ng 1.51 reads
every kanji as "Chinese letter"), ``zh`` (it speaks pinyin tone digits as English numbers),
``gl`` (no Galician voice in espeak-ng 1.51)."""

ESPEAK_VARIANTS: tuple[str, ...] = ("m2", "f5", "m3", "f2", "klatt", "f1")
"""Voice variants in order of preference, mixing male and female; of 16 variants tried these
gave the lowest Whisper-base word error rate on Spanish, French and German sentences (``f4``
and ``m4`` were the least intelligible)."""

_DEFAULT_WPM = 175
_READ_SIZE = 16384
"""Bytes read from espeak-ng's stdout at a time (about 0.37 s of its 22.05 kHz audio)."""
_MIN_SPEED, _MAX_SPEED = 0.5, 2.0
_VARIANT_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def espeak_voice_for(language: str) -> str:
    """Return the espeak-ng voice that speaks ``language`` (any BCP-47 spelling).

    Raises :class:`UnknownLanguageError` for a code that names no language and
    :class:`UnsupportedLanguageError` (with the voiced languages as alternatives) for a
    language espeak-ng has no usable voice for.
    """
    lang = normalize_language(language)
    voice = ESPEAK_LANGUAGES.get(lang) or ESPEAK_LANGUAGES.get(lang.split("-")[0])
    if voice is None:
        voiced = tuple(sorted(ESPEAK_LANGUAGES))
        raise UnsupportedLanguageError(
            f"espeak-ng has no voice for language {lang!r}; voiced languages: " + ", ".join(voiced),
            alternatives=voiced,
        )
    return voice


@dataclass(frozen=True, slots=True)
class _EspeakOptions:
    language: Language
    voice: str
    variant: str | None
    speed: float


def _check_speed(speed: float) -> float:
    if not _MIN_SPEED <= speed <= _MAX_SPEED:
        raise ValueError(f"speed must be between {_MIN_SPEED} and {_MAX_SPEED}, got {speed}")
    return speed


class EspeakTTS(tts.TTS[Never]):
    """Offline multilingual TTS with espeak-ng, as a livekit-agents ``tts.TTS`` (48 kHz mono).

    ``stream()`` splits incoming text into sentences (the framework's ``StreamAdapter``) and
    synthesises each one as soon as it is complete.
    """

    def __init__(
        self,
        *,
        language: str,
        variant: str | None = None,
        speed: float = 1.0,
        executable: str = "espeak-ng",
    ) -> None:
        """``language``: BCP-47 code (see :data:`ESPEAK_LANGUAGES`). ``variant``: an espeak-ng
        voice variant such as ``m3`` or ``f2`` (default: the plain voice). ``speed``: 1.0 is
        175 words per minute, 1.3 is 30 % faster (0.5-2.0). ``executable``: name or path of
        the espeak-ng binary."""
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True),
            sample_rate=OUTPUT_SAMPLE_RATE,
            num_channels=OUTPUT_NUM_CHANNELS,
        )
        voice = espeak_voice_for(language)
        if variant is not None and not _VARIANT_RE.match(variant):
            raise ValueError(f"invalid espeak-ng voice variant {variant!r}")
        path = shutil.which(executable)
        if path is None:
            raise ProviderError(
                f"{executable!r} not found: install the Debian package espeak-ng "
                "(apt-get install espeak-ng)"
            )
        self._executable = path
        self._opts = _EspeakOptions(
            language=normalize_language(language),
            voice=voice,
            variant=variant,
            speed=_check_speed(speed),
        )
        self._sentences = tts.StreamAdapter(tts=self)

    @property
    def model(self) -> str:
        v = self._opts
        return f"{v.voice}+{v.variant}" if v.variant else v.voice

    @property
    def provider(self) -> str:
        return "espeak-ng"

    @property
    def language(self) -> Language:
        """The language this instance speaks."""
        return self._opts.language

    @property
    def speed(self) -> float:
        """Current speaking-rate factor."""
        return self._opts.speed

    def update_options(self, *, speed: float | None = None) -> None:
        """Change the speaking rate; applies to text synthesised from now on."""
        if speed is not None:
            self._opts = replace(self._opts, speed=_check_speed(speed))

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _EspeakChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.SynthesizeStream:
        return self._sentences.stream(conn_options=conn_options)

    async def aclose(self) -> None:
        await self._sentences.aclose()


class _EspeakChunkedStream(tts.ChunkedStream):
    def __init__(self, *, tts: EspeakTTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._opts = tts._opts  # frozen: a later update_options does not change this request
        self._executable = tts._executable

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=OUTPUT_SAMPLE_RATE,
            num_channels=OUTPUT_NUM_CHANNELS,
            mime_type="audio/pcm",
        )
        opts = self._opts
        voice = f"{opts.voice}+{opts.variant}" if opts.variant else opts.voice
        # one line: espeak-ng pauses at line ends as if each were a paragraph
        text = " ".join(self._input_text.split())
        args = ["-v", voice, "-s", str(round(_DEFAULT_WPM * opts.speed)), "-b", "1"]
        async for pcm in _espeak_audio(self._executable, args, text):
            output_emitter.push(pcm)
        output_emitter.flush()


async def _espeak_audio(executable: str, args: list[str], text: str) -> AsyncIterator[bytes]:
    """Run one espeak-ng with ``text`` on stdin and yield its audio as 48 kHz PCM while it
    writes it (kills it on cancel). Raises :class:`ProviderError` when it fails."""
    try:
        proc = await asyncio.create_subprocess_exec(
            executable,
            *args,
            "--stdin",
            "--stdout",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as e:
        raise ProviderError(f"cannot start espeak-ng: {e}", retryable=True) from e
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    errors = asyncio.ensure_future(proc.stderr.read())  # drained, so it can never block
    try:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it exited early
            proc.stdin.write(text.encode("utf-8"))
            await proc.stdin.drain()
            proc.stdin.close()
        head = b""
        resampler: OutputResampler | None = None
        odd = b""  # a sample split between two reads
        while chunk := await proc.stdout.read(_READ_SIZE):
            if resampler is None:
                head += chunk
                try:
                    found = wav_header(head)
                except ValueError as e:
                    raise ProviderError(f"espeak-ng wrote unreadable audio: {e}") from e
                if found is None:
                    continue
                rate, start, _ = found  # the size is a placeholder: the audio runs to the end
                resampler = OutputResampler(rate)
                chunk, head = head[start:], b""
            data = odd + chunk
            odd = data[len(data) - len(data) % 2 :]
            samples = np.frombuffer(data[: len(data) - len(odd)], dtype="<i2")
            if pcm := resampler.push(samples):
                yield pcm
        await proc.wait()
        err = await errors
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        errors.cancel()
        raise
    if proc.returncode != 0:
        logger.warning(
            "espeak-ng failed",
            extra={"returncode": proc.returncode, "stderr": err.decode(errors="replace")[:200]},
        )
        raise ProviderError(f"espeak-ng exited with status {proc.returncode}")
    if resampler is None:
        raise ProviderError("espeak-ng wrote unreadable audio: no WAV data")
    if pcm := resampler.end():
        yield pcm
