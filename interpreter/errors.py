"""One small exception hierarchy for the whole project.

Every error we raise on purpose derives from :class:`InterpreterError`. ``retryable`` tells a
caller whether trying the same thing again may succeed (a timeout, a busy port) or not (a bad
setting, an unknown language). Third-party errors are wrapped at the boundary with
``raise ... from e`` so the original stays attached.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "InterpreterError",
    "ModelAssetError",
    "ProviderError",
    "ServerInstallError",
    "ServerStartError",
    "UnknownLanguageError",
    "UnsupportedLanguageError",
]


class InterpreterError(Exception):
    """Base of every error this project raises on purpose."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class ConfigError(InterpreterError):
    """A setting is missing or invalid; the message names the variable or flag."""


class ServerInstallError(InterpreterError):
    """The LiveKit server binary could not be found or built."""


class ServerStartError(InterpreterError):
    """The LiveKit server did not start (port taken, binary crashed, never became ready)."""


class UnknownLanguageError(InterpreterError, ValueError):
    """A string that does not name a language we know (the message says what was given)."""


class UnsupportedLanguageError(InterpreterError):
    """A known language (or pair) that the configured providers cannot handle.

    The message names the language and the alternatives that are available.
    """

    def __init__(self, message: str, *, alternatives: tuple[str, ...] = ()) -> None:
        super().__init__(message, retryable=False)
        self.alternatives = alternatives


class ModelAssetError(InterpreterError):
    """Packaged model weights are missing or corrupt (the message says which package)."""


class ProviderError(InterpreterError):
    """A speech or translation provider failed; ``retryable`` says whether to try again."""
