"""`playground`: parse options, start Qt, the worker and the main window; errors never crash it."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import traceback
from pathlib import Path

from models.device import DEVICES, PRECISIONS
from playground import platform_check
from playground.views import VIEW_NAMES

SLOW_START_S = 3.0
SLOW_START_NOTE = (
    "playground: starting… (the first start after installing reads Qt and PyTorch from disk "
    "and can take a minute)"
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="playground",
        description=(
            "Transformer Playground: prompt small GPT/BERT models and look inside them. "
            "(`playground train --help` trains headless.)"
        ),
    )
    p.add_argument(
        "--model",
        metavar="PATH",
        help="a model folder (ours or a Hugging Face one), a .gguf file, ORG/NAME from the Hugging Face "
        "cache, ollama:NAME:TAG from Ollama's store, or builtin:gpt / builtin:bert",
    )
    p.add_argument("--device", choices=DEVICES, help="default (auto): cuda, then mps, then cpu")
    p.add_argument(
        "--threads", metavar="N",
        help="threads to compute with (default: one per core, or OMP_NUM_THREADS if set; "
        "Settings ▸ Threads keeps a choice)",
    )  # fmt: skip
    p.add_argument(
        "--precision", choices=PRECISIONS,
        help="what the model runs in: auto (float32 on a CPU), fp32, bf16, or int8 weights (fastest "
        "decoding on a CPU); the Model menu changes it",
    )  # fmt: skip
    p.add_argument("--screenshot", metavar="FILE", help="render the window to FILE (PNG) and exit")
    p.add_argument("--prompt", metavar="TEXT", help="with --screenshot: the prompt to run")
    p.add_argument(
        "--view", choices=(*VIEW_NAMES, "grokking", "scaling", "induction"),
        help="with --screenshot: the tab to show (grokking, scaling, induction: the Training tab's "
        "modular-addition run, its scaling sweep, its induction-head run)",
    )  # fmt: skip
    p.add_argument("--size", default="1400x860", help="with --screenshot: window size WxH")
    return p.parse_args(argv)


def data_dir(generic: Path, qt_app_data: Path) -> Path:
    """The app's own data folder (runs, the starter model): `generic`/TransformerPlayground. Qt's
    app-data folder joins organisation and application names (…/TransformerPlayground/Transformer
    Playground); one that already holds runs is kept, so nothing of an earlier version is lost."""
    if (qt_app_data / "runs").is_dir() and not (generic / APP_FOLDER / "runs").is_dir():
        return qt_app_data  # (on Linux and macOS Qt's folder is inside ours: runs decide)
    return generic / APP_FOLDER


APP_FOLDER = "TransformerPlayground"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
    if args.screenshot:  # a picture needs no screen: render offscreen (also on a headless server)
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    problem = platform_check.check()
    if problem:  # Qt would abort with a cryptic message: say what to install instead
        print(f"playground: {problem}", file=sys.stderr)
        return platform_check.EXIT_CODE
    # A first start after installing reads Qt and PyTorch from a cold disk: say so if it is slow.
    slow = threading.Timer(SLOW_START_S, print, [SLOW_START_NOTE], {"file": sys.stderr, "flush": True})
    slow.daemon = True
    slow.start()
    from PySide6.QtCore import QSettings, QStandardPaths
    from PySide6.QtWidgets import QApplication

    from playground import gc_policy, theme
    from playground.main_window import MainWindow
    from playground.worker import Worker, WorkerClient

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("TransformerPlayground")
    app.setApplicationName("Transformer Playground")
    theme.configure_pyqtgraph()
    collector = gc_policy.start_collector()  # noqa: F841 (kept alive for the app's lifetime)
    if args.screenshot:  # a fresh settings file: the picture must not depend on the user's
        scratch = tempfile.TemporaryDirectory()
        settings = QSettings(str(Path(scratch.name) / "s.ini"), QSettings.Format.IniFormat)
    else:
        settings = QSettings()
    where = QStandardPaths.writableLocation
    data = data_dir(
        Path(where(QStandardPaths.StandardLocation.GenericDataLocation)),
        Path(where(QStandardPaths.StandardLocation.AppDataLocation)),
    )
    from playground import threads

    said: list[str] = []
    requested = args.threads if args.threads is not None else settings.value("compute/threads", 0)
    wanted = threads.from_option(requested, said.append)  # 0: automatic, tuned as work runs
    if args.threads is not None and not said:
        settings.setValue("compute/threads", wanted)  # Settings ▸ Threads shows and keeps it
    client = WorkerClient(Worker(data_dir=data, device=args.device, threads=wanted))
    window = MainWindow(client, settings, interactive=not args.screenshot)
    for message in said:  # a --threads the machine cannot give: said, the default used
        print(f"playground: {message}", file=sys.stderr)
        window.message.setText(message)
    if args.precision:  # for this launch and after (a precision the device refuses is said then)
        window.set_precision(args.precision)
    gc_policy.settle_after_loads(client)

    def report_uncaught(kind, value, tb) -> None:  # a bug in a slot: report it, keep running
        # any thread: the reporter builds its message box on the GUI thread
        window.errors.report(
            f"Unexpected error: {kind.__name__}: {value}",
            "".join(traceback.format_exception(kind, value, tb)),
        )

    sys.excepthook = report_uncaught
    threading.excepthook = lambda a: report_uncaught(a.exc_type, a.exc_value, a.exc_traceback)
    source = window.launch_source(args.model)
    if args.screenshot:
        from playground.screenshot import Screenshot

        w, h = (int(x) for x in args.size.lower().split("x"))
        window.resize(w, h)
        Screenshot(window, args.screenshot, args.prompt, args.view)
    window.show()
    slow.cancel()
    window.open_model(source)
    try:
        code = app.exec()
    finally:
        sys.excepthook, threading.excepthook = sys.__excepthook__, threading.__excepthook__
    if not client.shutdown():  # the window waited for it; only a stuck native call gets here
        print("playground: the worker did not stop; exiting without waiting for it", file=sys.stderr)
        os._exit(code)  # a running QThread must not be destroyed: Qt would abort
    return code
