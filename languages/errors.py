"""The errors of ``languages/`` (a leaf package: it defines its own and imports nothing of ours).

Both are ``ValueError``\\ s; ``message`` is the text to show a user and ``retryable`` is always
false (trying the same language again cannot help), so callers can treat them like the app's
own errors.
"""

from __future__ import annotations

__all__ = ["LanguageError", "UnknownLanguageError", "UnsupportedLanguageError"]


class LanguageError(ValueError):
    """Base of the errors about languages."""

    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownLanguageError(LanguageError):
    """A string that does not name a language we know (the message says what was given)."""


class UnsupportedLanguageError(LanguageError):
    """A known language (or pair) that the configured providers cannot handle.

    The message names the language and the alternatives that are available.
    """

    def __init__(self, message: str, *, alternatives: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.alternatives = alternatives
