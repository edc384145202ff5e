"""Speech-to-text over an ordered chain of providers that loses nothing when one fails.

:class:`FallbackSTT` is a livekit-agents ``stt.STT`` over a chain such as
``[("assemblyai", assemblyai.STT), ("embedded", WhisperSTT)]``. livekit's own
``stt.FallbackAdapter`` loses the audio already handed to a failing provider and never goes
back to the primary within a stream (``research/cloud-providers.md`` §3.1); this wrapper:

* **keeps the audio since the last final** (up to ``replay_limit`` s) and, when the active
  provider fails, opens the next one and **replays** that audio into it before the live
  audio, with the stream times of the original, so the words spoken before the failure are
  in the next final and nothing is transcribed twice;
* **watches for stalls**: a streaming provider with interim results that says nothing for
  ``stall_after`` s since speech (by audio energy, at least ``stall_speech`` s of it) went to
  it has failed, whatever its socket says (a stalled handshake, a silent server: some raise
  nothing for 72-300 s); one that answers only per utterance is bounded by its own request
  timeout instead;
* **returns to a better provider** once a background probe stream of it produced a
  transcript, at an utterance boundary (every word heard is final), by replaying the
  silence since the last final into it; a provider without the stall watchdog that has no
  utterance open and has said nothing for ``stall_after`` s is at a boundary too (its own
  VAD heard no speech in what the energy detector calls speech, or its answer is late), and
  what it has not transcribed is replayed into the better one;
* **does not hammer a provider**: a failed one is probed again after ``probe_after`` s,
  doubling while it keeps failing, and after ``auth_probe_after`` s when it refused the key
  (401/403);
* repairs languages: an empty or unreliable language (per provider, see
  :class:`LanguageTrust`) is identified from the text among the allowed languages, a locale
  (``es-ES``) becomes the room's tag (``es``);
* counts which provider served each final, each fallback with its reason, and each
  provider's latency (``interpreter_provider_*`` metrics with ``stage="stt"``); every final
  carries ``metadata["stt_provider"]``.

Which provider to use when is decided by :class:`ChainState`, a synchronous, I/O-free state
machine fed with failures, probe results and the time; the stream only carries it out.
The last link (the embedded STT) has no stall watchdog (its decodes are CPU-bound and there
is nothing behind it); if it fails too, the chain starts over from the provider whose retry
is due first, the audio still kept, so a total outage delays the transcript and does not
drop it (beyond ``replay_limit``). Nothing a provider raises reaches the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

import aiohttp
import numpy as np
from livekit import rtc
from livekit.agents import APIConnectOptions, APIStatusError, APITimeoutError, stt, utils
from livekit.agents.language import LanguageCode
from livekit.agents.stt import RecognizeStream
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr
from livekit.agents.utils import aio, is_given

from interpreter import metrics
from languages import Language, detect_language, matches, normalize_language
from languages.errors import LanguageError

__all__ = [
    "ChainState",
    "FailureKind",
    "FallbackSTT",
    "FallbackTimings",
    "LanguageAware",
    "LanguageTrust",
    "classify_failure",
]

logger = logging.getLogger("interpreter.providers.stt_fallback")

FailureKind = Literal[
    "refused", "auth", "status", "closed", "timeout", "stall", "ended", "malformed", "error"
]
LanguageTrust = Literal["all", "finals", "none"]
"""Which transcripts of a provider carry a language to believe: all, finals only (AssemblyAI
tags partials ``en`` until the turn ends), or none (OpenAI without language detection)."""

_ANSWERS = frozenset(
    {
        stt.SpeechEventType.START_OF_SPEECH,
        stt.SpeechEventType.INTERIM_TRANSCRIPT,
        stt.SpeechEventType.PREFLIGHT_TRANSCRIPT,
        stt.SpeechEventType.FINAL_TRANSCRIPT,
        stt.SpeechEventType.END_OF_SPEECH,
    }
)
"""Events that show a provider is working (``RECOGNITION_USAGE`` is counted locally by some
plugins, so it proves nothing)."""


@runtime_checkable
class LanguageAware(Protocol):
    """A provider that takes the allowed languages and the speaker's prior."""

    def update_languages(
        self, *, allowed: Sequence[Language] | None, prior: Language | None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class FallbackTimings:
    """Budgets of :class:`FallbackSTT`, in seconds (the defaults are production values)."""

    stall_after: float = 2.0
    """Wall-clock seconds since the first unanswered speech sent to a provider after which,
    with at least ``stall_speech`` s of speech unanswered, it has failed."""
    stall_speech: float = 1.0
    """Speech (audio s) that must go unanswered too (a cough alone never trips the watchdog)."""
    connect_timeout: float = 3.0
    """Each provider stream's ``conn_options.timeout`` (connects, session start)."""
    replay_limit: float = 30.0
    """Audio kept for a replay at most (older audio is dropped, and counted)."""
    trim_guard: float = 0.05
    """Audio after a final's end also dropped (the tail of its last word)."""
    probe_after: float = 2.0
    """First probe of a failed provider; doubles per failed probe."""
    probe_max: float = 60.0
    auth_probe_after: float = 600.0
    """Probe of a provider that refused the key (401/403)."""
    probe_limit: float = 30.0
    """A probe without a verdict after this long is closed and retried later."""
    close_timeout: float = 5.0
    """Closing a failed provider stream may take this long in the background."""
    tick: float = 0.1
    """How often the watchdog and the switch back are checked."""
    speech_rms: float = 0.01
    """Frame RMS (full scale 1.0) from which audio counts as speech for the watchdog."""


def classify_failure(error: BaseException) -> FailureKind:
    """The kind of a provider failure, for the decision and the metrics label."""
    if isinstance(error, aiohttp.WSServerHandshakeError | aiohttp.ClientResponseError):
        return "auth" if error.status in (401, 403) else "status"
    if isinstance(error, APIStatusError):
        if error.status_code in (401, 403):
            return "auth"
        return "closed" if error.status_code >= 1000 or error.status_code < 0 else "status"
    if isinstance(error, aiohttp.ClientConnectorError | ConnectionRefusedError):
        return "refused"
    if isinstance(error, APITimeoutError | TimeoutError | aiohttp.ServerTimeoutError):
        return "timeout"
    text = str(error)
    if "AuthenticationFailure" in text or "(401)" in text or "(403)" in text:
        return "auth"  # Azure's SDK cancels with the code in the message only
    if "UNDERLYING_IO_OPEN_FAILED" in text or "Connection refused" in text:
        return "refused"
    if "ServiceTimeout" in text:
        return "timeout"
    if "upgrade failed" in text:
        return "status"
    cause = error.__cause__
    if cause is not None and cause is not error:
        inner = classify_failure(cause)
        if inner != "error":
            return inner
    if isinstance(error, ValueError):
        return "malformed"
    if "ServiceError" in text or "closed" in text:
        return "closed"
    return "error"


# --- the decision -----------------------------------------------------------------------------
@dataclass(slots=True)
class _Health:
    healthy: bool = True
    failures: int = 0
    retry_at: float = 0.0
    last_reason: FailureKind | None = None


@dataclass
class ChainState:
    """Which link of the chain serves, which to probe, when to switch back. Pure: time is
    passed in. Link 0 is the most preferred; the last is the embedded fallback."""

    links: int
    timings: FallbackTimings = field(default_factory=FallbackTimings)
    active: int = 0
    _health: list[_Health] = field(init=False)

    def __post_init__(self) -> None:
        if self.links < 1:
            raise ValueError("a chain needs at least one provider")
        self._health = [_Health() for _ in range(self.links)]

    def healthy(self, link: int) -> bool:
        return self._health[link].healthy

    def failed(self, link: int, kind: FailureKind, *, now: float) -> None:
        """``link`` failed (serving or probing): unhealthy until a probe succeeds."""
        health = self._health[link]
        health.healthy = False
        health.failures += 1
        health.last_reason = kind
        t = self.timings
        wait = (
            t.auth_probe_after
            if kind == "auth"
            else min(t.probe_max, t.probe_after * 2 ** (health.failures - 1))
        )
        health.retry_at = now + wait

    def served(self, link: int) -> None:
        """``link`` produced a final: its failure streak is over."""
        self._health[link].failures = 0

    def recovered(self, link: int) -> None:
        """A probe of ``link`` produced a transcript."""
        health = self._health[link]
        health.healthy = True
        health.failures = 0

    def probe_failed(self, link: int, kind: FailureKind, *, now: float) -> None:
        self.failed(link, kind, now=now)

    def probe_inconclusive(self, link: int, *, now: float) -> None:
        """A probe heard no speech to judge by: try again later, without a longer wait."""
        self._health[link].retry_at = now + self.timings.probe_after

    def choose(self, *, now: float) -> int | None:
        """The link to serve now: the best healthy one; when none is, the one whose retry is
        due (made healthy, so it is tried without a probe); ``None`` until one is due."""
        for link, health in enumerate(self._health):
            if health.healthy:
                return link
        due = min(range(self.links), key=lambda i: self._health[i].retry_at)
        if self._health[due].retry_at <= now:
            self._health[due].healthy = True
            return due
        return None

    def next_retry(self) -> float:
        """When :meth:`choose` will next have an answer, if it has none now."""
        return min(h.retry_at for h in self._health)

    def to_probe(self, *, now: float) -> list[int]:
        """Unhealthy links better than the active one whose probe is due."""
        return [
            link
            for link in range(self.active)
            if not self._health[link].healthy and self._health[link].retry_at <= now
        ]

    def better(self) -> int | None:
        """A healthy link better than the active one (switch to it at a boundary)."""
        for link in range(self.active):
            if self._health[link].healthy:
                return link
        return None


@dataclass(slots=True)
class _Watchdog:
    """Speech sent without an answer: how much (audio s) and since when (wall clock)."""

    stall_after: float
    stall_speech: float
    unanswered: float = 0.0
    since: float | None = None

    @classmethod
    def of(cls, timings: FallbackTimings) -> _Watchdog:
        return cls(timings.stall_after, min(timings.stall_speech, timings.stall_after))

    def audio(self, seconds: float, *, speech: bool, now: float) -> None:
        if speech:
            self.unanswered += seconds
            if self.since is None:
                self.since = now

    def answered(self) -> None:
        self.unanswered = 0.0
        self.since = None

    def stalled(self, now: float) -> bool:
        return (
            self.since is not None
            and self.unanswered >= self.stall_speech
            and now - self.since >= self.stall_after
        )


# --- the audio kept ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Kept:
    start: float  # stream seconds (without the stream's start_time_offset)
    frame: rtc.AudioFrame
    speech: bool
    wall: float

    @property
    def end(self) -> float:
        return self.start + self.frame.samples_per_channel / self.frame.sample_rate


class _ReplayBuffer:
    """The audio since the last final, with when each frame was heard."""

    def __init__(self, limit: float, *, pre_roll: float = 0.5) -> None:
        self.frames: deque[_Kept] = deque()
        self.limit = limit
        self.pre_roll = pre_roll
        self.dropped = 0.0
        self._speech = 0  # speech frames kept

    @property
    def start(self) -> float | None:
        return self.frames[0].start if self.frames else None

    def add(self, kept: _Kept) -> None:
        self.frames.append(kept)
        self._speech += kept.speech
        if not self._speech:  # only silence since the last final: keep a pre-roll of it
            while self.frames and kept.end - self.frames[0].end >= self.pre_roll:
                self.frames.popleft()
            return
        while self.frames and kept.end - self.frames[0].start > self.limit:
            old = self._pop()
            if old.speech:
                self.dropped += old.end - old.start

    def _pop(self) -> _Kept:
        old = self.frames.popleft()
        self._speech -= old.speech
        return old

    def trim_to(self, t: float) -> None:
        """Forget the audio before stream second ``t`` (whole frames)."""
        while self.frames and self.frames[0].end <= t:
            self._pop()

    def speech_pending(self) -> bool:
        return self._speech > 0

    def wall_at(self, t: float) -> float | None:
        """When the audio at stream second ``t`` was heard."""
        for kept in self.frames:
            if kept.start <= t < kept.end:
                return kept.wall
        return None


def _is_speech(frame: rtc.AudioFrame, threshold: float) -> bool:
    pcm = np.frombuffer(frame.data, dtype=np.int16)
    if pcm.size == 0:
        return False
    x = pcm.astype(np.float32) / 32768.0
    return float(np.sqrt(np.mean(x * x))) >= threshold


# --- the STT ----------------------------------------------------------------------------------
class FallbackSTT(stt.STT[Literal["metrics_collected", "error"]]):
    """Streaming STT over ``chain`` (``(name, stt)`` pairs, best first, the embedded STT
    last), with replay, a stall watchdog and return to the primary (see the module).

    ``allowed_languages`` and ``language_prior`` are the room's languages and the speaker's
    (as for :class:`~interpreter.providers.whisper_stt.WhisperSTT`); they are handed to every
    provider and used to repair languages. ``trust`` maps a link name to how far its
    languages are believed (default ``"all"``; a provider's own ``language_trust`` attribute
    is used when it has one). ``timings``: :class:`FallbackTimings`.
    """

    def __init__(
        self,
        *,
        chain: Sequence[tuple[str, stt.STT[Any]]],
        allowed_languages: Sequence[Language] | None = None,
        language_prior: Language | None = None,
        trust: Mapping[str, LanguageTrust] | None = None,
        timings: FallbackTimings | None = None,
    ) -> None:
        if not chain:
            raise ValueError("the STT chain is empty")
        for name, provider in chain:
            if not provider.capabilities.streaming:
                raise ValueError(f"STT {name!r} does not stream; wrap it in a streaming adapter")
        last = chain[-1][1]
        super().__init__(
            capabilities=stt.STTCapabilities(
                streaming=True,
                interim_results=any(p.capabilities.interim_results for _, p in chain),
                aligned_transcript=last.capabilities.aligned_transcript,
                offline_recognize=False,
            )
        )
        self.chain: tuple[tuple[str, stt.STT[Any]], ...] = tuple(chain)
        self.timings = timings or FallbackTimings()
        self._trust: dict[str, LanguageTrust] = dict(trust or {})
        self._allowed: tuple[Language, ...] | None = None
        self._prior: Language | None = None
        self._languages_sent: tuple[tuple[Language, ...] | None, Language | None] | None = None
        self._vocabulary: dict[Language, tuple[str, ...]] = {}
        self._state = ChainState(links=len(chain), timings=self.timings)
        for _, provider in chain:
            provider.on("error", self._on_provider_error)
        if allowed_languages or language_prior:
            self.update_options(allowed_languages=allowed_languages, language_prior=language_prior)
        else:  # the providers keep the languages they were built with
            self._languages_sent = (None, None)

    @property
    def model(self) -> str:
        return "+".join(name for name, _ in self.chain)

    def trust(self, name: str) -> LanguageTrust:
        """How far the languages link ``name`` reports are believed: as configured, else
        the provider's own ``language_trust`` (it may change with its languages), else all."""
        if name in self._trust:
            return self._trust[name]
        provider = dict(self.chain).get(name)
        own = getattr(provider, "language_trust", None)
        return own if own in ("all", "finals", "none") else "all"

    @property
    def provider(self) -> str:
        return "fallback"

    @property
    def state(self) -> ChainState:
        """The chain's state (shared by this STT's streams: a provider down is down for all)."""
        return self._state

    @property
    def allowed_languages(self) -> tuple[Language, ...] | None:
        return self._allowed

    @property
    def language_prior(self) -> Language | None:
        return self._prior

    def update_options(
        self,
        *,
        allowed_languages: NotGivenOr[Sequence[Language] | None] = NOT_GIVEN,
        language_prior: NotGivenOr[Language | None] = NOT_GIVEN,
    ) -> None:
        """Change the allowed languages and/or the prior, for every provider (a provider
        that reconnects to change languages is only told when they changed)."""
        if is_given(allowed_languages):
            self._allowed = (
                tuple(dict.fromkeys(normalize_language(x) for x in allowed_languages))
                if allowed_languages
                else None
            )
        if is_given(language_prior):
            self._prior = normalize_language(language_prior) if language_prior else None
        wanted = (self._allowed, self._prior)
        if wanted == self._languages_sent:
            return
        self._languages_sent = wanted
        for _, provider in self.chain:
            if isinstance(provider, LanguageAware):
                provider.update_languages(allowed=self._allowed, prior=self._prior)
            else:  # the embedded STT's signature
                update = getattr(provider, "update_options", None)
                if update is not None:
                    update(allowed_languages=self._allowed, language_prior=self._prior)

    def set_vocabulary(self, terms: Mapping[Language, Sequence[str]]) -> None:
        """Bias every provider of the chain towards ``terms`` (per source language; an empty
        mapping clears), each through its own mechanism."""
        self._vocabulary = {normalize_language(k): tuple(v) for k, v in terms.items()}
        for name, provider in self.chain:
            setter = getattr(provider, "set_vocabulary", None)
            if setter is None:
                logger.debug("STT provider takes no vocabulary", extra={"provider": name})
                continue
            setter(self._vocabulary)

    @property
    def vocabulary(self) -> Mapping[Language, tuple[str, ...]]:
        return self._vocabulary

    def prewarm(self) -> None:
        for _, provider in self.chain:
            provider.prewarm()

    def _on_provider_error(self, error: stt.STTError) -> None:
        logger.debug(
            "STT provider error",
            extra={"label": error.label, "recoverable": error.recoverable},
        )

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        raise NotImplementedError("FallbackSTT only streams")

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> FallbackRecognizeStream:
        """Open a stream; ``language`` forces one language on every provider."""
        forced = normalize_language(language) if is_given(language) else None
        return FallbackRecognizeStream(stt=self, conn_options=conn_options, language=forced)

    async def aclose(self) -> None:
        for _, provider in self.chain:
            provider.off("error", self._on_provider_error)
            with contextlib.suppress(Exception):
                await provider.aclose()


@dataclass(slots=True)
class _Probe:
    link: int
    stream: stt.RecognizeStream
    started: float
    watchdog: _Watchdog
    verdict: asyncio.Future[FailureKind | None]
    reader: asyncio.Task[None] | None = None


@dataclass(frozen=True, slots=True)
class _Outcome:
    kind: Literal["ended", "failed", "switch"]
    reason: FailureKind | None = None


class FallbackRecognizeStream(stt.RecognizeStream):
    """One speaker's stream over the chain (see :class:`FallbackSTT`)."""

    def __init__(
        self, *, stt: FallbackSTT, conn_options: APIConnectOptions, language: Language | None
    ) -> None:
        super().__init__(stt=stt, conn_options=replace(conn_options, max_retry=0))
        self._fallback = stt
        self._language = language
        t = stt.timings
        self._member_options = APIConnectOptions(max_retry=0, timeout=t.connect_timeout)
        self._buffer = _ReplayBuffer(t.replay_limit)
        self._pushed = 0.0  # stream seconds heard
        self._input_done = False
        self._current: RecognizeStream | None = None
        self._current_link = 0
        self._watchdog = _Watchdog.of(t)
        self._probes: dict[int, _Probe] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._last_language: Language | None = None
        self._failed_at: float | None = None
        self._utterance_open = False  # the active link said START_OF_SPEECH, not yet END
        self._answered_at = 0.0  # when the active link last said anything (monotonic)

    # -- input ----------------------------------------------------------------------------------
    async def _forward_input(self) -> None:
        t = self._fallback.timings
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                if self._current is not None:
                    with contextlib.suppress(RuntimeError):
                        self._current.flush()
                continue
            now = time.monotonic()
            seconds = item.samples_per_channel / item.sample_rate
            speech = _is_speech(item, t.speech_rms)
            self._buffer.add(_Kept(self._pushed, item, speech, now))
            self._pushed += seconds
            if self._current is not None:
                self._watchdog.audio(seconds, speech=speech, now=now)
                with contextlib.suppress(RuntimeError):  # a stream that just failed
                    self._current.push_frame(item)
            for probe in self._probes.values():
                probe.watchdog.audio(seconds, speech=speech, now=now)
                with contextlib.suppress(RuntimeError):
                    probe.stream.push_frame(item)
        self._input_done = True
        if self._current is not None:
            with contextlib.suppress(RuntimeError):
                self._current.end_input()

    # -- the chain ------------------------------------------------------------------------------
    async def _run(self) -> None:
        state = self._fallback.state
        forward = asyncio.create_task(self._forward_input(), name="FallbackSTT.input")
        # after the input ended, every link gets one more chance before the stream gives up
        chances_after_end = len(self._fallback.chain)
        down = False
        try:
            while True:
                now = time.monotonic()
                link = state.choose(now=now)
                if link is None:
                    if self._input_done and not self._buffer.speech_pending():
                        return
                    if not down:
                        down = True
                        logger.error(
                            "every STT provider is down; audio kept until one is back",
                            extra={"kept_seconds": round(self._kept_seconds(), 1)},
                        )
                    await asyncio.sleep(max(0.0, state.next_retry() - now))
                    continue
                state.active = link
                outcome = await self._serve(link)
                if outcome.kind == "ended":
                    return
                name = self._fallback.chain[link][0]
                if outcome.kind == "failed" and self._input_done:
                    chances_after_end -= 1
                    if chances_after_end <= 0:
                        state.failed(link, outcome.reason or "error", now=time.monotonic())
                        logger.error(
                            "every STT provider failed at the end of the audio; its last"
                            " words are lost",
                            extra={"lost_seconds": round(self._kept_seconds(), 2)},
                        )
                        return
                if outcome.kind == "failed":
                    down = False
                    reason = outcome.reason or "error"
                    state.failed(link, reason, now=time.monotonic())
                    self._failed_at = time.monotonic()
                    metrics.PROVIDER_FALLBACKS.labels("stt", name, reason).inc()
                    logger.warning(
                        "STT provider failed; replaying into the next",
                        extra={
                            "provider": name,
                            "reason": reason,
                            "replay_seconds": round(self._kept_seconds(), 2),
                        },
                    )
                else:
                    logger.info("STT provider back", extra={"provider": name})
        finally:
            if self._buffer.dropped:
                logger.warning(
                    "speech older than the replay limit was dropped during an outage",
                    extra={"dropped_seconds": round(self._buffer.dropped, 2)},
                )
            await aio.cancel_and_wait(forward)
            for probe in list(self._probes.values()):
                self._end_probe(probe)
            if self._closing:
                await asyncio.wait(self._closing, timeout=self._fallback.timings.close_timeout)

    def _kept_seconds(self) -> float:
        start = self._buffer.start
        return 0.0 if start is None else self._pushed - start

    def _open(self, link: int) -> stt.RecognizeStream:
        provider = self._fallback.chain[link][1]
        if self._language is not None:
            return provider.stream(language=self._language, conn_options=self._member_options)
        return provider.stream(conn_options=self._member_options)

    async def _serve(self, link: int) -> _Outcome:
        """Run ``link`` from the kept audio on, until the input ends with it, it fails, or a
        better link is back at an utterance boundary."""
        t = self._fallback.timings
        try:
            stream = self._open(link)
        except Exception as e:  # a provider that cannot even open a stream
            return _Outcome("failed", classify_failure(e))
        # no await from here until the stream is current: no frame is missed or sent twice
        start = self._buffer.start if self._buffer.start is not None else self._pushed
        stream.start_time_offset = self.start_time_offset + start
        now = time.monotonic()
        self._watchdog = _Watchdog.of(t)
        self._utterance_open, self._answered_at = False, now
        for kept in self._buffer.frames:
            stream.push_frame(kept.frame)
            self._watchdog.audio(kept.end - kept.start, speech=kept.speech, now=now)
        if self._input_done:
            stream.end_input()
        self._current, self._current_link = stream, link
        reader = asyncio.create_task(self._read(link, stream), name="FallbackSTT.read")
        # the last link has nothing behind it, and one without interim results answers only
        # after each utterance (its own request timeout bounds it)
        watched = (
            link < len(self._fallback.chain) - 1
            and self._fallback.chain[link][1].capabilities.interim_results
        )
        try:
            while True:
                done, _ = await asyncio.wait({reader}, timeout=t.tick)
                if reader in done:
                    error = reader.exception()
                    if error is not None:
                        return _Outcome("failed", classify_failure(error))
                    if self._input_done:
                        return _Outcome("ended")
                    return _Outcome("failed", "ended")
                now = time.monotonic()
                if watched and self._watchdog.stalled(now):
                    return _Outcome("failed", "stall")
                self._check_probes(now)
                if self._fallback.state.better() is not None and self._at_boundary(watched, now):
                    return _Outcome("switch")
        finally:
            self._current = None
            await aio.cancel_and_wait(reader)
            self._close_later(stream)

    def _at_boundary(self, watched: bool, now: float) -> bool:
        """Whether the active link may be left for a better one now: every word heard is
        final; or (a link without the stall watchdog, which may never finalise what the
        energy detector calls speech: OpenAI's transcription behind a VAD that rejects it)
        it has no utterance open and has said nothing for ``stall_after`` s. The audio since
        the last final is replayed into the better link either way: nothing is lost, and
        nothing is transcribed twice (the old link's late answers are not read)."""
        if not self._buffer.speech_pending():
            return True
        return (
            not watched
            and not self._utterance_open
            and now - self._answered_at >= self._fallback.timings.stall_after
        )

    def _close_later(self, stream: stt.RecognizeStream) -> None:
        async def close() -> None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(stream.aclose(), self._fallback.timings.close_timeout)

        task = asyncio.create_task(close(), name="FallbackSTT.close")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _read(self, link: int, stream: stt.RecognizeStream) -> None:
        async for event in stream:
            if event.type in _ANSWERS:
                self._watchdog.answered()
                self._answered_at = time.monotonic()
                if event.type == stt.SpeechEventType.START_OF_SPEECH:
                    self._utterance_open = True
                elif event.type == stt.SpeechEventType.END_OF_SPEECH:
                    self._utterance_open = False
            self._forward(link, event)

    # -- events ---------------------------------------------------------------------------------
    def _forward(self, link: int, event: stt.SpeechEvent) -> None:
        name = self._fallback.chain[link][0]
        if event.type == stt.SpeechEventType.RECOGNITION_USAGE:
            self._event_ch.send_nowait(event)
            return
        if event.type in (
            stt.SpeechEventType.INTERIM_TRANSCRIPT,
            stt.SpeechEventType.PREFLIGHT_TRANSCRIPT,
            stt.SpeechEventType.FINAL_TRANSCRIPT,
        ):
            final = event.type == stt.SpeechEventType.FINAL_TRANSCRIPT
            for data in event.alternatives:
                self._repair(name, data, final=final)
            if final and event.alternatives:
                self._on_final(link, name, event.alternatives[0])
        self._event_ch.send_nowait(event)

    def _on_final(self, link: int, name: str, data: stt.SpeechData) -> None:
        self._fallback.state.served(link)
        end = data.end_time - self.start_time_offset  # stream seconds
        start = self._buffer.start
        if start is not None and start - 1.0 <= end <= self._pushed + 1.0:
            heard = self._buffer.wall_at(end)
            if heard is not None:
                metrics.PROVIDER_LATENCY.labels("stt", name).observe(time.monotonic() - heard)
            self._buffer.trim_to(end + self._fallback.timings.trim_guard)
        else:  # no usable times: every frame up to the last silence is taken as heard
            self._trim_to_last_silence()
        if data.text.strip():
            metrics.PROVIDER_SERVED.labels("stt", name, str(data.language)).inc()
            if self._failed_at is not None:
                logger.info(
                    "STT fallback served a final",
                    extra={
                        "provider": name,
                        "since_failure": round(time.monotonic() - self._failed_at, 3),
                    },
                )
                self._failed_at = None

    def _trim_to_last_silence(self) -> None:
        frames = list(self._buffer.frames)
        cut = len(frames)
        while cut > 0 and frames[cut - 1].speech:
            cut -= 1
        if cut:
            self._buffer.trim_to(frames[cut - 1].end)

    def _repair(self, name: str, data: stt.SpeechData, *, final: bool) -> None:
        """Give ``data`` a language of the room (see :data:`LanguageTrust`)."""
        metadata = dict(data.metadata or {})
        metadata["stt_provider"] = name
        data.metadata = metadata
        if self._language is not None:
            data.language = LanguageCode(self._language)
            return
        allowed = self._fallback.allowed_languages
        prior = self._last_language or self._fallback.language_prior
        trust = self._fallback.trust(name)
        believed = trust == "all" or (trust == "finals" and final)
        confidence = metadata.get("language_confidence")
        if isinstance(confidence, int | float) and confidence < 0.5:
            believed = False
        reported = _room_language(str(data.language), allowed) if believed else None
        if reported is None:
            found = None
            if data.text.strip():
                try:
                    found = detect_language(data.text, allowed=allowed, prior=prior)
                except LanguageError:
                    found = None
            reported = found.language if found is not None else prior
        if reported is None:
            return  # nothing better than what the provider said
        data.language = LanguageCode(reported)
        if final:
            self._last_language = reported

    # -- probes ---------------------------------------------------------------------------------
    def _check_probes(self, now: float) -> None:
        state = self._fallback.state
        t = self._fallback.timings
        for link in state.to_probe(now=now):
            if link not in self._probes:
                self._start_probe(link, now)
        for probe in list(self._probes.values()):
            if probe.verdict.done():
                reason = probe.verdict.result()
                self._end_probe(probe)
                name = self._fallback.chain[probe.link][0]
                if reason is None:
                    state.recovered(probe.link)
                    logger.info("STT provider recovered", extra={"provider": name})
                else:
                    state.probe_failed(probe.link, reason, now=now)
            elif probe.watchdog.stalled(now) and self._watches(probe.link):
                self._end_probe(probe)
                state.probe_failed(probe.link, "stall", now=now)
            elif now - probe.started > t.probe_limit:
                self._end_probe(probe)
                state.probe_inconclusive(probe.link, now=now)

    def _watches(self, link: int) -> bool:
        return bool(self._fallback.chain[link][1].capabilities.interim_results)

    def _start_probe(self, link: int, now: float) -> None:
        try:
            stream = self._fallback.chain[link][1].stream(conn_options=self._member_options)
        except Exception as e:
            self._fallback.state.probe_failed(link, classify_failure(e), now=now)
            return
        stream.start_time_offset = self.start_time_offset + self._pushed
        probe = _Probe(
            link=link,
            stream=stream,
            started=now,
            watchdog=_Watchdog.of(self._fallback.timings),
            verdict=asyncio.get_running_loop().create_future(),
        )
        probe.reader = asyncio.create_task(self._read_probe(probe), name="FallbackSTT.probe")
        self._probes[link] = probe

    async def _read_probe(self, probe: _Probe) -> None:
        try:
            async for event in probe.stream:
                if event.type in _ANSWERS:
                    probe.watchdog.answered()
                if any(a.text.strip() for a in event.alternatives):
                    if not probe.verdict.done():
                        probe.verdict.set_result(None)
                    return
            if not probe.verdict.done():
                probe.verdict.set_result("ended")
        except Exception as e:
            if not probe.verdict.done():
                probe.verdict.set_result(classify_failure(e))

    def _end_probe(self, probe: _Probe) -> None:
        self._probes.pop(probe.link, None)
        if probe.reader is not None:
            probe.reader.cancel()
        self._close_later(probe.stream)


def _room_language(reported: str, allowed: Sequence[Language] | None) -> Language | None:
    """The allowed language ``reported`` stands for (``es-ES`` -> ``es``), or ``None``."""
    if not reported:
        return None
    try:
        language = normalize_language(reported)
    except LanguageError:
        return None
    if allowed is None or language in allowed:
        return language
    return next((a for a in allowed if matches(language, a)), None)
