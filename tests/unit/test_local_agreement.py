"""LocalAgreement-2: which words of successive hypotheses are shown as stable."""

from __future__ import annotations

import pytest

from interpreter.providers.local_agreement import LocalAgreement, Word, join_words, word_key


def hyp(text: str, *, start: float = 0.0, step: float = 0.5) -> list[Word]:
    """Words of ``text`` spaced ``step`` seconds apart from ``start``."""
    return [
        Word(f" {w}", start + i * step, start + (i + 1) * step) for i, w in enumerate(text.split())
    ]


def test_nothing_is_stable_after_a_single_hypothesis() -> None:
    la = LocalAgreement()
    assert la.insert(hyp("the quick brown")) == ()
    assert la.committed == ()
    assert join_words(la.tentative) == "the quick brown"


def test_the_common_prefix_of_two_hypotheses_becomes_stable() -> None:
    la = LocalAgreement()
    la.insert(hyp("the quick brown"))
    newly = la.insert(hyp("the quick brow fox"))
    assert join_words(newly) == "the quick"
    assert join_words(la.committed) == "the quick"
    assert join_words(la.tentative) == "brow fox"


def test_comparison_ignores_case_and_punctuation() -> None:
    la = LocalAgreement()
    la.insert(hyp("Hello world"))
    la.insert(hyp("hello, World."))
    assert [word_key(w.text) for w in la.committed] == ["hello", "world"]


def test_committed_words_never_change_when_a_later_hypothesis_disagrees() -> None:
    la = LocalAgreement()
    la.insert(hyp("we meet on tuesday"))
    la.insert(hyp("we meet on thursday"))
    assert join_words(la.committed) == "we meet on"
    # a re-decode that rewrites the committed words must not retract them
    la.insert(hyp("when we met on thursday at noon"))
    la.insert(hyp("when we met on thursday at noon"))
    assert join_words(la.committed).startswith("we meet on")


def test_re_decoding_the_whole_buffer_extends_the_stable_prefix() -> None:
    la = LocalAgreement()
    text = "one two three four five six"
    words = text.split()
    stable: list[str] = []
    for n in range(2, len(words) + 1):
        la.insert(hyp(" ".join(words[:n])))
        stable = [w.text.strip() for w in la.committed]
    assert stable == words[:-1]  # the last word was seen only once
    la.insert(hyp(text))
    assert [w.text.strip() for w in la.committed] == words


def test_time_fallback_skips_committed_audio_when_positions_differ() -> None:
    la = LocalAgreement()
    la.insert(hyp("alpha beta gamma"))
    la.insert(hyp("alpha beta gamma delta"))
    assert join_words(la.committed) == "alpha beta gamma"
    # the re-decode inserted a spurious word at the front: positions no longer match,
    # so words are matched by time, and the committed tail is not repeated
    shifted = [Word(" uh", 0.0, 0.1), *hyp("alpha beta gamma delta epsilon")]
    la.insert(shifted)
    la.insert(shifted)
    assert join_words(la.committed) == "alpha beta gamma delta epsilon"


def test_reset_forgets_words_before_the_cut() -> None:
    la = LocalAgreement()
    la.insert(hyp("first sentence here"))
    la.insert(hyp("first sentence here"))
    la.reset(at=1.5)
    assert la.committed == ()
    assert la.committed_end == 1.5
    la.insert(hyp("second part", start=1.5))
    la.insert(hyp("second part", start=1.5))
    assert join_words(la.committed) == "second part"


def test_replaying_the_same_hypotheses_gives_the_same_result() -> None:
    hypotheses = [hyp("a b c"), hyp("a b d e"), hyp("a b d e f"), hyp("a b d e f g")]
    results = []
    for _ in range(2):
        la = LocalAgreement()
        results.append([la.insert(h) for h in hypotheses])
    assert results[0] == results[1]


def test_local_agreement_3_needs_three_hypotheses() -> None:
    la = LocalAgreement(n=3)
    la.insert(hyp("x y"))
    assert la.insert(hyp("x y")) == ()
    assert join_words(la.insert(hyp("x y z"))) == "x y"


def test_n_below_two_is_refused() -> None:
    with pytest.raises(ValueError):
        LocalAgreement(n=1)
