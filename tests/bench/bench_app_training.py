"""Training inside the app vs headless, same config, one run; and the longest GUI event-loop gap meanwhile.

    python tests/bench/bench_app_training.py [--steps 1200] [--repeats 4]

The app side runs the real window: worker thread, training view, live charts and attention snapshots.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import checkout  # noqa: E402, F401  (the repository on sys.path, as from any folder)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QObject, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import models  # noqa: E402


def config(steps: int):
    return models.preset("task", steps=steps, eval_every=100, sample_every=100, probe_every=25, device="cpu")


def headless(steps: int) -> float:
    """Steps per second of the bare Trainer in its own process, as `playground train` runs it
    (checkpoints included, and its threads tuned as the run goes, as in the app).

    Its own process, because torch's OpenMP pool is per calling thread: a main thread that has
    already computed slows a later worker thread's pool (measured 55 -> 33 steps/s here).
    """
    out = subprocess.run(
        [sys.executable, __file__, "--headless", str(steps)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def _headless_child(steps: int) -> None:
    from models.training.trainer import Trainer
    from playground import threads

    tuner = threads.start(None, print)  # automatic, as `playground train` and the app start
    with tempfile.TemporaryDirectory() as out:  # checkpoints, as the app writes them
        trainer = Trainer(config(steps), "task:copy", out)
        t0 = time.perf_counter()
        for _ in threads.tuned(trainer, tuner):
            pass
        print(steps / (time.perf_counter() - t0))


TICK_MS = 20  # the gap probe's period: each tick takes the GIL, so not faster than needed


def in_app(app: QApplication, steps: int, probe_gaps: bool) -> tuple[float, float, float, float]:
    """(steps/s, longest gap in ms between ticks of a TICK_MS GUI timer, the same after step 1,
    the share of the run the GUI thread spent on the CPU). Without `probe_gaps` no timer runs:
    its ticks take the GIL from the trainer, so rates are measured without it."""
    from playground import gc_policy, theme
    from playground.main_window import MainWindow
    from playground.worker import Worker, WorkerClient

    theme.configure_pyqtgraph()
    tmp = Path(tempfile.mkdtemp())
    client = WorkerClient(Worker(data_dir=tmp, device="cpu"))
    collector = gc_policy.start_collector()  # as the app collects: on the GUI thread, frozen heap
    gc_policy.settle_after_loads(client)
    window = MainWindow(client, QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat), interactive=False)
    window.resize(1400, 900)
    window.show()
    window.show_view("training")
    view = window.training_view
    view.form.corpus.setCurrentIndex(view.form.corpus.findData("task:copy"))
    view.form.apply(config(steps))
    marks: dict[str, float] = {}
    clock = QElapsedTimer()
    clock.start()
    stamps: list[int] = []
    tick = QTimer()
    tick.setTimerType(Qt.TimerType.PreciseTimer)
    tick.timeout.connect(lambda: stamps.append(clock.elapsed()))  # all it does: cheap to measure

    class Receiver(QObject):  # lives on the GUI thread, so worker signals reach it queued
        def started(self, _info) -> None:
            marks["start"] = time.perf_counter()
            marks["start_ms"] = clock.elapsed()
            marks["cpu0"] = time.thread_time()  # this (the GUI) thread's CPU time

        def updated(self, _reports) -> None:
            marks.setdefault("first_ms", clock.elapsed())  # the first step's report is in

        def finished(self, request: int, _status: str, _message: str) -> None:
            if request == view.request:
                marks["end"] = time.perf_counter()
                marks["end_ms"] = clock.elapsed()
                marks["cpu1"] = time.thread_time()
                app.quit()

    receiver = Receiver()
    client.worker.training_started.connect(receiver.started)
    client.worker.training_updated.connect(receiver.updated)
    client.worker.request_finished.connect(receiver.finished)
    if probe_gaps:
        tick.start(TICK_MS)
    view.start()
    app.exec()
    tick.stop()
    window.close()
    del collector
    wall = marks["end"] - marks["start"]
    t = np.asarray(stamps, dtype=float)
    during = t[(t >= marks["start_ms"]) & (t <= marks["end_ms"])]
    gaps = np.diff(during)
    steady = np.diff(during[during >= marks.get("first_ms", marks["end_ms"])])
    return (
        steps / wall,
        float(gaps.max(initial=0)),
        float(steady.max(initial=0)),
        (marks["cpu1"] - marks["cpu0"]) / wall,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1200)  # ~10 s (300 steps timed mostly start and end)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--headless", type=int, help=argparse.SUPPRESS)  # the child process
    ap.add_argument(
        "--beside", action="store_true",
        help="also train in the app beside a busy loop and beside a PyTorch program (bench_busy's)",
    )  # fmt: skip
    args = ap.parse_args()
    if args.headless:
        return _headless_child(args.headless)
    app = QApplication([])
    if args.beside:
        return beside_others(app, args.steps, args.repeats)
    heads, apps, busy = [], [], []
    for _ in range(args.repeats):  # interleaved, so drift on a shared machine hits both alike
        heads.append(headless(args.steps))
        rate, _, _, gui = in_app(app, args.steps, probe_gaps=False)
        apps.append(rate)
        busy.append(gui)
    _, worst_gap, steady_gap, _ = in_app(app, args.steps, probe_gaps=True)  # a run of its own
    cfg = config(args.steps)
    tokens = cfg.batch_size * cfg.context
    ratios = sorted(a / h for a, h in zip(apps, heads, strict=True))  # each pair ran back to back
    print(
        f"copy task, GPT {cfg.n_layer}x{cfg.n_head}x{cfg.n_embd}, batch {cfg.batch_size} x {cfg.context}, "
        f"{args.steps} steps (validation, sample every 100, probe every 25), {args.repeats} interleaved pairs"
    )
    for name, rates in (("headless trainer", heads), ("in the app", apps)):
        rate = np.median(rates)
        print(f"  {name:16s}  {rate:7.1f} steps/s  ({rate * tokens:,.0f} tok/s), median")
    print(
        f"ratio app/headless: {np.median(ratios):.2f}x median of pairs "
        f"(pairs {', '.join(f'{r:.2f}' for r in ratios)}; target >= 0.95)"
    )
    print(
        f"longest GUI event-loop gap while training: {worst_gap:.0f} ms  (target < 50 ms); "
        f"after the first step: {steady_gap:.0f} ms"
    )
    busy_share = 100 * np.median(busy)
    print(f"GUI thread on the CPU: {busy_share:.0f}% of the run, median (the trainer wants both cores)")


def beside_others(app: QApplication, steps: int, repeats: int) -> None:
    """The app's training rate quiet, beside a busy loop and beside a PyTorch program (each
    started here, as bench_busy.py starts them), against the quiet rate (median of `repeats`)."""
    from bench_busy import NEIGHBOURS

    quiet = None
    for name, code in NEIGHBOURS.items():
        neighbour = subprocess.Popen([sys.executable, "-c", code]) if code else None
        try:
            time.sleep(1.0 if code else 0)  # the neighbour is up to speed
            rate = float(np.median([in_app(app, steps, probe_gaps=False)[0] for _ in range(repeats)]))
        finally:
            if neighbour is not None:
                neighbour.kill()
                neighbour.wait()
        quiet = quiet or rate
        print(f"in the app, {name:<14} {rate:7.1f} steps/s  {rate / quiet:5.2f}x quiet", flush=True)


if __name__ == "__main__":
    main()
