"""Glossary files: CSV, JSON and TBX-Basic, read whole or refused whole.

- **CSV** (comma-, semicolon- or tab-separated, as the header row shows): a header row of
  BCP-47 codes, one concept per row; an optional ``note`` column, and
  an optional ``keep`` column (``yes``/``true``/``1``/``x``) that marks do-not-translate rows,
  whose term passes through unchanged in every language.
- **JSON**: ``{"terms": [{"en": "deliverable", "es": "entregable", "note": "..."}],
  "keep": ["Nimbus"]}``.
- **TBX-Basic** (ISO 30042): ``termEntry``/``langSet``/``tig``/``term`` (or TBX 3's
  ``conceptEntry``/``langSec``/``termSec``); an entry with ``<descrip type="keep">yes</descrip>``
  (or ``<termNote type="doNotTranslate">``) is do-not-translate.

Every problem is reported with its line: a file that is too large, not UTF-8, malformed, with
an unknown language, an empty term or conflicting entries (:mod:`glossary.terms`).
"""

from __future__ import annotations

import csv
import io
import json
import xml.sax
import xml.sax.handler
from pathlib import Path
from typing import Any, Literal
from xml.sax.xmlreader import Locator

from glossary.errors import GlossaryError, Problem
from glossary.terms import Entry, Glossary, assemble
from languages import Language, normalize_language
from languages.errors import LanguageError

__all__ = ["FORMATS", "MAX_BYTES", "Format", "format_of", "load_glossary", "parse_glossary"]

MAX_BYTES = 5 * 1024 * 1024
"""The largest glossary file accepted (a 10,000-term file is about half a megabyte)."""

Format = Literal["csv", "json", "tbx"]
FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".json": "json",
    ".tbx": "tbx",
    ".xml": "tbx",
    "text/csv": "csv",
    "application/json": "json",
    "application/x-tbx": "tbx",
    "application/tbx+xml": "tbx",
    "application/xml": "tbx",
    "text/xml": "tbx",
}
_YES = {"yes", "y", "true", "1", "x"}


def format_of(name_or_type: str) -> Format:
    """The format of a file name (by its suffix) or a content type; ``ValueError`` if neither
    says."""
    key = name_or_type.split(";")[0].strip().lower()
    found = FORMATS.get(key) or FORMATS.get(Path(key).suffix)
    if found is None:
        raise ValueError(
            f"cannot tell the glossary format of {name_or_type!r}: use .csv, .json or .tbx "
            "(text/csv, application/json, application/x-tbx)"
        )
    return found


