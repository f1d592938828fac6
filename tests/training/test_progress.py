"""A run's pace, on a clock the test controls: tokens/s is what the run moves, the ETA moves a little
each refresh on a steady run, and a pause does not count."""

from __future__ import annotations

import pytest

from models.training.progress import Pace


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _steps(pace: Pace, clock: Clock, seconds: list[float], tokens: int = 384) -> None:
    for s in seconds:
        start = clock.now
        clock.now += s
        pace.step(start, tokens)


def test_tokens_per_second_is_what_the_run_moves_not_an_average_of_fast_steps():
    """Steps alternating 10 ms and 190 ms move 384 tokens per 100 ms: 3,840 tok/s, however
    fast half of them are (an average of each step's own rate said 5x that)."""
    clock = Clock()
    pace = Pace(clock)
    _steps(pace, clock, [0.01, 0.19] * 100)
    assert pace.tokens_per_s == pytest.approx(3840, rel=0.01)
    assert pace.eta(1000) == pytest.approx(100.0, rel=0.01)


def test_the_eta_moves_smoothly_on_a_steady_run_with_slow_validation_steps():
    clock = Clock()
    pace = Pace(clock)
    every = [0.1] * 9 + [0.6]  # a validation every tenth step
    _steps(pace, clock, every * 15)  # the window fills (10 s)
    remaining, etas = 3000, []
    for _ in range(60):  # refreshes, 5 steps apart
        _steps(pace, clock, (every * 2)[len(etas) * 5 % 10 :][:5])
        remaining -= 5
        etas.append(pace.eta(remaining))
    per_step = sum(every) / len(every)
    assert etas[-1] == pytest.approx(remaining * per_step, rel=0.05)
    for before, after in zip(etas, etas[1:], strict=False):
        assert abs(after - before) <= 0.2 * before


def test_a_pause_between_steps_is_not_counted_and_work_between_steps_is():
    clock = Clock()
    pace = Pace(clock)
    _steps(pace, clock, [0.1] * 50)
    steady = pace.tokens_per_s
    clock.now += 30.0  # paused
    _steps(pace, clock, [0.1])
    assert pace.tokens_per_s == pytest.approx(steady)
    for _ in range(150):  # a caller (a GUI) that works 50 ms between steps slows the run: said
        _steps(pace, clock, [0.1])
        clock.now += 0.05
    assert pace.tokens_per_s == pytest.approx(384 / 0.15, rel=0.02)


def test_a_slow_first_step_is_a_warm_up_not_the_pace():
    """A resumed run's first step (allocations, the weights' first touch) took seconds and its
    ETA read 46:00: the first step is not measured, and no ETA is said before two are."""
    clock = Clock()
    pace = Pace(clock)
    _steps(pace, clock, [5.0])
    assert pace.eta(1000) != pace.eta(1000)  # NaN: nothing measured yet
    _steps(pace, clock, [0.1])
    assert pace.eta(1000) != pace.eta(1000)
    _steps(pace, clock, [0.1])
    assert pace.eta(1000) == pytest.approx(100.0, rel=0.01)
    assert pace.tokens_per_s == pytest.approx(3840, rel=0.01)


def test_steps_longer_than_the_window_still_give_an_eta():
    clock = Clock()
    pace = Pace(clock)
    _steps(pace, clock, [12.0] * 4)  # each step longer than the 10 s window
    assert pace.eta(10) == pytest.approx(120.0, rel=0.01)
