r"""One small exception hierarchy for the whole project.

Every error we raise on purpose derives from :class:`InterpreterError`. ``retryable`` tells a
caller whether trying the same thing again may succeed (a timeout, a busy port) or not (a bad
setting, an unknown language). Third-party errors are wrapped at the boundary with
``raise ... from e`` so the original stays attached.

Provider failures (:class:`ProviderError`) are also livekit-agents ``APIError``\ s, so the
framework's retries and ``FallbackAdapter``\ s treat them as provider errors. The language
errors come from the ``languages`` package (a leaf with errors of its own) and are re-exported
here: they carry the same ``message`` and ``retryable``.
"""

from __future__ import annotations

from livekit.agents import APIError

from languages.errors import LanguageError, UnknownLanguageError, UnsupportedLanguageError

__all__ = [
    "ConfigError",
    "InterpreterError",
    "LanguageError",
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


class ModelAssetError(InterpreterError):
    """Packaged model weights are missing or corrupt (the message says which package)."""


class ProviderError(InterpreterError, APIError):
    """A speech or translation provider failed; ``retryable`` says whether to try again.

    An ``APIError`` too, so livekit-agents' retry loops and fallback adapters handle it.
    """

    def __init__(
        self, message: str, *, retryable: bool = False, body: object | None = None
    ) -> None:
        APIError.__init__(self, message, body=body, retryable=retryable)
        self.message = message
        self.retryable = retryable

    def __str__(self) -> str:
        return self.message
