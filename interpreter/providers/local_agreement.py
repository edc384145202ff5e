"""LocalAgreement-n: which words of a growing transcript are stable enough to show.

A streaming recogniser re-decodes the audio buffer of the current utterance as it grows. Each
decode yields a hypothesis (a list of timed words). A word is *committed* once the last ``n``
hypotheses agree on it and on every word before it; committed words never change afterwards.
``n=2`` is the policy of Machacek et al., "Turning Whisper into Real-Time Transcription
System" (2023).

The class is synchronous and does no I/O. Times are audio offsets in seconds supplied by the
caller, never the wall clock, so a replay of the same hypotheses gives the same result.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["LocalAgreement", "Word", "join_words", "word_key"]


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its audio times in seconds.

    ``text`` keeps the recogniser's spacing (Whisper words usually start with a space; words of
    languages written without spaces do not), so :func:`join_words` restores the text.
    """

    text: str
    start: float
    end: float
    probability: float = 1.0


def word_key(text: str) -> str:
    """Comparison form of a word: case-folded, without punctuation or surrounding spaces."""
    kept = (
        ch
        for ch in unicodedata.normalize("NFKC", text).casefold()
        if not unicodedata.category(ch).startswith(("P", "Z", "C"))
    )
    return "".join(kept)


def join_words(words: Sequence[Word]) -> str:
    """The text of ``words`` as the recogniser spelled it, without outer whitespace."""
    return "".join(w.text for w in words).strip()


class LocalAgreement:
    """Commit the longest prefix on which the last ``n`` hypotheses agree.

    Feed every new hypothesis of the current buffer to :meth:`insert`; it returns the words it
    committed this time. :attr:`committed` only grows until :meth:`reset`. A hypothesis may
    cover audio that was already committed (the buffer is re-decoded from its start): words that
    repeat the committed ones, by position or by time, are skipped before comparing.
    """

    def __init__(self, *, n: int = 2, time_tolerance: float = 0.1, max_overlap: int = 5) -> None:
        if n < 2:
            raise ValueError("LocalAgreement needs n >= 2 hypotheses to agree")
        self._n = n
        self._tolerance = time_tolerance
        self._max_overlap = max_overlap
        self._committed: list[Word] = []
        self._pending: list[list[Word]] = []
        self._floor = 0.0

    @property
    def committed(self) -> tuple[Word, ...]:
        """Every word committed since the last reset, in order."""
        return tuple(self._committed)

    @property
    def tentative(self) -> tuple[Word, ...]:
        """The newest hypothesis beyond the committed words (may still change)."""
        return tuple(self._pending[-1]) if self._pending else ()

    @property
    def committed_end(self) -> float:
        """Audio time where the committed words end (the reset time when none are)."""
        return self._committed[-1].end if self._committed else self._floor

    def reset(self, *, at: float = 0.0) -> None:
        """Forget everything; words of later hypotheses that end before ``at`` are ignored."""
        self._committed.clear()
        self._pending.clear()
        self._floor = at

    def insert(self, words: Sequence[Word]) -> tuple[Word, ...]:
        """Add a hypothesis of the whole buffer; return the words newly committed by it."""
        fresh = self._beyond_committed(words)
        self._pending.append(fresh)
        if len(self._pending) > self._n:
            self._pending.pop(0)
        if len(self._pending) < self._n:
            return ()

        agreed = 0
        shortest = min(len(h) for h in self._pending)
        while agreed < shortest:
            key = word_key(self._pending[-1][agreed].text)
            if any(word_key(h[agreed].text) != key for h in self._pending[:-1]):
                break
            agreed += 1
        if agreed == 0:
            return ()

        newly = self._pending[-1][:agreed]
        self._committed.extend(newly)
        self._pending = [h[agreed:] for h in self._pending]
        return tuple(newly)

    def _beyond_committed(self, words: Sequence[Word]) -> list[Word]:
        words = [w for w in words if w.text.strip() and w.end > self._floor - self._tolerance]
        if not self._committed:
            return list(words)

        # Same words at the same positions: the usual case when the buffer is re-decoded.
        count = len(self._committed)
        if len(words) >= count and all(
            word_key(a.text) == word_key(b.text)
            for a, b in zip(words[:count], self._committed, strict=False)
        ):
            return list(words[count:])

        # Otherwise fall back to time: keep what starts after the committed end, then drop a
        # head that repeats the committed tail (timestamps of a re-decode may shift a little).
        cut = self.committed_end - self._tolerance
        later = [w for w in words if w.start > cut]
        tail = [word_key(w.text) for w in self._committed]
        for size in range(min(self._max_overlap, len(later), len(tail)), 0, -1):
            if [word_key(w.text) for w in later[:size]] == tail[-size:]:
                return later[size:]
        return later
