from __future__ import annotations

import pytest

from interpreter.pacing import Pacing


def test_on_time_units_are_spoken_at_normal_speed() -> None:
    d = Pacing().decide(0.8)
    assert d.speak and d.speed == 1.0


def test_a_growing_backlog_speeds_the_voice_up_to_the_cap() -> None:
    p = Pacing(max_lag=4.0, relaxed=1.5, full_speed=3.0, max_speed=1.3)
    lags = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
    speeds = [p.decide(lag).speed for lag in lags]
    assert speeds == sorted(speeds)
    assert speeds[0] == 1.0 and speeds[1] < speeds[2] < 1.3
    assert speeds[3:] == [1.3, 1.3, 1.3]  # full speed before anything has to be dropped
    assert all(p.decide(lag).speak for lag in lags)


def test_inconsistent_pacing_is_refused() -> None:
    with pytest.raises(ValueError):
        Pacing(relaxed=3.0, full_speed=2.0)
    with pytest.raises(ValueError):
        Pacing(full_speed=5.0, max_lag=4.0)


def test_stale_units_are_not_voiced() -> None:
    assert not Pacing(max_lag=4.0).decide(4.01).speak
