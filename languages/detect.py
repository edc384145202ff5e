"""Text language detection over langdetect's profiles, deterministic and restricted to a
room's languages.

langdetect's own ``detect`` samples n-grams at random (seeded through a process-global
``DetectorFactory.seed`` that any other code may change) and runs until one language reaches
0.99999, so its probabilities are nearly always 0 or 1 and a prior cannot tip a close call.
This module keeps its own factory and scores every n-gram of the text once instead: the
same text always gives the same answer, on any thread, whatever the global seed, and the
probability says how close the call was. The 55 profiles take under a second to load; they
load once, on first use or in :func:`prewarm_detector`.

Detection is CPU work of about a millisecond per sentence; call it from a thread when the
text is long.
"""

from __future__ import annotations

import logging
import math
import threading
import unicodedata
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

from languages.codes import Language, matches, normalize_language

__all__ = ["Detection", "detect_language", "detectable_languages", "prewarm_detector"]

logger = logging.getLogger("languages.detect")

_MIN_WORDS = 3
_TEMPERATURE = 3.0
_SMOOTHING = 0.5 / 10000
"""langdetect's default smoothing (alpha 0.5 over its base frequency of 10000)."""

_lock = threading.Lock()
_factory: Any = None
_codes: dict[str, Language] = {}
_profile_codes: list[str] = []


class Detection(NamedTuple):
    """The detected language and its probability (0-1).

    ``from_prior`` is true when the text could not be judged (under three words, or no
    allowed language has a text profile) and the expected language was returned unchanged;
    ``probability`` is then 0.0.
    """

    language: Language
    probability: float
    from_prior: bool = False


def _load() -> Any:
    global _factory
    with _lock:
        if _factory is None:
            from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

            factory = DetectorFactory()
            factory.load_profile(PROFILES_DIRECTORY)
            for code in factory.get_lang_list():
                _profile_codes.append(str(code))
                _codes[str(code)] = normalize_language(str(code))
            _factory = factory
            logger.debug("langdetect profiles loaded", extra={"languages": len(_codes)})
        return _factory


def prewarm_detector() -> None:
    """Load langdetect's profiles now instead of on the first detection."""
    _load()


def detectable_languages() -> frozenset[Language]:
    """The languages text detection can return (langdetect's ``zh-cn`` is ``zh-CN``)."""
    _load()
    return frozenset(_codes.values())


def _count_words(text: str) -> int:
    """Words separated by spaces, counting each character of scripts written without spaces
    (Chinese, Japanese, Thai, ...) as a word."""
    words = 0
    for token in text.split():
        unspaced = sum(1 for ch in token if _is_unspaced(ch))
        if unspaced:
            words += unspaced
        elif any(ch.isalpha() for ch in token):
            words += 1
    return words


def _is_unspaced(ch: str) -> bool:
    if not ch.isalpha():
        return False
    name = unicodedata.name(ch, "")
    return name.startswith(("CJK ", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR"))


def detect_language(
    text: str,
    *,
    allowed: Iterable[str] | None = None,
    prior: str | None = None,
    prior_weight: float = 3.0,
) -> Detection | None:
    """Detect the language of ``text``.

    ``allowed`` restricts the answer to those languages (matched by primary language: with
    ``pt-BR`` allowed, Portuguese text gives ``pt-BR``). ``prior`` is the expected language:
    it is ``prior_weight`` times as likely as each other language before the text is read,
    which decides close calls (``vamos a empezar ahora`` reads slightly more Portuguese than
    Spanish), and it is returned as is for text under three words.

    Returns ``None`` for text without letters, or when no allowed language can be detected
    from text and no prior is given. Raises
    :class:`~languages.errors.UnknownLanguageError` only for an unknown ``allowed`` or
    ``prior`` code.
    """
    if not prior_weight > 0:
        raise ValueError(f"prior_weight must be positive, got {prior_weight!r}")
    expected = normalize_language(prior) if prior is not None else None
    targets = None if allowed is None else sorted({normalize_language(a) for a in allowed})
    if expected is not None and targets is not None and expected not in targets:
        targets.append(expected)
    fallback = Detection(expected, 0.0, from_prior=True) if expected is not None else None

    if not any(ch.isalpha() for ch in text):
        return None
    if expected is not None and _count_words(text) < _MIN_WORDS:
        return fallback

    factory = _load()
    columns = [i for i, code in enumerate(_profile_codes) if _admits(targets, _codes[code])]
    if not columns:
        return fallback
    ngrams = _ngrams(factory, text)
    if not ngrams:
        return fallback

    # Naive Bayes over langdetect's n-gram profiles with every n-gram of the text counted
    # once (langdetect itself samples n-grams at random until one language dominates; this
    # is the deterministic limit of that). Each character takes part in up to three
    # overlapping n-grams (lengths 1-3), so the evidence is tempered by three to keep the
    # probabilities honest enough for a prior to matter.
    table = factory.word_lang_prob_map
    probs = np.array([[table[gram][i] for i in columns] for gram in ngrams], dtype=np.float64)
    scores = np.log(probs + _SMOOTHING).sum(axis=0) / _TEMPERATURE
    if expected is not None:
        favoured = [matches(_codes[_profile_codes[i]], expected) for i in columns]
        scores += np.where(favoured, math.log(prior_weight), 0.0)
    posterior = np.exp(scores - scores.max())
    posterior /= posterior.sum()

    totals: dict[Language, float] = {}
    for i, p in zip(columns, posterior.tolist(), strict=True):
        lang = _resolve(_codes[_profile_codes[i]], targets, expected)
        totals[lang] = totals.get(lang, 0.0) + float(p)
    best = max(totals, key=lambda lang: totals[lang])
    return Detection(best, min(1.0, totals[best]))


def _ngrams(factory: Any, text: str) -> list[str]:
    """langdetect's own text cleaning and n-gram extraction (URLs, e-mail addresses and
    stray Latin in non-Latin text removed; characters folded to its n-gram classes)."""
    detector = factory.create()
    detector.append(text)
    detector.cleaning_text()
    return [str(gram) for gram in detector._extract_ngrams()]


def _admits(targets: list[Language] | None, lang: Language) -> bool:
    return targets is None or any(matches(lang, target) for target in targets)


def _resolve(lang: Language, targets: list[Language] | None, expected: Language | None) -> Language:
    """The allowed language a detected one stands for: the same tag, else the expected
    language if it is the same language, else the first allowed tag of that language."""
    if targets is None or lang in targets:
        return lang
    if expected is not None and matches(lang, expected):
        return expected
    return next(target for target in targets if matches(lang, target))
