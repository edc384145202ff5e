"""When a translation unit ends: the unit-commit policy of the embedded STT, without I/O.

:class:`CommitPolicy` is fed what the VAD and the decoder say and answers what to do next. It
is synchronous, owns no audio, runs no model and never reads the clock: time is audio sample
positions (absolute sample indices of the stream, at ``sample_rate``), so a replay of the same
inputs gives the same decisions. :class:`~interpreter.providers.whisper_stt.WhisperRecognizeStream`
is its async adapter: it keeps the audio, runs the decodes in threads and turns the decisions
into speech events.

Inputs:

* :meth:`~CommitPolicy.speech_started`, :meth:`~CommitPolicy.window`,
  :meth:`~CommitPolicy.end_utterance`: the VAD (start of speech with its prefix padding, one
  inference window with its speech probability, end of speech / flush / end of input);
* :meth:`~CommitPolicy.resolved`, :meth:`~CommitPolicy.begin` and
  :meth:`~CommitPolicy.decoded` (:meth:`~CommitPolicy.speculated` for a :class:`PauseDecode`):
  a queued job is carried out (its outcome may already be known; else its decode starts and
  its :class:`Hypothesis` arrives), then :meth:`~CommitPolicy.job_done`;
* :meth:`~CommitPolicy.interim_done`: an interim decode finished (with the wall seconds it
  took, which paces the next one).

Rules, all from :class:`CommitTimings`:

* An utterance counts once it holds ``min_speech`` seconds of speech windows
  (:class:`SpeechStarted`); one with less is dropped unheard (:class:`DropUtterance`).
* While it grows, an interim decode of the whole buffer (:class:`RunInterim`) runs after
  every ``interim_interval`` seconds of new audio, or ``interim_duty`` times the last interim
  decode's cost if that is longer, from ``min_interim_audio`` seconds on, and only while no
  job is queued or running and no other interim decode runs. Each hypothesis goes through
  LocalAgreement-2 (:class:`ShowInterim`: the stable prefix, which never retracts).
* From ``sentence_commit`` seconds of utterance on, a unit ends early:

  - at a breath: speech resumes after at least ``micro_pause`` seconds of VAD quiet; the
    audio up to the middle of the pause is decoded and committed whole (:class:`DecodeUnit`);
  - when two consecutive interim decodes put a sentence or clause end at the same time
    (within ``boundary_tolerance``) and the speaker has talked past it, or the agreed words
    hold such a boundary: the words up to it become final with no decode of their own, and
    their audio is cut halfway to the next word (:class:`Commit` from :meth:`interim_done`).

* From ``max_utterance`` seconds on (then at most every ``5 * interim_interval`` seconds of
  audio), the buffer is decoded and the words that end before its last ``commit_margin``
  seconds become final, ending at a boundary when one lies in the second half of them
  (:class:`ForceCommit`). A decode rejected as no speech drops the audio but the margin.
* At a pause (``pause_decode`` seconds of VAD quiet after speech, no interim decode running),
  the utterance so far is decoded at once, speculatively (:class:`PauseDecode`), instead of
  after the VAD's end of speech (``vad_min_silence``, about 0.6 s after the last word). Its
  hypothesis becomes final as soon as the pause is confirmed: at once when the utterance is
  ``sentence_commit`` seconds long (the pause is a breath, which ends a unit whether or not
  the speaker goes on); when its text ends a sentence and the quiet has lasted
  ``sentence_pause``; at the end of the utterance, if no speech came after the decoded audio;
  or, as a breath unit, when speech resumes. Otherwise (speech resumed in a short utterance)
  it is dropped. No interim decode starts during VAD quiet: a speculation would cover it.
* At the end of the utterance, the rest is decoded once more and committed whole
  (:class:`FinalDecode`), unless a speculation already decoded all of it, or nothing but
  quiet is left after the last commit (then it ends without a decode).
* One commit is in flight at a time: no breath, boundary, speculative or forced commit is
  decided while a :class:`DecodeUnit`, :class:`ForceCommit` or :class:`PauseDecode` waits for
  its decode or its pause to be confirmed.

Committed audio leaves the utterance: its start moves to the cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from interpreter.providers.local_agreement import LocalAgreement, Word
from languages import Language

__all__ = [
    "Commit",
    "CommitPolicy",
    "CommitTimings",
    "Decision",
    "DecodeRequest",
    "DecodeUnit",
    "DropUtterance",
    "FinalDecode",
    "ForceCommit",
    "Hypothesis",
    "Job",
    "PauseDecode",
    "RunInterim",
    "ShowInterim",
    "SpeechStarted",
    "boundaries",
    "commit_point",
]

SENTENCE_END = (".", "!", "?", "。", "！", "？", "…")
CLAUSE_END = (",", ";", ":", "，", "；", "：", "、")
MIN_CLAUSE_WORDS = 8
"""A clause end may end a unit once the unit has this many words."""
COMMIT_SPACING = 5
"""After a forced commit, the next waits for this many ``interim_interval`` of new audio."""


@dataclass(frozen=True, slots=True)
class CommitTimings:
    """Every timing of the policy, in seconds (``speech_threshold`` is a probability).

    The defaults are the values production uses.
    """

    interim_interval: float = 0.5
    """New audio between interim decodes."""
    min_interim_audio: float = 1.0
    """No interim decode before the utterance holds this much audio."""
    sentence_commit: float | None = 2.0
    """From this much utterance on, breaths and stable boundaries end units (``None``: never)."""
    max_utterance: float = 10.0
    """From this much audio on, a unit is committed whatever the speaker does."""
    commit_margin: float = 1.5
    """The tail a forced commit keeps (its words may still change)."""
    min_speech: float = 0.25
    """Utterances with less VAD speech than this are ignored."""
    speech_threshold: float = 0.5
    """VAD probability from which a window counts as speech."""
    micro_pause: float = 0.15
    """VAD quiet inside an utterance that ends a unit (a breath)."""
    boundary_tolerance: float = 0.5
    """How far two decodes' boundaries may lie apart and still agree."""
    interim_duty: float = 2.0
    """Interim decodes wait for this many times the last one's cost in new audio, so a stream
    spends at most about half its time on previews and a busy CPU previews less often."""
    vad_min_silence: float = 0.5
    """The VAD's end-of-speech silence (``min_silence_duration``)."""
    vad_prefix_padding: float = 0.5
    """Audio the VAD keeps before the start of speech (``prefix_padding_duration``)."""
    pause_decode: float | None = 0.15
    """VAD quiet after speech from which the utterance so far is decoded speculatively, so
    its final is ready when the pause is confirmed (``None``: never; wait for the VAD)."""
    sentence_pause: float = 0.3
    """VAD quiet that ends a unit shorter than ``sentence_commit`` when its speculative decode
    ends a sentence (instead of the VAD's ``vad_min_silence``)."""

    def __post_init__(self) -> None:
        if self.interim_interval <= 0:
            raise ValueError("interim_interval must be > 0")
        if self.pause_decode is not None and self.pause_decode <= 0:
            raise ValueError("pause_decode must be > 0 (or None)")
        if not self.max_utterance > self.commit_margin > 0:
            raise ValueError("need max_utterance > commit_margin > 0")


