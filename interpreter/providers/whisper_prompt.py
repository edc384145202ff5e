"""Bias terms for Whisper: a room's glossary terms as the decoder's previous-text prompt.

Whisper reads the tokens between ``<|startofprev|>`` and ``<|startoftranscript|>`` as the text
that came before the audio, so words spelled there become far more likely in the transcript:
an invented product name the model would otherwise hear as a common word ("Zentrix" heard as
"metrics") comes out as written. The prompt is a short natural list, ``" Nimbus, Zentrix,
deliverable."``, in the order the terms were given.

A :class:`Vocabulary` holds the terms per source language (immutable; replace it to change the
terms) and builds each language's prompt once, on the first decode in that language, bounded
to :data:`MAX_PROMPT_TOKENS`: the terms that fit are kept in order and the number dropped is
logged once. Everything here is synchronous and free of I/O; the tokenizer comes in as an
``encode`` function, so the bounding is tested without a model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from interpreter.providers.hallucination import normalize_phrase
from languages import Language, matches, normalize_language

__all__ = [
    "MAX_PROMPT_TOKENS",
    "WHISPER_PROMPT_LIMIT",
    "TermPrompt",
    "Vocabulary",
    "build_term_prompt",
    "clean_terms",
    "prompt_text",
]

logger = logging.getLogger("interpreter.providers.whisper")

WHISPER_PROMPT_LIMIT = 223
"""The most previous-text tokens Whisper accepts: ``n_text_ctx // 2 - 1`` (448 // 2 - 1)."""

MAX_PROMPT_TOKENS = 96
"""The bound on the prompt's text tokens, measured with ``bench/stt_terms.py``: with a
38-term room glossary, 96 tokens (25-31 terms: a name and its comma take 3-4 tokens) found
as many of the terms spoken as the whole glossary did (71 %, against 41 % unbiased; 55 %
at 48 tokens, which hold only the first 13-16 terms). Longer prompts recognise the terms
they hold less well (the terms said among distractors: 79 % at 48 tokens, 68 % at 96, 65 %
at 223), decode more slowly (about +15-30 % at 96, +50-85 % at 223) and raised the WER of
unrelated speech more. A prompt never takes room from the transcript (``generate()``'s
length grows by the prompt's)."""


COPIED_RUN = 3
"""Prompt terms in a row, in the prompt's order, that make a transcript a copy of the prompt."""


def clean_terms(terms: Iterable[str]) -> tuple[str, ...]:
    """``terms`` with whitespace collapsed, empty ones and case-insensitive repeats dropped
    (the first spelling wins), in order."""
    seen: set[str] = set()
    out: list[str] = []
    for term in terms:
        text = " ".join(term.split())
        key = text.casefold()
        if text and key not in seen:
            seen.add(key)
            out.append(text)
    return tuple(out)


def prompt_text(terms: Sequence[str]) -> str:
    """The prompt's text: ``" Nimbus, Zentrix, deliverable."`` (a leading space, as Whisper's
    own previous text has; empty for no terms)."""
    if not terms:
        return ""
    return " " + ", ".join(terms) + "."


@dataclass(frozen=True, slots=True)
class TermPrompt:
    """The previous-text prompt for one language: its text, its tokens (without
    ``<|startofprev|>``), and how many of the terms it holds and left out."""

    text: str
    tokens: tuple[int, ...]
    kept: int
    dropped: int

    def echoed_by(self, text: str) -> bool:
        """Whether ``text`` holds words and all of them are words of this prompt (what
        Whisper writes when it copies the prompt instead of hearing something)."""
        words = normalize_phrase(text).split()
        return bool(words) and set(words) <= set(normalize_phrase(self.text).split())

    def copied_by(self, text: str) -> bool:
        """Whether ``text`` copies the prompt: only prompt words, or a list of at least
        :data:`COPIED_RUN` of its terms in the prompt's order (Whisper writing "Nimbus,
        Kestrel, entregable, hoja de ruta" over speech it did not make out)."""
        if self.echoed_by(text):
            return True
        terms = [normalize_phrase(t) for t in self.text.strip().removesuffix(".").split(",")]
        items = [normalize_phrase(t) for t in text.split(",")]
        runs = (tuple(terms[i : i + COPIED_RUN]) for i in range(len(terms) - COPIED_RUN + 1))
        listed = {tuple(items[i : i + COPIED_RUN]) for i in range(len(items) - COPIED_RUN + 1)}
        return any(run in listed for run in runs)


