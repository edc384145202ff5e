"""Offline streaming speech-to-text: Whisper base (faster-whisper) gated by Silero VAD.

:class:`WhisperSTT` is a livekit-agents ``stt.STT`` with streaming and interim results.
Its stream works utterance by utterance:

* Silero VAD (from ``livekit-plugins-silero``) decides where speech is; silence, noise and
  music mostly never reach Whisper.
* When a unit ends is decided by :class:`~interpreter.providers.commit_policy.CommitPolicy`
  (a pure, synchronous object; this stream is its adapter). While someone speaks, the
  utterance buffer is re-decoded after every ``interim_interval`` seconds of new audio (or
  twice as long as the last such decode took, if longer), and only when no other decode of
  this stream is running or queued (so a busy CPU decodes less often instead of falling
  behind). Each hypothesis goes through LocalAgreement-2; ``INTERIM_TRANSCRIPT`` carries the
  stable prefix, which never retracts.
* At the end of the utterance the whole buffer is decoded once more and sent as
  ``FINAL_TRANSCRIPT`` with word timings. A long utterance is committed early, from
  ``sentence_commit`` seconds of it on: at a short pause the VAD hears (``micro_pause``,
  a breath between sentences; the audio before it is decoded on its own), or when two
  consecutive decodes agree on a sentence boundary the speaker has talked past; and at the
  latest after ``max_utterance`` seconds, when the words that end before the last
  ``commit_margin`` seconds (up to a sentence end when there is one) become a final. The
  committed audio leaves the buffer, so a monologue never waits for the speaker to stop.
* At a pause (0.15 s of VAD quiet) the utterance so far is decoded at once, speculatively,
  and becomes final as soon as the pause is confirmed (a breath in a long unit, a sentence
  end after 0.3 s, the VAD's end of speech), so the end of a turn does not wait for the VAD
  and then for a decode. Every timing is in
  :class:`~interpreter.providers.commit_policy.CommitTimings`.
* Every decode identifies the language among ``allowed_languages``, with the speaker's
  ``language_prior`` weighted up (x3 by default), then decodes with the bias terms of that
  language, if :meth:`WhisperSTT.set_vocabulary` gave some (a room's glossary: product
  names and jargon come out as written; see
  :mod:`~interpreter.providers.whisper_prompt`).

Events of one utterance, in order: ``START_OF_SPEECH``, ``INTERIM_TRANSCRIPT``\\*,
``FINAL_TRANSCRIPT``\\* (none when only noise was heard), ``RECOGNITION_USAGE``,
``END_OF_SPEECH``. Times in ``SpeechData`` (and its ``words``) are seconds of stream audio
plus ``start_time_offset``. ``SpeechData.language`` is the canonical BCP-47 code,
``confidence`` the mean word probability, and ``metadata`` holds ``language_probability``
(the identified language's probability among the allowed ones), ``avg_logprob``,
``no_speech_prob``, ``stt_provider`` (``embedded``); final events also carry ``commit``
(what ended the unit: ``final``, ``pause``, ``breath``, ``boundary`` or ``forced``),
``speculative`` and ``decode_seconds``;
interim events also carry ``unstable_text`` (the newest hypothesis beyond the stable prefix,
for a greyed-out preview).

All model work runs in worker threads (``asyncio.to_thread``); the model is loaded once per
process (:func:`~interpreter.providers.whisper_model.load_whisper_model`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from livekit import rtc
from livekit.agents import stt, utils, vad
from livekit.agents.language import LanguageCode
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
    TimedString,
)
from livekit.agents.utils import aio, is_given

from interpreter.errors import ProviderError
from interpreter.providers.commit_policy import (
    Commit,
    CommitPolicy,
    CommitTimings,
    Decision,
    DecodeUnit,
    DropUtterance,
    FinalDecode,
    ForceCommit,
    Hypothesis,
    Job,
    PauseDecode,
    RunInterim,
    ShowInterim,
    SpeechStarted,
)
from interpreter.providers.local_agreement import Word, join_words
from interpreter.providers.whisper_model import (
    SAMPLE_RATE,
    Decoding,
    WhisperDecoder,
    language_candidates,
    load_whisper_model,
)
from interpreter.providers.whisper_prompt import Vocabulary
from languages import Language, normalize_language

__all__ = ["WhisperRecognizeStream", "WhisperSTT", "default_vad"]

logger = logging.getLogger("interpreter.providers.whisper")

_vad_lock = threading.Lock()
_vads: dict[tuple[float, float], vad.VAD] = {}
_DEFAULT_TIMINGS = CommitTimings()


def default_vad(
    *,
    min_silence_duration: float = _DEFAULT_TIMINGS.vad_min_silence,
    prefix_padding_duration: float = _DEFAULT_TIMINGS.vad_prefix_padding,
) -> vad.VAD:
    """The process-wide Silero VAD for these settings (loaded on first use; blocking, about
    0.1 s). ``min_silence_duration`` is the silence that ends speech, ``prefix_padding_duration``
    the audio kept before its start."""
    key = (min_silence_duration, prefix_padding_duration)
    with _vad_lock:
        loaded = _vads.get(key)
        if loaded is None:
            from livekit.plugins import silero

            loaded = _vads[key] = silero.VAD.load(
                min_silence_duration=min_silence_duration,
                prefix_padding_duration=prefix_padding_duration,
            )
        return loaded


@dataclass(frozen=True, slots=True)
class _Options:
    allowed_languages: tuple[Language, ...] | None
    language_prior: Language | None

    def allowed(self) -> tuple[Language, ...] | None:
        """The candidate set: the allowed languages plus the prior (the speaker's own)."""
        if self.allowed_languages is None:
            return None
        if self.language_prior is None or self.language_prior in self.allowed_languages:
            return self.allowed_languages
        return (*self.allowed_languages, self.language_prior)


def _normalize_all(languages: Sequence[str] | None) -> tuple[Language, ...] | None:
    if languages is None:
        return None
    out = tuple(dict.fromkeys(normalize_language(code) for code in languages))
    if not out:
        raise ValueError("allowed_languages is empty; pass None to allow every language")
    return out


class WhisperSTT(stt.STT[Literal["metrics_collected", "error"]]):
    """Offline streaming STT with per-utterance language identification.

    Every argument is keyword-only:

    * ``allowed_languages``: the languages an utterance may be in (``None``: any language
      Whisper knows). Codes are normalised; one Whisper cannot recognise raises
      :class:`~interpreter.errors.UnsupportedLanguageError`.
    * ``language_prior``: the speaker's declared language; its probability is multiplied by
      ``prior_weight`` before choosing. It is always a candidate.
    * ``vad``: a livekit VAD (default :func:`default_vad`, Silero loaded once per process).
    * ``decoder``: a ready :class:`WhisperDecoder` (default: the packaged Whisper base, loaded
      on first use or by :meth:`prewarm`, with ``cpu_threads`` threads and ``padding`` s of
      encoder padding; ``None`` padding encodes the full 30 s window; the model is assembled
      under ``cache_dir``, default ``INTERPRETER_CACHE_DIR``'s default).
    * ``timings``: when units end, and the default VAD's silence and padding
      (:class:`~interpreter.providers.commit_policy.CommitTimings`; its defaults are the
      production values).
    * ``interim_results``: send interim transcripts (without them, no interim decodes run,
      so only pauses, forced commits and ends of utterances end units).
    """

    def __init__(
        self,
        *,
        allowed_languages: Sequence[Language] | None = None,
        language_prior: Language | None = None,
        vad: vad.VAD | None = None,
        decoder: WhisperDecoder | None = None,
        cpu_threads: int = 2,
        cache_dir: Path | None = None,
        padding: float | None = 1.5,
        prior_weight: float = 3.0,
        interim_results: bool = True,
        timings: CommitTimings | None = None,
    ) -> None:
        super().__init__(
            capabilities=stt.STTCapabilities(
                streaming=True,
                interim_results=interim_results,
                aligned_transcript="word",
                offline_recognize=True,
            )
        )
        allowed = _normalize_all(allowed_languages)
        prior = normalize_language(language_prior) if language_prior is not None else None
        self._opts = _Options(allowed_languages=allowed, language_prior=prior)
        language_candidates(self._opts.allowed())  # fail now on a language Whisper lacks
        self._interim_results = interim_results
        self._timings = timings or CommitTimings()
        self._vad = (
            vad
            if vad is not None
            else default_vad(
                min_silence_duration=self._timings.vad_min_silence,
                prefix_padding_duration=self._timings.vad_prefix_padding,
            )
        )
        self._decoder = decoder
        self._decoder_lock = threading.Lock()
        self._cpu_threads = cpu_threads
        self._cache_dir = cache_dir
        self._padding = padding
        self._prior_weight = prior_weight
        self._vocabulary: Vocabulary | None = None

    @property
    def model(self) -> str:
        """Model name for metrics."""
        return "whisper-base"

    @property
    def provider(self) -> str:
        """Provider name for metrics."""
        return "faster-whisper"

    @property
    def allowed_languages(self) -> tuple[Language, ...] | None:
        """The languages utterances are identified among (``None``: any)."""
        return self._opts.allowed_languages

    @property
    def language_prior(self) -> Language | None:
        """The speaker's declared language, weighted up in identification."""
        return self._opts.language_prior

    def update_options(
        self,
        *,
        language_prior: NotGivenOr[Language | None] = NOT_GIVEN,
        allowed_languages: NotGivenOr[Sequence[Language] | None] = NOT_GIVEN,
    ) -> None:
        """Change the prior and/or the allowed set; open streams use them from their next decode."""
        opts = self._opts
        if is_given(allowed_languages):
            opts = replace(opts, allowed_languages=_normalize_all(allowed_languages))
        if is_given(language_prior):
            prior = normalize_language(language_prior) if language_prior is not None else None
            opts = replace(opts, language_prior=prior)
        language_candidates(opts.allowed())
        self._opts = opts

    @property
    def vocabulary(self) -> Mapping[Language, tuple[str, ...]]:
        """The bias terms per language in use (empty: none)."""
        return self._vocabulary.terms if self._vocabulary is not None else {}

    def set_vocabulary(self, terms: Mapping[Language, Sequence[str]]) -> None:
        """Bias recognition towards ``terms`` (per source language; an empty mapping clears).

        Each decode, after identifying the language, uses that language's terms (or those of
        a variant of it: ``pt`` for ``pt-BR``) as Whisper's previous-text prompt, so a room's
        product names and jargon are written as given. Open streams use them from their next
        decode. Terms are trimmed and de-duplicated; as many as fit in
        :data:`~interpreter.providers.whisper_prompt.MAX_PROMPT_TOKENS` tokens are used, in
        the order given (put the important ones first); how many did not fit is logged once.
        The terms never make text out of silence or noise: a decode that doubts there was
        speech is checked without them.
        Language codes are normalised (an unknown one raises
        :class:`~languages.errors.UnknownLanguageError`); a bare string instead of a sequence
        of terms raises ``TypeError``.
        """
        vocabulary = Vocabulary(terms)
        self._vocabulary = vocabulary if vocabulary else None

    def prewarm(self) -> None:
        """Load the model now (blocking: call it from the worker's prewarm hook)."""
        self._load_decoder()

    def warm_up(self) -> None:
        """Run one throw-away decode (blocking), so the first real utterance does not pay for
        the inference runtime's first-call set-up."""
        rng = np.random.default_rng(0)
        noise = (0.01 * rng.standard_normal(2 * SAMPLE_RATE)).astype(np.float32)
        self._load_decoder().transcribe(noise, allowed=self._opts.allowed(), prior=None)

    def _load_decoder(self) -> WhisperDecoder:
        with self._decoder_lock:
            if self._decoder is None:
                model = load_whisper_model(cpu_threads=self._cpu_threads, cache_dir=self._cache_dir)
                self._decoder = WhisperDecoder(
                    model=model, padding=self._padding, prior_weight=self._prior_weight
                )
            return self._decoder

    async def _get_decoder(self) -> WhisperDecoder:
        if self._decoder is not None:
            return self._decoder
        return await asyncio.to_thread(self._load_decoder)

    async def _transcribe(
        self, audio: npt.NDArray[np.float32], *, language: Language | None
    ) -> Decoding:
        decoder = await self._get_decoder()
        opts = self._opts
        try:
            return await asyncio.to_thread(
                decoder.transcribe,
                audio,
                allowed=opts.allowed(),
                prior=opts.language_prior,
                language=language,
                vocabulary=self._vocabulary,
            )
        except (RuntimeError, ValueError, MemoryError) as e:
            raise ProviderError(f"whisper decoding failed: {type(e).__name__}") from e

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        forced = normalize_language(language) if is_given(language) else None
        audio = _to_model_audio(rtc.combine_audio_frames(buffer))
        decoding = await self._transcribe(audio, language=forced)
        request_id = utils.shortuuid("whisper_")
        alternatives = [_speech_data(decoding.words, decoding, 0.0)] if decoding.words else []
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=request_id,
            alternatives=alternatives,
        )

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> WhisperRecognizeStream:
        """Open a stream; ``language`` forces one language (no identification)."""
        forced = normalize_language(language) if is_given(language) else None
        return WhisperRecognizeStream(stt=self, conn_options=conn_options, language=forced)