# ---- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """What one decode of ``[start, end)`` heard: words timed in seconds from ``start``."""

    words: tuple[Word, ...]
    language: Language
    no_speech: bool = False
    """The decoder rejected the audio as holding no speech (noise, music, silence)."""


# ---- decisions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Job: announce the utterance (it holds enough speech to count)."""

    utterance: int


@dataclass(frozen=True, slots=True)
class DecodeUnit:
    """Job: decode the utterance's audio before sample ``until`` and commit all of it as one
    unit (the speaker took a breath there)."""

    utterance: int
    until: int


@dataclass(frozen=True, slots=True)
class ForceCommit:
    """Job: decode the utterance's buffer and commit what ends before the margin."""

    utterance: int


@dataclass(frozen=True, slots=True)
class PauseDecode:
    """Job: the speaker paused; decode the utterance's audio before sample ``until`` now,
    speculatively, and report with :meth:`CommitPolicy.speculated`."""

    utterance: int
    until: int


@dataclass(frozen=True, slots=True)
class FinalDecode:
    """Job: the utterance ended; decode the rest and commit it whole."""

    utterance: int


Job = SpeechStarted | DecodeUnit | ForceCommit | FinalDecode | PauseDecode
"""Decisions to carry out one after another, in order (:meth:`CommitPolicy.job_done` after
each)."""


