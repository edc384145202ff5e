"""When the embedded STT ends a unit: the commit policy replayed from scripted VAD windows and
decoder hypotheses (no model, no event loop, no clock)."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from interpreter.providers.commit_policy import (
    Commit,
    CommitPolicy,
    CommitTimings,
    Decision,
    DecodeRequest,
    DecodeUnit,
    DropUtterance,
    FinalDecode,
    ForceCommit,
    Hypothesis,
    PauseDecode,
    RunInterim,
    ShowInterim,
    SpeechStarted,
)
from interpreter.providers.local_agreement import Word, join_words
from languages import Language

RATE = 16_000
BREATHS = CommitTimings(pause_decode=None)
"""Without speculative decodes at pauses: a breath is only decided when speech resumes."""
WINDOW = 512  # Silero's window at 16 kHz: 32 ms
EN = Language("en")


def seconds(value: float) -> int:
    return round(value * RATE)


class Replay:
    """Feeds a policy VAD windows and answers its decodes from a script."""

    def __init__(self, policy: CommitPolicy) -> None:
        self.policy = policy
        self.decisions: list[Decision] = []
        self.running: RunInterim | None = None  # the interim decode not answered yet

    def speak(self, duration: float, *, probability: float = 0.9) -> list[Decision]:
        out: list[Decision] = []
        for _ in range(round(duration * RATE / WINDOW)):
            out += self.policy.window(WINDOW, probability=probability, speaking=True)
        self.decisions += out
        runs = [d for d in out if isinstance(d, RunInterim)]
        if runs:
            self.running = runs[-1]
        return out

    def pause(self, duration: float) -> list[Decision]:
        return self.speak(duration, probability=0.05)

    def of(self, kind: type[Decision]) -> list[Decision]:
        return [d for d in self.decisions if isinstance(d, kind)]


def words(text: str, *, start: float = 0.0, step: float = 0.3) -> tuple[Word, ...]:
    """Words of ``text``, one every ``step`` seconds from ``start`` (audio-relative)."""
    return tuple(
        Word(f" {t}", start + i * step, start + i * step + step * 0.8)
        for i, t in enumerate(text.split())
    )


def hypothesis(text: str, **kw: float) -> Hypothesis:
    return Hypothesis(words=words(text, **kw), language=EN)


def run_job(policy: CommitPolicy, job: Decision, hyp: Hypothesis) -> Commit | None:
    """Carry out a job as the STT does: its known outcome, or its decode answered by ``hyp``."""
    assert isinstance(job, DecodeUnit | ForceCommit | FinalDecode | PauseDecode)
    try:
        known = policy.resolved(job)
        if known is not None:
            return known
        request = policy.begin(job)
        if request is None:
            return None
        if isinstance(job, PauseDecode):
            return policy.speculated(request, hyp)
        return policy.decoded(request, hyp)
    finally:
        policy.job_done()


def start_speech(replay: Replay) -> int:
    """Speak until the policy announces the utterance; acknowledge the announcement."""
    replay.speak(0.3)
    [started] = replay.of(SpeechStarted)
    replay.policy.job_done()
    assert isinstance(started, SpeechStarted)
    return started.utterance


# ---- breath units -------------------------------------------------------------------------


def test_a_breath_after_two_seconds_ends_a_unit_of_exactly_the_audio_before_it() -> None:
    replay = Replay(CommitPolicy(interims=False, timings=BREATHS))
    utterance = start_speech(replay)
    replay.speak(1.9)
    replay.pause(0.2)  # a breath, far shorter than the VAD's end of speech
    resumed = replay.speak(0.1)
    [unit] = [d for d in resumed if isinstance(d, DecodeUnit)]
    assert unit.utterance == utterance
    pause_start = seconds(2.2)
    assert pause_start < unit.until < pause_start + seconds(0.25)  # the middle of the pause

    request = replay.policy.begin(unit)
    assert request is not None and (request.start, request.end) == (0, unit.until)
    commit = replay.policy.decoded(request, hypothesis("we grew by twelve percent"))
    replay.policy.job_done()
    # the whole decoded audio is the unit, whatever the punctuation
    assert join_words(commit.words) == "we grew by twelve percent"
    assert commit.cut == unit.until and not commit.last
    assert commit.audio_seconds == pytest.approx(unit.until / RATE)
    assert replay.policy.start_of(utterance) == unit.until


def test_no_breath_unit_before_sentence_commit_seconds_of_utterance() -> None:
    replay = Replay(CommitPolicy(interims=False, timings=BREATHS))
    start_speech(replay)
    replay.speak(1.0)
    replay.pause(0.3)
    replay.speak(0.5)
    assert replay.of(DecodeUnit) == []
    # a pause shorter than micro_pause is no breath either, later on
    replay.speak(1.0)
    replay.pause(0.1)
    replay.speak(0.2)
    assert replay.of(DecodeUnit) == []


def test_a_breath_unit_whose_audio_was_committed_meanwhile_is_void() -> None:
    replay = Replay(CommitPolicy(interims=False, timings=BREATHS))
    start_speech(replay)
    replay.speak(2.0)
    replay.pause(0.2)
    replay.speak(0.1)
    [unit] = replay.of(DecodeUnit)
    assert isinstance(unit, DecodeUnit)
    first = run_job(replay.policy, unit, hypothesis("one two three"))
    assert first is not None
    assert replay.policy.begin(dataclasses.replace(unit, until=unit.until - 1)) is None


# ---- speculative decodes at pauses --------------------------------------------------------


def pause_decode(replay: Replay, pause: float) -> PauseDecode:
    """Pause for ``pause`` s; the one speculative decode the policy decided meanwhile."""
    replay.pause(pause)
    [job] = replay.of(PauseDecode)
    assert isinstance(job, PauseDecode)
    return job


def test_a_pause_is_decoded_at_once_without_waiting_for_the_vads_end_of_speech() -> None:
    replay = Replay(CommitPolicy(interims=False))
    utterance = start_speech(replay)
    replay.speak(0.7)
    quiet_from = replay.policy.position
    job = pause_decode(replay, 0.2)
    # decided on the window that made 0.15 s of quiet, decoding everything heard so far
    assert job.utterance == utterance
    assert quiet_from + seconds(0.15) <= job.until < quiet_from + seconds(0.15) + WINDOW
    request = replay.policy.begin(job)
    assert request is not None and (request.start, request.end) == (0, job.until)
    assert request.language is None  # identified afresh, as at the end of an utterance
    # a short utterance whose text does not end a sentence: the pause must be confirmed
    assert replay.policy.speculated(request, hypothesis("thank you all for")) is None
    replay.policy.job_done()
    assert replay.pause(0.5) == []
    # the VAD's end of speech confirms it: its final is the speculation, without a decode
    [final] = replay.policy.end_utterance()
    assert isinstance(final, FinalDecode)
    commit = replay.policy.resolved(final)
    replay.policy.job_done()
    assert commit is not None and commit.last and commit.speculative
    assert join_words(commit.words) == "thank you all for"
    assert commit.end == replay.policy.position


def test_a_short_unit_ending_a_sentence_is_final_after_a_shorter_silence() -> None:
    replay = Replay(CommitPolicy(interims=False))
    utterance = start_speech(replay)
    replay.speak(0.9)
    job = pause_decode(replay, 0.2)
    commit = run_job(replay.policy, job, hypothesis("thank you all."))
    assert commit is None  # 0.2 s of quiet is not enough yet
    decisions = replay.pause(0.15)  # sentence_pause: 0.3 s of quiet in all
    [commit] = [d for d in decisions if isinstance(d, Commit)]
    assert isinstance(commit, Commit) and commit.speculative and not commit.last
    assert join_words(commit.words) == "thank you all."
    assert commit.cut == job.until == replay.policy.start_of(utterance)
    # the rest is quiet: the utterance ends without another decode, and adds nothing
    replay.pause(0.3)
    [final] = replay.policy.end_utterance()
    assert isinstance(final, FinalDecode)
    rest = replay.policy.resolved(final)
    assert rest is not None and rest.words == () and rest.last


def test_a_long_unit_is_final_as_soon_as_its_pause_is_decoded() -> None:
    # from sentence_commit seconds on, a pause is a breath: it ends the unit whether or not
    # the speaker goes on, so the decode at the pause is committed at once, whatever its text
    replay = Replay(CommitPolicy(interims=False))
    utterance = start_speech(replay)
    replay.speak(2.0)
    job = pause_decode(replay, 0.2)
    commit = run_job(replay.policy, job, hypothesis("we grew by twelve percent and"))
    assert commit is not None and commit.speculative and commit.cut == job.until
    assert join_words(commit.words) == "we grew by twelve percent and"
    assert replay.policy.start_of(utterance) == job.until
    # the speaker goes on: no second unit for the same pause
    replay.speak(1.0)
    assert replay.of(DecodeUnit) == []


def test_speech_resuming_while_the_pause_is_decoded_makes_it_a_breath_unit() -> None:
    replay = Replay(CommitPolicy(interims=False))
    start_speech(replay)
    replay.speak(2.0)
    job = pause_decode(replay, 0.2)
    request = replay.policy.begin(job)
    assert request is not None
    replay.speak(0.5)  # the speaker went on before the decode was done
    assert replay.of(DecodeUnit) == []
    commit = replay.policy.speculated(request, hypothesis("one two three four"))
    replay.policy.job_done()
    assert commit is not None and commit.cut == job.until and not commit.last


def test_speech_after_a_pause_in_a_short_utterance_drops_the_speculation() -> None:
    replay = Replay(CommitPolicy(interims=False))
    utterance = start_speech(replay)
    replay.speak(0.7)
    job = pause_decode(replay, 0.2)
    assert run_job(replay.policy, job, hypothesis("I think.")) is None
    assert [d for d in replay.speak(0.6) if isinstance(d, Commit)] == []  # no one-word unit
    # the end of the utterance decodes all of it: the speculation did not see the rest
    [final] = replay.policy.end_utterance()
    assert isinstance(final, FinalDecode)
    assert replay.policy.resolved(final) is None
    request = replay.policy.begin(final)
    assert request is not None and request.start == replay.policy.start_of(utterance) == 0
    assert request.end == replay.policy.position


def test_a_speculation_talked_through_holds_up_no_other_commit() -> None:
    # a short utterance's pause decode is useless once the speaker goes on: dropped at once
    # (its decode is skipped if it has not begun), so a forced commit is not held up
    replay = Replay(CommitPolicy(interims=False))
    start_speech(replay)
    replay.speak(0.7)
    job = pause_decode(replay, 0.2)
    replay.speak(9.5)
    [forced] = replay.of(ForceCommit)
    assert replay.policy.begin(job) is None
    replay.policy.job_done()
    assert run_job(replay.policy, forced, hypothesis(MONOLOGUE, step=0.4)) is not None


def test_a_breath_decoded_at_its_pause_is_a_unit_even_if_the_utterance_ends_meanwhile() -> None:
    replay = Replay(CommitPolicy(interims=False))
    utterance = start_speech(replay)
    replay.speak(2.0)
    job = pause_decode(replay, 0.2)
    request = replay.policy.begin(job)
    assert request is not None
    replay.speak(1.0)  # the speaker goes on...
    [final] = replay.policy.end_utterance()  # ...and stops, all before the decode is done
    breath = replay.policy.speculated(request, hypothesis("we grew by twelve percent"))
    replay.policy.job_done()
    assert breath is not None and breath.cut == job.until and not breath.last
    # the end of the utterance decodes only what came after the breath
    assert isinstance(final, FinalDecode) and replay.policy.resolved(final) is None
    rest = replay.policy.begin(final)
    assert rest is not None and rest.start == job.until == replay.policy.start_of(utterance)


def test_each_pause_is_decoded_once_and_only_after_speech() -> None:
    replay = Replay(CommitPolicy(interims=False))
    replay.pause(0.5)  # quiet before the utterance is announced: nothing to decode
    start_speech(replay)
    replay.speak(0.5)
    job = pause_decode(replay, 0.6)  # one decode however long the pause
    assert run_job(replay.policy, job, hypothesis("hello there")) is None
    replay.speak(0.5)
    replay.pause(0.3)
    second = replay.of(PauseDecode)[-1]
    assert second != job  # the next pause gets its own
    run_job(replay.policy, second, hypothesis("hello there again"))
    replay.speak(0.2)  # less speech than min_speech, then quiet: no decode of the same again
    replay.pause(0.3)
    assert replay.of(PauseDecode) == [job, second]
    replay.speak(0.1)  # enough speech since: this pause is decoded
    replay.pause(0.3)
    assert len(replay.of(PauseDecode)) == 3


def test_no_interim_decode_starts_in_a_pause_and_a_running_one_delays_the_speculation() -> None:
    replay = Replay(CommitPolicy())
    start_speech(replay)
    replay.speak(1.5)
    run = replay.running
    assert run is not None  # an interim decode runs as the speaker stops
    replay.running = None
    replay.pause(0.6)
    assert replay.of(PauseDecode) == []  # it waits for the interim decode
    assert [r for r in replay.of(RunInterim) if r != run] == []  # no interim decode of quiet
    decisions = replay.policy.interim_done(run, hypothesis("hello there"), cost=0.2)
    [job] = [d for d in decisions if isinstance(d, PauseDecode)]
    assert job.until == replay.policy.position


def test_speculation_can_be_switched_off() -> None:
    replay = Replay(CommitPolicy(interims=False, timings=BREATHS))
    start_speech(replay)
    replay.speak(1.0)
    replay.pause(1.0)
    assert replay.of(PauseDecode) == []
    with pytest.raises(ValueError, match="pause_decode"):
        CommitTimings(pause_decode=0.0)


# ---- agreed boundaries --------------------------------------------------------------------


def interim(replay: Replay, text: str, *, cost: float = 0.1) -> list[Decision]:
    """Answer the running interim decode (or the next one) with ``text``."""
    for _ in range(400):
        run, replay.running = replay.running, None
        if run is not None:
            return replay.policy.interim_done(run, hypothesis(text), cost=cost)
        replay.speak(WINDOW / RATE)
    raise AssertionError("no interim decode was scheduled")


SENTENCE = "our sales grew by twelve percent. the new"


def test_two_decodes_agreeing_on_a_sentence_end_commit_it_without_a_decode() -> None:
    replay = Replay(CommitPolicy())
    utterance = start_speech(replay)
    replay.speak(2.0)
    assert interim(replay, SENTENCE) == []  # nothing agreed yet
    [commit] = interim(replay, SENTENCE + " office")
    assert isinstance(commit, Commit) and commit.utterance == utterance
    assert join_words(commit.words) == "our sales grew by twelve percent."
    # cut halfway between "percent." and "the"
    percent, the = commit.words[-1], words(SENTENCE)[6]
    assert commit.cut == round((percent.end + the.start) / 2 * RATE)
    assert replay.policy.start_of(utterance) == commit.cut
    assert replay.of(ForceCommit) == replay.of(FinalDecode) == []


def test_a_boundary_the_speaker_has_not_talked_past_is_not_committed() -> None:
    replay = Replay(CommitPolicy())
    start_speech(replay)
    replay.speak(2.0)
    said = "our sales grew by twelve percent."
    interim(replay, said)
    second = interim(replay, said)  # the same hypothesis: the sentence end is its last word
    assert [d for d in second if isinstance(d, Commit)] == []
    [preview] = second
    assert isinstance(preview, ShowInterim)
    assert join_words(preview.stable) == said


def test_boundaries_at_different_times_do_not_agree() -> None:
    replay = Replay(CommitPolicy())
    start_speech(replay)
    replay.speak(2.0)
    # the first words differ, so LocalAgreement agrees on nothing either
    interim(replay, "our sales grew. by twelve percent and the new")
    decisions = interim(replay, "hour sails grew by twelve percent. and the new")
    assert [d for d in decisions if isinstance(d, Commit)] == []
    # the same sentence end, heard again and gone past: committed
    [commit] = interim(replay, "hour sails grew by twelve percent. and then the new")
    assert isinstance(commit, Commit)
    assert join_words(commit.words) == "hour sails grew by twelve percent."


def test_no_boundary_commit_before_sentence_commit_seconds() -> None:
    replay = Replay(CommitPolicy(timings=CommitTimings(sentence_commit=6.0)))
    start_speech(replay)
    replay.speak(2.5)  # the words below end by 2.4 s
    interim(replay, SENTENCE)
    decisions = interim(replay, SENTENCE + " office")
    assert [d for d in decisions if isinstance(d, Commit)] == []


# ---- forced commits -----------------------------------------------------------------------


MONOLOGUE = (
    "we opened the new office in march and it has room for forty people. "
    "everyone who works on the project is welcome to attend the meeting"
)


def test_a_forced_commit_at_max_utterance_ends_at_a_boundary_and_keeps_the_margin() -> None:
    replay = Replay(CommitPolicy(interims=False, timings=CommitTimings(sentence_commit=None)))
    utterance = start_speech(replay)
    replay.speak(9.6)
    assert replay.of(ForceCommit) == []
    replay.speak(0.2)
    [job] = replay.of(ForceCommit)
    assert isinstance(job, ForceCommit) and job.utterance == utterance
    request = replay.policy.begin(job)
    assert request is not None and request.end - request.start >= seconds(10.0)
    heard = hypothesis(MONOLOGUE, step=0.4)  # 25 words over 10 s
    commit = replay.policy.decoded(request, heard)
    replay.policy.job_done()
    # words up to 8.5 s could go; the sentence end ("people.") in their second half wins
    assert join_words(commit.words).endswith("forty people.")
    people, everyone = heard.words[13], heard.words[14]
    assert commit.cut == round((people.end + everyone.start) / 2 * RATE)
    # the next one comes when the rest of the buffer has grown to max_utterance again
    while len(replay.of(ForceCommit)) == 1:
        replay.speak(WINDOW / RATE)
    buffered = replay.policy.position - replay.policy.start_of(utterance)
    assert seconds(10.0) <= buffered < seconds(10.0) + WINDOW


def test_a_forced_commit_that_commits_nothing_waits_five_interim_intervals() -> None:
    replay = Replay(CommitPolicy(interims=False))
    start_speech(replay)
    replay.speak(10.0)
    [job] = replay.of(ForceCommit)
    commit = run_job(replay.policy, job, hypothesis("all in the tail", start=9.0, step=0.2))
    # nothing ends before the margin, and the decoder heard speech: nothing is dropped
    assert commit is not None and commit.words == () and commit.cut is None
    replay.speak(2.4)
    assert len(replay.of(ForceCommit)) == 1
    replay.speak(0.2)
    assert len(replay.of(ForceCommit)) == 2


def test_a_forced_decode_of_noise_drops_the_audio_but_the_margin() -> None:
    replay = Replay(CommitPolicy(interims=False))
    utterance = start_speech(replay)
    replay.speak(10.0)
    [job] = replay.of(ForceCommit)
    assert isinstance(job, ForceCommit)
    request = replay.policy.begin(job)
    assert request is not None
    noise = Hypothesis(words=(), language=EN, no_speech=True)
    commit = replay.policy.decoded(request, noise)
    assert commit.words == ()
    kept = request.end - commit.cut if commit.cut is not None else 0
    assert kept == pytest.approx(seconds(1.5), abs=1)
    assert replay.policy.start_of(utterance) == commit.cut
    assert commit.audio_seconds == pytest.approx(commit.cut / RATE)


# ---- ends of utterances -------------------------------------------------------------------


def test_the_end_of_an_utterance_decodes_the_rest_and_ends_it() -> None:
    replay = Replay(CommitPolicy(interims=False))
    utterance = start_speech(replay)
    replay.speak(1.0)
    [final] = replay.policy.end_utterance()
    assert final == FinalDecode(utterance)
    request = replay.policy.begin(final)
    assert request is not None and request.language is None  # identified afresh
    commit = replay.policy.decoded(request, hypothesis("hello world", start=0.5))
    replay.policy.job_done()
    assert commit.last and commit.end == request.end == replay.policy.position
    assert join_words(commit.words) == "hello world"
    assert commit.words[0].start == pytest.approx(request.start / RATE + 0.5)
    assert replay.policy.utterance is None
    assert replay.policy.end_utterance() == []  # ended once


def test_too_little_speech_is_dropped_unannounced() -> None:
    replay = Replay(CommitPolicy())
    replay.speak(0.2)  # min_speech is 0.25 s
    assert replay.of(SpeechStarted) == []
    utterance = replay.policy.utterance
    assert utterance is not None
    assert replay.policy.end_utterance() == [DropUtterance(utterance)]


def test_a_new_start_of_speech_ends_the_open_utterance() -> None:
    replay = Replay(CommitPolicy(interims=False))
    first = start_speech(replay)
    replay.speak(0.5)
    decisions = replay.policy.speech_started(seconds(0.5))
    assert decisions == [FinalDecode(first)]
    second = replay.policy.utterance
    assert second is not None and second != first
    assert replay.policy.start_of(second) == replay.policy.position - seconds(0.5)


# ---- one commit in flight; interim pacing -------------------------------------------------


def test_one_commit_in_flight_at_a_time() -> None:
    replay = Replay(CommitPolicy(timings=BREATHS))
    start_speech(replay)
    replay.speak(2.0)
    replay.pause(0.2)
    replay.speak(0.1)
    [unit] = replay.of(DecodeUnit)
    if replay.running is not None:
        replay.policy.interim_done(replay.running, None, cost=0.0)
        replay.running = None
    # while the breath unit waits for its decode: no second breath unit, no forced commit,
    # no interim decode
    later = replay.pause(0.2) + replay.speak(8.0)
    assert later == []
    commit = run_job(replay.policy, unit, hypothesis("one two three"))
    assert commit is not None
    # once it is done, interim decodes resume
    assert [d for d in replay.speak(WINDOW / RATE) if isinstance(d, RunInterim)]


def test_a_pending_commit_blocks_agreed_boundaries() -> None:
    replay = Replay(CommitPolicy(timings=BREATHS))
    start_speech(replay)
    replay.speak(2.0)
    interim(replay, SENTENCE)
    runs = [d for d in replay.speak(0.6) if isinstance(d, RunInterim)]
    replay.pause(0.2)
    replay.speak(0.1)  # a breath while the interim decode runs
    assert len(replay.of(DecodeUnit)) == 1
    decisions = replay.policy.interim_done(runs[0], hypothesis(SENTENCE + " office"), cost=0.1)
    assert [d for d in decisions if isinstance(d, Commit)] == []


def interim_starts(policy: CommitPolicy, *, cost: float, duration: float) -> list[int]:
    """Positions where interim decodes start over ``duration`` s, each costing ``cost``."""
    replay = Replay(policy)
    start_speech(replay)
    starts = []
    for _ in range(round(duration * RATE / WINDOW)):
        for d in replay.speak(WINDOW / RATE):
            if isinstance(d, RunInterim):
                starts.append(d.end)
                policy.interim_done(d, None, cost=cost)
    return starts


def test_interim_decodes_back_off_with_their_cost() -> None:
    timings = CommitTimings(sentence_commit=None, max_utterance=60.0)
    cheap = interim_starts(CommitPolicy(timings=timings), cost=0.05, duration=6.0)
    dear = interim_starts(CommitPolicy(timings=timings), cost=0.75, duration=6.0)
    assert cheap[0] >= seconds(1.0)  # min_interim_audio
    cheap_gaps = {b - a for a, b in itertools.pairwise(cheap)}
    dear_gaps = {b - a for a, b in itertools.pairwise(dear)}
    # every 0.5 s of audio when cheap; twice the cost (1.5 s) when dear
    assert all(seconds(0.5) <= g < seconds(0.55) for g in cheap_gaps), cheap_gaps
    assert all(seconds(1.5) <= g < seconds(1.55) for g in dear_gaps), dear_gaps


def test_no_interim_decode_while_one_runs_or_a_job_waits() -> None:
    policy = CommitPolicy()
    replay = Replay(policy)
    replay.speak(0.3)  # announced, but the announcement is not carried out yet
    replay.speak(2.0)
    assert replay.of(RunInterim) == []
    policy.job_done()
    replay.speak(WINDOW / RATE)
    [run] = replay.of(RunInterim)
    replay.speak(3.0)
    assert replay.of(RunInterim) == [run]  # still running
    assert isinstance(run, RunInterim)
    policy.interim_done(run, None, cost=0.1)
    replay.speak(WINDOW / RATE)
    assert len(replay.of(RunInterim)) == 2


def test_a_stale_interim_hypothesis_is_ignored() -> None:
    replay = Replay(CommitPolicy(timings=BREATHS))
    start_speech(replay)
    replay.speak(2.6)
    run, replay.running = replay.running, None
    assert run is not None
    replay.pause(0.2)
    replay.speak(0.1)
    [unit] = replay.of(DecodeUnit)
    run_job(replay.policy, unit, hypothesis("one two three"))  # cuts the audio
    assert replay.policy.interim_done(run, hypothesis("four five six"), cost=0.1) == []
    # the stale words did not count towards agreement: the next decode is the first again
    assert interim(replay, "four five six") == []
    [preview] = interim(replay, "four five six")
    assert isinstance(preview, ShowInterim) and join_words(preview.stable) == "four five six"


def test_timings_refuse_a_margin_longer_than_the_utterance() -> None:
    with pytest.raises(ValueError, match="max_utterance"):
        CommitTimings(max_utterance=1.0, commit_margin=1.5)
    with pytest.raises(ValueError, match="interim_interval"):
        CommitTimings(interim_interval=0)


def test_decode_requests_carry_the_language_heard_so_far() -> None:
    replay = Replay(CommitPolicy(timings=BREATHS))
    start_speech(replay)
    replay.speak(1.0)
    interim(replay, "hola a todos")
    replay.pause(0.2)
    replay.speak(1.2)
    replay.pause(0.2)
    replay.speak(0.1)
    [unit] = replay.of(DecodeUnit)
    assert isinstance(unit, DecodeUnit)
    request = replay.policy.begin(unit)
    assert isinstance(request, DecodeRequest) and request.language == EN


def test_settings_override_only_the_timings_they_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from interpreter.config import load_settings

    assert load_settings().commit_timings() == CommitTimings()
    monkeypatch.setenv("INTERPRETER_STT_MAX_UTTERANCE", "12")
    monkeypatch.setenv("INTERPRETER_VAD_MIN_SILENCE", "0.7")
    timings = load_settings().commit_timings()
    assert timings == CommitTimings(max_utterance=12.0, vad_min_silence=0.7)


def test_the_pause_decode_is_set_or_switched_off_by_its_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from interpreter.config import load_settings

    monkeypatch.setenv("INTERPRETER_STT_PAUSE_DECODE", "0.2")
    monkeypatch.setenv("INTERPRETER_STT_SENTENCE_PAUSE", "0.4")
    assert load_settings().commit_timings() == CommitTimings(pause_decode=0.2, sentence_pause=0.4)
    monkeypatch.setenv("INTERPRETER_STT_PAUSE_DECODE", "0")
    assert load_settings().commit_timings().pause_decode is None
