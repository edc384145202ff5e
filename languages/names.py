"""Display names of languages, in English and in the language itself."""

from __future__ import annotations

from functools import lru_cache

from languages._tables import LANGUAGES, REGION_NAMES, SCRIPT_NAMES, VARIANT_NAMES
from languages.codes import Language, normalize_language

__all__ = ["all_languages", "english_name", "native_name"]

_ROWS = {row.code: row for row in LANGUAGES}


def _split(lang: Language) -> tuple[str, str, str]:
    parts = lang.split("-")
    script = next((p for p in parts[1:] if len(p) == 4), "")
    region = next((p for p in parts[1:] if len(p) != 4), "")
    return parts[0], script, region


def english_name(lang: str) -> str:
    """The English name of ``lang``: ``es`` -> "Spanish", ``pt-BR`` -> "Portuguese (Brazil)",
    ``zh-Hant-TW`` -> "Chinese (Traditional, Taiwan)".

    A script or region without an English name here is left out ("German" for ``de-LI``).
    Raises :class:`~languages.errors.UnknownLanguageError` for an unknown language.
    """
    tag = normalize_language(lang)
    if tag in VARIANT_NAMES:
        return VARIANT_NAMES[tag][0]
    code, script, region = _split(tag)
    qualifiers = [q for q in (SCRIPT_NAMES.get(script), REGION_NAMES.get(region)) if q]
    base = _ROWS[code].english
    return f"{base} ({', '.join(qualifiers)})" if qualifiers else base


def native_name(lang: str) -> str:
    """The language's own name for ``lang``: ``es`` -> "español", ``pt-BR`` -> "português
    (Brasil)"; regions and scripts without a native name here fall back to the base name
    (``de-LI`` -> "Deutsch").

    Raises :class:`~languages.errors.UnknownLanguageError` for an unknown language.
    """
    tag = normalize_language(lang)
    code, script, region = _split(tag)
    for candidate in (tag, f"{code}-{script}", f"{code}-{region}"):
        if candidate in VARIANT_NAMES:
            return VARIANT_NAMES[candidate][1]
    return _ROWS[code].native


@lru_cache(maxsize=2)
def all_languages(*, variants: bool = False) -> tuple[Language, ...]:
    """Every language the system knows, sorted by English name, for a language picker.

    With ``variants=True`` the list also holds the named regional and script variants
    (``pt-BR``, ``pt-PT``, ``zh-Hans``, ``zh-Hant``, ``es-419``, ...) next to their language.
    """
    tags = [Language(row.code) for row in LANGUAGES]
    if variants:
        tags.extend(Language(tag) for tag in VARIANT_NAMES)
    return tuple(sorted(tags, key=lambda tag: (english_name(tag).casefold(), tag)))
