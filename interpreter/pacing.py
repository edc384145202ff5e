"""How a language track keeps up with its speaker.

Plain and synchronous, fed with lags in seconds: when a unit is about to be voiced, its lag is
how long ago the source speech of that unit ended. Up to ``relaxed`` the voice speaks at normal
speed; between ``relaxed`` and ``full_speed`` it speeds up linearly to ``max_speed``, and stays
there up to ``max_lag`` (so the backlog shrinks before units have to be dropped); a unit whose
lag is past ``max_lag`` is stale and is not voiced at all (its caption has gone out already).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Pacing", "PacingDecision"]


@dataclass(frozen=True, slots=True)
class PacingDecision:
    speak: bool
    speed: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Pacing:
    max_lag: float = 4.0
    relaxed: float = 1.0
    full_speed: float = 2.5
    max_speed: float = 1.3

    def __post_init__(self) -> None:
        if not 0 <= self.relaxed < self.full_speed <= self.max_lag or self.max_speed < 1.0:
            raise ValueError("need 0 <= relaxed < full_speed <= max_lag and max_speed >= 1")

    def decide(self, lag: float) -> PacingDecision:
        if lag > self.max_lag:
            return PacingDecision(speak=False, speed=self.max_speed)
        if lag <= self.relaxed:
            return PacingDecision(speak=True, speed=1.0)
        share = min(1.0, (lag - self.relaxed) / (self.full_speed - self.relaxed))
        return PacingDecision(speak=True, speed=round(1.0 + share * (self.max_speed - 1.0), 3))
