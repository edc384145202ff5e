"""BCP-47 language codes: normalisation, names, detection and provider capabilities."""

from languages.codes import Language, normalize_language

__all__ = ["Language", "normalize_language"]