_COMMIT_KINDS: dict[type, str] = {
    DecodeUnit: "breath",
    ForceCommit: "forced",
    FinalDecode: "final",
    PauseDecode: "pause",
}


def _to_model_audio(frame: rtc.AudioFrame) -> npt.NDArray[np.float32]:
    """Mono float32 at 16 kHz from any PCM frame."""
    if frame.num_channels > 1:
        pcm = np.frombuffer(frame.data, dtype=np.int16).reshape(-1, frame.num_channels)
        mono = pcm.mean(axis=1).astype(np.int16)
        frame = rtc.AudioFrame(mono.tobytes(), frame.sample_rate, 1, len(mono))
    if frame.sample_rate != SAMPLE_RATE:
        resampler = rtc.AudioResampler(
            frame.sample_rate, SAMPLE_RATE, quality=rtc.AudioResamplerQuality.HIGH
        )
        frames = [*resampler.push(frame), *resampler.flush()]
        data = b"".join(bytes(f.data) for f in frames)
    else:
        data = bytes(frame.data)
    return np.frombuffer(data, dtype=np.int16).astype(np.float32) / 32768.0


def _speech_data(words: Sequence[Word], decoding: Decoding, offset: float) -> stt.SpeechData:
    """SpeechData for ``words`` (times relative to the decoded audio) shifted by ``offset``."""
    timed = [
        TimedString(
            w.text.strip(),
            start_time=w.start + offset,
            end_time=w.end + offset,
            confidence=w.probability,
        )
        for w in words
    ]
    return stt.SpeechData(
        language=LanguageCode(decoding.language),
        text=join_words(words),
        start_time=words[0].start + offset if words else offset,
        end_time=words[-1].end + offset if words else offset,
        confidence=sum(w.probability for w in words) / len(words) if words else 0.0,
        words=timed,
        metadata={
            "language_probability": decoding.language_probability,
            "avg_logprob": decoding.avg_logprob,
            "no_speech_prob": decoding.no_speech_prob,
            # the provider name of INTERPRETER_STT (a fallback chain names its link the same)
            "stt_provider": "embedded",
        },
    )


