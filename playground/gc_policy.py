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
    """Keep collections small once the worker has built a big object graph, and let a finished
    run's memory go.

    After a model load and after a training run ends (however it ends): a full settle, deferred
    until the answers already queued are handled. When a run starts: only a freeze, which costs
    nothing (a collection then would stall the run's first steps for a quarter second); the
    settle at its end unfreezes it again, so cycles inside the run (PyTorch's optimizer and
    scheduler have some) are collected once it is over. The client relays on the GUI thread, so
    all of this happens there.
    """
    from playground.worker.requests import Train

    training = [False]

    def on_changed() -> None:
        now = bool(client.active(Train))
        if training[0] and not now:
            _settle_soon()
        training[0] = now

    client.model_loaded.connect(_settle_soon)
    client.training_started.connect(_freeze)
    client.changed.connect(on_changed)


_pending = [False]  # one deferred settle at a time: a run's end and its model load share it


def _settle_soon(*_args) -> None:
    from PySide6.QtCore import QTimer

    if not _pending[0]:
        _pending[0] = True
        QTimer.singleShot(0, _settle_pending)


def _settle_pending() -> None:
    _pending[0] = False
    settle()


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
