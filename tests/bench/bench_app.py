"""App benchmarks (not collected by pytest): event-loop gaps while generating, while sweeping every
head and while fine-tuning, all-heads render, launch.

    python tests/bench/bench_app.py [--model PATH] [--tokens N]
    python tests/bench/bench_app.py --finetune-only   # the gap while the Fine-tune tab runs

Prints one line per number with its target. Offscreen unless a display is set.
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

LAUNCH = """
import os, sys, time
t0 = float(sys.argv[1])
from PySide6.QtCore import QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication
from playground import theme
from playground.main_window import MainWindow
from playground.worker import Worker, WorkerClient
app = QApplication([])
theme.configure_pyqtgraph()
client = WorkerClient(Worker(device="cpu"))
w = MainWindow(client, QSettings(sys.argv[2], QSettings.Format.IniFormat), interactive=False)
w.show()

class Receiver(QObject):  # a GUI-thread receiver: a bare lambda would run on the worker thread
    def shown(self):
        print(f"shown {time.time() - t0:.3f}", flush=True)
        w.open_model(sys.argv[3])
    def loaded(self, info):
        print(f"loaded {time.time() - t0:.3f}", flush=True)
        w.close()
        app.quit()
    def errored(self, message, details):
        print("error", message, flush=True)
        app.quit()

r = Receiver()
client.worker.model_loaded.connect(r.loaded)
client.worker.errored.connect(r.errored)
QTimer.singleShot(0, r.shown)
app.exec()
"""


def bench_launch(model: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", LAUNCH, repr(time.time()), str(Path(tmp) / "s.ini"), model],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
            cwd=Path(__file__).resolve().parents[2],
        )
    times = dict(line.split()[:2] for line in out.stdout.splitlines() if line[:1] in "sl")
    print(
        f"launch to window shown: {float(times.get('shown', 'nan')) * 1000:.0f} ms "
        f"(model ready after {float(times.get('loaded', 'nan')) * 1000:.0f} ms)"
    )


def make_model(folder: Path) -> str:
    """A GPT-2-small-shaped stack, narrower: enough work per token to load the CPU."""
    import models
    from playground.starter import TEXT

    tok = models.Tokenizer.train([TEXT], "char")
    cfg = models.GPTConfig(vocab_size=tok.vocab_size, n_positions=512, n_embd=384, n_layer=6, n_head=6)
    models.save(models.GPT(cfg).eval(), tok, folder)
    return str(folder)


class GapClock:
    """The event loop's gaps: a 10 ms precise timer records how long each tick really took."""

    def __init__(self) -> None:
        self.gaps: list[int] = []
        self.clock = QElapsedTimer()
        self.tick = QTimer()
        self.tick.setInterval(10)
        self.tick.setTimerType(Qt.TimerType.PreciseTimer)
        self.tick.timeout.connect(lambda: self.gaps.append(self.clock.restart()))

    def start(self) -> None:
        self.clock.start()
        self.tick.start()

    def stop(self) -> np.ndarray:
        """The gaps in ms (the first, from start to the first tick, left out)."""
        self.tick.stop()
        return np.array(self.gaps[1:] or [0], dtype=float)


class _Run(QObject):
    """GUI-thread receiver (a bare lambda connected to a worker signal runs on the worker)."""

    def __init__(self, app: QApplication) -> None:
        super().__init__()
        self.app, self.info, self.reason = app, None, None
        self.watch = 0  # the generation whose end this run waits for

    def _on_model_loaded(self, info) -> None:
        self.info = info
        if not self.watch:  # (a run's trained model is loaded before the run's request ends)
            self.app.exit(0)  # exit, not quit: quit would close the window (and its worker)

    def _on_request_finished(self, request: int, status: str, _message: str) -> None:
        if request != self.watch:
            return  # the load's own end
        self.reason = status
        QTimer.singleShot(500, self.app.exit)  # the run's probe and the views' refresh land now


def open_window(app: QApplication, tmp: str, model: str):
    """The main window as the app makes it (its collector, GUI thread, frozen heap), on `model`:
    (window, run receiver, collector to keep alive)."""
    from playground import gc_policy
    from playground.main_window import MainWindow
    from playground.worker import WorkerClient

    client = WorkerClient()
    collector = gc_policy.start_collector()
    gc_policy.settle_after_loads(client)
    w = MainWindow(client, QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat), interactive=False)
    w.show()
    run = _Run(app)
    client.worker.model_loaded.connect(run._on_model_loaded)
    client.worker.request_finished.connect(run._on_request_finished)
    w.open_model(model)
    app.exec()
    return w, run, collector


