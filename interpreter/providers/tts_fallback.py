"""A chain of TTS providers that voices each unit whole, from the first provider that answers.

livekit-agents' ``tts.FallbackAdapter`` returns a partial body as success when a provider
fails mid-answer (0.36 s of a 1.0 s sentence, measured), and re-tries a broken provider on
every sentence. :class:`FallbackTTS` is the thin wrapper this project needs instead:

* each provider's answer for a unit is **buffered whole** and voiced only once it is complete;
  any failure (connection refused, an HTTP status, a body cut mid-way, a stall, an answer too
  short to be the whole unit) discards what came and asks the next provider;
* every cloud provider runs under bounded timeouts: connect, read (no data for
  ``read_timeout`` is a stall) and a total that grows with the text;
* a provider that failed rests for a cool-down (:class:`~interpreter.providers.failover.
  ProviderHealth`, shared by every channel of the process); rejected credentials (401/403)
  rest for minutes, so they are never retried in a loop. The last provider (the embedded
  voice) is always tried;
* metrics: the provider that served each unit and its latency, fallbacks with their reason.

The output is 48 kHz mono, whatever each provider's rate (the buffered unit is resampled).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Never

import numpy as np
from livekit import rtc
from livekit.agents import APIConnectOptions, APIError, tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS

from interpreter import metrics
from interpreter.errors import ProviderError
from interpreter.providers.audio import OUTPUT_NUM_CHANNELS, OUTPUT_SAMPLE_RATE, to_output_pcm
from interpreter.providers.failover import (
    IncompleteError,
    ProviderHealth,
    StalledError,
    failure_reason,
)

__all__ = ["FallbackTTS", "TTSBudget", "TTSMember"]

logger = logging.getLogger("interpreter.providers.tts")

_WORD_CHAR = re.compile(r"\w")


@dataclass(frozen=True, slots=True)
class TTSBudget:
    """Time limits of one cloud provider's attempt at a unit (a local engine has none).

    ``connect``: seconds to connect. ``read``: seconds without any audio (before the first
    chunk or between two) that make the answer a stall. ``total`` + ``per_char`` x characters:
    the whole answer. ``min_seconds_per_char``: an answer shorter than this per word character
    is incomplete (normal speech is 0.05-0.08 s per character; 0.02 allows twice the speed).
    """

    connect: float = 3.0
    read: float = 3.0
    total: float = 4.0
    per_char: float = 0.03
    min_seconds_per_char: float = 0.02

    def total_for(self, text: str) -> float:
        return self.total + self.per_char * len(text)


@dataclass(frozen=True, slots=True)
class TTSMember:
    """One provider of the chain: its label in metrics (``azure``, ``openai``, ``embedded``)
    and its ``tts.TTS``. ``local``: an offline engine, which runs without the network budget
    (:class:`TTSBudget`) or the length check."""

    name: str
    tts: tts.TTS[Any]
    local: bool = False


class FallbackTTS(tts.TTS[Never]):
    """Voices a unit with the first provider of ``members`` that answers it in full.

    Args:
        members: the chain, tried in order; the last one is always tried (even while resting:
            nothing else would voice the unit).
        language: the language voiced (a metrics label).
        health: cool-downs shared with the other channels (default: this instance's own).
        budget: time limits of each attempt (see :class:`TTSBudget`).
        monotonic: the clock of the cool-downs.
    """

    def __init__(
        self,
        *,
        members: Sequence[TTSMember],
        language: str,
        health: ProviderHealth | None = None,
        budget: TTSBudget | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not members:
            raise ValueError("FallbackTTS needs at least one provider")
        if any(m.tts.num_channels != OUTPUT_NUM_CHANNELS for m in members):
            raise ValueError("every provider of the chain must be mono")
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=OUTPUT_SAMPLE_RATE,
            num_channels=OUTPUT_NUM_CHANNELS,
        )
        self._members = tuple(members)
        self._language = language
        self._health = health or ProviderHealth()
        self._budget = budget or TTSBudget()
        self._monotonic = monotonic
        self._speed = 1.0
        self.last_served: str | None = None
        """The provider that voiced the last unit (None before the first)."""

    @property
    def members(self) -> tuple[TTSMember, ...]:
        return self._members

    @property
    def model(self) -> str:
        return "+".join(m.name for m in self._members)

    @property
    def provider(self) -> str:
        return "fallback"

    def update_options(self, *, speed: float | None = None) -> None:
        """Set the speaking rate of every provider that has one (1.3 is 30 % faster)."""
        if speed is None:
            return
        self._speed = speed
        for member in self._members:
            update = getattr(member.tts, "update_options", None)
            if update is None:
                continue
            try:
                update(speed=speed)
            except (TypeError, ValueError):
                continue  # this provider has no (such) speed; it speaks at its own rate

    def prewarm(self) -> None:
        for member in self._members:
            member.tts.prewarm()

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        # the chain is the retry: the wrapper itself never re-runs a unit
        no_retry = APIConnectOptions(max_retry=0, retry_interval=0.0, timeout=conn_options.timeout)
        return _FallbackStream(tts=self, input_text=text, conn_options=no_retry)

    async def aclose(self) -> None:
        for member in self._members:
            await member.tts.aclose()

    async def _attempt(self, member: TTSMember, text: str, *, bounded: bool) -> rtc.AudioFrame:
        """``member``'s whole answer for ``text`` as one frame (raises on any failure)."""
        budget = self._budget
        options = APIConnectOptions(max_retry=0, retry_interval=0.0, timeout=budget.connect)
        frames: list[rtc.AudioFrame] = []
        async with member.tts.synthesize(text, conn_options=options) as stream:
            if not bounded:
                frames = [event.frame async for event in stream]
            else:
                iterator = aiter(stream)
                try:
                    async with asyncio.timeout(budget.total_for(text)):
                        while True:
                            try:
                                async with asyncio.timeout(budget.read):
                                    event = await anext(iterator)
                            except StopAsyncIteration:
                                break
                            except TimeoutError as e:
                                raise StalledError(f"no audio for {budget.read} s") from e
                            frames.append(event.frame)
                except TimeoutError as e:
                    raise StalledError("answer took longer than its budget") from e
        if not frames:
            raise IncompleteError("no audio")
        audio = rtc.combine_audio_frames(frames)
        words = len(_WORD_CHAR.findall(text))
        if bounded and audio.duration < budget.min_seconds_per_char * words:
            raise IncompleteError("answer too short for the text")
        return audio

    async def _voice(self, text: str, output_emitter: tts.AudioEmitter) -> None:
        last = len(self._members) - 1
        failures: list[str] = []
        for index, member in enumerate(self._members):
            now = self._monotonic()
            if index < last and not self._health.available(member.name, now):
                failures.append(f"{member.name}: resting")
                metrics.PROVIDER_FALLBACKS.labels("tts", member.name, "resting").inc()
                continue
            started = time.perf_counter()
            try:
                audio = await self._attempt(member, text, bounded=not member.local)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                now = self._monotonic()
                reason = failure_reason(e)
                failures.append(f"{member.name}: {reason}")
                metrics.PROVIDER_FALLBACKS.labels("tts", member.name, reason).inc()
                # the last provider is asked anyway (nothing else would voice the unit)
                rest = None if member.local else self._health.failed(member.name, reason, now)
                final = index == last
                logger.log(
                    logging.ERROR if final else logging.WARNING,
                    "last tts provider failed" if final else "tts provider failed, trying the next",
                    extra={
                        "provider": member.name,
                        "reason": reason,
                        "error": type(e).__name__,
                        "language": self._language,
                        "rest": rest,
                    },
                )
                continue
            if self._health.succeeded(member.name):
                logger.info(
                    "tts provider recovered",
                    extra={"provider": member.name, "language": self._language},
                )
            metrics.PROVIDER_LATENCY.labels("tts", member.name).observe(
                time.perf_counter() - started
            )
            metrics.PROVIDER_SERVED.labels("tts", member.name, self._language).inc()
            self.last_served = member.name
            self._emit(audio, output_emitter)
            return
        raise ProviderError("every tts provider failed: " + ", ".join(failures), retryable=True)

    def _emit(self, audio: rtc.AudioFrame, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=OUTPUT_SAMPLE_RATE,
            num_channels=OUTPUT_NUM_CHANNELS,
            mime_type="audio/pcm",
        )
        if audio.sample_rate == OUTPUT_SAMPLE_RATE:
            output_emitter.push(bytes(audio.data))
        else:
            samples = np.frombuffer(audio.data, dtype=np.int16)
            output_emitter.push(to_output_pcm(samples, audio.sample_rate))
        output_emitter.flush()


class _FallbackStream(tts.ChunkedStream):
    def __init__(
        self, *, tts: FallbackTTS, input_text: str, conn_options: APIConnectOptions
    ) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._chain = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        try:
            await self._chain._voice(self.input_text, output_emitter)
        except APIError:
            raise
        except Exception as e:  # never raw: the voice channel counts a ProviderError
            raise ProviderError(f"tts chain failed: {type(e).__name__}") from e
