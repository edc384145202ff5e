"""The one language type of the project and its normaliser.

Every language code that enters the system (participant attribute, STT result, langdetect,
glossary file, URL) goes through :func:`normalize_language` and nowhere else.

A canonical tag has at most three parts: the primary language (ISO 639-1 where one exists,
otherwise ISO 639-3), a script and a region (``en``, ``pt-BR``, ``zh-Hans``, ``zh-Hant-TW``,
``es-419``). Variants and extensions (``ca-ES-valencia``, ``en-US-u-ca-gregory``) are checked
and dropped: the system distinguishes languages, scripts and regions only. A script that a
language is always written in is dropped too (``es-Latn-ES`` is ``es-ES``).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from functools import lru_cache
from typing import NewType

from languages._tables import (
    CODE_ALIASES,
    EXTLANG,
    LANGUAGES,
    REGION_ALIASES,
    REGION_NAMES,
    REGION_SCRIPTS,
    REGIONS_ALPHA2,
    REGIONS_NUMERIC,
    SCRIPT_NAMES,
    SCRIPTS,
    VARIANT_NAMES,
    LanguageRow,
)
from languages.errors import UnknownLanguageError

__all__ = [
    "WHISPER_LANGUAGES",
    "Language",
    "alpha3",
    "language_match_tables",
    "matches",
    "normalize_language",
    "primary",
    "region_of",
    "script_of",
    "whisper_code",
]

Language = NewType("Language", str)
"""A canonical BCP-47 tag: lower-case primary language (2 letters where ISO 639-1 has one),
upper-case region, title-case script: ``en``, ``es``, ``pt-BR``, ``zh-Hans``."""

_ROWS: dict[str, LanguageRow] = {row.code: row for row in LANGUAGES}

# Every code that names a table language: canonical codes, ISO 639-2/T, 639-2/B and aliases.
# A value may carry a script subtag (``sh`` -> ``sr-Latn``).
_CODES: dict[str, str] = {}
for _entry in LANGUAGES:
    _CODES[_entry.code] = _entry.code
    _CODES[_entry.alpha3] = _entry.code
    if _entry.alpha3_b:
        _CODES[_entry.alpha3_b] = _entry.code
_CODES.update(CODE_ALIASES)

_SEPARATORS = re.compile(r"[-_]")
_TAG_SHAPE = re.compile(r"[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*")
_QUALIFIED_NAME = re.compile(r"(?P<base>[^(]+?)\s*\((?P<quals>[^()]+)\)")
_SUBTAG = re.compile(r"[a-z0-9]{1,8}")
_VARIANT = re.compile(r"[a-z0-9]{5,8}|[0-9][a-z0-9]{3}")


def _fold(text: str) -> str:
    """Case-, accent- and spacing-insensitive form of a name (``Español`` -> ``espanol``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def _build_name_index() -> dict[str, str]:
    index: dict[str, str] = {}

    def add(name: str, tag: str) -> None:
        key = _fold(name)
        if index.setdefault(key, tag) != tag:
            raise RuntimeError(f"language table: name {name!r} names {index[key]} and {tag}")

    for row in LANGUAGES:
        for name in (row.english, row.native, *row.aliases):
            add(name, row.code)
    for tag, (english, native) in VARIANT_NAMES.items():
        add(english, tag)
        add(native, tag)
    return index


_NAMES: dict[str, str] = _build_name_index()
_REGIONS_BY_NAME: dict[str, str] = {_fold(name): code for code, name in REGION_NAMES.items()}
_SCRIPTS_BY_NAME: dict[str, str] = {_fold(name): code for code, name in SCRIPT_NAMES.items()}

_EXAMPLE = "expected a BCP-47 code such as 'es' or 'pt-BR', or a name such as 'Spanish'"


def normalize_language(value: str) -> Language:
    """Return the canonical BCP-47 form of ``value`` or raise :class:`UnknownLanguageError`.

    Accepts BCP-47 tags in any case and with ``_`` or ``-`` (``es``, ``es_es``, ``pt-br``,
    ``zh-hans``), ISO 639-2/3 codes in both bibliographic and terminology forms (``spa``,
    ``fre``, ``fra``), deprecated codes (``iw`` -> ``he``, ``no`` -> ``nb``) and English or
    native names, case- and accent-insensitively (``Spanish``, ``espanol``,
    ``Portuguese (Brazil)``). The message of the error says what was given and, where a known
    name is close, suggests it.
    """
    if not isinstance(value, str):
        raise UnknownLanguageError(f"unknown language {value!r}: {_EXAMPLE}")
    return _normalize(value)


@lru_cache(maxsize=4096)
def _normalize(value: str) -> Language:
    raw = value.strip()
    if not raw:
        raise UnknownLanguageError(f"empty language: {_EXAMPLE}")

    if _SEPARATORS.split(raw, maxsplit=1)[0].lower() in _CODES:
        return _parse_tag(value, raw)

    by_name = _from_name(raw)
    if by_name is not None:
        return by_name

    if _TAG_SHAPE.fullmatch(raw) and len(raw) < 2:
        raise UnknownLanguageError(
            f"unknown language {value!r}: too short, language codes have 2 or 3 letters"
        )
    raise UnknownLanguageError(f"unknown language {value!r}{_suggestion(raw)}: {_EXAMPLE}")


def _parse_tag(value: str, raw: str) -> Language:
    given = _SEPARATORS.split(raw)
    parts = [p.lower() for p in given]
    for part, original in zip(parts[1:], given[1:], strict=True):
        if not _SUBTAG.fullmatch(part):
            raise UnknownLanguageError(f"unknown language {value!r}: bad subtag {original!r}")
    base = _CODES[parts[0]]
    i = 1
    if i < len(parts) and (base, parts[i]) in EXTLANG:
        base = EXTLANG[(base, parts[i])]
        i += 1
    language, _, alias_script = base.partition("-")

    script = ""
    if i < len(parts) and len(parts[i]) == 4 and parts[i].isalpha():
        script = parts[i].title()
        if script not in SCRIPTS:
            raise UnknownLanguageError(
                f"unknown language {value!r}: {given[i]!r} is not a known script"
            )
        i += 1

    region = ""
    if i < len(parts) and (len(parts[i]) == 2 or (len(parts[i]) == 3 and parts[i].isdigit())):
        candidate = parts[i].upper()
        candidate = REGION_ALIASES.get(candidate, candidate)
        if candidate not in REGIONS_ALPHA2 and candidate not in REGIONS_NUMERIC:
            raise UnknownLanguageError(
                f"unknown language {value!r}: {given[i]!r} is not a known region"
            )
        region = candidate
        i += 1

    _check_tail(value, parts[i:], given[i:])

    script = script or alias_script
    if script == _ROWS[language].script:
        script = ""
    return Language("-".join(p for p in (language, script, region) if p))


def _check_tail(value: str, tail: list[str], given: list[str]) -> None:
    """Validate variants, extensions and private use; they are not kept."""
    i = 0
    while i < len(tail) and _VARIANT.fullmatch(tail[i]):
        i += 1
    while i < len(tail):
        singleton = tail[i]
        if len(singleton) != 1:
            raise UnknownLanguageError(f"unknown language {value!r}: bad subtag {given[i]!r}")
        shortest = 1 if singleton == "x" else 2
        j = i + 1
        while j < len(tail) and (singleton == "x" or len(tail[j]) != 1):
            if not shortest <= len(tail[j]) <= 8:
                raise UnknownLanguageError(f"unknown language {value!r}: bad subtag {given[j]!r}")
            j += 1
        if j == i + 1:
            raise UnknownLanguageError(
                f"unknown language {value!r}: extension {given[i]!r} has no subtags"
            )
        i = j


def _from_name(raw: str) -> Language | None:
    folded = _fold(raw)
    tag = _NAMES.get(folded)
    if tag is not None:
        return normalize_language(tag)
    qualified = _QUALIFIED_NAME.fullmatch(folded)
    if qualified is None:
        return None
    base = _NAMES.get(qualified["base"])
    if base is None or "-" in base:
        return None
    script = region = ""
    for qual in (q.strip() for q in qualified["quals"].split(",")):
        if qual in _SCRIPTS_BY_NAME and not script:
            script = _SCRIPTS_BY_NAME[qual]
        elif qual in _REGIONS_BY_NAME and not region:
            region = _REGIONS_BY_NAME[qual]
        elif qual.upper() in REGIONS_ALPHA2 and not region:
            region = qual.upper()
        else:
            return None
    return normalize_language("-".join(p for p in (base, script, region) if p))


def _suggestion(raw: str) -> str:
    folded = _fold(raw)
    if len(folded) < 4:
        return ""
    close = difflib.get_close_matches(folded, _NAMES.keys(), n=6, cutoff=0.75)
    seen: list[str] = []
    for key in close:
        tag = _NAMES[key]
        if tag not in seen:
            seen.append(tag)
    if not seen:
        return ""
    shown = ", ".join(f"{_english(tag)} ({tag})" for tag in seen[:3])
    return f" (did you mean {shown}?)"


def _english(tag: str) -> str:
    if tag in VARIANT_NAMES:
        return VARIANT_NAMES[tag][0]
    return _ROWS[tag.split("-")[0]].english


def _row(lang: str) -> LanguageRow:
    return _ROWS[normalize_language(lang).split("-")[0]]


def primary(lang: str) -> Language:
    """The language without script or region (``pt-BR`` -> ``pt``, ``zh-Hant`` -> ``zh``)."""
    return Language(normalize_language(lang).split("-")[0])


def matches(a: str, b: str) -> bool:
    """Whether a listener of ``a`` is served by ``b`` (and back): the same language in the same
    script, whatever the region. ``pt-BR`` matches ``pt-PT`` and ``pt``; ``zh-Hans`` does not
    match ``zh-TW`` (Traditional); a language whose script is open (``zh``) matches all of its
    scripts.

    The page applies the same rule with the tables of :func:`language_match_tables`; the test
    vectors in ``tests/data/language_matching.json`` are checked on both sides.
    """
    if primary(a) != primary(b):
        return False
    script_a, script_b = script_of(a), script_of(b)
    return script_a is None or script_b is None or script_a == script_b


def language_match_tables() -> dict[str, dict[str, str | None]]:
    """The data :func:`matches` needs for canonical codes, for clients that apply the rule
    themselves: each language's only script (``None`` when it has several) and the scripts
    that regions imply (``zh-TW`` -> ``Hant``)."""
    return {
        "scripts": {row.code: row.script or None for row in LANGUAGES},
        "region_scripts": {f"{lang}-{region}": s for (lang, region), s in REGION_SCRIPTS.items()},
    }


def script_of(lang: str) -> str | None:
    """The script ``lang`` is written in: explicit, implied by the region (``zh-TW`` is
    ``Hant``) or the language's only script (``en`` is ``Latn``); ``None`` when open."""
    parts = normalize_language(lang).split("-")
    for part in parts[1:]:
        if len(part) == 4:
            return part
    if len(parts) > 1 and (parts[0], parts[-1]) in REGION_SCRIPTS:
        return REGION_SCRIPTS[(parts[0], parts[-1])]
    return _ROWS[parts[0]].script or None


def region_of(lang: str) -> str | None:
    """The region subtag of ``lang`` (``pt-BR`` -> ``BR``), or ``None``."""
    last = normalize_language(lang).split("-")[-1]
    return last if last.isupper() or last.isdigit() else None


def alpha3(lang: str) -> str:
    """The ISO 639-3 (= 639-2/T) code of the primary language (``es`` -> ``spa``), as used by
    Apertium and NLLB-style models."""
    return _row(lang).alpha3


def whisper_code(lang: str) -> str | None:
    """Whisper's language token for ``lang`` (``nb`` -> ``no``, ``jv`` -> ``jw``), or ``None``
    when Whisper does not know the language."""
    return _row(lang).whisper or None


WHISPER_LANGUAGES: frozenset[Language] = frozenset(
    Language(row.code) for row in LANGUAGES if row.whisper
)
"""The languages Whisper recognises, as canonical tags."""
