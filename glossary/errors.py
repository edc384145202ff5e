"""The errors of ``glossary/`` (a leaf package: it imports nothing of ours but ``languages``).

A glossary file is checked whole: :class:`GlossaryError` carries every problem found, each with
its line number where there is one, and nothing of a refused file is used.
:class:`GlossaryStoreError` is the room glossary database failing (:mod:`glossary.store`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["GlossaryError", "GlossaryStoreError", "Problem"]

SHOWN_PROBLEMS = 20
"""How many problems the message lists (all of them stay in ``problems``)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a glossary file; ``line`` is 1-based (``None``: the whole file)."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return self.message if self.line is None else f"line {self.line}: {self.message}"


class GlossaryError(ValueError):
    """A glossary file that is refused, with every problem found in it."""

    retryable = False

    def __init__(self, problems: Iterable[Problem], *, name: str = "glossary") -> None:
        self.problems = tuple(problems)
        if not self.problems:
            raise ValueError("a GlossaryError needs at least one problem")
        shown = [str(p) for p in self.problems[:SHOWN_PROBLEMS]]
        more = len(self.problems) - len(shown)
        if more:
            shown.append(f"... and {more} more")
        count = len(self.problems)
        self.message = f"{name} refused ({count} problem{'s' if count > 1 else ''}): " + "; ".join(
            shown
        )
        super().__init__(self.message)


class GlossaryStoreError(Exception):
    """The room glossary database could not be reached or refused a query.

    ``retryable`` is true for a busy or unreachable database (the same call may succeed later).
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
