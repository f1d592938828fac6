"""Garbage collection with a worker thread: on the GUI thread only, never through the long-lived heap."""

from __future__ import annotations

import gc


def start_collector():
    """Collect on a GUI-thread timer instead of wherever an allocation happens to trigger it.

    Python's cyclic GC may run on any thread; if it runs on the worker and frees Qt objects
    there, it deadlocks with the GUI thread (seen: both in ~QObject, one waiting for the GIL).
    pyqtgraph's collector disables automatic GC and collects on a GUI-thread timer instead.
    Keep the returned object alive for the app's lifetime.
    """
    from pyqtgraph.util.garbage_collector import GarbageCollector

    return GarbageCollector(interval=1.0)


def settle_after_loads(client) -> None:
    """Keep collections small once the worker has built a big object graph.

    After a model load: a full settle, deferred until the answers already queued are handled
    (a finished run's end is not held up). When a training run starts: only a freeze, which
    costs nothing (a collection then would stall the run's first steps for a quarter second).
    The client relays on the GUI thread, so both happen there.
    """
    client.model_loaded.connect(_settle_soon)
    client.training_started.connect(_freeze)


def _settle_soon(*_args) -> None:
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, settle)


def _freeze(*_args) -> None:
    gc.freeze()


def settle() -> None:
    """After start-up and each model load: collect once, then freeze what lives on.

    With PyTorch, Qt and pyqtgraph loaded a full collection scans ~200k objects (150 ms here):
    run during training it froze the window and held the GIL the trainer needs. Frozen objects
    are never scanned again; the next settle unfreezes them first, so old garbage still goes.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
