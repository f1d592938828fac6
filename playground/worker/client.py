"""The GUI side of the worker: starts its thread, sends requests with ids, keeps the app's one state."""

from __future__ import annotations

import itertools

from PySide6.QtCore import QObject, Qt, QThread, Signal

from playground.info import ModelInfo
from playground.presenter import present
from playground.worker.requests import Request
from playground.worker.signals import ANSWERS, Answers
from playground.worker.state import WorkerState
from playground.worker.worker import Worker


class WorkerClient(Answers):
    """GUI side: starts the thread, sends requests through one queued signal, stops it on close.

    Every request gets an id; `outstanding` holds those sent and not yet finished, `state` the
    worker's newest `WorkerState`. Together they are the one truth views, buttons and menu actions
    bind to: `changed` fires whenever either moves. Each of the worker's answers is relayed on
    the client's own signals, on the GUI thread, in the order the worker sent them (a new model's
    description presented for people first).
    """

    changed = Signal()  # `state` or `outstanding` moved: re-read them

    _requested = Signal(int, object)  # request id, Request: the one queued call to the worker

    def __init__(self, worker: Worker | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker or Worker()
        self.state = WorkerState()
        self.outstanding: dict[int, Request] = {}  # sent and not yet finished, by id
        self.stopping: set[int] = set()  # outstanding requests the user asked to stop
        self.closing = False  # set by shutdown(): new requests are refused (id 0)
        self.info: ModelInfo | None = None  # the active model, as presented
        self.ablation: tuple[tuple[tuple[int, int], ...], str] = ((), "zero")  # heads out, mode
        self.steering = ""  # the steering vector every model call adds, described ("": none)
        self._newest: dict[str, int] = {}  # probe channel -> the newest probe sent on it
        self._ids = itertools.count(1)
        # the client's own bookkeeping first: views relayed the same answers see it up to date
        self.state_changed.connect(self._on_state_changed)
        self.request_finished.connect(self._on_request_finished)
        self.ablation_changed.connect(self._on_ablation_changed)
        self.steering_changed.connect(lambda said: setattr(self, "steering", said))
        self.worker_thread = QThread()
        self.worker_thread.setObjectName("playground-worker")
        self.worker.moveToThread(self.worker_thread)
        queued = Qt.ConnectionType.QueuedConnection
        self._requested.connect(self.worker.serve, queued)
        for name in ANSWERS:  # worker thread -> this GUI-thread object: queued, order kept
            if name != "model_loaded":
                getattr(self.worker, name).connect(getattr(self, name), queued)
        self.worker.model_loaded.connect(self._on_worker_model_loaded, queued)  # (presented first)
        # runs on the worker thread as its loop ends: a job's generator is closed where it ran
        self.worker_thread.finished.connect(self.worker.close, Qt.ConnectionType.DirectConnection)
        self.worker_thread.start()

    # ---- requests ------------------------------------------------------------------------------
    def send(self, request: Request) -> int:
        """Queue any request (`playground.worker.requests`); returns its id (0: refused, closing)."""
        if self.closing:  # the worker's loop is ending: nothing sent now would be served
            return 0
        rid = next(self._ids)
        self.outstanding[rid] = request
        if request.between_chunks:  # a probe, or a layer of one: a view reads the newest of a channel
            self._newest[request.channel] = rid
        self._requested.emit(rid, request)
        self.changed.emit()
        return rid

    @property
    def runs_dir(self):
        """Where training runs write their checkpoints (a fixed path: read from any thread)."""
        return self.worker.runs_dir

    def newest_probe(self, channel: str) -> int:
        """The id of the newest probe sent on `channel` (0: none): a view reads only that one."""
        return self._newest.get(channel, 0)

    # ---- control: flags aimed at one request, never queued behind other work ------------------
    def stop(self, request: int) -> None:
        """Stop `request`, running or still queued; a finished or unknown id stops nothing."""
        if request in self.outstanding and request not in self.stopping:
            self.stopping.add(request)
            self.worker.stop(request)
            self._on_state_changed(self.worker.state)

    def stop_all(self) -> None:
        for request in list(self.outstanding):
            self.stop(request)

    def pause(self, request: int) -> None:
        self.worker.pause_job(request)
        self._on_state_changed(self.worker.state)  # shown at once, not after the queued echo

    def resume(self, request: int) -> None:
        self.worker.resume_job(request)
        self._on_state_changed(self.worker.state)

    def step(self, request: int) -> None:
        self.worker.step_job(request)

    def keep_checkpoint_on_stop(self, keep: bool) -> None:
        """Whether stopping the running training writes a checkpoint (closing may discard it)."""
        run = self.worker.training_run
        if run is not None:
            run.save_on_stop = keep

    # ---- the one state ------------------------------------------------------------------------
    def active(self, kind: type[Request]) -> int:
        """The newest outstanding request of this kind (`Train`, `Generate`…), 0 if none."""
        return max((r for r, ask in self.outstanding.items() if isinstance(ask, kind)), default=0)

    def phase(self, request: int) -> str:
        """ "" (ended or unknown), "queued" (sent, not started), "running", "paused" or "stopping"."""
        if request not in self.outstanding:
            return ""
        if request in self.stopping:
            return "stopping"
        if self.state.job_request == request:
            return self.state.job_phase
        return "queued"

    def _on_state_changed(self, state: WorkerState) -> None:
        if state.version < self.state.version:
            return  # older than one read directly from the worker after a pause or a stop
        self.state = state
        self.changed.emit()

    def _on_request_finished(self, request: int, _status: str, _message: str) -> None:
        self.outstanding.pop(request, None)
        self.stopping.discard(request)
        self.changed.emit()

    def _on_worker_model_loaded(self, info: ModelInfo) -> None:
        self.info = present(info, self.info)
        self.model_loaded.emit(self.info)

    def _on_ablation_changed(self, heads, mode: str) -> None:
        self.ablation = (tuple(heads), mode)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop the job, end the thread's event loop and wait for it. True if it ended."""
        self.closing = True
        if not self.worker_thread.isRunning():
            return True
        self.worker.stop_all()
        if QThread.currentThread() is self.worker_thread:  # called from a worker-thread callback:
            self.worker_thread.quit()  # waiting here would wait for ourselves forever
            return False
        self.worker_thread.quit()
        return self.worker_thread.wait(timeout_ms)
