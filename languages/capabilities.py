"""Which languages the configured providers can recognise, translate and voice.

Each provider describes what it supports as a :class:`Capabilities`; :func:`merge` combines
the maps of the providers configured for a stage (an embedded fallback plus a cloud service,
say). A supported tag covers a requested one when they are the same language and their
scripts do not conflict: a Portuguese voice serves ``pt-BR`` and ``pt-PT``, a ``zh-Hans``
translation does not serve ``zh-TW`` listeners (Traditional script).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from languages.codes import Language, normalize_language, primary, script_of
from languages.errors import UnsupportedLanguageError
from languages.names import english_name

__all__ = ["Capabilities", "covers", "merge", "pairs_among"]


def covers(supported: str, wanted: str) -> bool:
    """Whether support for ``supported`` serves a request for ``wanted``: same primary
    language, and no two different scripts (``zh-Hans`` does not cover ``zh-Hant``)."""
    if primary(supported) != primary(wanted):
        return False
    have, want = script_of(supported), script_of(wanted)
    return have is None or want is None or have == want


def _label(lang: str) -> str:
    return f"{english_name(lang)} ({lang})"


def _labels(langs: Iterable[str]) -> str:
    listed = ", ".join(_label(lang) for lang in langs)
    return listed or "none"


def _sorted(langs: Iterable[Language]) -> tuple[Language, ...]:
    return tuple(sorted(set(langs)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """Languages a set of providers can recognise (STT), translate (ordered source/target
    pairs) and voice (TTS). Every tag is canonical; build from raw codes with :meth:`of`."""

    recognise: frozenset[Language] = field(default_factory=frozenset)
    translate: frozenset[tuple[Language, Language]] = field(default_factory=frozenset)
    voice: frozenset[Language] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls,
        *,
        recognise: Iterable[str] = (),
        translate: Iterable[tuple[str, str]] = (),
        voice: Iterable[str] = (),
    ) -> Capabilities:
        """Build a map from codes in any accepted form (``es_ES``, ``spa``, ``Spanish``).

        Raises :class:`~languages.errors.UnknownLanguageError` for an unknown code.
        """
        return cls(
            recognise=frozenset(normalize_language(lang) for lang in recognise),
            translate=frozenset(
                (normalize_language(src), normalize_language(tgt)) for src, tgt in translate
            ),
            voice=frozenset(normalize_language(lang) for lang in voice),
        )

    def can_recognise(self, lang: str) -> bool:
        """Whether speech in ``lang`` can be transcribed."""
        return any(covers(have, lang) for have in self.recognise)

    def can_translate(self, src: str, tgt: str) -> bool:
        """Whether text in ``src`` can be translated into ``tgt``."""
        return any(covers(s, src) and covers(t, tgt) for s, t in self.translate)

    def can_voice(self, lang: str) -> bool:
        """Whether text in ``lang`` can be spoken."""
        return any(covers(have, lang) for have in self.voice)

    def targets_for(self, src: str) -> frozenset[Language]:
        """Every language text in ``src`` can be translated into."""
        return frozenset(t for s, t in self.translate if covers(s, src))

    def sources_for(self, tgt: str) -> frozenset[Language]:
        """Every language that can be translated into ``tgt``."""
        return frozenset(s for s, t in self.translate if covers(t, tgt))

    def check_recognise(self, lang: str) -> None:
        """Raise :class:`~languages.errors.UnsupportedLanguageError` unless ``lang`` can be
        recognised; the message and ``alternatives`` list the languages that can."""
        _require(self.recognise, lang, "speech in {} cannot be recognised; recognised languages")

    def check_pair(self, src: str, tgt: str) -> None:
        """Raise :class:`~languages.errors.UnsupportedLanguageError` unless ``src`` can be
        translated into ``tgt``. The alternatives are the targets ``src`` can be translated
        into; when there are none, the sources that can be translated into ``tgt``; when
        there are none either, every source language.

        Same-language text needs no translation: callers skip it rather than ask."""
        src, tgt = normalize_language(src), normalize_language(tgt)
        if self.can_translate(src, tgt):
            return
        targets = _sorted(self.targets_for(src))
        if targets:
            raise UnsupportedLanguageError(
                f"cannot translate {_label(src)} into {_label(tgt)}; "
                f"{english_name(src)} can be translated into: {_labels(targets)}",
                alternatives=targets,
            )
        sources = _sorted(self.sources_for(tgt))
        if sources:
            raise UnsupportedLanguageError(
                f"cannot translate {_label(src)} into {_label(tgt)}; nothing translates from "
                f"{english_name(src)}; {english_name(tgt)} can be translated from: "
                f"{_labels(sources)}",
                alternatives=sources,
            )
        everything = _sorted(s for s, _ in self.translate)
        raise UnsupportedLanguageError(
            f"cannot translate {_label(src)} into {_label(tgt)}; neither is supported for "
            f"translation; languages that can be translated: {_labels(everything)}",
            alternatives=everything,
        )

    def check_voice(self, lang: str) -> None:
        """Raise :class:`~languages.errors.UnsupportedLanguageError` unless ``lang`` can be
        voiced; the message and ``alternatives`` list the languages that can."""
        _require(self.voice, lang, "no voice for {}; voiced languages")


def _require(supported: frozenset[Language], lang: str, problem: str) -> None:
    wanted = normalize_language(lang)
    if any(covers(have, wanted) for have in supported):
        return
    alternatives = _sorted(supported)
    raise UnsupportedLanguageError(
        f"{problem.format(_label(wanted))}: {_labels(alternatives)}",
        alternatives=alternatives,
    )


def merge(*maps: Capabilities) -> Capabilities:
    """One map supporting everything any of ``maps`` supports."""
    return Capabilities(
        recognise=frozenset().union(*(m.recognise for m in maps)),
        translate=frozenset().union(*(m.translate for m in maps)),
        voice=frozenset().union(*(m.voice for m in maps)),
    )


def pairs_among(langs: Iterable[str]) -> frozenset[tuple[Language, Language]]:
    """Every ordered pair of different languages among ``langs`` (``pt-BR`` and ``pt-PT`` are
    one language), for a translator that translates between any of its languages (an LLM)."""
    tags = {normalize_language(lang) for lang in langs}
    return frozenset((a, b) for a in tags for b in tags if primary(a) != primary(b))
