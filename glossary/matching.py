"""Finding glossary terms in text: case-insensitive, whole words, singular and plural alike.

Text is cut into word tokens (a word keeps inner hyphens and apostrophes, ``Wi-Fi``,
``O'Brien``, but an elided French or Italian article is a token of its own: ``l'`` +
``équipe``; any other symbol is a token of its own, so ``C++`` is three tokens and never
matches a bare ``C``). A term matches a run of tokens equal to one of its forms, compared
case-folded. The forms of a term are the term itself and its plural and singular candidates
(:func:`number_variants`) for English, Spanish, French, Portuguese, Italian and German: the
head word changes, the last in English and German (``data center`` -> ``data centers``), the
first in the Romance languages, with the words that agree with it up to a complement
(``centro de datos`` -> ``centros de datos``, ``parte interesada`` -> ``partes
interesadas``).
The candidates are spelling rules, not a dictionary: they may list forms a language does not
have, which then simply never occur.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from languages import Language, primary

__all__ = ["Found", "TermIndex", "folded_words", "number_variants", "plural_of", "tokens"]

T = TypeVar("T")

# An elided article or pronoun (French l'atelier, d'accord, qu'il; Italian dell'anno, un'idea)
# is a token of its own, so "atelier" is found in "l'atelier".
_ELISION = r"(?:[ldjmnstc]|qu|jusqu|lorsqu|puisqu|dell|dall|nell|sull|all|quell|un)['’](?=\w)"
_TOKEN = re.compile(rf"{_ELISION}|\w+(?:[-'’]\w+)*|[^\w\s]", re.IGNORECASE)


def tokens(text: str) -> list[tuple[str, int, int]]:
    """``(case-folded token, start, end)`` for every token of ``text``."""
    return [(m.group().casefold(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def folded_words(text: str) -> tuple[str, ...]:
    """The case-folded tokens of ``text``."""
    return tuple(t for t, _, _ in tokens(text))


def _en(w: str) -> set[str]:
    out = {w + "s", w + "es"}
    if len(w) > 2 and w.endswith("y") and w[-2] not in "aeiou":
        out.add(w[:-1] + "ies")
    if w.endswith("ies"):
        out.add(w[:-3] + "y")
    if w.endswith("es"):
        out.add(w[:-2])
    if w.endswith("s") and not w.endswith("ss"):
        out.add(w[:-1])
    return out


_UNACCENT = str.maketrans("áéíóú", "aeiou")
_ES_STRESSED = re.compile(r"[áéíóú][nsl]$")
"""A stressed last syllable (canción): the mark goes in the plural (canciones)."""
_ACCENT = {"on": "ón", "en": "én", "in": "ín", "an": "án", "un": "ún", "es": "és"}


def _es(w: str) -> set[str]:
    out = {w + "s", w + "es"}
    if w.endswith("z"):
        out.add(w[:-1] + "ces")
    if w.endswith("ces"):
        out.add(w[:-3] + "z")
    # canción -> canciones (the stress mark goes), canciones -> canción (it comes back)
    if _ES_STRESSED.search(w):
        out.add(w.translate(_UNACCENT) + "es")
    if w.endswith("es"):
        stem = w[:-2]
        out.add(stem)
        if stem[-2:] in _ACCENT:
            out.add(stem[:-2] + _ACCENT[stem[-2:]])
    if w.endswith("s"):
        out.add(w[:-1])
    return out


def _fr(w: str) -> set[str]:
    out = {w + "s", w + "x"}
    if w.endswith("al"):
        out.add(w[:-2] + "aux")
    if w.endswith("ail"):
        out.add(w[:-3] + "aux")
    if w.endswith("aux"):
        out |= {w[:-3] + "al", w[:-3] + "ail"}
    if w.endswith(("s", "x")):
        out.add(w[:-1])
    return out


def _pt(w: str) -> set[str]:
    out = {w + "s", w + "es"}
    if w.endswith("m"):
        out.add(w[:-1] + "ns")
    if w.endswith("ns"):
        out.add(w[:-2] + "m")
    if w.endswith("ão"):
        out |= {w[:-2] + "ões", w[:-2] + "ães", w + "s"}
    if w.endswith(("ões", "ães")):
        out.add(w[:-3] + "ão")
    if w.endswith(("al", "el", "ol", "ul")):
        out.add(w[:-1] + "is")
    if w.endswith("is"):
        out.add(w[:-2] + "l")
    if w.endswith("es"):
        out.add(w[:-2])
    if w.endswith("s"):
        out.add(w[:-1])
    return out


_IT_PLURAL = (("ca", "che"), ("ga", "ghe"), ("co", "chi"), ("go", "ghi"), ("io", "i"))


def _it(w: str) -> set[str]:
    out: set[str] = set()
    for singular, plural in _IT_PLURAL:
        if w.endswith(singular):
            out.add(w[: -len(singular)] + plural)
        if w.endswith(plural):
            out.add(w[: -len(plural)] + singular)
    if w.endswith("o"):
        out.add(w[:-1] + "i")
    if w.endswith("a"):
        out.add(w[:-1] + "e")
    if w.endswith("e"):
        out |= {w[:-1] + "i", w[:-1] + "a"}
    if w.endswith("i"):
        out |= {w[:-1] + "o", w[:-1] + "e"}
    return out


_DE_ENDINGS = ("nen", "en", "er", "e", "n", "s")


def _de(w: str) -> set[str]:
    out = {w + e for e in _DE_ENDINGS}
    out |= {w[: -len(e)] for e in _DE_ENDINGS if w.endswith(e) and len(w) - len(e) >= 3}
    return out


_RULES: dict[str, tuple[Callable[[str], set[str]], bool]] = {
    # language: (candidates of one word, head word is the last one)
    "en": (_en, True),
    "es": (_es, False),
    "fr": (_fr, False),
    "pt": (_pt, False),
    "it": (_it, False),
    "de": (_de, True),
}


# Words after which a Romance term's words no longer agree with its head (a complement
# follows: "centro de datos", "feuille de route", "carta di credito").
_COMPLEMENT = frozenset(
    "de del da do dos das di du des della delle dei degli à a al au aux ao em en in para por "
    "per pour con com sur sobre y e et o ou".split()
)
_MAX_AGREEING = 3


def _agreeing(words: tuple[str, ...], head_last: bool) -> list[int]:
    """The positions of the words that take the number of the term: the head, and in the
    Romance languages the words after it up to a complement (``parte interesada`` ->
    ``partes interesadas``, ``hoja de ruta`` -> ``hojas de ruta``)."""
    if head_last:
        return [len(words) - 1]
    out: list[int] = []
    for i, word in enumerate(words):
        if word in _COMPLEMENT or len(out) == _MAX_AGREEING:
            break
        out.append(i)
    return out


def number_variants(term: str, language: Language) -> set[tuple[str, ...]]:
    """The token sequences of ``term`` and of its plural/singular candidates in ``language``
    (only the term itself for a language without rules)."""
    words = folded_words(term)
    if not words:
        return set()
    out = {words}
    rule = _RULES.get(primary(language))
    if rule is None:
        return out
    variants_of, head_last = rule
    positions = [i for i in _agreeing(words, head_last) if words[i].isalpha() and len(words[i]) > 1]
    if not positions or positions[0] != (len(words) - 1 if head_last else 0):
        return out
    forms = [sorted(variants_of(words[i])) for i in positions]
    # every agreeing word changes together: the same candidate rank is not the same rule for
    # every word, so the combinations are tried (at most a few dozen for a three-word term)
    for combination in itertools.product(*forms):
        variant = list(words)
        for i, form in zip(positions, combination, strict=True):
            variant[i] = form
        out.add(tuple(variant))
    return out


def _en_plural(w: str) -> str:
    if len(w) > 2 and w.endswith("y") and w[-2] not in "aeiou":
        return w[:-1] + "ies"
    if w.endswith(("s", "x", "z", "ch", "sh")):
        return w + "es"
    return w + "s"


def _es_plural(w: str) -> str:
    if w.endswith("z"):
        return w[:-1] + "ces"
    if w.endswith(("s", "x")) and not _ES_STRESSED.search(w):
        return w  # la crisis -> las crisis
    if _ES_STRESSED.search(w):
        return w.translate(_UNACCENT) + "es"  # canción -> canciones
    if w[-1] in "aeiouáéó":
        return w + "s"
    return w + "es"


def _fr_plural(w: str) -> str:
    if w.endswith(("s", "x", "z")):
        return w
    if w.endswith(("au", "eu")):
        return w + "x"
    if w.endswith("al"):
        return w[:-2] + "aux"
    return w + "s"


def _pt_plural(w: str) -> str:
    if w.endswith("ão"):
        return w[:-2] + "ões"
    if w.endswith("m"):
        return w[:-1] + "ns"
    if w.endswith(("al", "ol", "ul")):
        return w[:-1] + "is"
    if w.endswith(("r", "z")):
        return w + "es"
    if w.endswith("s"):
        return w
    return w + "s"


def _it_plural(w: str) -> str:
    for singular, plural in _IT_PLURAL:
        if w.endswith(singular):
            return w[: -len(singular)] + plural
    if w.endswith(("o", "e")):
        return w[:-1] + "i"
    if w.endswith("a"):
        return w[:-1] + "e"
    return w  # loanwords (il computer, i computer) and stressed endings do not change


_PLURALS: dict[str, Callable[[str], str]] = {
    "en": _en_plural,
    "es": _es_plural,
    "fr": _fr_plural,
    "pt": _pt_plural,
    "it": _it_plural,
    # German plurals are not predictable from spelling (Bericht -> Berichte, Auto -> Autos):
    # a German target term stays as the glossary writes it.
}


def plural_of(term: str, language: Language) -> str:
    """``term`` with its head word in the plural (``hoja de ruta`` -> ``hojas de ruta``,
    ``data center`` -> ``data centers``), the rest written as it was; ``term`` itself for a
    language without a rule or a head that is not a word."""
    rule, rules = _PLURALS.get(primary(language)), _RULES.get(primary(language))
    found = list(_TOKEN.finditer(term))
    if rule is None or rules is None or not found:
        return term
    positions = _agreeing(tuple(m.group().casefold() for m in found), rules[1])
    out = term
    for i in reversed(positions):  # from the end: earlier offsets stay valid
        word = found[i].group()
        if not word.isalpha() or len(word) < 2:
            if i == positions[0]:
                return term
            continue
        if word.isupper():  # an acronym: KPI -> KPIs in English, unchanged elsewhere
            plural = word + "s" if primary(language) == "en" else word
        else:
            plural = rule(word.lower())
        if word[0].isupper() and not word.isupper():
            plural = plural[0].upper() + plural[1:]
        out = out[: found[i].start()] + plural + out[found[i].end() :]
    return out


@dataclass(frozen=True, slots=True)
class Found(Generic[T]):
    """A term found in a text: ``text[start:end]`` is how it was written there."""

    start: int
    end: int
    text: str
    value: T


class TermIndex(Generic[T]):
    """Finds terms in texts of one language: each term (with its number variants) leads to a
    value. The text is read left to right; at each word the longest term starting there wins,
    and the search goes on after it (terms found never overlap)."""

    def __init__(self, language: Language, terms: Iterable[tuple[str, T]]) -> None:
        listed = list(terms)
        entries: dict[tuple[str, ...], T] = {}
        for term, value in listed:  # a term as written wins over another term's variant
            words = folded_words(term)
            if words:
                entries[words] = value
        for term, value in listed:
            for variant in number_variants(term, language):
                entries.setdefault(variant, value)
        self._entries = entries
        self._longest = max((len(k) for k in entries), default=0)

    def find(self, text: str) -> list[Found[T]]:
        """Every term in ``text``, left to right, none overlapping."""
        toks = tokens(text)
        found: list[Found[T]] = []
        i = 0
        while i < len(toks):
            for n in range(min(self._longest, len(toks) - i), 0, -1):
                key = tuple(t for t, _, _ in toks[i : i + n])
                value = self._entries.get(key)
                if value is not None:
                    start, end = toks[i][1], toks[i + n - 1][2]
                    found.append(Found(start=start, end=end, text=text[start:end], value=value))
                    i += n
                    break
            else:
                i += 1
        return found