class _Audio:
    """The uncommitted audio of one utterance, from absolute sample ``start``."""

    def __init__(self, *, start: int, request_id: str) -> None:
        self.start = start
        self.request_id = request_id
        self.chunks: list[npt.NDArray[np.int16]] = []
        self.samples = 0

    def append(self, pcm: npt.NDArray[np.int16]) -> None:
        self.chunks.append(pcm)
        self.samples += len(pcm)

    def slice(self, start: int, end: int) -> npt.NDArray[np.float32]:
        """Samples ``[start, end)`` (absolute) as model audio."""
        pcm = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        self.chunks = [pcm]
        return pcm[start - self.start : end - self.start].astype(np.float32) / 32768.0

    def drop_before(self, sample: int) -> None:
        """Forget the audio before absolute ``sample`` (it was committed)."""
        count = max(0, min(sample - self.start, self.samples))
        pcm = np.concatenate(self.chunks)[count:] if self.chunks else np.zeros(0, np.int16)
        self.chunks = [pcm]
        self.samples = len(pcm)
        self.start += count


class WhisperRecognizeStream(stt.RecognizeStream):
    """One audio stream's recognition (create it with :meth:`WhisperSTT.stream`).

    The async adapter of :class:`~interpreter.providers.commit_policy.CommitPolicy`: it feeds
    the policy the VAD's events and the decodes' results, keeps the audio, runs the decodes
    in worker threads and turns the policy's decisions into speech events.
    """

    def __init__(
        self,
        *,
        stt: WhisperSTT,
        conn_options: APIConnectOptions,
        language: Language | None,
    ) -> None:
        super().__init__(stt=stt, conn_options=conn_options, sample_rate=SAMPLE_RATE)
        self._whisper = stt
        self._language = language
        self._policy = CommitPolicy(
            timings=stt._timings, interims=stt._interim_results, sample_rate=SAMPLE_RATE
        )
        self._audio: dict[int, _Audio] = {}
        self._pushed = 0
        self._flush_marks: deque[int] = deque()
        # each job with when it was decided (monotonic) and how much audio had been heard then
        self._jobs = aio.Chan[tuple[Job, float, int]]()
        self._interim: asyncio.Task[None] | None = None
        # the last speculative decode of each utterance, for the commit that confirms it
        self._speculations: dict[int, tuple[Decoding, float]] = {}

    async def _run(self) -> None:
        vad_stream = self._whisper._vad.stream()
        forward = asyncio.create_task(self._forward(vad_stream), name="WhisperSTT.forward")
        worker = asyncio.create_task(self._work(), name="WhisperSTT.work")
        try:
            await self._whisper._get_decoder()
            consume = asyncio.create_task(self._consume(vad_stream), name="WhisperSTT.consume")
            try:
                await asyncio.gather(forward, consume, worker)
            finally:
                await aio.cancel_and_wait(consume)
        finally:
            self._jobs.close()
            tasks = [forward, worker] + ([self._interim] if self._interim else [])
            await aio.cancel_and_wait(*tasks)
            await vad_stream.aclose()

    async def _forward(self, vad_stream: vad.VADStream) -> None:
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                self._flush_marks.append(self._pushed)
                continue
            if item.num_channels != 1:
                pcm = np.frombuffer(item.data, dtype=np.int16).reshape(-1, item.num_channels)
                mono = pcm.mean(axis=1).astype(np.int16)
                item = rtc.AudioFrame(mono.tobytes(), item.sample_rate, 1, len(mono))
            self._pushed += item.samples_per_channel
            vad_stream.push_frame(item)
        vad_stream.end_input()

    async def _consume(self, vad_stream: vad.VADStream) -> None:
        try:
            async for ev in vad_stream:
                self._on_vad_event(ev)
            self._carry_out(self._policy.end_utterance())
        finally:
            self._jobs.close()

    def _on_vad_event(self, ev: vad.VADEvent) -> None:
        policy = self._policy
        if ev.type == vad.VADEventType.START_OF_SPEECH:
            pcm = _pcm(ev.frames)
            decisions = policy.speech_started(len(pcm))
            self._keep(pcm)
            self._carry_out(decisions)
        elif ev.type == vad.VADEventType.END_OF_SPEECH:
            self._carry_out(policy.end_utterance())
        elif ev.type == vad.VADEventType.INFERENCE_DONE:
            pcm = _pcm(ev.frames)
            decisions = policy.window(len(pcm), probability=ev.probability, speaking=ev.speaking)
            self._keep(pcm)
            self._carry_out(decisions)
            while self._flush_marks and policy.position + len(pcm) > self._flush_marks[0]:
                self._flush_marks.popleft()
                self._carry_out(policy.end_utterance())

    def _keep(self, pcm: npt.NDArray[np.int16]) -> None:
        """Append audio the policy just heard to the open utterance's buffer."""
        utterance = self._policy.utterance
        if utterance is None:
            return
        audio = self._audio.get(utterance)
        if audio is None:
            audio = self._audio[utterance] = _Audio(
                start=self._policy.position - len(pcm), request_id=utils.shortuuid("whisper_")
            )
        audio.append(pcm)

    def _carry_out(self, decisions: Sequence[Decision], decoding: Decoding | None = None) -> None:
        for decision in decisions:
            if isinstance(
                decision, SpeechStarted | DecodeUnit | ForceCommit | FinalDecode | PauseDecode
            ):
                self._jobs.send_nowait((decision, time.monotonic(), self._pushed))
            elif isinstance(decision, RunInterim):
                audio = self._audio[decision.utterance].slice(decision.start, decision.end)
                self._interim = asyncio.create_task(
                    self._run_interim(decision, audio), name="WhisperSTT.interim"
                )
            elif isinstance(decision, DropUtterance):
                self._audio.pop(decision.utterance, None)
                self._speculations.pop(decision.utterance, None)
            elif isinstance(decision, Commit):
                if decision.speculative:  # a pause confirmed: the speculative decode's words
                    decoding, seconds = self._speculations[decision.utterance]
                    self._log_speculative(decision, kind="pause")
                    self._send_commit(decision, decoding, kind="pause", decode_seconds=seconds)
                else:  # two interim decodes agreed on a boundary
                    self._send_commit(decision, decoding, kind="boundary")
            else:
                assert decoding is not None
                self._send_interim(decision, decoding)

    def _seconds(self, sample: int) -> float:
        return self.start_time_offset + sample / SAMPLE_RATE

    async def _work(self) -> None:
        async for job, queued, heard in self._jobs:
            try:
                if isinstance(job, SpeechStarted):
                    self._event_ch.send_nowait(
                        stt.SpeechEvent(
                            type=stt.SpeechEventType.START_OF_SPEECH,
                            request_id=self._audio[job.utterance].request_id,
                        )
                    )
                else:
                    await self._decode_job(job, queued=queued, heard=heard)
            finally:
                self._policy.job_done()

    async def _decode_job(
        self,
        job: DecodeUnit | ForceCommit | FinalDecode | PauseDecode,
        *,
        queued: float,
        heard: int,
    ) -> None:
        known = self._policy.resolved(job)
        if known is not None:
            decoding, seconds = self._speculations.get(job.utterance, (None, 0.0))
            self._log_speculative(known, kind="final")
            self._send_commit(known, decoding, kind="final", decode_seconds=seconds)
            return
        request = self._policy.begin(job)
        if request is None:
            return
        kept = self._audio[job.utterance]
        audio = kept.slice(request.start, request.end)
        began = time.monotonic()
        decoding = await self._whisper._transcribe(
            audio, language=self._language or request.language
        )
        decoded = time.monotonic()
        if isinstance(job, PauseDecode):
            self._speculations[job.utterance] = (decoding, decoded - began)
            speculative = self._policy.speculated(request, _hypothesis(decoding))
            if speculative is not None:
                self._log_speculative(speculative, kind="pause")
                self._send_commit(
                    speculative, decoding, kind="pause", decode_seconds=decoded - began
                )
            return
        commit = self._policy.decoded(request, _hypothesis(decoding))
        if commit.words:
            # where a unit's time goes before its final transcript (timings only, no text)
            logger.info(
                "unit decoded",
                extra={
                    "request_id": kept.request_id,
                    "commit": _COMMIT_KINDS[type(job)],
                    "audio_seconds": round(len(audio) / SAMPLE_RATE, 3),
                    # audio heard past the unit's end when its decode was decided: for a
                    # final, the wait for the VAD's end of speech
                    "heard_after_end": round((heard - commit.end) / SAMPLE_RATE, 3),
                    "queued_seconds": round(began - queued, 3),
                    "decode_seconds": round(decoded - began, 3),
                },
            )
        logger.debug(
            "whisper decode",
            extra={
                "request_id": kept.request_id,
                "audio_seconds": round(len(audio) / SAMPLE_RATE, 2),
                "words": len(commit.words),
                "rejected": decoding.rejected,
                "last": commit.last,
            },
        )
        self._send_commit(
            commit, decoding, kind=_COMMIT_KINDS[type(job)], decode_seconds=decoded - began
        )

    def _log_speculative(self, commit: Commit, *, kind: str) -> None:
        """Log a commit of a speculative decode's words like a decoded unit (timings only)."""
        if not commit.words or not commit.speculative:
            return
        audio = self._audio[commit.utterance]
        seconds = self._speculations.get(commit.utterance, (None, 0.0))[1]
        logger.info(
            "unit decoded",
            extra={
                "request_id": audio.request_id,
                "commit": kind,
                "speculative": True,
                "audio_seconds": round(commit.audio_seconds, 3),
                # audio heard past the unit's last word when it was committed
                "heard_after_end": round(self._pushed / SAMPLE_RATE - commit.words[-1].end, 3),
                "queued_seconds": 0.0,
                "decode_seconds": round(seconds, 3),
            },
        )

    def _send_commit(
        self,
        commit: Commit,
        decoding: Decoding | None,
        *,
        kind: str,
        decode_seconds: float = 0.0,
    ) -> None:
        """Send ``commit``'s final (its ``metadata`` also says what ended the unit, ``commit``,
        whether its words come from a decode at a pause before it was confirmed,
        ``speculative``, and the seconds of the decode that heard them, ``decode_seconds``)."""
        audio = self._audio[commit.utterance]
        if commit.words:
            assert decoding is not None
            data = _speech_data(commit.words, decoding, self.start_time_offset)
            assert data.metadata is not None
            data.metadata.update(
                commit=kind,
                speculative=commit.speculative,
                decode_seconds=round(decode_seconds, 3),
            )
            self._event_ch.send_nowait(
                stt.SpeechEvent(
                    type=stt.SpeechEventType.FINAL_TRANSCRIPT,
                    request_id=audio.request_id,
                    alternatives=[data],
                )
            )
        self._event_ch.send_nowait(
            stt.SpeechEvent(
                type=stt.SpeechEventType.RECOGNITION_USAGE,
                request_id=audio.request_id,
                recognition_usage=stt.RecognitionUsage(audio_duration=commit.audio_seconds),
            )
        )
        if commit.last:
            del self._audio[commit.utterance]
            self._speculations.pop(commit.utterance, None)
            self._event_ch.send_nowait(
                stt.SpeechEvent(
                    type=stt.SpeechEventType.END_OF_SPEECH,
                    request_id=audio.request_id,
                    speech_end_time=self.start_time + commit.end / SAMPLE_RATE,
                )
            )
        elif commit.cut is not None:
            audio.drop_before(commit.cut)

    def _send_interim(self, interim: ShowInterim, decoding: Decoding) -> None:
        data = _speech_data(interim.stable, decoding, self.start_time_offset)
        assert data.metadata is not None
        data.metadata["unstable_text"] = join_words(interim.unstable)
        self._event_ch.send_nowait(
            stt.SpeechEvent(
                type=stt.SpeechEventType.INTERIM_TRANSCRIPT,
                request_id=self._audio[interim.utterance].request_id,
                alternatives=[data],
            )
        )

    async def _run_interim(self, run: RunInterim, audio: npt.NDArray[np.float32]) -> None:
        decoding: Decoding | None = None
        began = time.monotonic()
        try:
            decoding = await self._whisper._transcribe(
                audio, language=self._language or run.language
            )
        except ProviderError:
            logger.warning("whisper interim decode failed", exc_info=True)
        finally:
            hypothesis = _hypothesis(decoding) if decoding is not None else None
            cost = time.monotonic() - began
            decisions = self._policy.interim_done(run, hypothesis, cost=cost)
        self._carry_out(decisions, decoding)


def _hypothesis(decoding: Decoding) -> Hypothesis:
    return Hypothesis(
        words=decoding.words, language=decoding.language, no_speech=decoding.rejected_as_noise
    )


def _pcm(frames: Sequence[rtc.AudioFrame]) -> npt.NDArray[np.int16]:
    if not frames:
        return np.zeros(0, np.int16)
    if len(frames) == 1:
        return np.frombuffer(frames[0].data, dtype=np.int16).copy()
    return np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in frames])
