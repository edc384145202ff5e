"""Repair what a translation leg does to a unit's surface: its sentence start, its final mark,
its names.

A route of several engines passes the unit through texts nobody reads (``en -> pt -> es``), and
each leg may damage what the listener sees: Apertium's Portuguese->Spanish leg writes no
opening ``¿``; a leg lower-cases a sentence start (``buen día, todos``) or drops a question mark;
the neural English<->Portuguese model translates a few given names (``Peter`` -> ``Pedro``). The
source unit is the reference for all of that, so the repairs compare the output with it:

* :func:`restore_surface` (the router, after a route of two or more legs): the sentence start
  takes the source's case; words a leg wrote in capitals go back to lower case when the source
  has none ("GRÂCE À tous" from Apertium's es->fr); the final mark follows the source's
  (``?``, ``!``, ``.``, ``:`` or none: a unit cut at a breath); a Spanish question gets its
  ``¿``; a name written with capitals in the source that comes out in lower case gets its
  capitals back;
* :func:`keep_names` (the neural engine, on its own leg): a given name the model replaced by
  its other form (``Peter`` -> ``Pedro``) is put back as spoken. A general rule (a capitalised
  word replaced by one of the same stem) also "kept" ``Lisboa`` as ``Lisbon`` and ``Perfeito,``
  as a name, and cost chrF in ``bench.mt``; exonyms are translations, given names are not.

Pure functions of text: no I/O, no model.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from languages import Language, primary

__all__ = ["GIVEN_NAMES", "keep_names", "restore_surface"]

_FINAL = ".?!:;,…"
_SENTENCE_END = ".?!…"
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
# English capitalises these; they are not names, and their translations are not either.
_CALENDAR = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april "
    "may june july august september october november december i".split()
)


GIVEN_NAMES: tuple[tuple[str, str], ...] = (
    ("Peter", "Pedro"),
    ("Paul", "Paulo"),
    ("John", "João"),
    ("James", "Tiago"),
    ("Michael", "Miguel"),
    ("Joseph", "José"),
    ("Mary", "Maria"),
    ("Andrew", "André"),
    ("Thomas", "Tomás"),
    ("Matthew", "Mateus"),
    ("Anthony", "António"),
    ("Francis", "Francisco"),
    ("Charles", "Carlos"),
    ("Henry", "Henrique"),
    ("William", "Guilherme"),
    ("George", "Jorge"),
    ("Stephen", "Estêvão"),
    ("Philip", "Filipe"),
    ("Luke", "Lucas"),
    ("Mark", "Marcos"),
    ("Catherine", "Catarina"),
    ("Helen", "Helena"),
    ("Louis", "Luís"),
    ("Edward", "Eduardo"),
    ("Richard", "Ricardo"),
    ("Robert", "Roberto"),
    ("Anne", "Ana"),
    ("Joan", "Joana"),
    ("Elizabeth", "Isabel"),
    ("Margaret", "Margarida"),
)
"""Given names with an English and a Portuguese form, which the neural model may swap
(``Peter`` -> ``Pedro`` measured); a name is kept as the speaker said it."""


_LETTERS = re.compile(r"[^\W\d_]+")


def _shouted(text: str) -> list[tuple[int, int]]:
    """Spans of runs of all-capital words holding a word of two or more letters."""
    spans: list[tuple[int, int]] = []
    run: list[re.Match[str]] = []
    for match in [*_LETTERS.finditer(text), None]:
        word = match.group(0) if match else ""
        joined = bool(run) and match is not None and not text[run[-1].end() : match.start()].strip()
        if match is not None and word.isupper() and (not run or joined):
            run.append(match)
            continue
        if any(len(m.group(0)) >= 2 for m in run):
            spans.append((run[0].start(), run[-1].end()))
        run = [match] if match is not None and word.isupper() else []
    return spans


def _unshout(text: str) -> str:
    """``text`` with runs of capitals (Apertium's es->fr writes "Gracias a todos" as "GRÂCE À
    tous") in lower case, a sentence's first letter kept."""
    for start, end in reversed(_shouted(text)):
        lowered = text[start:end].lower()
        before = text[:start].rstrip(" \"'“‘«¿¡(")
        if not before or before[-1] in _SENTENCE_END:
            lowered = lowered[:1].upper() + lowered[1:]
        text = text[:start] + lowered + text[end:]
    return text


def _first_letter(text: str) -> int | None:
    for index, ch in enumerate(text):
        if ch.isalpha():
            return index
        if ch.isdigit():
            return None
    return None


def _final_mark(text: str) -> str:
    stripped = text.rstrip(" \"'”’»")
    return stripped[-1] if stripped and stripped[-1] in _FINAL else ""


def _names(text: str) -> list[str]:
    """Words written with a capital that are not a sentence's first word (or a calendar word)."""
    names: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group(0)
        if not word[0].isupper() or word.lower() in _CALENDAR:
            continue
        before = text[: match.start()].rstrip(" \"'“‘«¿¡(")
        if not before or before[-1] in _SENTENCE_END:
            continue
        names.append(word)
    return names


def _set_final(output: str, mark: str) -> str:
    body = output.rstrip()
    tail = ""
    while body and body[-1] in "\"'”’»":
        tail = body[-1] + tail
        body = body[:-1]
    core = body.rstrip(_FINAL).rstrip()
    if not core:
        return output
    return core + mark + tail


def _spanish_question(output: str, source: str) -> str:
    """Open the last sentence of a Spanish question with ``¿`` when no leg did (after a name
    the speaker addresses: ``Marie, ¿qué opinas?``)."""
    if not output.rstrip().endswith("?"):
        return output
    body = output.rstrip()[:-1]
    start = max(body.rfind(ch) for ch in "¿.!?…")
    if start >= 0 and body[start] == "¿":
        return output
    start += 1
    while start < len(output) and output[start] == " ":
        start += 1
    vocative = re.match(r"([^\W\d_][\w'’-]*), ", output[start:])
    if vocative and re.search(r"(?<!\w)" + re.escape(vocative.group(1)) + r"(?!\w)", source):
        start += vocative.end()
    return output[:start] + "¿" + output[start:]


def restore_surface(source: str, output: str, *, target: Language) -> str:
    """``output`` with the source's sentence-start case, final mark and names' capitals (see
    the module docstring); ``target`` is the output's language."""
    if not output.strip() or not source.strip():
        return output
    out = output.strip()
    src_at, out_at = _first_letter(source.strip()), _first_letter(out)
    if src_at is not None and out_at is not None:
        first = source.strip()[src_at]
        if first.isupper() and out[out_at].islower():
            out = out[:out_at] + out[out_at].upper() + out[out_at + 1 :]
    if not _shouted(source):
        out = _unshout(out)
    mark = _final_mark(source)
    if mark != _final_mark(out):
        out = _set_final(out, mark)
    if primary(target) == "es" and mark == "?":
        out = _spanish_question(out, source)
    for name in _names(source):
        out = re.sub(
            r"(?<!\w)" + re.escape(name) + r"(?!\w)", _capitals_of(name), out, flags=re.IGNORECASE
        )
    return out


def _capitals_of(name: str) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` replacement writing ``name`` where a match of it is all lower case."""

    def replace(match: re.Match[str]) -> str:
        return name if match.group(0).islower() else match.group(0)

    return replace


def keep_names(source: str, output: str) -> str:
    """``output`` with each given name of the source that the model replaced by its English or
    Portuguese form (:data:`GIVEN_NAMES`: ``Peter`` -> ``Pedro``, ``João`` -> ``John``) written
    as the speaker said it. Place names are left alone: ``Lisbon`` -> ``Lisboa`` is a
    translation."""
    for english, portuguese in GIVEN_NAMES:
        for said, written in ((english, portuguese), (portuguese, english)):
            if _has_word(source, said) and not _has_word(output, said):
                output = re.sub(r"(?<!\w)" + re.escape(written) + r"(?!\w)", said, output, count=1)
    return output


def _has_word(text: str, word: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(word) + r"(?!\w)", text) is not None
