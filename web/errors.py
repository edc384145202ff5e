"""The errors of ``web/`` (it imports nothing of the app: the CLI turns these into exit codes).

``message`` is the text for a user or an operator; ``retryable`` says whether the same call may
succeed later.
"""

from __future__ import annotations

__all__ = [
    "LiveKitUnavailableError",
    "ParticipantNotInRoomError",
    "WebConfigError",
    "WebError",
]


class WebError(Exception):
    """Base of the errors of ``web/``."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class WebConfigError(WebError):
    """The web app cannot start as configured (the message says what to do)."""


class ParticipantNotInRoomError(WebError):
    """The participant whose attribute was to change is not (or no longer) in the room."""


class LiveKitUnavailableError(WebError):
    """The LiveKit server did not answer or refused the app's own request."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)