@dataclass(frozen=True, slots=True)
class RunInterim:
    """Decode samples ``[start, end)`` now, for a preview; report with
    :meth:`CommitPolicy.interim_done`. ``language`` is a hint (``None``: identify it)."""

    utterance: int
    generation: int
    start: int
    end: int
    language: Language | None


@dataclass(frozen=True, slots=True)
class DropUtterance:
    """The utterance ended with too little speech to count: forget its audio."""

    utterance: int


@dataclass(frozen=True, slots=True)
class DecodeRequest:
    """A job's decode: samples ``[start, end)``; ``language`` is a hint (``None``: identify)."""

    job: DecodeUnit | ForceCommit | FinalDecode | PauseDecode
    start: int
    end: int
    language: Language | None


@dataclass(frozen=True, slots=True)
class Commit:
    """Make ``words`` final (none: nothing was heard) and account ``audio_seconds`` of audio.

    Word times are seconds of stream audio. With ``last`` the utterance is over (its audio
    ended at sample ``end``) and everything of it may be forgotten; otherwise the audio before
    sample ``cut`` leaves the utterance (``None``: it stays).
    """

    utterance: int
    words: tuple[Word, ...]
    audio_seconds: float
    cut: int | None
    last: bool = False
    end: int = 0
    speculative: bool = False
    """The words come from a :class:`PauseDecode`'s hypothesis (reported to
    :meth:`CommitPolicy.speculated`), not from a decode of this commit's own."""


@dataclass(frozen=True, slots=True)
class ShowInterim:
    """Preview: ``stable`` words never retract; ``unstable`` is the newest guess beyond them."""

    utterance: int
    stable: tuple[Word, ...]
    unstable: tuple[Word, ...]


Decision = Job | RunInterim | DropUtterance | Commit | ShowInterim


# ---- the policy ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Speculation:
    """A :class:`PauseDecode` of samples ``[start, end)``: running until ``hypothesis``."""

    start: int
    end: int
    hypothesis: Hypothesis | None = None
    resumed: bool = False  # speech came after ``end``: it cannot be the utterance's final


@dataclass(slots=True)
class _Utterance:
    id: int
    start: int  # absolute sample where the uncommitted audio begins
    samples: int = 0  # uncommitted audio
    speech_samples: int = 0
    started: bool = False
    closed: bool = False
    generation: int = 0  # bumped whenever audio is cut: older interim decodes are stale
    decoded_at: int = 0  # ``samples`` when the last interim decode was started
    commit_pending: bool = False
    next_commit_at: int = 0
    boundaries: tuple[float, ...] = ()  # end times of the last decode's boundaries
    quiet_since: int | None = None  # absolute sample where the VAD last went quiet
    last_speech: int = 0  # absolute sample where the last speech window ended
    speech_since_speculation: int = 0  # speech samples heard since the last PauseDecode
    speculation: _Speculation | None = None
    language: Language | None = None
    agreement: LocalAgreement = field(default_factory=lambda: LocalAgreement(n=2))

    def drop_head(self, count: int) -> None:
        count = max(0, min(count, self.samples))
        self.samples -= count
        self.start += count
        self.decoded_at = max(0, self.decoded_at - count)
        self.next_commit_at = max(0, self.next_commit_at - count)
        self.generation += 1


