"""The GUI side of the worker: starts its thread, sends requests, relays its answers to the views."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal

from playground.worker.signals import ANSWERS, Answers
from playground.worker.worker import Worker


class WorkerClient(Answers):
    """GUI side: starts the thread, sends requests as queued signals, stops it on close.

    Views connect to the client's own signals: each of the worker's answers is relayed here,
    on the GUI thread, in the order the worker sent them.
    """

    _load_requested = Signal(str)
    _generate_requested = Signal(str, object)
    _probe_requested = Signal(str, str)
    _fill_mask_requested = Signal(str, object)
    _train_requested = Signal(object)
    _save_requested = Signal(str)

    def __init__(self, worker: Worker | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker or Worker()
        self.worker_thread = QThread()
        self.worker_thread.setObjectName("playground-worker")
        self.worker.moveToThread(self.worker_thread)
        queued = Qt.ConnectionType.QueuedConnection
        self._load_requested.connect(self.worker.load, queued)
        self._generate_requested.connect(self.worker.generate, queued)
        self._probe_requested.connect(self.worker.probe, queued)
        self._fill_mask_requested.connect(self.worker.fill_mask, queued)
        self._train_requested.connect(self.worker.train, queued)
        self._save_requested.connect(self.worker.save_model, queued)
        for name in ANSWERS:  # worker thread -> this GUI-thread object: queued, order kept
            getattr(self.worker, name).connect(getattr(self, name), queued)
        # runs on the worker thread as its loop ends: a job's generator is closed where it ran
        self.worker_thread.finished.connect(self.worker.close, Qt.ConnectionType.DirectConnection)
        self.worker_thread.start()

    def load(self, source: str) -> None:
        self._load_requested.emit(str(source))

    def generate(self, prompt: str, settings: Any) -> None:
        self._generate_requested.emit(prompt, settings)

    def probe(self, tag: str, text: str) -> None:
        self._probe_requested.emit(tag, text)

    def fill_mask(self, text: str, positions: tuple[int, ...] = ()) -> None:
        self._fill_mask_requested.emit(text, tuple(positions))

    def train(self, request: Any) -> None:
        self._train_requested.emit(request)

    def save_model(self, folder: str) -> None:
        self._save_requested.emit(str(folder))

    def pause_training(self) -> None:
        self.worker.pause_job()  # flags, not queued requests: they must not wait behind steps

    def resume_training(self) -> None:
        self.worker.resume_job()

    def step_training(self) -> None:
        self.worker.step_job()

    def keep_checkpoint_on_stop(self, keep: bool) -> None:
        """Whether stopping the running training writes a checkpoint (closing may discard it)."""
        run = self.worker.training_run
        if run is not None:
            run.save_on_stop = keep

    def stop(self) -> None:
        """Stop the running job now (a flag, so it does not wait behind queued requests)."""
        self.worker.stop()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop the job, end the thread's event loop and wait for it. True if it ended."""
        if not self.worker_thread.isRunning():
            return True
        self.worker.stop()
        if QThread.currentThread() is self.worker_thread:  # called from a worker-thread callback:
            self.worker_thread.quit()  # waiting here would wait for ourselves forever
            return False
        self.worker_thread.quit()
        return self.worker_thread.wait(timeout_ms)
