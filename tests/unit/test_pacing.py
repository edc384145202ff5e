from __future__ import annotations

from interpreter.pacing import Pacing


def test_on_time_units_are_spoken_at_normal_speed() -> None:
    d = Pacing().decide(0.8)
    assert d.speak and d.speed == 1.0


def test_a_growing_backlog_speeds_the_voice_up_to_the_cap() -> None:
    p = Pacing(max_lag=4.0, relaxed=1.5, max_speed=1.3)
    speeds = [p.decide(lag).speed for lag in (1.5, 2.0, 3.0, 4.0)]
    assert speeds == sorted(speeds)
    assert speeds[0] == 1.0 and speeds[-1] == 1.3
    assert all(p.decide(lag).speak for lag in (1.5, 2.0, 3.0, 4.0))


def test_stale_units_are_not_voiced() -> None:
    assert not Pacing(max_lag=4.0).decide(4.01).speak
