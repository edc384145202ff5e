"""The errors of ``captions/`` (a leaf package: it defines its own and imports nothing of the
app). ``message`` is the text for a user; ``retryable`` says whether the same call may succeed
later (a busy or unreachable database) or not."""

from __future__ import annotations

__all__ = ["CaptionsError", "TranscriptNotFoundError", "TranscriptStoreError"]


class CaptionsError(Exception):
    """Base of the errors of ``captions/``."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class TranscriptStoreError(CaptionsError):
    """The transcript database could not be reached or refused a write.

    ``retryable`` is true for a busy or unreachable database (a later write may succeed).
    """


class TranscriptNotFoundError(CaptionsError, LookupError):
    """No transcript for this room, meeting or language (the message says which)."""

    def __init__(self, message: str, *, available: tuple[str, ...] = ()) -> None:
        super().__init__(message, retryable=False)
        self.available = available
