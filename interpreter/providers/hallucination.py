"""Guards against Whisper's text from silence, noise and music.

Whisper was trained on subtitled video, so on audio without speech it tends to produce the
credits and sign-offs of such videos ("Thanks for watching!", "Untertitel der Amara.org-Community").
Three guards run on every decode, after the VAD has already kept most non-speech away:

* decoder statistics: high no-speech probability with a low average log-probability (Whisper's
  own silence rule), a very low average log-probability, or a high compression ratio (a
  repetition loop);
* sentences containing a known subtitle/credit phrase are removed wherever they appear;
* a few short phrases that people really say ("Thank you.", "Bye.") are dropped only when they
  are the whole utterance *and* the decoder was unsure there was speech.

Two more catch text the decoder went on producing past the end of what it heard, most often
the sentence it just heard, again and again until the token limit (a repetition loop). When
the decoder was sure there was speech, the loop is cut back to its first copy
(:func:`first_copy`) instead of the whole decode being thrown away. A shorter repeat is
aligned into no time at all, which tells it from a speaker really saying something twice
(:func:`drop_unheard_repeat`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from interpreter.providers.local_agreement import Word, word_key

__all__ = [
    "MIN_REPEAT",
    "DecodeGuards",
    "drop_unheard_repeat",
    "filter_hallucinated_words",
    "first_copy",
    "normalize_phrase",
    "rejection_reason",
]

# Matched anywhere inside a sentence (after normalize_phrase): credits and sign-offs that
# almost never occur in live speech. Grouped by language for review.
_CREDIT_PHRASES: tuple[str, ...] = (
    # English
    "thanks for watching",
    "thank you for watching",
    "thank you so much for watching",
    "thanks for listening and see you",
    "please subscribe",
    "subscribe to my channel",
    "subscribe to the channel",
    "like and subscribe",
    "see you in the next video",
    "subtitles by",
    "subtitled by",
    "captions by",
    "captioning by",
    "transcription by",
    "amara org",
    # Spanish
    "gracias por ver",
    "gracias por mirar",
    "subtitulos realizados por",
    "subtitulos por",
    "subtitulado por",
    "suscribete",
    "no olvides suscribirte",
    # French
    "sous titres",
    "sous titrage",
    "merci d avoir regarde",
    "abonnez vous",
    # German
    "untertitel der amara",
    "untertitel im auftrag",
    "untertitel von",
    "untertitelung",
    "danke furs zuschauen",
    "vielen dank furs zuschauen",
    # Italian
    "sottotitoli creati",
    "sottotitoli a cura",
    "grazie per la visione",
    "iscriviti al canale",
    # Portuguese
    "obrigado por assistir",
    "legendas pela comunidade",
    "inscreva se no canal",
    # Dutch, Polish, Russian
    "ondertiteling",
    "bedankt voor het kijken",
    "napisy stworzone przez",
    "napisy wykonane przez",
    "субтитры",
    "спасибо за просмотр",
    "продолжение следует",
    # Japanese, Chinese, Korean
    "ご視聴ありがとうございました",
    "チャンネル登録",
    "字幕由",
    "谢谢观看",
    "请不吝点赞",
    "시청해주셔서 감사합니다",
)

# Dropped only when they are the whole utterance and the decoder doubted there was speech.
_WEAK_UTTERANCES: frozenset[str] = frozenset(
    {
        "you",
        "thank you",
        "thank you very much",
        "thanks",
        "bye",
        "bye bye",
        "okay",
        "oh",
        "so",
        "hmm",
        "gracias",
        "muchas gracias",
        "adios",
        "merci",
        "merci beaucoup",
        "au revoir",
        "danke",
        "danke schon",
        "tschuss",
        "grazie",
        "obrigado",
        "obrigada",
        "dziekuje",
        "спасибо",
        "ありがとうございました",
        "谢谢",
    }
)

_SENTENCE_END = re.compile(r"[.!?。！？…]+[\"'”»)]*$")


def normalize_phrase(text: str) -> str:
    """Lower-case ``text`` without accents or punctuation, words separated by one space."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    out: list[str] = []
    for ch in decomposed:
        category = unicodedata.category(ch)
        if category == "Mn":
            continue
        out.append(ch if category[0] in "LN" else " ")
    return " ".join("".join(out).split())


_CREDIT_NORMALIZED = tuple(normalize_phrase(p) for p in _CREDIT_PHRASES)
_WEAK_NORMALIZED = frozenset(normalize_phrase(p) for p in _WEAK_UTTERANCES)