def build_term_prompt(
    terms: Sequence[str],
    encode: Callable[[str], Sequence[int]],
    *,
    max_tokens: int = MAX_PROMPT_TOKENS,
) -> TermPrompt:
    """The prompt listing as many of ``terms`` as fit in ``max_tokens`` tokens, in order.

    A term too long for the room left is skipped and later, shorter ones may still fit.
    ``encode`` is the model's tokenizer (text -> token ids). ``max_tokens`` may not exceed
    :data:`WHISPER_PROMPT_LIMIT`.
    """
    if not 0 <= max_tokens <= WHISPER_PROMPT_LIMIT:
        raise ValueError(f"max_tokens must be between 0 and {WHISPER_PROMPT_LIMIT}")
    kept: list[str] = []
    used = 1  # the final "."
    for term in terms:
        if max_tokens - used < (2 if kept else 1):  # a term's token, and a comma after one
            break
        # the byte-level pre-tokenizer splits at the space before a term and at the comma,
        # so pieces add up; the whole text is counted again below all the same
        cost = len(encode(" " + term)) + (1 if kept else 0)
        if used + cost <= max_tokens:
            kept.append(term)
            used += cost
    tokens = list(encode(prompt_text(kept))) if kept else []
    while len(tokens) > max_tokens:  # a term whose punctuation merged with the comma
        kept.pop()
        tokens = list(encode(prompt_text(kept))) if kept else []
    return TermPrompt(
        text=prompt_text(kept), tokens=tuple(tokens), kept=len(kept), dropped=len(terms) - len(kept)
    )


class Vocabulary:
    """Bias terms per source language, and each language's prompt once it was built.

    ``terms`` maps a language (any code :func:`~languages.normalize_language` accepts) to its
    terms; they are cleaned with :func:`clean_terms`. Decoding in a language uses the terms of
    that language, then those of its variants (``pt`` for ``pt-BR``). Thread-safe.
    """

    def __init__(
        self, terms: Mapping[Language, Sequence[str]], *, max_tokens: int = MAX_PROMPT_TOKENS
    ) -> None:
        if not 0 <= max_tokens <= WHISPER_PROMPT_LIMIT:
            raise ValueError(f"max_tokens must be between 0 and {WHISPER_PROMPT_LIMIT}")
        merged: dict[Language, list[str]] = {}
        for code, listed in terms.items():
            if isinstance(listed, str):
                raise TypeError(f"the terms of {code!r} must be a sequence of strings, not one")
            merged.setdefault(normalize_language(code), []).extend(listed)
        self._terms = {lang: clean_terms(listed) for lang, listed in merged.items()}
        self._terms = {lang: listed for lang, listed in self._terms.items() if listed}
        self._max_tokens = max_tokens
        self._prompts: dict[Language, TermPrompt] = {}
        self._lock = threading.Lock()

    @property
    def terms(self) -> Mapping[Language, tuple[str, ...]]:
        """The cleaned terms per language (languages without terms are left out)."""
        return dict(self._terms)

    def __bool__(self) -> bool:
        return bool(self._terms)

    def terms_for(self, language: Language) -> tuple[str, ...]:
        """The terms used when decoding ``language``: its own, then its variants'."""
        own = self._terms.get(language, ())
        variants = [
            term
            for lang, listed in self._terms.items()
            if lang != language and matches(lang, language)
            for term in listed
        ]
        return clean_terms((*own, *variants)) if variants else own

    def prompt(self, language: Language, encode: Callable[[str], Sequence[int]]) -> TermPrompt:
        """The prompt for decoding ``language`` (built on first use; logs once at info how
        many terms did not fit)."""
        with self._lock:
            found = self._prompts.get(language)
            if found is None:
                found = build_term_prompt(
                    self.terms_for(language), encode, max_tokens=self._max_tokens
                )
                self._prompts[language] = found
                if found.dropped:
                    logger.info(
                        "whisper prompt holds only some of the terms",
                        extra={
                            "language": language,
                            "kept": found.kept,
                            "dropped": found.dropped,
                            "max_tokens": self._max_tokens,
                        },
                    )
            return found
