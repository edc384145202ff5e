"""Offline streaming speech-to-text: Whisper base (faster-whisper) gated by Silero VAD.

:class:`WhisperSTT` is a livekit-agents ``stt.STT`` with streaming and interim results.
Its stream works utterance by utterance:

* Silero VAD (from ``livekit-plugins-silero``) decides where speech is; silence, noise and
  music mostly never reach Whisper.
* While someone speaks, the utterance buffer is re-decoded after every ``interim_interval``
  seconds of new audio (or twice as long as the last such decode took, if longer), and only
  when no other decode of this stream is running or queued (so a busy CPU decodes less often
  instead of falling behind). Each hypothesis goes through
  LocalAgreement-2; ``INTERIM_TRANSCRIPT`` carries the stable prefix, which never retracts.
* At the end of the utterance the whole buffer is decoded once more and sent as
  ``FINAL_TRANSCRIPT`` with word timings. A long utterance is committed early, from
  ``sentence_commit`` seconds of it on: at a short pause the VAD hears (``_MICRO_PAUSE``,
  a breath between sentences; the audio before it is decoded on its own), or when two
  consecutive decodes agree on a sentence boundary the speaker has talked past; and at the
  latest after ``max_utterance`` seconds, when the words that end before the last
  ``commit_margin`` seconds (up to a sentence end when there is one) become a final. The
  committed audio leaves the buffer, so a monologue never waits for the speaker to stop.
* Every decode identifies the language among ``allowed_languages``, with the speaker's
  ``language_prior`` weighted up (x3 by default).

Events of one utterance, in order: ``START_OF_SPEECH``, ``INTERIM_TRANSCRIPT``\\*,
``FINAL_TRANSCRIPT``\\* (none when only noise was heard), ``RECOGNITION_USAGE``,
``END_OF_SPEECH``. Times in ``SpeechData`` (and its ``words``) are seconds of stream audio
plus ``start_time_offset``. ``SpeechData.language`` is the canonical BCP-47 code,
``confidence`` the mean word probability, and ``metadata`` holds ``language_probability``
(the identified language's probability among the allowed ones), ``avg_logprob``,
``no_speech_prob``; interim events also carry ``unstable_text`` (the newest hypothesis beyond
the stable prefix, for a greyed-out preview).

All model work runs in worker threads (``asyncio.to_thread``); the model is loaded once per
process (:func:`~interpreter.providers.whisper_model.load_whisper_model`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

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
from interpreter.providers.local_agreement import LocalAgreement, Word, join_words
from interpreter.providers.whisper_model import (
    SAMPLE_RATE,
    Transcript,
    WhisperDecoder,
    language_candidates,
    load_whisper_model,
)
from languages import Language, normalize_language

__all__ = ["WhisperRecognizeStream", "WhisperSTT", "default_vad"]

logger = logging.getLogger("interpreter.providers.whisper")

_vad_lock = threading.Lock()
_vad: vad.VAD | None = None


def default_vad() -> vad.VAD:
    """The process-wide Silero VAD (loaded on first use; blocking, about 0.1 s)."""
    global _vad
    with _vad_lock:
        if _vad is None:
            from livekit.plugins import silero

            _vad = silero.VAD.load(min_silence_duration=0.5, prefix_padding_duration=0.5)
        return _vad


@dataclass(frozen=True, slots=True)
class _Options:
    allowed_languages: tuple[Language, ...] | None
    language_prior: Language | None
    interim_interval: float
    min_interim_audio: float
    max_utterance: float
    sentence_commit: float | None
    commit_margin: float
    min_speech: float
    speech_threshold: float

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
      encoder padding; ``None`` padding encodes the full 30 s window).
    * ``interim_interval``: seconds of new audio between interim decodes;
      ``min_interim_audio``: no interim decode before this much audio;
      ``max_utterance``: seconds after which a long utterance is committed early, keeping the
      last ``commit_margin`` seconds; ``sentence_commit``: from this many seconds of
      utterance on, the speech before a short pause, or a sentence that became stable, is
      committed early too (``None``: never); ``min_speech``: utterances with less VAD
      speech than this are ignored entirely.
    """

    def __init__(
        self,
        *,
        allowed_languages: Sequence[Language] | None = None,
        language_prior: Language | None = None,
        vad: vad.VAD | None = None,
        decoder: WhisperDecoder | None = None,
        cpu_threads: int = 2,
        padding: float | None = 1.5,
        prior_weight: float = 3.0,
        interim_results: bool = True,
        interim_interval: float = 1.0,
        min_interim_audio: float = 1.0,
        max_utterance: float = 15.0,
        sentence_commit: float | None = 6.0,
        commit_margin: float = 1.5,
        min_speech: float = 0.25,
        speech_threshold: float = 0.5,
    ) -> None:
        super().__init__(
            capabilities=stt.STTCapabilities(
                streaming=True,
                interim_results=interim_results,
                aligned_transcript="word",
                offline_recognize=True,
            )
        )
        if interim_interval <= 0 or max_utterance <= commit_margin or commit_margin <= 0:
            raise ValueError("need interim_interval > 0 and max_utterance > commit_margin > 0")
        allowed = _normalize_all(allowed_languages)
        prior = normalize_language(language_prior) if language_prior is not None else None
        self._opts = _Options(
            allowed_languages=allowed,
            language_prior=prior,
            interim_interval=interim_interval,
            min_interim_audio=min_interim_audio,
            max_utterance=max_utterance,
            sentence_commit=sentence_commit,
            commit_margin=commit_margin,
            min_speech=min_speech,
            speech_threshold=speech_threshold,
        )
        language_candidates(self._opts.allowed())  # fail now on a language Whisper lacks
        self._interim_results = interim_results
        self._vad = vad if vad is not None else default_vad()
        self._decoder = decoder
        self._decoder_lock = threading.Lock()
        self._cpu_threads = cpu_threads
        self._padding = padding
        self._prior_weight = prior_weight

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
                model = load_whisper_model(cpu_threads=self._cpu_threads)
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
    ) -> Transcript:
        decoder = await self._get_decoder()
        opts = self._opts
        try:
            return await asyncio.to_thread(
                decoder.transcribe,
                audio,
                allowed=opts.allowed(),
                prior=opts.language_prior,
                language=language,
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
        transcript = await self._transcribe(audio, language=forced)
        request_id = utils.shortuuid("whisper_")
        alternatives = [_speech_data(transcript.words, transcript, 0.0)] if transcript.words else []
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


def _speech_data(words: Sequence[Word], transcript: Transcript, offset: float) -> stt.SpeechData:
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
        language=LanguageCode(transcript.language),
        text=join_words(words),
        start_time=words[0].start + offset if words else offset,
        end_time=words[-1].end + offset if words else offset,
        confidence=sum(w.probability for w in words) / len(words) if words else 0.0,
        words=timed,
        metadata={
            "language_probability": transcript.language_probability,
            "avg_logprob": transcript.avg_logprob,
            "no_speech_prob": transcript.no_speech_prob,
        },
    )