class CommitPolicy:
    """Decide when units end, for one audio stream (see the module docstring).

    ``interims``: run interim decodes (and so commit at agreed boundaries); without them only
    breaths, forced commits and ends of utterances end units.
    """

    def __init__(
        self,
        *,
        timings: CommitTimings | None = None,
        interims: bool = True,
        sample_rate: int = 16_000,
    ) -> None:
        self._t = timings or CommitTimings()
        self._interims = interims
        self._rate = sample_rate
        self._position = 0
        self._current: _Utterance | None = None
        self._live: dict[int, _Utterance] = {}
        self._next_id = 0
        self._jobs = 0  # queued or running
        self._interim_running = False
        self._interim_cost = 0.0

    @property
    def timings(self) -> CommitTimings:
        return self._t

    @property
    def position(self) -> int:
        """Samples of stream audio heard so far (the end of the last window)."""
        return self._position

    @property
    def utterance(self) -> int | None:
        """The open utterance (the one the last window or start of speech went to), if any."""
        return self._current.id if self._current is not None else None

    def start_of(self, utterance: int) -> int:
        """Absolute sample where the utterance's uncommitted audio begins."""
        return self._live[utterance].start

    # ---- VAD ------------------------------------------------------------------------------

    def speech_started(self, prefix: int) -> list[Decision]:
        """The VAD heard speech start; the last ``prefix`` samples heard belong to it."""
        out = self.end_utterance()
        utt = self._open(self._position - prefix)
        utt.samples = prefix
        utt.last_speech = self._position  # the VAD started speech on the prefix's last windows
        return out

    def window(self, samples: int, *, probability: float, speaking: bool) -> list[Decision]:
        """One VAD window of ``samples`` with its speech ``probability``; ``speaking`` is the
        VAD's own state (a window while speaking opens an utterance if none is open)."""
        self._position += samples
        utt = self._current
        if utt is None and speaking:
            utt = self._open(self._position - samples)
        if utt is None:
            return []
        out: list[Decision] = []
        speech = probability >= self._t.speech_threshold
        pause = self._hear(utt, samples, speech=speech)
        spec = utt.speculation
        if speech:
            utt.speech_samples += samples
            utt.speech_since_speculation += samples
            utt.last_speech = utt.start + utt.samples
            if spec is not None and not spec.resumed:
                # the speaker went on after a pause decoded speculatively: a breath unit (now
                # or when its decode is done) if it is long enough, else the speculation is
                # dropped at once, so it holds up no other commit (this pause is its)
                spec.resumed = True
                pause = None
                if self._long(spec):
                    out += _listed(self._settle(utt))
                else:
                    utt.speculation = None
                    utt.commit_pending = False
        elif spec is not None:
            out += _listed(self._settle(utt))
        else:
            out += self._speculate(utt)
        if pause is not None:
            out += self._on_pause(utt, pause)
        out += self._advance(utt)
        return out

    def end_utterance(self) -> list[Decision]:
        """The utterance ends (VAD end of speech, a flush, the end of input)."""
        utt, self._current = self._current, None
        if utt is None or utt.closed:
            return []
        utt.closed = True
        if utt.started:
            return [self._job(FinalDecode(utt.id))]
        del self._live[utt.id]
        return [DropUtterance(utt.id)]

    # ---- jobs -----------------------------------------------------------------------------

    def resolved(self, job: DecodeUnit | ForceCommit | FinalDecode | PauseDecode) -> Commit | None:
        """The job's turn came: its outcome when it needs no decode of its own (ask before
        :meth:`begin`; ``None``: decode).

        The end of an utterance needs none when a :class:`PauseDecode` decoded all of its
        audio but quiet (its hypothesis becomes the final), or when only quiet is left after
        the last commit (nothing to add).
        """
        utt = self._live[job.utterance]
        if not isinstance(job, FinalDecode):
            return None
        spec, utt.speculation = utt.speculation, None
        end = utt.start + utt.samples
        words: tuple[Word, ...] = ()
        if (
            spec is not None
            and spec.hypothesis is not None
            and not spec.resumed
            and spec.start == utt.start
        ):
            offset = spec.start / self._rate
            words = tuple(_shift(w, offset) for w in spec.hypothesis.words)
        elif utt.last_speech > utt.start:
            return None
        del self._live[utt.id]
        return Commit(
            utterance=utt.id,
            words=words,
            audio_seconds=utt.samples / self._rate,
            cut=None,
            last=True,
            end=end,
            speculative=spec is not None and bool(words),
        )

    def begin(
        self, job: DecodeUnit | ForceCommit | FinalDecode | PauseDecode
    ) -> DecodeRequest | None:
        """The job's turn came: what to decode (``None``: nothing, the job is void)."""
        utt = self._live[job.utterance]
        end = utt.start + utt.samples
        if isinstance(job, PauseDecode) and (
            utt.speculation is None or utt.speculation.end != job.until
        ):
            return None  # dropped before its turn: the speaker talked through the pause
        if isinstance(job, DecodeUnit | PauseDecode):
            if job.until <= utt.start:  # already committed by then
                utt.commit_pending = False
                utt.speculation = None
                return None
            end = job.until
        language = None if isinstance(job, FinalDecode | PauseDecode) else utt.language
        return DecodeRequest(job=job, start=utt.start, end=end, language=language)

    def speculated(self, request: DecodeRequest, hypothesis: Hypothesis) -> Commit | None:
        """A :class:`PauseDecode`'s decode is done: what becomes final now (``None``: nothing
        yet; its hypothesis waits for the pause to be confirmed)."""
        utt = self._live[request.job.utterance]
        spec = utt.speculation
        if spec is None or (spec.start, spec.end) != (request.start, request.end):
            return None
        spec.hypothesis = hypothesis
        return self._settle(utt)

    def decoded(self, request: DecodeRequest, hypothesis: Hypothesis) -> Commit:
        """The job's decode is done: what becomes final (not for a :class:`PauseDecode`: see
        :meth:`speculated`)."""
        job = request.job
        if isinstance(job, PauseDecode):
            raise TypeError("a PauseDecode's hypothesis goes to speculated()")
        utt = self._live[job.utterance]
        size = request.end - request.start
        duration = size / self._rate
        words = list(hypothesis.words)
        if isinstance(job, ForceCommit):
            keep, cut = commit_point(words, duration, self._t.commit_margin, rate=self._rate)
            spacing = self._t.interim_interval * COMMIT_SPACING
            utt.next_commit_at = utt.samples + int(spacing * self._rate)
            if hypothesis.no_speech:
                # nothing but noise so far: drop it, keeping the margin for the next decode
                cut = int((duration - self._t.commit_margin) * self._rate)
        else:  # the whole decoded audio is one unit
            keep, cut = words, size
        offset = request.start / self._rate
        shifted = tuple(_shift(w, offset) for w in keep)
        if isinstance(job, FinalDecode):
            del self._live[utt.id]
            return Commit(
                utterance=utt.id,
                words=shifted,
                audio_seconds=duration,
                cut=None,
                last=True,
                end=utt.start + utt.samples,
            )
        utt.commit_pending = False
        at: int | None = None
        if cut > 0:
            utt.drop_head(cut)
            utt.agreement.reset(at=utt.start / self._rate)
            utt.language = None
            at = utt.start
        return Commit(utterance=utt.id, words=shifted, audio_seconds=cut / self._rate, cut=at)

    def job_done(self) -> None:
        """A job (any :data:`Job`) was carried out, or failed."""
        self._jobs -= 1

    # ---- interim decodes ------------------------------------------------------------------

    def interim_done(
        self, run: RunInterim, hypothesis: Hypothesis | None, *, cost: float
    ) -> list[Decision]:
        """An interim decode finished (``None``: it failed) after ``cost`` wall seconds."""
        self._interim_running = False
        self._interim_cost = cost
        out = self._interim_result(run, hypothesis)
        if self._current is not None and self._current.speculation is None:
            # a pause that began while the decode ran waited for it
            out += self._speculate(self._current)
        return out

    def _interim_result(self, run: RunInterim, hypothesis: Hypothesis | None) -> list[Decision]:
        utt = self._live.get(run.utterance)
        if (
            hypothesis is None
            or utt is None
            or utt.closed
            or utt.generation != run.generation
            or self._current is not utt
        ):
            return []
        if utt.language is not None and hypothesis.language != utt.language:
            utt.agreement.reset(at=utt.start / self._rate)
        utt.language = hypothesis.language
        offset = utt.start / self._rate
        shifted = [_shift(w, offset) for w in hypothesis.words]
        if self._may_end_early(utt):
            commit = self._commit_stable_sentence(utt, shifted)
            if commit is not None:
                return [commit]
        if not utt.agreement.insert(shifted):
            return []
        if self._may_end_early(utt):
            # the agreed words may already hold a sentence end the speaker has gone past
            agreed = [*utt.agreement.committed, *utt.agreement.tentative]
            ends = [i for i in boundaries(agreed) if i < len(utt.agreement.committed)]
            if ends:
                commit = self._commit(utt, agreed[: ends[-1] + 1], _between(agreed, ends[-1]))
                return [commit] if commit is not None else []
        return [ShowInterim(utt.id, utt.agreement.committed, utt.agreement.tentative)]

    # ---- rules ----------------------------------------------------------------------------

    def _open(self, start: int) -> _Utterance:
        utt = _Utterance(id=self._next_id, start=start)
        self._next_id += 1
        self._live[utt.id] = utt
        self._current = utt
        return utt

    def _job(self, job: Job) -> Job:
        self._jobs += 1
        return job

    def _hear(self, utt: _Utterance, samples: int, *, speech: bool) -> tuple[int, int] | None:
        """Append one window; return a pause the speaker just ended, as absolute samples
        (start, end), when the window is speech after at least ``micro_pause`` s of quiet."""
        at = utt.start + utt.samples
        utt.samples += samples
        if not speech:
            if utt.quiet_since is None:
                utt.quiet_since = at
            return None
        quiet, utt.quiet_since = utt.quiet_since, None
        if quiet is not None and at - quiet >= self._t.micro_pause * self._rate:
            return quiet, at
        return None

    def _on_pause(self, utt: _Utterance, pause: tuple[int, int]) -> list[Decision]:
        """The speaker paused briefly and went on: finalise what came before the pause.

        A pause inside an utterance (``micro_pause`` or more, shorter than the VAD's end of
        speech) is an acoustic unit boundary that does not depend on the decoder's
        punctuation, which comes and goes when two sentences are spoken in one breath. The
        audio up to the middle of the pause is decoded on its own, as an utterance's end
        would be, and leaves the buffer. Only from ``sentence_commit`` seconds of utterance
        on, so units are not single words.
        """
        until = (pause[0] + pause[1]) // 2
        sentence_commit = self._t.sentence_commit
        if (
            sentence_commit is None
            or not utt.started
            or utt.commit_pending
            or until - utt.start < sentence_commit * self._rate
        ):
            return []
        utt.commit_pending = True
        return [self._job(DecodeUnit(utt.id, until))]

    def _advance(self, utt: _Utterance) -> list[Decision]:
        t = self._t
        out: list[Decision] = []
        if not utt.started and utt.speech_samples >= t.min_speech * self._rate:
            utt.started = True
            out.append(self._job(SpeechStarted(utt.id)))
        if not utt.started:
            return out
        if (
            utt.samples >= t.max_utterance * self._rate
            and not utt.commit_pending
            and utt.samples >= utt.next_commit_at
        ):
            utt.commit_pending = True
            out.append(self._job(ForceCommit(utt.id)))
            return out
        if (
            self._interims
            and self._jobs == 0
            and not self._interim_running
            and (t.pause_decode is None or utt.quiet_since is None)
            and utt.samples >= t.min_interim_audio * self._rate
            and utt.samples - utt.decoded_at
            >= max(t.interim_interval, t.interim_duty * self._interim_cost) * self._rate
        ):
            utt.decoded_at = utt.samples
            self._interim_running = True
            language = utt.language if utt.agreement.committed else None
            out.append(
                RunInterim(
                    utterance=utt.id,
                    generation=utt.generation,
                    start=utt.start,
                    end=utt.start + utt.samples,
                    language=language,
                )
            )
        return out

    def _speculate(self, utt: _Utterance) -> list[Decision]:
        """Decode the utterance so far now, if the speaker has been quiet for ``pause_decode``
        after at least ``min_speech`` of speech since the last such decode, and no other
        decode is in the way."""
        pause_decode = self._t.pause_decode
        if (
            pause_decode is None
            or utt.quiet_since is None
            or not utt.started
            or utt.closed
            or utt.commit_pending
            or self._interim_running
            or utt.last_speech <= utt.start
            # a pause after new speech (noise that flickers around the threshold must not
            # decode the buffer over and over)
            or utt.speech_since_speculation < self._t.min_speech * self._rate
            or utt.start + utt.samples - utt.quiet_since < pause_decode * self._rate
        ):
            return []
        until = utt.start + utt.samples
        utt.speech_since_speculation = 0
        utt.commit_pending = True
        utt.speculation = _Speculation(start=utt.start, end=until)
        return [self._job(PauseDecode(utt.id, until))]

    def _settle(self, utt: _Utterance) -> Commit | None:
        """Commit a speculation whose pause is confirmed, or drop one the speaker talked
        through; nothing while its decode runs or its pause may still turn out to be short.

        Confirmed: the utterance is ``sentence_commit`` long (a breath ends such a unit
        whether or not speech resumes), or its text ends a sentence and the quiet has lasted
        ``sentence_pause``. The end of the utterance confirms any (:meth:`resolved`)."""
        spec = utt.speculation
        if spec is None or spec.hypothesis is None:
            return None
        sentence_commit = self._t.sentence_commit
        long = self._long(spec)
        if utt.closed and not (spec.resumed and long):
            return None  # the end of the utterance takes it as its final (or decodes all)
        if not spec.resumed and not long:
            since = spec.end if utt.quiet_since is None else utt.quiet_since
            quiet = utt.start + utt.samples - since
            if (
                sentence_commit is None
                or quiet < self._t.sentence_pause * self._rate
                or not _ends_sentence(spec.hypothesis.words)
            ):
                return None
        utt.speculation = None
        utt.commit_pending = False
        if spec.resumed and not long:
            return None
        offset = spec.start / self._rate
        words = tuple(_shift(w, offset) for w in spec.hypothesis.words)
        cut = spec.end - utt.start
        utt.drop_head(cut)
        utt.agreement.reset(at=utt.start / self._rate)
        utt.language = None
        utt.boundaries = ()
        return Commit(
            utterance=utt.id,
            words=words,
            audio_seconds=cut / self._rate,
            cut=utt.start,
            speculative=True,
        )

    def _long(self, spec: _Speculation) -> bool:
        """The speculation decodes ``sentence_commit`` or more: its pause is a breath."""
        sentence_commit = self._t.sentence_commit
        return sentence_commit is not None and spec.end - spec.start >= sentence_commit * self._rate

    def _may_end_early(self, utt: _Utterance) -> bool:
        sentence_commit = self._t.sentence_commit
        return (
            sentence_commit is not None
            and utt.samples >= sentence_commit * self._rate
            and not utt.commit_pending
        )

    def _commit_stable_sentence(self, utt: _Utterance, words: Sequence[Word]) -> Commit | None:
        """Make the speech up to a stable boundary final, straight away.

        A boundary is where a unit may end (see :func:`boundaries`: a sentence end, or a
        clause end after enough words) that the speaker has already talked past. When two
        consecutive decodes put a boundary at the same time (within ``boundary_tolerance``),
        the words up to the latest such one become final with no decode of their own, even
        if a word or two inside still flickers between hypotheses, or the punctuation does.
        Their audio leaves the buffer (cut halfway to the next word) and agreement starts
        afresh on the rest. This is what lets a monologue be interpreted sentence by sentence.
        """
        # the previous decode may have ended right on a sentence end; this one must have heard
        # the speaker go on past it
        previous = utt.boundaries
        utt.boundaries = tuple(words[i].end for i in boundaries(words, spoken_past=False))
        tolerance = self._t.boundary_tolerance
        for i in reversed(boundaries(words)):
            if any(abs(words[i].end - t) <= tolerance for t in previous):
                return self._commit(utt, words[: i + 1], _between(words, i))
        return None

    def _commit(self, utt: _Utterance, keep: Sequence[Word], cut_at: float) -> Commit | None:
        """``keep`` becomes final and the audio up to ``cut_at`` (stream seconds) is dropped."""
        cut = round((cut_at - utt.start / self._rate) * self._rate)
        if cut <= 0 or cut > utt.samples:
            return None
        language = utt.language
        utt.drop_head(cut)
        utt.agreement.reset(at=utt.start / self._rate)
        utt.language = language
        utt.boundaries = ()
        return Commit(
            utterance=utt.id, words=tuple(keep), audio_seconds=cut / self._rate, cut=utt.start
        )


