"""Launch → first heatmap: a fresh process opens a model of a real shape by its hub id from a
Hugging Face cache laid out here, and times its first attention picture (budget: ≤ 6 s).

    python tests/bench/bench_launch.py [--shape smollm2] [--runs 3]

The child process is the app as `playground --model ORG/NAME` builds it (QApplication, the worker,
the main window on the Attention tab), offscreen; the clock starts before Python starts. Beside it,
the same launch on the built-in GPT, the floor of starting Python, Qt and PyTorch at all.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import checkout  # noqa: F401  (the repository on sys.path, as from any folder)

CHILD = r"""
import os, sys, time
t0 = float(sys.argv[2])
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from playground import theme
from playground.main_window import MainWindow
from playground.worker import Worker, WorkerClient
theme.configure_pyqtgraph()
settings = QSettings(os.path.join(sys.argv[3], "s.ini"), QSettings.Format.IniFormat)
settings.setValue("window/tab", 1)  # the Attention tab, as a user who left it there
client = WorkerClient(Worker(data_dir=sys.argv[3]))
window = MainWindow(client, settings, interactive=False)
window.show()
window.open_model(sys.argv[1])
marks = {}
def poll():
    if "window" not in marks:
        marks["window"] = time.time() - t0
    if window.info is not None and "model" not in marks:
        marks["model"] = time.time() - t0
    if window.attention_view.attentions.size and window.attention_view.head_plot.data.size:
        print(f"{marks['window']:.2f} {marks.get('model', 0):.2f} {time.time() - t0:.2f}", flush=True)
        client.shutdown()
        os._exit(0)
timer = QTimer(interval=10)
timer.timeout.connect(poll)
timer.start()
QTimer.singleShot(120_000, lambda: (print("timeout"), os._exit(1)))
app.exec()
"""


def launch(source: str, env: dict[str, str]) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as scratch:
        start = time.time()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, source, str(start), scratch],
            capture_output=True,
            text=True,
            env=env,
        )
    if out.returncode:
        raise RuntimeError(out.stdout[-500:] + out.stderr[-2000:])
    window, model, heatmap = (float(x) for x in out.stdout.split()[-3:])
    return window, model, heatmap


def main() -> None:
    from bench_busy import NEIGHBOURS
    from bench_real_scale import SHAPES, make_folder

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=SHAPES, default="smollm2")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "hub"
        snapshot = cache / "models--bench--model" / "snapshots" / ("0" * 40)
        make_folder(args.shape, snapshot)
        (cache / "models--bench--model" / "refs").mkdir(parents=True)
        (cache / "models--bench--model" / "refs" / "main").write_text("0" * 40)
        env = os.environ | {"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
        for beside, code in NEIGHBOURS.items():  # quiet, and beside another program on the CPU
            neighbour = subprocess.Popen([sys.executable, "-c", code]) if code else None
            try:
                time.sleep(1.0 if code else 0)
                for source, name in (
                    ("builtin:gpt", "built-in GPT"),
                    ("bench/model", f"{args.shape} by hub id"),
                ):
                    runs = sorted((launch(source, env) for _ in range(args.runs)), key=lambda r: r[2])
                    window, model, heatmap = runs[len(runs) // 2]  # the median launch
                    print(
                        f"{beside:<14} {name:<20} window {window:5.2f} s · model open {model:5.2f} s · "
                        f"first heatmap {heatmap:5.2f} s (median of {args.runs})",
                        flush=True,
                    )
            finally:
                if neighbour is not None:
                    neighbour.kill()
                    neighbour.wait()
    print("budget: launch → first heatmap ≤ 6 s (SmolLM2-135M by hub id, this 2-core CPU)")


if __name__ == "__main__":
    main()