class _Utterance:
    """Audio of the utterance being recognised, from ``start`` (absolute sample index)."""

    def __init__(self, *, start: int, request_id: str) -> None:
        self.start = start
        self.request_id = request_id
        self.chunks: list[npt.NDArray[np.int16]] = []
        self.samples = 0
        self.speech_samples = 0
        self.started = False
        self.closed = False
        self.generation = 0
        self.decoded_at = 0
        self.commit_pending = False
        self.next_commit_at = 0
        self.boundaries: tuple[float, ...] = ()  # end times of the last decode's boundaries
        self.quiet_since: int | None = None  # absolute sample where the VAD last went quiet
        self.language: Language | None = None
        self.agreement = LocalAgreement(n=2)

    def append(self, pcm: npt.NDArray[np.int16]) -> None:
        self.chunks.append(pcm)
        self.samples += len(pcm)

    def hear(self, pcm: npt.NDArray[np.int16], *, speech: bool) -> tuple[int, int] | None:
        """Append one VAD window; return a pause the speaker just ended, as absolute samples
        (start, end), when the window is speech after at least ``_MICRO_PAUSE`` s of quiet."""
        at = self.start + self.samples
        self.append(pcm)
        if not speech:
            if self.quiet_since is None:
                self.quiet_since = at
            return None
        quiet, self.quiet_since = self.quiet_since, None
        if quiet is not None and at - quiet >= _MICRO_PAUSE * SAMPLE_RATE:
            return quiet, at
        return None

    def audio(self) -> npt.NDArray[np.float32]:
        pcm = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        self.chunks = [pcm]
        return pcm.astype(np.float32) / 32768.0

    def drop_head(self, count: int) -> None:
        """Forget the first ``count`` samples (they were committed)."""
        count = max(0, min(count, self.samples))
        pcm = np.concatenate(self.chunks)[count:] if self.chunks else np.zeros(0, np.int16)
        self.chunks = [pcm]
        self.samples = len(pcm)
        self.start += count
        self.decoded_at = max(0, self.decoded_at - count)
        self.next_commit_at = max(0, self.next_commit_at - count)
        self.generation += 1