def bench_gaps(app: QApplication, model: str, tokens: int, sweeps: bool = True) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        w, run, _collector = open_window(app, tmp, model)
        w.prompt_view.sampling.max_tokens.setValue(tokens)
        w.prompt_view.prompt.setPlainText("To be, or not to be")
        gaps = GapClock()
        gaps.start()
        t0, gui0 = time.perf_counter(), time.thread_time()  # this thread's CPU time: the GUI's
        w.prompt_view.generate()
        run.watch = w.prompt_view.request
        app.exec()
        gui = (time.thread_time() - gui0) / (time.perf_counter() - t0)
        elapsed = time.perf_counter() - t0 - 0.5
        g = gaps.stop()
        n = len(w.prompt_view.steps)
        print(
            f"event-loop gap while generating ({run.info.summary}, {n} tokens, "
            f"{n / elapsed:.0f} tokens/s in the app, the GUI thread on the CPU {gui:.0%} of the time): "
            f"max {g.max():.0f} ms, p99 "
            f"{np.percentile(g, 99):.0f} ms, median {np.median(g):.0f} ms (target max < 50 ms)"
        )
        if sweeps:
            bench_sweep_gaps(app, w, run)
        w.close()


def bench_sweep_gaps(app: QApplication, w, run: _Run) -> None:
    """The longest event-loop gap while the head effects tab sweeps every head (ablation and
    patching) over a 64-token text, drawing each batch as it lands."""
    view = w.heads_view
    w.show_view("heads")
    settle = time.perf_counter() + 0.5  # the tab is on screen before the user presses Run
    while time.perf_counter() < settle:
        app.processEvents()
    clean = ("To be, or not to be, that is the question: whether 'tis nobler in the mind to suff")[:64]
    corrupted = "To be, or not to be, that is the answer: whether 'tis nobler in the mind to suff"[:64]
    for kind in ("ablation", "patching"):
        view.kind.setCurrentIndex(view.kind.findData(kind))
        view.text.setText(clean)
        view.corrupted.setText(corrupted)
        gaps = GapClock()
        gaps.start()
        t0 = time.perf_counter()
        view.run()
        run.watch = view.request
        app.exec()
        elapsed = time.perf_counter() - t0 - 0.5
        g = gaps.stop()
        print(
            f"event-loop gap while sweeping ({kind}, {view.sweep.total} heads, {len(clean)} tokens, "
            f"{elapsed:.1f} s in the app): max {g.max():.0f} ms, p99 {np.percentile(g, 99):.0f} ms "
            f"(target max < 50 ms)"
        )


class _Until(QObject):
    """Keeps the gaps measured up to the end of one request (not the settle that follows it)."""

    def __init__(self, clock: GapClock) -> None:
        super().__init__()
        self.clock, self.request, self.gaps = clock, 0, None

    def _on_request_finished(self, request: int, _status: str, _message: str) -> None:
        if request == self.request and self.gaps is None:
            self.gaps = np.array(self.clock.gaps[1:] or [0], dtype=float)


def bench_finetune_gaps(app: QApplication, steps: int = 100) -> None:
    """The longest event-loop gap while the Fine-tune tab fine-tunes the built-in BERT on the
    word-order task: loss every step; accuracy, confusion matrix and the 200-row examples table
    every 25 steps."""
    with tempfile.TemporaryDirectory() as tmp:
        w, run, _collector = open_window(app, tmp, "builtin:bert")
        client = w.client
        w.show_view("finetune")
        settle = time.perf_counter() + 1.0  # the load's deferred collection and the tab's first
        while time.perf_counter() < settle:  # paint happen before the user presses Fine-tune
            app.processEvents()
        view = w.finetune_view
        view.form.data.setCurrentIndex(view.form.data.findData("task:word-order"))
        view.form.ints["steps"].setValue(steps)
        gaps = GapClock()
        until = _Until(gaps)
        client.request_finished.connect(until._on_request_finished)
        gaps.start()
        t0 = time.perf_counter()
        view.start(out_dir=str(Path(tmp) / "finetune"))
        run.watch = until.request = view.request
        app.exec()
        elapsed = time.perf_counter() - t0 - 0.5
        after = gaps.stop()[len(until.gaps) :]
        after_max = after.max() if after.size else 0.0
        g = until.gaps
        accuracy = view.examples.scores.accuracy if view.examples.scores else float("nan")
        print(
            f"event-loop gap while fine-tuning (built-in BERT, word order, {steps} steps in {elapsed:.1f} s, "
            f"accuracy {accuracy:.1%}): max {g.max():.0f} ms, p99 {np.percentile(g, 99):.0f} ms "
            f"(target max < 50 ms); in the 0.5 s after it ended: max {after_max:.0f} ms "
            "(the model swap and the app's deferred full garbage collection)"
        )
        w.close()


