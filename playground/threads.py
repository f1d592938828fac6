"""How many threads PyTorch computes with: one per core on a quiet machine, fewer while another program
keeps the CPU busy, chosen by measuring (tests/bench/bench_busy.py).

A team of OpenMP threads waits at the end of every parallel step for its slowest member; beside
another busy program that member is often not running, and the team spins while it waits: training
the copy task here fell from 92 to 4 steps/s beside a plain busy loop, where one thread kept 63.
Making threads sleep instead (OMP_WAIT_POLICY=passive, short spin counts) cost the quiet machine
half its speed (44 steps/s), so the team stays as it is and the tuner below picks its size. A user's
own OMP_NUM_THREADS, or a count chosen in the app or with --threads, is kept as it is.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator


def cores() -> int:
    """The cores this process may run on (a container's or `taskset`'s share, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def choose(requested: str | int | None = None) -> tuple[int, str]:
    """(threads, why): `requested` (a number from 1 to the cores; "auto" or None: the default),
    else OMP_NUM_THREADS if the user set it, else one per core. Raises ValueError with the reason
    for a number out of range."""
    n = cores()
    if requested not in (None, "", "auto"):
        try:
            wanted = int(requested)
        except (TypeError, ValueError):
            raise ValueError(f"threads must be a whole number or auto (got {requested!r})") from None
        if not 1 <= wanted <= n:
            raise ValueError(f"threads must be between 1 and {n}, the cores here (got {wanted})")
        return wanted, "chosen"
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) >= 1:
        return int(env), "OMP_NUM_THREADS"
    return n, "automatic"


def from_option(requested: str | int | None, say) -> int:
    """The threads for a `--threads` option (0: automatic): a number out of range is said (by
    `say`) and automatic is used instead."""
    if requested in (None, "", "auto", 0, "0"):
        return 0
    try:
        return choose(requested)[0]
    except ValueError as e:
        say(f"{e}; using {choose()[0]} (automatic)")
        return 0


def add_option(parser) -> None:
    """A headless command's --threads."""
    parser.add_argument(
        "--threads", metavar="N",
        help="threads to compute with (default: one per core, fewer while the CPU is busy; "
        "OMP_NUM_THREADS if set)",
    )  # fmt: skip


def start(requested: str | int | None, say) -> ThreadTuner | None:
    """A headless command's threads, from its --threads option (out of range: said, and automatic
    used); returns the tuner to feed its steps to when the count is automatic."""
    count, why = choose(from_option(requested, say) or None)
    use(count)
    return ThreadTuner(count) if why == "automatic" else None


def use(threads: int) -> None:
    """Compute with `threads` on the calling thread (PyTorch's pool size is the caller's: the worker
    calls this on its own thread)."""
    import torch

    torch.set_num_threads(threads)


def tuned(items: Iterable, tuner: ThreadTuner | None) -> Iterator:
    """Each of `items` (a headless run's steps), the tuner fed the time between two of them and its
    better count used at once; `items` as they are without a tuner (a count chosen by the user)."""
    clock = time.perf_counter()
    for item in items:
        now = time.perf_counter()
        if tuner is not None and (better := tuner.record(1, now - clock)) is not None:
            use(better)
        clock = now
        yield item


class ThreadTuner:
    """Picks, while work runs, the faster of a full team of threads and half of it (one on two cores).

    Quiet, the team is faster (92 vs 61 steps/s training the copy task here); beside another busy
    program the team waits at every step for its descheduled member and a smaller one is many times
    faster (63 vs 4 steps/s beside a busy loop). Neither the machine nor the other program says
    which case this is, so the tuner measures: it keeps the faster count, and now and then tries
    the other for a moment, in case the machine changed (less often each time the other loses).
    """

    def __init__(self, team: int, explore_s: float = 5.0, trial_s: float = 0.6) -> None:
        self.counts = sorted({max(1, team // 2), team})  # the two it chooses between
        self.current = team
        self.base_explore_s = self.explore_s = explore_s
        self.trial_s = trial_s
        self.rates: dict[int, float] = {}  # items a second at each count, as last measured
        self._items, self._seconds = 0, 0.0  # measured at `current` since it was chosen
        self._trial_of: int | None = None  # the count a trial measures now (None: settled)
        self._skip = False  # the next stretch is a job's first (its warm-up): not measured

    def restart(self, forget: bool = False) -> None:
        """A new job: what was being measured belongs to the last one (another model, text or
        kind of work), and the first stretch of this one is its warm-up. The count stays; with
        `forget`, the rates go too (a sweep's next size: the last one's pace says nothing of its)."""
        self._items, self._seconds, self._trial_of, self._skip = 0, 0.0, None, True
        if forget:
            self.rates, self.explore_s = {}, self.base_explore_s

    def record(self, items: int, seconds: float) -> int | None:
        """What a stretch of work did at the current count; returns the count to use from now on
        when it should change, else None."""
        if len(self.counts) == 1 or seconds <= 0:
            return None
        if self._skip:
            self._skip = False
            return None
        self._items += items
        self._seconds += seconds
        settled = self._trial_of is None and self.current in self.rates
        if self._seconds < (self.explore_s if settled else self.trial_s):
            return None
        self.rates[self.current] = self._items / self._seconds
        self._items, self._seconds = 0, 0.0
        other = next(c for c in self.counts if c != self.current)
        if other not in self.rates or settled:  # measure the other (again: the machine may change)
            self._trial_of = other
            return self._switch(other)
        trial, self._trial_of = self._trial_of, None  # a trial ended: keep the faster
        best = max(self.counts, key=lambda c: self.rates[c])
        lost = trial is not None and best != trial
        self.explore_s = min(self.explore_s * 2, 60.0) if lost else self.base_explore_s
        return self._switch(best)

    def _switch(self, count: int) -> int | None:
        if count == self.current:
            return None
        self.current = count
        return count
