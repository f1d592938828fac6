"""Test set-up: headless Qt, the right pyqtgraph binding, the shipped corpus, and a thread-leak guard."""

import os

# Before anything imports Qt: render offscreen and make pyqtgraph pick PySide6.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import gc  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

SHAKESPEARE = Path(__file__).resolve().parents[1] / "assets" / "tinyshakespeare.txt"


@pytest.fixture
def shakespeare() -> str:
    """The corpus the repository ships (assets/), so a fresh clone's tests need nothing else."""
    return SHAKESPEARE.read_text(encoding="utf-8")


# Long-lived helper threads that libraries start once per process (tqdm's refresh monitor).
LIBRARY_THREADS = {"tqdm_monitor"}


def pytest_configure(config) -> None:
    # As in the app (playground/app.py): cyclic GC must never run on a worker thread, where
    # freeing a test's Qt objects deadlocks with the GUI thread. Collect on the main thread only.
    gc.disable()


@pytest.fixture(autouse=True)
def no_thread_left_behind():
    """Fail any test that leaves a Python or Qt thread running."""
    before = set(threading.enumerate())
    yield
    gc.collect()  # this test's garbage goes here, on the main thread, with its workers stopped
    # What survives is long-lived (modules, session fixtures): freeze it, so the next collect
    # scans only the next test's objects (0.6-1 s a test otherwise, with torch and Qt loaded).
    gc.freeze()
    leaked = [
        t for t in threading.enumerate() if t not in before and t.is_alive() and t.name not in LIBRARY_THREADS
    ]
    for t in leaked:
        t.join(timeout=2.0)
    leaked = [t.name for t in leaked if t.is_alive()]
    assert not leaked, f"test left threads running: {leaked}"
    if "PySide6.QtCore" not in sys.modules:
        return
    from PySide6.QtCore import QThread

    running = [o for o in gc.get_objects() if issubclass(type(o), QThread) and _running(o)]
    assert not running, f"test left {len(running)} QThread(s) running"


def _running(thread) -> bool:
    try:
        return thread.isRunning()
    except RuntimeError:  # the C++ object is already gone
        return False
