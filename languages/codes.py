"""The one language type of the project and its normaliser.

Every language code that enters the system (participant attribute, STT result, langdetect,
glossary file, URL) goes through :func:`normalize_language` and nowhere else.
"""

from __future__ import annotations

from typing import NewType

from interpreter.errors import UnknownLanguageError

__all__ = ["Language", "normalize_language"]

Language = NewType("Language", str)
"""A canonical BCP-47 tag: lower-case primary language (2 letters where ISO 639-1 has one),
upper-case region, title-case script: ``en``, ``es``, ``pt-BR``, ``zh-Hans``."""

# Minimal table; the languages issue extends it (aliases, ISO 639-2/3, names).
_PRIMARY = {
    "en", "es", "fr", "de", "it", "pt", "ca", "gl", "ro", "nl", "pl", "ru", "uk", "ja", "zh",
    "ko", "ar", "hi", "tr", "sv", "da", "no", "nb", "fi", "cs", "el", "he", "id", "vi", "eu",
}


def normalize_language(value: str) -> Language:
    """Return the canonical BCP-47 form of ``value`` or raise :class:`UnknownLanguageError`."""
    raw = value.strip().replace("_", "-")
    parts = [p for p in raw.split("-") if p]
    if not parts or parts[0].lower() not in _PRIMARY:
        raise UnknownLanguageError(f"unknown language {value!r} (expected a BCP-47 code like 'es')")
    out = [parts[0].lower()]
    for p in parts[1:]:
        if len(p) == 2 and p.isalpha():
            out.append(p.upper())
        elif len(p) == 4 and p.isalpha():
            out.append(p.title())
        elif len(p) == 3 and p.isdigit():
            out.append(p)
        else:
            raise UnknownLanguageError(f"unknown language {value!r}: bad subtag {p!r}")
    return Language("-".join(out))