def bench_render(app: QApplication, repeats: int = 10) -> None:
    from playground.views.attention import AttentionView
    from playground.worker import WorkerClient

    client = WorkerClient()
    view = AttentionView(client)
    view.resize(1400, 800)
    view.show()
    app.processEvents()
    rng = np.random.default_rng(0)
    L = H = 12
    T = 128
    tokens = [f"tok{i}" for i in range(T)]
    logits = rng.standard_normal((repeats + 1, L, H, T, T)).astype(np.float32) * 3
    mask = np.triu(np.ones((T, T), bool), 1)
    logits[..., mask] = -np.inf
    att = np.exp(logits - logits.max(-1, keepdims=True))
    att /= att.sum(-1, keepdims=True)
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        view.set_attentions(tokens, att[i])
        view.overview_widget.grab()  # forces the paint of all 144 heads
        view.head_widget.grab()
        times.append(time.perf_counter() - t0)
    t = np.array(times[1:]) * 1000  # the first includes building axes and caches
    print(
        f"render all heads 12x12 on 128 tokens (mosaic + large head, painted): "
        f"median {np.median(t):.0f} ms, max {t.max():.0f} ms (target < 100 ms)"
    )
    view.close()
    client.shutdown()


def bench_render_big(app: QApplication) -> None:
    """SmolLM2's 30 layers × 9 heads on a 512-token text: the GUI thread's share (the call, and
    the longest event-loop gap while the overview is pooled on a pool thread)."""
    from playground.views.attention import AttentionView
    from playground.worker import WorkerClient

    client = WorkerClient()
    view = AttentionView(client)
    view.resize(1400, 800)
    view.show()
    app.processEvents()
    rng = np.random.default_rng(0)
    L, H, T = 30, 9, 512
    att = np.tril(rng.random((L, H, T, T), dtype=np.float32))
    att /= att.sum(-1, keepdims=True)
    before = view.overview.data
    gaps = GapClock()
    gaps.start()
    t0 = time.perf_counter()
    view.set_attentions([f"t{i}" for i in range(T)], att)
    call = time.perf_counter() - t0
    while view.overview.data is before:
        app.processEvents()
    view.overview_widget.repaint()
    total = time.perf_counter() - t0
    g = gaps.stop()
    print(
        f"all heads of a 30x9 model on 512 tokens: set_attentions {call * 1000:.0f} ms on the GUI "
        f"thread, overview pooled and painted after {total * 1000:.0f} ms, longest event-loop gap "
        f"meanwhile {g.max():.0f} ms (target: well under 100 ms on the GUI thread)"
    )
    view.close()
    client.shutdown()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", help="model folder; default: a random 6-layer 384-wide GPT")
    p.add_argument("--tokens", type=int, default=300)
    p.add_argument("--no-sweeps", action="store_true", help="skip the head sweeps (big models)")
    p.add_argument("--finetune-only", action="store_true", help="only the gap while fine-tuning")
    args = p.parse_args()
    app = QApplication.instance() or QApplication([])
    from playground import theme

    theme.configure_pyqtgraph()
    if args.finetune_only:
        bench_finetune_gaps(app)
        return
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or make_model(Path(tmp) / "bench-gpt")
        bench_launch(model)
        bench_render(app)
        bench_render_big(app)
        bench_gaps(app, model, args.tokens, sweeps=not args.no_sweeps)


if __name__ == "__main__":
    main()
