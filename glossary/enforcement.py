"""A glossary applied to one unit: the terms its translation must contain, and a check that it
does.

:func:`required_terms` finds the glossary's terms in a source unit and says what each must
become in the target language: the target term in the number the speaker used (said
``deliverables``, the Spanish must say ``entregables``), or, for a do-not-translate term, the
term as the glossary writes it. Only these terms go to the translation engine, never the whole
glossary. :func:`check_terms` reads the translation back and tells, per term, whether its
target is there (case-insensitive, whole words, either number), which is what the metrics and
the transcript record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from glossary.matching import TermIndex, folded_words, plural_of
from glossary.terms import PairTerms
from languages import Language

__all__ = ["CheckedTerm", "RequiredTerm", "check_terms", "engine_terms", "required_terms"]


@dataclass(frozen=True, slots=True)
class RequiredTerm:
    """A glossary term found in a unit: ``source`` as it was said, ``target`` what the
    translation must contain."""

    source: str
    target: str
    keep: bool


@dataclass(frozen=True, slots=True)
class CheckedTerm:
    """A required term and whether the translation contains its target."""

    term: RequiredTerm
    found: bool


def _said_plural(said: str, term: str, language: Language) -> bool:
    spoken, written = folded_words(said), folded_words(term)
    if spoken == written:
        return False
    if folded_words(plural_of(term, language)) == spoken:
        return True
    return sum(map(len, spoken)) > sum(map(len, written))


def required_terms(pair: PairTerms, text: str) -> tuple[RequiredTerm, ...]:
    """The glossary terms in ``text`` (a unit in ``pair.source``), each once, in order."""
    out: dict[str, RequiredTerm] = {}
    for found in pair.find(text):
        rendering = found.value
        if rendering.keep:
            same = folded_words(found.text) == folded_words(rendering.source)
            target = rendering.target if same else found.text
        elif _said_plural(found.text, rendering.source, pair.source):
            target = plural_of(rendering.target, pair.target)
        else:
            target = rendering.target
        out.setdefault(
            found.text.casefold(),
            RequiredTerm(source=found.text, target=target, keep=rendering.keep),
        )
    return tuple(out.values())


def engine_terms(required: Iterable[RequiredTerm]) -> Mapping[str, str]:
    """What a translation engine is given: source term as said -> target term."""
    return {term.source: term.target for term in required}


def check_terms(
    required: Iterable[RequiredTerm], output: str, language: Language
) -> tuple[CheckedTerm, ...]:
    """Whether ``output`` (in ``language``) contains each required term's target."""
    terms = tuple(required)
    if not terms:
        return ()
    index = TermIndex(language, ((t.target, i) for i, t in enumerate(terms)))
    # Whole terms, longest first: "ruta" inside "hoja de ruta" is the roadmap, not the route.
    present = {found.value for found in index.find(output)}
    return tuple(CheckedTerm(term=t, found=i in present) for i, t in enumerate(terms))
