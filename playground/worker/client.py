"""The GUI side of the worker: starts its thread, sends requests with ids, keeps the app's one state."""

from __future__ import annotations

import itertools
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal

from playground.worker.signals import ANSWERS, Answers
from playground.worker.state import WorkerState
from playground.worker.worker import Worker


class WorkerClient(Answers):
    """GUI side: starts the thread, sends requests as queued signals, stops it on close.

    Every request gets an id; `outstanding` holds those sent and not yet finished, `state` the
    worker's newest `WorkerState`. Together they are the one truth views, buttons and menu actions
    bind to: `changed` fires whenever either moves. Each of the worker's answers is relayed on
    the client's own signals, on the GUI thread, in the order the worker sent them.
    """

    changed = Signal()  # `state` or `outstanding` moved: re-read them

    _load_requested = Signal(int, str)
    _generate_requested = Signal(int, str, object)
    _probe_requested = Signal(str, str, bool)
    _fill_mask_requested = Signal(int, str, object)
    _train_requested = Signal(int, object)
    _lens_requested = Signal(int, str, str)
    _ablation_requested = Signal(int, object, str)
    _sweep_requested = Signal(int, object)
    _check_requested = Signal(int, object)
    _scan_requested = Signal(int)
    _save_requested = Signal(int, str)
    _compare_requested = Signal(int, str, str, str)

    def __init__(self, worker: Worker | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker or Worker()
        self.state = WorkerState()
        self.outstanding: dict[int, str] = {}  # request id -> kind, sent and not yet finished
        self.stopping: set[int] = set()  # outstanding requests the user asked to stop
        self.closing = False  # set by shutdown(): new requests are refused (id 0)
        self.info = None  # the active model's ModelInfo, as the worker last said
        self.ablation: tuple[tuple[tuple[int, int], ...], str] = ((), "zero")  # heads out, mode
        self._ids = itertools.count(1)
        # the client's own bookkeeping first: views relayed the same answers see it up to date
        self.state_changed.connect(self._on_state_changed)
        self.request_finished.connect(self._on_request_finished)
        self.model_loaded.connect(self._on_model_loaded)
        self.ablation_changed.connect(self._on_ablation_changed)
        self.worker_thread = QThread()
        self.worker_thread.setObjectName("playground-worker")
        self.worker.moveToThread(self.worker_thread)
        queued = Qt.ConnectionType.QueuedConnection
        self._load_requested.connect(self.worker.load, queued)
        self._generate_requested.connect(self.worker.generate, queued)
        self._probe_requested.connect(self.worker.probe, queued)
        self._fill_mask_requested.connect(self.worker.fill_mask, queued)
        self._train_requested.connect(self.worker.train, queued)
        self._lens_requested.connect(self.worker.logit_lens, queued)
        self._ablation_requested.connect(self.worker.set_ablation, queued)
        self._sweep_requested.connect(self.worker.sweep, queued)
        self._check_requested.connect(self.worker.check_heads, queued)
        self._scan_requested.connect(self.worker.scan_cache, queued)
        self._save_requested.connect(self.worker.save_model, queued)
        self._compare_requested.connect(self.worker.compare, queued)
        for name in ANSWERS:  # worker thread -> this GUI-thread object: queued, order kept
            getattr(self.worker, name).connect(getattr(self, name), queued)
        # runs on the worker thread as its loop ends: a job's generator is closed where it ran
        self.worker_thread.finished.connect(self.worker.close, Qt.ConnectionType.DirectConnection)
        self.worker_thread.start()

    # ---- requests: each returns its id --------------------------------------------------------
    def load(self, source: str) -> int:
        return self._send("load", self._load_requested, str(source))

    def generate(self, prompt: str, settings: Any) -> int:
        return self._send("generate", self._generate_requested, prompt, settings)

    def fill_mask(self, text: str, positions: tuple[int, ...] = ()) -> int:
        return self._send("fill", self._fill_mask_requested, text, tuple(positions))

    def logit_lens(self, text: str, token: str = "") -> int:
        return self._send("lens", self._lens_requested, text, token)

    def set_ablation(self, heads, mode: str = "zero") -> int:
        """Knock these (layer, head) pairs out of every later model call; () restores all."""
        return self._send("ablate", self._ablation_requested, tuple(heads), mode)

    def sweep(self, request: Any) -> int:
        """Every head knocked out or patched in turn (a `SweepRequest`); stoppable, with progress."""
        return self._send("sweep", self._sweep_requested, request)

    def check_heads(self, head_sets) -> int:
        """Exact answers on the trained task's fresh questions, with each set of heads knocked out."""
        return self._send("check", self._check_requested, tuple(tuple(heads) for heads in head_sets))

    def scan_cache(self) -> int:
        """List the models in the local Hugging Face cache (answered by `cache_scanned`)."""
        return self._send("scan", self._scan_requested)

    def train(self, request: Any) -> int:
        return self._send("train", self._train_requested, request)

    def compare(self, a: str, b: str, text: str) -> int:
        """Two models on `text`, each "active", "base" (before the last fine-tune) or a folder."""
        return self._send("compare", self._compare_requested, a, b, text)

    def save_model(self, folder: str) -> int:
        return self._send("save", self._save_requested, str(folder))

    def probe(self, tag: str, text: str, attentions: bool = True) -> None:
        """No id: probes are superseded by newer ones for the same tag, never stopped. Without
        `attentions` it only scores the text (cheaper; its attentions are empty)."""
        self._probe_requested.emit(tag, text, attentions)

    def _send(self, kind: str, signal: Signal, *args: Any) -> int:
        if self.closing:  # the worker's loop is ending: nothing sent now would be served
            return 0
        request = next(self._ids)
        self.outstanding[request] = kind
        signal.emit(request, *args)
        self.changed.emit()
        return request

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
    def active(self, kind: str) -> int:
        """The newest outstanding request of `kind` ("load", "generate", "train"…), 0 if none."""
        return max((r for r, k in self.outstanding.items() if k == kind), default=0)

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

    def _on_model_loaded(self, info) -> None:
        self.info = info

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
