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
    """Keep collections small once the worker has built a big object graph, and let what a run
    or an old model leaves go.

    When a run starts: only a freeze, which costs nothing (a collection then would stall the run's
    first steps for a quarter second). When it ends, and when its model becomes the active one:
    the objects made since the freeze are collected (the rest stays frozen: scanning it held the
    window 240–430 ms at the end of every run). After a model is opened from disk: a full settle,
    deferred until the answers already queued are handled, so the old model's cycles go too. The
    client relays on the GUI thread, so all of this happens there.
    """
    from playground.worker.requests import Train

    training = [False]

    def on_changed() -> None:
        now = bool(client.active(Train))
        if training[0] and not now:
            _settle_soon(full=False)
        training[0] = now

    def on_model_loaded(info) -> None:
        _settle_soon(full=not info.trained_on)  # a run's model: the run's objects only

    client.model_loaded.connect(on_model_loaded)
    client.training_started.connect(_freeze)
    client.changed.connect(on_changed)


_pending = [False, False]  # a deferred settle is queued; it is a full one


def _settle_soon(full: bool = True) -> None:
    from PySide6.QtCore import QTimer

    _pending[1] = _pending[1] or full
    if not _pending[0]:
        _pending[0] = True
        QTimer.singleShot(0, _settle_pending)


def _settle_pending() -> None:
    full, _pending[0], _pending[1] = _pending[1], False, False
    settle(full)


def _freeze(*_args) -> None:
    gc.freeze()


def settle(full: bool = True) -> None:
    """Collect, then freeze what lives on: frozen objects are never scanned again. `full`: the
    frozen ones too (after start-up and each model opened from disk: with PyTorch, Qt and
    pyqtgraph loaded a full collection scans ~200k objects, 150 ms and more); else only the
    objects made since the last freeze (a run's), which takes a few milliseconds."""
    if full:
        gc.unfreeze()
    gc.collect()
    gc.freeze()
