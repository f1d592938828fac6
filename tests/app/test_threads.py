"""Threads: the count a user may ask for, and the tuner that keeps the faster of the full team and
half of it while work runs (a busy neighbour makes the team wait at every step)."""

from __future__ import annotations

import pytest

from playground import threads
from playground.threads import ThreadTuner


def _run(tuner: ThreadTuner, rate_of, seconds: float, chunk: float = 0.03) -> list[int]:
    """Feed the tuner chunks of work at the rate the simulated machine gives its current count."""
    counts = []
    for _ in range(int(seconds / chunk)):
        tuner.record(int(rate_of(tuner.current) * chunk), chunk)
        counts.append(tuner.current)
    return counts


def test_the_tuner_keeps_the_team_on_a_quiet_machine_and_one_thread_beside_a_busy_program():
    quiet = {2: 920, 1: 610}.get  # items/s measured here: the copy task, team vs one thread
    busy = {2: 40, 1: 630}.get  # beside a busy loop
    tuner = ThreadTuner(2)
    counts = _run(tuner, quiet, 20)
    assert counts[-1] == 2 and counts.count(1) / len(counts) < 0.15  # trials only, briefly
    counts = _run(tuner, busy, 40)
    assert counts[-1] == 1 and counts[-100:].count(1) > 90  # it noticed, and stays
    late = counts[len(counts) // 2 :]
    assert late.count(2) / len(late) < 0.05  # the losing team is tried less and less often
    assert _run(tuner, quiet, 60)[-1] == 2  # the neighbour left: the team comes back


def test_one_core_has_nothing_to_tune():
    tuner = ThreadTuner(1)
    assert tuner.counts == [1] and tuner.record(100, 1.0) is None


@pytest.mark.parametrize("asked", ["-1", "999", "two"])
def test_a_thread_count_the_machine_cannot_give_is_said_and_automatic_used(asked):
    said = []
    assert threads.from_option(asked, said.append) == 0  # 0: automatic
    assert len(said) == 1 and "threads must be" in said[0]
    assert threads.from_option("1", said.append) == 1 and len(said) == 1
    assert threads.from_option("auto", said.append) == threads.from_option(None, said.append) == 0
    assert len(said) == 1


def test_the_worker_tunes_unless_a_count_was_chosen_and_a_large_omp_setting_is_served(
    qapp, qtbot, monkeypatch, tiny_gpt_dir
):

    from playground.worker import Worker
    from playground.worker.requests import Load

    monkeypatch.setattr(threads, "use", lambda n: None)  # (these workers run on the test's thread)
    ended = []
    for wanted, env, auto in ((0, None, True), (1, None, False), (0, "8", False)):
        if env is None:
            monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        else:
            monkeypatch.setenv("OMP_NUM_THREADS", env)  # more than the cores: the user's, respected
        worker = Worker(device="cpu", threads=wanted)
        worker.request_finished.connect(lambda r, s, m: ended.append(s))
        worker.serve(1, Load(str(tiny_gpt_dir)))
        assert worker._auto is auto and worker.threads == (wanted or int(env or threads.cores()))
    assert ended == ["done"] * 3


def test_the_users_own_openmp_setting_is_kept(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.choose() == (1, "OMP_NUM_THREADS")
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert threads.choose() == (threads.cores(), "automatic")


def test_a_forgetting_restart_measures_both_counts_anew():
    """A sweep's next size: the last size's rates would compare paces of different models."""
    tuner = ThreadTuner(2)
    _run(tuner, {2: 920, 1: 610}.get, 20)
    assert set(tuner.rates) == {1, 2}
    tuner.restart()
    assert set(tuner.rates) == {1, 2}  # a plain restart keeps what was learned
    tuner.restart(forget=True)
    assert tuner.rates == {} and tuner.explore_s == tuner.base_explore_s
    counts = _run(tuner, {2: 40, 1: 630}.get, 5)  # the new size, on a busy machine
    assert counts[-1] == 1
