"""The one interface every text translator implements, and the checks they share.

An engine translates one unit of text (a clause, a sentence, a paragraph) from one language to
another. It says which ordered pairs it supports through :meth:`TranslationEngine.pairs`, and it
fails loudly: an unsupported pair raises :class:`~interpreter.errors.UnsupportedLanguageError`
naming what is available, a runtime failure raises :class:`~interpreter.errors.ProviderError`,
and no engine ever returns an empty string or hands back the untranslated source as if it were a
translation.
"""

from __future__ import annotations

import asyncio
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from interpreter.errors import ProviderError
from languages import Capabilities, Language, covers, normalize_language

__all__ = [
    "Pair",
    "Translation",
    "TranslationEngine",
    "TranslationRequest",
    "check_translation",
    "find_pair",
    "literal",
    "term_pattern",
]

Pair = tuple[Language, Language]
"""An ordered (source, target) language pair."""

_WORD = re.compile(r"\w{2,}")

# An output equal to a source this long is an echo, not a translation (a short name or number
# can legitimately come back unchanged).
_ECHO_MIN_WORDS = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class TranslationRequest:
    """One unit to translate.

    ``context`` holds the preceding source units (oldest first), which an engine may use to
    resolve references but never translates. ``glossary`` maps source terms to the target terms
    that must be used.
    """

    text: str
    source: Language
    target: Language
    context: tuple[str, ...] = ()
    glossary: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Translation:
    """A translated text and the engine that produced it (a router names the route it took,
    ``apertium`` or ``apertium>es>apertium``)."""

    text: str
    engine: str


class TranslationEngine(ABC):
    """Translates text between the ordered language pairs it reports.

    Subclasses pass their name and pairs to ``__init__`` and implement the hook
    :meth:`_translate`; callers
    use :meth:`translate` or :meth:`translate_request`. Engines are safe to call from many
    tasks at once, and :meth:`aclose` releases whatever they own (processes, clients).
    """

    def __init__(self, *, name: str, pairs: Iterable[Pair]) -> None:
        self._name = name
        self._pairs = frozenset(pairs)

    @property
    def name(self) -> str:
        """A short stable name (``apertium``, ``llm:gpt-4o-mini``) used in logs, the quality
        table and the transcript."""
        return self._name

    def pairs(self) -> frozenset[Pair]:
        """Every ordered (source, target) pair this engine translates directly."""
        return self._pairs

    @abstractmethod
    async def _translate(self, request: TranslationRequest) -> str:
        """The engine's own work: translate ``request.text`` (no deadline of its own needed).

        Raises :class:`~interpreter.errors.UnsupportedLanguageError` for a pair not in
        :meth:`pairs` and :class:`~interpreter.errors.ProviderError` when translation fails.
        """

    async def translate(
        self,
        text: str,
        *,
        source: Language,
        target: Language,
        context: Sequence[str] = (),
        glossary: Mapping[str, str] | None = None,
    ) -> str:
        """Translate ``text`` from ``source`` into ``target`` (see :class:`TranslationRequest`
        for ``context`` and ``glossary``)."""
        request = TranslationRequest(
            text=text, source=source, target=target, context=tuple(context), glossary=glossary
        )
        return (await self.translate_request(request)).text

    async def translate_request(
        self, request: TranslationRequest, *, within: float | None = None
    ) -> Translation:
        """Translate ``request`` and say which engine produced the text.

        ``within`` (seconds) bounds the whole call (``None``: no bound of its own); past it
        :class:`~interpreter.errors.ProviderError` with ``retryable=True`` is raised. An engine
        that combines others (the router) overrides this to name the one that answered and to
        leave its fallbacks room within the bound.
        """
        try:
            async with asyncio.timeout(within):
                out = await self._translate(request)
        except TimeoutError as e:
            raise ProviderError(
                f"{self.name} did not translate within {within} s", retryable=True
            ) from e
        return Translation(text=out, engine=self.name)

    def supports(self, source: str, target: str) -> bool:
        """Whether the pair is served directly (``pt-BR`` is served by a ``pt`` pair)."""
        return find_pair(self.pairs(), source, target) is not None

    def check_pair(self, source: str, target: str) -> Pair:
        """Return the supported pair serving ``source`` -> ``target``, or raise
        :class:`~interpreter.errors.UnsupportedLanguageError` listing the alternatives."""
        pair = find_pair(self.pairs(), source, target)
        if pair is None:
            Capabilities(translate=self.pairs()).check_pair(source, target)
            raise AssertionError("check_pair accepted a pair find_pair rejected")
        return pair

    async def aclose(self) -> None:  # noqa: B027 - a no-op default, not abstract
        """Release owned resources; the default engine owns none."""


def find_pair(pairs: frozenset[Pair], source: str, target: str) -> Pair | None:
    """The pair among ``pairs`` serving ``source`` -> ``target``: an exact match first, then
    one whose languages cover the requested ones (``pt`` serves ``pt-BR``)."""
    src, tgt = normalize_language(source), normalize_language(target)
    if (src, tgt) in pairs:
        return (src, tgt)
    candidates = sorted(p for p in pairs if covers(p[0], src) and covers(p[1], tgt))
    return candidates[0] if candidates else None


def check_translation(engine: str, source_text: str, output: str) -> str:
    """Return ``output`` stripped, or raise :class:`~interpreter.errors.ProviderError` when it is
    empty or an echo of a source of several words."""
    result = output.strip()
    if not result and source_text.strip():
        raise ProviderError(
            f"translation engine {engine!r} returned an empty translation", retryable=True
        )
    if result == source_text.strip() and len(_WORD.findall(result)) >= _ECHO_MIN_WORDS:
        raise ProviderError(
            f"translation engine {engine!r} returned the source text untranslated",
            retryable=False,
        )
    return result


def term_pattern(term: str) -> re.Pattern[str]:
    """``term`` as a whole word or phrase, any case (how engines find glossary terms)."""
    return re.compile(r"(?<!\w)" + re.escape(term) + r"(?!\w)", re.IGNORECASE)


def literal(text: str) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` replacement that inserts ``text`` literally (no group references)."""

    def replace(_match: re.Match[str]) -> str:
        return text

    return replace