@dataclass(frozen=True, slots=True)
class _Start:
    utterance: _Utterance


@dataclass(frozen=True, slots=True)
class _Final:
    utterance: _Utterance
    last: bool
    until: int | None = None  # absolute sample: finalise exactly the audio before it


_Job = _Start | _Final


class WhisperRecognizeStream(stt.RecognizeStream):
    """One audio stream's recognition (create it with :meth:`WhisperSTT.stream`)."""

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
        self._utterance: _Utterance | None = None
        self._position = 0
        self._pushed = 0
        self._flush_marks: deque[int] = deque()
        self._jobs = aio.Chan[_Job]()
        self._pending = 0
        self._interim: asyncio.Task[None] | None = None
        self._interim_cost = 0.0  # wall seconds the last interim decode took

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
            self._close_utterance()
        finally:
            self._jobs.close()

    def _on_vad_event(self, ev: vad.VADEvent) -> None:
        opts = self._whisper._opts
        if ev.type == vad.VADEventType.START_OF_SPEECH:
            self._close_utterance()
            pcm = _pcm(ev.frames)
            self._utterance = _Utterance(
                start=self._position - len(pcm), request_id=utils.shortuuid("whisper_")
            )
            self._utterance.append(pcm)
        elif ev.type == vad.VADEventType.END_OF_SPEECH:
            self._close_utterance()
        elif ev.type == vad.VADEventType.INFERENCE_DONE:
            pcm = _pcm(ev.frames)
            self._position += len(pcm)
            utt = self._utterance
            if utt is None and ev.speaking:
                # Still speaking after a flush closed the previous utterance.
                utt = self._utterance = _Utterance(
                    start=self._position - len(pcm), request_id=utils.shortuuid("whisper_")
                )
            if utt is not None:
                speech = ev.probability >= opts.speech_threshold
                pause = utt.hear(pcm, speech=speech)
                if speech:
                    utt.speech_samples += len(pcm)
                if pause is not None:
                    self._on_pause(utt, opts, pause)
                self._advance(utt, opts)
            while self._flush_marks and self._position + len(pcm) > self._flush_marks[0]:
                self._flush_marks.popleft()
                self._close_utterance()

    def _advance(self, utt: _Utterance, opts: _Options) -> None:
        if not utt.started and utt.speech_samples >= opts.min_speech * SAMPLE_RATE:
            utt.started = True
            self._enqueue(_Start(utt))
        if not utt.started:
            return
        if (
            utt.samples >= opts.max_utterance * SAMPLE_RATE
            and not utt.commit_pending
            and utt.samples >= utt.next_commit_at
        ):
            utt.commit_pending = True
            self._enqueue(_Final(utt, last=False))
            return
        if (
            self._whisper._interim_results
            and self._pending == 0
            and (self._interim is None or self._interim.done())
            and utt.samples >= opts.min_interim_audio * SAMPLE_RATE
            and utt.samples - utt.decoded_at
            >= max(opts.interim_interval, _INTERIM_DUTY * self._interim_cost) * SAMPLE_RATE
        ):
            utt.decoded_at = utt.samples
            self._interim = asyncio.create_task(
                self._run_interim(utt, utt.generation, utt.audio()), name="WhisperSTT.interim"
            )

    def _on_pause(self, utt: _Utterance, opts: _Options, pause: tuple[int, int]) -> None:
        """The speaker paused briefly and went on: finalise what came before the pause.

        A pause inside an utterance (``_MICRO_PAUSE`` or more, shorter than the VAD's end of
        speech) is an acoustic unit boundary that does not depend on Whisper's punctuation,
        which comes and goes when two sentences are spoken in one breath. The audio up to
        the middle of the pause is decoded on its own, as an utterance's end would be, and
        leaves the buffer. Only from ``sentence_commit`` seconds of utterance on, so units
        are not single words.
        """
        until = (pause[0] + pause[1]) // 2
        if (
            opts.sentence_commit is None
            or not utt.started
            or utt.commit_pending
            or until - utt.start < opts.sentence_commit * SAMPLE_RATE
        ):
            return
        utt.commit_pending = True
        self._enqueue(_Final(utt, last=False, until=until))

    def _close_utterance(self) -> None:
        utt, self._utterance = self._utterance, None
        if utt is None or utt.closed:
            return
        utt.closed = True
        if utt.started:
            self._enqueue(_Final(utt, last=True))

    def _enqueue(self, job: _Job) -> None:
        self._pending += 1
        self._jobs.send_nowait(job)

    def _seconds(self, sample: int) -> float:
        return self.start_time_offset + sample / SAMPLE_RATE

    async def _work(self) -> None:
        async for job in self._jobs:
            try:
                if isinstance(job, _Start):
                    self._event_ch.send_nowait(
                        stt.SpeechEvent(
                            type=stt.SpeechEventType.START_OF_SPEECH,
                            request_id=job.utterance.request_id,
                        )
                    )
                else:
                    await self._finalize(job.utterance, last=job.last, until=job.until)
            finally:
                self._pending -= 1

    async def _finalize(self, utt: _Utterance, *, last: bool, until: int | None = None) -> None:
        opts = self._whisper._opts
        audio = utt.audio()
        if until is not None:
            if until <= utt.start:  # already committed by then
                utt.commit_pending = False
                return
            audio = audio[: until - utt.start]
        offset = self._seconds(utt.start)
        language = self._language or (None if last else utt.language)
        transcript = await self._whisper._transcribe(audio, language=language)
        duration = len(audio) / SAMPLE_RATE
        words = list(transcript.words)
        if last or until is not None:  # the whole decoded audio is one unit
            keep, cut = words, len(audio)
        else:
            keep, cut = _commit_point(words, duration, opts.commit_margin)
            utt.next_commit_at = utt.samples + int(opts.interim_interval * 5 * SAMPLE_RATE)
            if transcript.rejected in _NOT_SPEECH:
                # Nothing but noise so far: drop it, keeping the margin for the next decode.
                cut = int((duration - opts.commit_margin) * SAMPLE_RATE)
        if not last:
            utt.commit_pending = False
        if keep:
            self._event_ch.send_nowait(
                stt.SpeechEvent(
                    type=stt.SpeechEventType.FINAL_TRANSCRIPT,
                    request_id=utt.request_id,
                    alternatives=[_speech_data(keep, transcript, offset)],
                )
            )
        used = cut / SAMPLE_RATE if not last else duration
        self._event_ch.send_nowait(
            stt.SpeechEvent(
                type=stt.SpeechEventType.RECOGNITION_USAGE,
                request_id=utt.request_id,
                recognition_usage=stt.RecognitionUsage(audio_duration=used),
            )
        )
        logger.debug(
            "whisper decode",
            extra={
                "request_id": utt.request_id,
                "audio_seconds": round(duration, 2),
                "words": len(keep),
                "rejected": transcript.rejected,
                "last": last,
            },
        )
        if last:
            self._event_ch.send_nowait(
                stt.SpeechEvent(
                    type=stt.SpeechEventType.END_OF_SPEECH,
                    request_id=utt.request_id,
                    speech_end_time=self.start_time + (utt.start + utt.samples) / SAMPLE_RATE,
                )
            )
        elif cut > 0:
            utt.drop_head(cut)
            utt.agreement.reset(at=self._seconds(utt.start))
            utt.language = None

    async def _run_interim(self, utt: _Utterance, generation: int, audio: Any) -> None:
        language = self._language or (utt.language if utt.agreement.committed else None)
        began = time.monotonic()
        try:
            transcript = await self._whisper._transcribe(audio, language=language)
        except ProviderError:
            logger.warning("whisper interim decode failed", exc_info=True)
            return
        finally:
            self._interim_cost = time.monotonic() - began
        if utt.closed or utt.generation != generation or self._utterance is not utt:
            return
        if utt.language is not None and transcript.language != utt.language:
            utt.agreement.reset(at=self._seconds(utt.start))
        utt.language = transcript.language
        offset = self._seconds(utt.start)
        shifted = [
            Word(w.text, w.start + offset, w.end + offset, w.probability) for w in transcript.words
        ]
        opts = self._whisper._opts
        if (
            opts.sentence_commit is not None
            and utt.samples >= opts.sentence_commit * SAMPLE_RATE
            and not utt.commit_pending
            and self._commit_stable_sentence(utt, shifted, transcript)
        ):
            return
        if not utt.agreement.insert(shifted):
            return
        if (
            opts.sentence_commit is not None
            and utt.samples >= opts.sentence_commit * SAMPLE_RATE
            and not utt.commit_pending
        ):
            # the agreed words may already hold a sentence end the speaker has gone past
            agreed = [*utt.agreement.committed, *utt.agreement.tentative]
            ends = [i for i in _boundaries(agreed) if i < len(utt.agreement.committed)]
            if ends:
                self._commit(utt, agreed[: ends[-1] + 1], _between(agreed, ends[-1]), transcript)
                return
        data = _speech_data(utt.agreement.committed, transcript, 0.0)
        assert data.metadata is not None
        data.metadata["unstable_text"] = join_words(utt.agreement.tentative)
        self._event_ch.send_nowait(
            stt.SpeechEvent(
                type=stt.SpeechEventType.INTERIM_TRANSCRIPT,
                request_id=utt.request_id,
                alternatives=[data],
            )
        )

    def _commit_stable_sentence(
        self, utt: _Utterance, words: Sequence[Word], transcript: Transcript
    ) -> bool:
        """Make the speech up to a stable boundary final, straight away.

        A boundary is where a unit may end (see :func:`_boundaries`: a sentence end, or a
        clause end after enough words) that the speaker has already talked past. When
        two consecutive decodes put a boundary at the same time (within
        ``_BOUNDARY_TOLERANCE``), the words up to the latest such one become a
        ``FINAL_TRANSCRIPT`` with no decode of their own, even if a word or two inside still
        flickers between hypotheses, or the punctuation does. Their audio leaves the buffer
        (cut halfway to the next word) and agreement starts afresh on the rest. This is what
        lets a monologue be interpreted sentence by sentence.
        """
        # the previous decode may have ended right on a sentence end; this one must have heard
        # the speaker go on past it
        previous = utt.boundaries
        utt.boundaries = tuple(words[i].end for i in _boundaries(words, spoken_past=False))
        for i in reversed(_boundaries(words)):
            if any(abs(words[i].end - t) <= _BOUNDARY_TOLERANCE for t in previous):
                return self._commit(utt, words[: i + 1], _between(words, i), transcript)
        return False

    def _commit(
        self, utt: _Utterance, keep: Sequence[Word], cut_at: float, transcript: Transcript
    ) -> bool:
        """Send ``keep`` as final and drop its audio up to ``cut_at`` (stream seconds)."""
        cut = round((cut_at - self._seconds(utt.start)) * SAMPLE_RATE)
        if cut <= 0 or cut > utt.samples:
            return False
        self._event_ch.send_nowait(
            stt.SpeechEvent(
                type=stt.SpeechEventType.FINAL_TRANSCRIPT,
                request_id=utt.request_id,
                alternatives=[_speech_data(list(keep), transcript, 0.0)],
            )
        )
        self._event_ch.send_nowait(
            stt.SpeechEvent(
                type=stt.SpeechEventType.RECOGNITION_USAGE,
                request_id=utt.request_id,
                recognition_usage=stt.RecognitionUsage(audio_duration=cut / SAMPLE_RATE),
            )
        )
        language = utt.language
        utt.drop_head(cut)
        utt.agreement.reset(at=self._seconds(utt.start))
        utt.language = language
        utt.boundaries = ()
        return True