def load_glossary(path: str | Path, *, fmt: Format | None = None) -> Glossary:
    """Read the glossary file ``path`` (format from its suffix unless given)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise GlossaryError([_too_large(size)], name=path.name)
        data = path.read_bytes()
    except OSError as e:
        problem = Problem(None, f"cannot read the file: {e.strerror}")
        raise GlossaryError([problem], name=path.name) from None
    return parse_glossary(data, fmt or format_of(path.name), name=path.name)


def _too_large(size: int) -> Problem:
    return Problem(None, f"file too large: {size:,} bytes, at most {MAX_BYTES:,}")


def parse_glossary(data: bytes, fmt: Format, *, name: str = "glossary") -> Glossary:
    """The glossary in ``data``; raises :class:`GlossaryError` listing every problem."""
    if len(data) > MAX_BYTES:
        raise GlossaryError([_too_large(len(data))], name=name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise GlossaryError(
            [Problem(line, f"not UTF-8 text (byte 0x{data[e.start]:02x}): save it as UTF-8")],
            name=name,
        ) from None
    if fmt == "csv":
        entries, problems = _read_csv(text)
    elif fmt == "json":
        entries, problems = _read_json(text)
    elif fmt == "tbx":
        entries, problems = _read_tbx(text)
    else:
        raise ValueError(f"unknown glossary format {fmt!r}")
    if not entries and not problems:
        problems.append(Problem(None, "no terms in the file"))
    return assemble(entries, problems=problems, name=name)


def _language(code: str, line: int | None, problems: list[Problem]) -> Language | None:
    try:
        return normalize_language(code.strip())
    except LanguageError as e:
        problems.append(Problem(line, e.message))
        return None


# --- CSV ----------------------------------------------------------------------------------------
def _read_csv(text: str) -> tuple[list[Entry], list[Problem]]:
    problems: list[Problem] = []
    # spreadsheets in many locales save with semicolons (or tabs): the header row tells
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            return [], [Problem(None, "the file is empty")]
        columns: list[Language | str | None] = []
        for cell in header:
            label = cell.strip().lower()
            if label in ("note", "keep"):
                columns.append(label)
            elif not label:
                problems.append(Problem(1, "a header cell is empty (each names a language)"))
                columns.append(None)
            else:
                lang = _language(cell, 1, problems)
                if lang is not None and lang in columns:
                    problems.append(Problem(1, f"language {lang} has two columns"))
                columns.append(lang)
        if not any(isinstance(c, str) and c not in ("note", "keep") for c in columns):
            problems.append(Problem(1, "the header row names no language (e.g. en,es,note)"))
        if problems:  # the rows cannot be read without their header
            return [], problems
        entries: list[Entry] = []
        start = reader.line_num + 1
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(columns):
                problems.append(
                    Problem(line, f"{len(row)} cells, but the header has {len(columns)}")
                )
                continue
            terms: dict[Language, str] = {}
            note, keep = "", False
            for column, cell in zip(columns, row, strict=False):
                if column == "note":
                    note = cell.strip()
                elif column == "keep":
                    keep = cell.strip().lower() in _YES
                elif column is not None:
                    terms[Language(column)] = cell
            for column in columns[len(row) :]:
                if column not in (None, "note", "keep"):
                    terms[Language(str(column))] = ""
            entries.append(Entry(terms=terms, line=line, keep=keep, note=note))
    except csv.Error as e:
        problems.append(Problem(reader.line_num, f"malformed CSV: {e}"))
        return [], problems
    return entries, problems


# --- JSON ---------------------------------------------------------------------------------------
def _element_lines(text: str, key: str) -> list[int]:
    """The line where each element of the top-level array ``key`` starts."""
    decoder = json.JSONDecoder()
    lines: list[int] = []
    at = text.find(f'"{key}"')
    at = text.find("[", at) + 1 if at >= 0 else -1
    if at <= 0:
        return lines
    line, counted = 1, 0  # newlines are counted once, as the scan moves on
    while True:
        while at < len(text) and text[at] in " \t\r\n,":
            at += 1
        if at >= len(text) or text[at] == "]":
            return lines
        line += text.count("\n", counted, at)
        counted = at
        lines.append(line)
        try:
            _, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            return lines


def _read_json(text: str) -> tuple[list[Entry], list[Problem]]:
    try:
        doc: Any = json.loads(text)
    except json.JSONDecodeError as e:
        return [], [Problem(e.lineno, f"malformed JSON: {e.msg} (column {e.colno})")]
    if not isinstance(doc, dict) or not set(doc) <= {"terms", "keep"}:
        return [], [Problem(1, 'expected {"terms": [...], "keep": [...]} and nothing else')]
    problems: list[Problem] = []
    entries: list[Entry] = []
    terms, keep = doc.get("terms", []), doc.get("keep", [])
    if not isinstance(terms, list) or not isinstance(keep, list):
        return [], [Problem(1, '"terms" and "keep" must be lists')]
    term_lines, keep_lines = _element_lines(text, "terms"), _element_lines(text, "keep")
    for i, item in enumerate(terms):
        line = term_lines[i] if i < len(term_lines) else None
        if not isinstance(item, dict) or not all(isinstance(v, str) for v in item.values()):
            problems.append(Problem(line, 'a term is an object of strings: {"en": "...", ...}'))
            continue
        concept: dict[Language, str] = {}
        known = True
        for code, term in item.items():
            if code == "note":
                continue
            lang = _language(code, line, problems)
            if lang is None:
                known = False
            else:
                concept[lang] = term
        if known:  # an entry with an unknown language is reported once, not as empty too
            entries.append(Entry(terms=concept, line=line, note=item.get("note", "")))
    for i, item in enumerate(keep):
        line = keep_lines[i] if i < len(keep_lines) else None
        if not isinstance(item, str):
            problems.append(Problem(line, "a do-not-translate term is a string"))
            continue
        entries.append(Entry(terms={Language("und"): item}, line=line, keep=True))
    return entries, problems


# --- TBX ----------------------------------------------------------------------------------------
_ENTRY = {"termEntry", "conceptEntry"}
_LANGSET = {"langSet", "langSec"}
_XML_LANG = "xml:lang"
_TEXT = {"term", "descrip", "termNote", "note"}
"""Elements whose text is read: the term itself, and notes that may mark it do-not-translate."""


class _TbxReader(xml.sax.handler.ContentHandler):
    def __init__(self) -> None:
        super().__init__()
        self.locator: Locator | None = None
        self.entries: list[Entry] = []
        self.problems: list[Problem] = []
        self._entry_line: int | None = None
        self._terms: dict[Language, str] = {}
        self._keep = False
        self._note = ""
        self._lang: Language | None = None
        self._text: list[str] | None = None
        self._field = ""

    def setDocumentLocator(self, locator: Locator) -> None:
        self.locator = locator

    def _line(self) -> int | None:
        return self.locator.getLineNumber() if self.locator is not None else None

    def startElement(self, name: str, attrs: Any) -> None:
        if name in _ENTRY:
            self._entry_line, self._terms, self._keep, self._note = self._line(), {}, False, ""
        elif name in _LANGSET:
            code = attrs.get(_XML_LANG) or attrs.get("lang")
            self._lang = _language(code, self._line(), self.problems) if code else None
            if not code:
                self.problems.append(Problem(self._line(), f"<{name}> without xml:lang"))
        elif name in _TEXT:
            kind = attrs.get("type", "")
            self._field = "term" if name == "term" else f"{name}:{kind}"
            self._text = []

    def characters(self, content: str) -> None:
        if self._text is not None:
            self._text.append(content)

    def endElement(self, name: str) -> None:
        if self._text is not None and name in _TEXT:
            value = "".join(self._text).strip()
            self._text = None
            if self._field == "term":
                if self._lang is not None:
                    self._terms.setdefault(self._lang, value)
            elif self._field in ("descrip:keep", "termNote:doNotTranslate"):
                self._keep = value.lower() in _YES
            elif self._field.startswith("note") or self._field == "descrip:note":
                self._note = value
        elif name in _LANGSET:
            self._lang = None
        elif name in _ENTRY:
            self.entries.append(
                Entry(terms=self._terms, line=self._entry_line, keep=self._keep, note=self._note)
            )


def _read_tbx(text: str) -> tuple[list[Entry], list[Problem]]:
    reader = _TbxReader()
    parser = xml.sax.make_parser()
    parser.setFeature(xml.sax.handler.feature_external_ges, False)
    parser.setFeature(xml.sax.handler.feature_external_pes, False)
    parser.setContentHandler(reader)
    try:
        parser.parse(io.StringIO(text))
    except xml.sax.SAXParseException as e:
        malformed = Problem(e.getLineNumber(), f"malformed TBX: {e.getMessage()}")
        return [], [*reader.problems, malformed]
    return reader.entries, reader.problems
