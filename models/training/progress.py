"""A run's honest pace: steps finished per wall-clock second over the last few seconds, pauses left out."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MIN_STEPS = 2  # measured steps before an ETA is said (the first, a warm-up, is not measured)
PAUSE_S = 1.0  # a longer wait between two steps is a pause, not part of the pace
WINDOW_S = 10.0  # the pace is of the last this many seconds of steps


class Pace:
    """Each step's wall time (its own, plus the wait since the step before unless that was a pause)
    and tokens, kept for the last `WINDOW_S` seconds. Tokens/s and seconds per step are their sums'
    ratio over the window: a slow step (a validation) weighs what it costs, and the ETA moves a
    little a refresh instead of jumping with each step."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self._steps: deque[tuple[float, int]] = deque()  # (wall seconds, tokens) of recent steps
        self._seconds = 0.0  # their sum
        self._tokens = 0
        self._last_end: float | None = None
        self._warm = False  # the first step (allocations, first touch of the weights) is not the pace
        self._measured = 0  # steps measured in all (the window may hold fewer: slow steps)

    def step(self, started: float, tokens: int) -> float:
        """A step that began at `started` (this clock) ended now; returns its own seconds."""
        end = self.clock()
        gap = started - self._last_end if self._last_end is not None else 0.0
        own = end - started
        if not self._warm:  # a resumed run's first step took seconds: its ETA read 46:00
            self._warm, self._last_end = True, end
            return own
        wall = own + (gap if gap < PAUSE_S else 0.0)
        self._last_end = end
        self._measured += 1
        self._steps.append((wall, tokens))
        self._seconds += wall
        self._tokens += tokens
        while len(self._steps) > 1 and self._seconds - self._steps[0][0] >= WINDOW_S:
            wall, tokens = self._steps.popleft()
            self._seconds -= wall
            self._tokens -= tokens
        return own

    @property
    def seconds_per_step(self) -> float:
        return self._seconds / len(self._steps) if self._steps else float("nan")

    @property
    def tokens_per_s(self) -> float:
        return self._tokens / self._seconds if self._seconds > 0 else 0.0

    def eta(self, remaining: int) -> float:
        """Seconds left (NaN until MIN_STEPS steps are measured: no guess from a warm-up)."""
        if remaining <= 0:
            return 0.0
        return remaining * self.seconds_per_step if self._measured >= MIN_STEPS else float("nan")