def _between(words: Sequence[Word], i: int) -> float:
    """Halfway between the end of ``words[i]`` and the start of the next word."""
    return (words[i].end + max(words[i + 1].start, words[i].end)) / 2


def _boundaries(words: Sequence[Word], *, spoken_past: bool = True) -> list[int]:
    """Indices of the words a unit may end at, in order: a word ending a sentence, or a
    clause once the unit has ``_MIN_CLAUSE_WORDS`` words. With ``spoken_past``, only words
    followed by more speech count (the last word of a hypothesis is never one)."""
    out: list[int] = []
    size = 0
    for i in range(len(words) - 1 if spoken_past else len(words)):
        size += 1
        text = words[i].text.strip()
        if text.endswith(_SENTENCE_END) or (
            size >= _MIN_CLAUSE_WORDS and text.endswith(_CLAUSE_END)
        ):
            out.append(i)
            size = 0
    return out


def _pcm(frames: Sequence[rtc.AudioFrame]) -> npt.NDArray[np.int16]:
    if not frames:
        return np.zeros(0, np.int16)
    if len(frames) == 1:
        return np.frombuffer(frames[0].data, dtype=np.int16).copy()
    return np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in frames])


_SENTENCE_END = (".", "!", "?", "。", "！", "？", "…")
_CLAUSE_END = (",", ";", ":", "，", "；", "：", "、")
_MIN_CLAUSE_WORDS = 8
_MICRO_PAUSE = 0.15  # seconds of VAD silence inside an utterance that end a unit
# Interim decodes wait for this many times the last one's duration in new audio, so a stream
# spends at most about half its time on previews and a busy CPU previews less often.
_INTERIM_DUTY = 2.0
_BOUNDARY_TOLERANCE = 0.5  # seconds
# Rejections that mean the audio held no speech (a repetition loop may still hide speech).
_NOT_SPEECH = frozenset({"no_speech", "low_logprob", "hallucination"})


def _commit_point(words: Sequence[Word], duration: float, margin: float) -> tuple[list[Word], int]:
    """Words to commit early from a long buffer, and the sample where the rest begins.

    Keeps the words that end before the last ``margin`` seconds (the tail may be cut
    mid-word), ending at a unit boundary (:func:`_boundaries`) when one lies in the second
    half of those words.
    """
    eligible = [i for i, w in enumerate(words) if w.end <= duration - margin]
    if not eligible:
        return [], 0
    last = eligible[-1]
    ends = [i for i in _boundaries(words, spoken_past=False) if last // 2 <= i <= last]
    if ends:
        last = ends[-1]
    cut = words[last].end
    if last + 1 < len(words):
        cut = (cut + words[last + 1].start) / 2
    return list(words[: last + 1]), int(cut * SAMPLE_RATE)