def _shift(word: Word, offset: float) -> Word:
    return Word(word.text, word.start + offset, word.end + offset, word.probability)


def _listed(commit: Commit | None) -> list[Decision]:
    return [commit] if commit is not None else []


def _ends_sentence(words: Sequence[Word]) -> bool:
    return bool(words) and words[-1].text.strip().endswith(SENTENCE_END)


def _between(words: Sequence[Word], i: int) -> float:
    """Halfway between the end of ``words[i]`` and the start of the next word."""
    return (words[i].end + max(words[i + 1].start, words[i].end)) / 2


def boundaries(words: Sequence[Word], *, spoken_past: bool = True) -> list[int]:
    """Indices of the words a unit may end at, in order: a word ending a sentence, or a
    clause once the unit has ``MIN_CLAUSE_WORDS`` words. With ``spoken_past``, only words
    followed by more speech count (the last word of a hypothesis is never one)."""
    out: list[int] = []
    size = 0
    for i in range(len(words) - 1 if spoken_past else len(words)):
        size += 1
        text = words[i].text.strip()
        if text.endswith(SENTENCE_END) or (size >= MIN_CLAUSE_WORDS and text.endswith(CLAUSE_END)):
            out.append(i)
            size = 0
    return out


def commit_point(
    words: Sequence[Word], duration: float, margin: float, *, rate: int = 16_000
) -> tuple[list[Word], int]:
    """Words to commit early from a long buffer, and the sample where the rest begins.

    Keeps the words that end before the last ``margin`` seconds (the tail may be cut
    mid-word), ending at a unit boundary (:func:`boundaries`) when one lies in the second
    half of those words. Times are seconds from the start of the buffer.
    """
    eligible = [i for i, w in enumerate(words) if w.end <= duration - margin]
    if not eligible:
        return [], 0
    last = eligible[-1]
    ends = [i for i in boundaries(words, spoken_past=False) if last // 2 <= i <= last]
    if ends:
        last = ends[-1]
    cut = words[last].end
    if last + 1 < len(words):
        cut = (cut + words[last + 1].start) / 2
    return list(words[: last + 1]), int(cut * rate)