@dataclass(frozen=True, slots=True)
class DecodeGuards:
    """Thresholds on Whisper's decoder statistics (defaults follow Whisper's own rules)."""

    no_speech_threshold: float = 0.6
    """With ``avg_logprob`` below ``logprob_threshold``, this no-speech probability rejects."""
    logprob_threshold: float = -1.0
    min_avg_logprob: float = -1.6
    """Below this average log-probability the text is rejected whatever the no-speech value."""
    max_compression_ratio: float = 2.4
    """Above this gzip compression ratio the text is a repetition loop."""
    weak_no_speech: float = 0.3
    weak_logprob: float = -0.7
    """Either of these marks a decode as doubtful (used for the short everyday phrases)."""


def rejection_reason(
    *,
    avg_logprob: float,
    no_speech_prob: float,
    compression_ratio: float,
    guards: DecodeGuards,
) -> str | None:
    """Why a whole decode should be dropped, or ``None`` to keep it."""
    if no_speech_prob > guards.no_speech_threshold and avg_logprob < guards.logprob_threshold:
        return "no_speech"
    if avg_logprob < guards.min_avg_logprob:
        return "low_logprob"
    if compression_ratio > guards.max_compression_ratio:
        return "repetition"
    return None


def _sentences(words: Sequence[Word]) -> list[list[Word]]:
    out: list[list[Word]] = [[]]
    for word in words:
        out[-1].append(word)
        if _SENTENCE_END.search(word.text.strip()):
            out.append([])
    return [s for s in out if s]


def _unspaced(phrase: str) -> bool:
    # Scripts written without spaces between words (CJK, kana) match as plain substrings.
    return any(unicodedata.east_asian_width(ch) in "WF" for ch in phrase)


def _has_credit(text: str) -> bool:
    normalized = normalize_phrase(text)
    padded = f" {normalized} "
    return any(
        (phrase in normalized) if _unspaced(phrase) else (f" {phrase} " in padded)
        for phrase in _CREDIT_NORMALIZED
    )


def filter_hallucinated_words(words: Sequence[Word], *, doubtful: bool) -> list[Word]:
    """Return ``words`` without sentences that are known hallucinations.

    ``doubtful`` says the decoder was unsure there was speech at all; only then is a whole
    utterance consisting of an everyday phrase such as "Thank you." dropped.
    """
    kept: list[Word] = []
    for sentence in _sentences(words):
        if not _has_credit("".join(w.text for w in sentence)):
            kept.extend(sentence)
    if doubtful and normalize_phrase("".join(w.text for w in kept)) in _WEAK_NORMALIZED:
        return []
    return kept


MIN_REPEAT = 3
"""A repeat shorter than the stretch it repeats counts from this many words on."""


def drop_unheard_repeat(words: Sequence[Word]) -> list[Word]:
    """``words`` without a tail that repeats the words before it and was heard in no time.

    The tail from word ``k`` on must repeat the ``p`` words before ``k`` (as many times as it
    goes, the last copy possibly cut short, at least ``MIN_REPEAT`` words or the whole
    stretch), and at least half of its words must be aligned to no audio at all. Real
    repetitions ("no, no, no") take time and are kept.
    """
    keys = [word_key(w.text) for w in words]
    n = len(words)
    for k in range(1, n):
        for period in range(1, k + 1):
            if n - k < min(period, MIN_REPEAT):
                break
            if all(keys[i] == keys[i - period] for i in range(k, n)):
                unheard = sum(1 for w in words[k:] if w.end - w.start <= 0.0)
                if 2 * unheard >= n - k:
                    return list(words[:k])
    return list(words)


T = TypeVar("T")


def first_copy(tokens: Sequence[T], *, min_copies: int = 2) -> list[T] | None:
    """``tokens`` up to the end of the first copy of a loop that runs to the end, or ``None``.

    A loop is a tail that repeats one stretch (of any length) at least ``min_copies`` times,
    the last copy possibly cut short: ``A B C X Y X Y X`` gives ``A B C X Y``. The earliest
    loop wins, and its shortest period.
    """
    n = len(tokens)
    for start in range(n):
        for period in range(1, (n - start) // min_copies + 1):
            if all(tokens[j] == tokens[j - period] for j in range(start + period, n)):
                return list(tokens[: start + period])
    return None
