"""Training inside the app vs headless, same config, one run; and the longest GUI event-loop gap meanwhile.

    python tests/bench/bench_app_training.py [--steps 300] [--repeats 2]

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

from PySide6.QtCore import QElapsedTimer, QObject, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import models  # noqa: E402


def config(steps: int):
    return models.preset("task", steps=steps, eval_every=100, sample_every=100, probe_every=25, device="cpu")


def headless(steps: int) -> float:
    """Steps per second of the bare Trainer in its own process, as `playground train` runs it.

    Its own process, because torch's OpenMP pool is per calling thread: a main thread that has
    already computed slows a later worker thread's pool (measured 55 -> 33 steps/s here).
    """
    out = subprocess.run(
        [sys.executable, __file__, "--headless", str(steps)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def _headless_child(steps: int) -> None:
    from models.training.trainer import Trainer

    trainer = Trainer(config(steps), "task:copy", None)
    t0 = time.perf_counter()
    for _ in trainer:
        pass
    print(steps / (time.perf_counter() - t0))


def in_app(app: QApplication, steps: int) -> tuple[float, float, float]:
    """(steps/s, longest gap in ms between ticks of a 10 ms GUI timer, the same after step 1)."""
    from playground import theme
    from playground.main_window import MainWindow
    from playground.worker import Worker, WorkerClient

    theme.configure_pyqtgraph()
    tmp = Path(tempfile.mkdtemp())
    client = WorkerClient(Worker(data_dir=tmp, device="cpu"))
    window = MainWindow(client, QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat), interactive=False)
    window.resize(1400, 900)
    window.show()
    window.show_view("training")
    view = window.training_view
    view.form.corpus.setCurrentIndex(view.form.corpus.findData("task:copy"))
    view.form.apply(config(steps))
    marks: dict[str, float] = {}
    gaps = {"max": 0.0, "steady": 0.0}  # steady: after the first step (lazy one-time set-up)
    clock = QElapsedTimer()
    clock.start()
    last = {"t": 0}

    def tick() -> None:
        now = clock.elapsed()
        if view.state == "running" and "start" in marks:
            gaps["max"] = max(gaps["max"], now - last["t"])
            if view.last_step > 0:
                gaps["steady"] = max(gaps["steady"], now - last["t"])
        last["t"] = now

    class Receiver(QObject):  # lives on the GUI thread, so worker signals reach it queued
        def started(self, _info) -> None:
            marks["start"] = time.perf_counter()

        def finished(self, _status: str, _message: str) -> None:
            marks["end"] = time.perf_counter()
            app.quit()

    receiver = Receiver()
    client.worker.training_started.connect(receiver.started)
    client.worker.training_finished.connect(receiver.finished)
    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    view.start()
    app.exec()
    timer.stop()
    window.close()
    return steps / (marks["end"] - marks["start"]), gaps["max"], gaps["steady"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--headless", type=int, help=argparse.SUPPRESS)  # the child process
    args = ap.parse_args()
    if args.headless:
        return _headless_child(args.headless)
    app = QApplication([])
    heads, apps, worst_gap, steady_gap = [], [], 0.0, 0.0
    for _ in range(args.repeats):  # interleaved, so drift on a shared machine hits both alike
        heads.append(headless(args.steps))
        rate, gap, steady = in_app(app, args.steps)
        apps.append(rate)
        worst_gap, steady_gap = max(worst_gap, gap), max(steady_gap, steady)
    cfg = config(args.steps)
    tokens = cfg.batch_size * cfg.context
    print(
        f"copy task, GPT {cfg.n_layer}x{cfg.n_head}x{cfg.n_embd}, batch {cfg.batch_size} x {cfg.context}, "
        f"{args.steps} steps (validation, sample every 100, probe every 25), best of {args.repeats}"
    )
    print(f"  headless trainer  {max(heads):7.1f} steps/s  ({max(heads) * tokens:,.0f} tok/s)")
    print(f"  in the app        {max(apps):7.1f} steps/s  ({max(apps) * tokens:,.0f} tok/s)")
    print(f"ratio app/headless: {max(apps) / max(heads):.2f}x  (target >= 0.95)")
    print(
        f"longest GUI event-loop gap while training: {worst_gap:.0f} ms  (target < 50 ms); "
        f"after the first step: {steady_gap:.0f} ms"
    )


if __name__ == "__main__":
    main()
