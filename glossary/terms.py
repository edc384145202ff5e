"""A glossary: concepts (one term per language) and do-not-translate terms, checked whole.

:func:`assemble` turns the entries a file parser read into a :class:`Glossary`, or refuses
them all with every problem found (:class:`~glossary.errors.GlossaryError`): an empty term, a
term too long, two entries that give one term different translations, a do-not-translate
term that another entry translates. :meth:`Glossary.pair` gives what translation between two
languages needs: which terms to look for in the source and what each must become.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from glossary.errors import GlossaryError, Problem
from glossary.matching import Found, TermIndex
from languages import Language, matches

__all__ = [
    "MAX_TERM_LENGTH",
    "Concept",
    "Entry",
    "Glossary",
    "PairTerms",
    "Rendering",
    "assemble",
]

MAX_TERM_LENGTH = 200
"""Characters in one term."""


@dataclass(frozen=True, slots=True)
class Concept:
    """One concept: its term in each language (``{"en": "deliverable", "es": "entregable"}``)."""

    terms: Mapping[Language, str]
    note: str = ""
    line: int | None = None

    def term(self, language: Language) -> str | None:
        """The term in ``language``, or in a variant of it (``pt-BR`` for ``pt``)."""
        found = self.terms.get(language)
        if found is not None:
            return found
        for lang, term in self.terms.items():
            if matches(lang, language):
                return term
        return None


@dataclass(frozen=True, slots=True)
class Rendering:
    """What a source term must become: ``target`` (the same text for a kept term)."""

    source: str
    target: str
    keep: bool


@dataclass(frozen=True, slots=True)
class PairTerms:
    """The glossary for one direction: find the terms in a source text, each with its
    rendering."""

    source: Language
    target: Language
    index: TermIndex[Rendering]

    def find(self, text: str) -> list[Found[Rendering]]:
        return self.index.find(text)


@dataclass(frozen=True, slots=True, eq=False)
class Glossary:
    """Concepts and do-not-translate terms (language-independent: kept as written)."""

    concepts: tuple[Concept, ...] = ()
    keep: tuple[str, ...] = ()
    _pairs: dict[tuple[Language, Language], PairTerms] = field(
        default_factory=dict, init=False, repr=False
    )

    def __len__(self) -> int:
        return len(self.concepts) + len(self.keep)

    def languages(self) -> frozenset[Language]:
        """Every language some concept has a term in."""
        return frozenset(lang for concept in self.concepts for lang in concept.terms)

    def vocabulary(self, language: Language) -> tuple[str, ...]:
        """The terms a speaker of ``language`` may say, to bias recognition towards: the
        do-not-translate terms (names, products: what a recogniser misses most) first, then
        the concepts' terms in ``language``, each once."""
        terms = [*self.keep, *(c.term(language) for c in self.concepts)]
        return tuple(dict.fromkeys(t for t in terms if t))

    def pair(self, source: Language, target: Language) -> PairTerms:
        """The terms to look for in ``source`` text and what each becomes in ``target``
        (built once per direction)."""
        key = (source, target)
        if key not in self._pairs:
            entries: list[tuple[str, Rendering]] = [
                (k, Rendering(source=k, target=k, keep=True)) for k in self.keep
            ]
            for concept in self.concepts:
                src, tgt = concept.term(source), concept.term(target)
                if src is not None and tgt is not None:
                    entries.append((src, Rendering(source=src, target=tgt, keep=False)))
            self._pairs[key] = PairTerms(source, target, TermIndex(source, entries))
        return self._pairs[key]


@dataclass(frozen=True, slots=True)
class Entry:
    """What a parser read: a concept (``terms``) or, with ``keep``, do-not-translate terms."""

    terms: Mapping[Language, str]
    line: int | None
    keep: bool = False
    note: str = ""


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def assemble(
    entries: Iterable[Entry], *, problems: Iterable[Problem] = (), name: str = "glossary"
) -> Glossary:
    """The glossary of ``entries``; raises :class:`GlossaryError` with ``problems`` (what the
    parser found) and every problem found here, if there is any."""
    found = list(problems)
    concepts: list[Concept] = []
    kept: dict[str, int | None] = {}  # folded -> line
    keep: list[str] = []
    # (language, folded term, other language) -> (their term, line)
    seen: dict[tuple[Language, str, Language], tuple[str, int | None]] = {}
    for entry in entries:
        terms = {lang: " ".join(t.split()) for lang, t in entry.terms.items()}
        long = [t for t in terms.values() if len(t) > MAX_TERM_LENGTH]
        if long:
            found.append(Problem(entry.line, f"term longer than {MAX_TERM_LENGTH} characters"))
            continue
        filled = {lang: t for lang, t in terms.items() if t}
        if entry.keep:
            if not filled:
                found.append(Problem(entry.line, "empty term: a do-not-translate row needs it"))
            for term in dict.fromkeys(filled.values()):
                if _folded(term) not in kept:
                    kept[_folded(term)] = entry.line
                    keep.append(term)
            continue
        if len(filled) < 2:
            empty = [str(lang) for lang, t in terms.items() if not t]
            where = f" (empty: {', '.join(empty)})" if empty else ""
            found.append(
                Problem(entry.line, f"empty term: a concept needs terms in two languages{where}")
            )
            continue
        conflict = False
        for lang, term in filled.items():
            for other, their in filled.items():
                if other == lang:
                    continue
                key = (lang, _folded(term), other)
                before = seen.get(key)
                if before is None:
                    seen[key] = (their, entry.line)
                elif _folded(before[0]) != _folded(their):
                    at = f"line {before[1]}" if before[1] is not None else "another entry"
                    found.append(
                        Problem(
                            entry.line,
                            f"conflicting entries: {term!r} ({lang}) is {before[0]!r} ({other}) "
                            f"on {at} but {their!r} here",
                        )
                    )
                    conflict = True
        if not conflict:
            concepts.append(Concept(terms=filled, note=entry.note, line=entry.line))
    for concept in concepts:  # one report per concept
        folded = {_folded(t) for t in concept.terms.values()}
        clash = next((t for t in concept.terms.values() if _folded(t) in kept), None)
        if clash is not None and len(folded) > 1:
            line = kept[_folded(clash)]
            at = f"line {line}" if line is not None else "the keep list"
            found.append(
                Problem(
                    concept.line,
                    f"conflicting entries: {clash!r} is do-not-translate ({at}) but translated "
                    "here",
                )
            )
    if found:
        raise GlossaryError(found, name=name)
    return Glossary(concepts=tuple(concepts), keep=tuple(keep))
