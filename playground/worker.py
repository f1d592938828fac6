"""The one worker: owns model, tokenizer and device on its own QThread, answers GUI requests."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from playground.info import ModelInfo

FALLBACK_MODEL = "builtin:gpt"  # opened when a launch's --model cannot be
FLUSH_S = 0.05  # deliver batched results at most ~20 times a second
CHUNK_S = 0.03  # work this long, then go back to the event loop to serve probes and stops


@dataclass
class Job:
    """A long-running task advanced in chunks: generation now, training next.

    `steps` yields items; `deliver` gets every item, batched (never dropped) at ~20 Hz;
    `finish` gets "done", "stopped" or "failed" once; `cancel` is called (any thread) on stop.
    """

    name: str  # what the status bar says while it runs, e.g. "generating"
    steps: Iterator[Any]
    deliver: Callable[[list[Any]], None]
    finish: Callable[[str], None]
    cancel: Callable[[], None] | None = None
    total: int = 0  # for a determinate progress bar; 0 = unknown
    done: int = 0
    pending: list[Any] = field(default_factory=list)
    last_flush: float = 0.0


class Worker(QObject):
    """Lives on the worker thread. Requests are slots reached through queued signals."""

    # answers (emitted on the worker thread; Qt queues them to GUI receivers)
    model_loaded = Signal(object)  # ModelInfo
    started = Signal(str)  # a job began: its name
    prompt_tokenized = Signal(object)  # TokenizedText of the prompt actually used (with notes)
    tokens_generated = Signal(object)  # list[GenerationStep], in order, none dropped
    generation_finished = Signal(str)  # finish reason: length, eos, stop, context, stopped, failed
    probed = Signal(str, object)  # tag, Probe
    mask_filled = Signal(object)  # FillMaskResult (with attentions)
    progress_changed = Signal(int, int)  # done, total (total 0 = unknown)
    busy_changed = Signal(str)  # what the worker is doing; "" when idle
    errored = Signal(str, str)  # message, details
    training_started = Signal(object)  # TrainingStarted
    training_updated = Signal(object)  # list[TrainingUpdate], in order, none dropped
    training_finished = Signal(str, str)  # status (finished, stopped, failed), message
    model_saved = Signal(str)  # folder
    _chunk_scheduled = Signal()  # queued to itself: the next chunk runs after pending requests

    def __init__(
        self, assets: Path | None = None, data_dir: Path | None = None, device: str | None = None
    ) -> None:
        super().__init__()
        self._assets, self._data_dir, self._device_choice = assets, data_dir, device
        self.model: Any = None
        self.tokenizer: Any = None
        self.info: ModelInfo | None = None
        self.job: Job | None = None
        self.steps_taken = 0  # items pulled from jobs so far; read by tests across threads
        self._stop = threading.Event()
        self._pause_lock = threading.Lock()
        self._paused = False  # a paused job keeps its place but is not advanced
        self._step_allowance = 0  # single steps granted while paused
        self.job_paused = False  # the chunk chain is dormant (paused); read by tests
        self.training_run: Any = None  # the current or last in-app TrainingRun
        self.last_checkpoint = ""  # folder of the last training checkpoint
        self._probes: dict[str, str] = {}  # tag -> newest text (older requests are superseded)
        self._chunk_scheduled.connect(self._run_chunk, Qt.ConnectionType.QueuedConnection)

    # ---- thread-safe control ---------------------------------------------------------------
    def stop(self) -> None:
        """Any thread: stop the running job before its next step (not a queued request)."""
        self._stop.set()
        job = self.job
        if job is not None and job.cancel is not None:
            job.cancel()
        self._wake()  # a paused job must wake up to see the stop

    def pause_job(self) -> None:
        """Any thread: keep the running job but stop advancing it (training's pause)."""
        with self._pause_lock:
            self._paused = True

    def resume_job(self) -> None:
        with self._pause_lock:
            self._paused, self._step_allowance = False, 0
        self._wake()

    def step_job(self) -> None:
        """Any thread, while paused: advance the job by exactly one item."""
        with self._pause_lock:
            self._step_allowance += 1
        self._wake()

    def _wake(self) -> None:
        with self._pause_lock:
            dormant, self.job_paused = self.job_paused, False
        if dormant:  # restart the chunk chain (only one chain may run)
            self._chunk_scheduled.emit()

    @Slot()
    def close(self) -> None:
        """Worker thread, as it ends: finish the running job so nothing is left open."""
        self._stop.set()
        self._end_job("stopped")

    # ---- requests ----------------------------------------------------------------------------
    @Slot(str)
    def load(self, source: str) -> None:
        """Open a folder or "builtin:gpt"/"builtin:bert"; on failure the old model stays.

        With no model yet (a bad --model at launch), the built-in GPT opens instead, and says why.
        """
        with self._guard(f"opening {source}"):
            self._end_job("stopped")
            self._set_busy(f"opening {_short(source)}…")
            from models import ModelError  # torch is imported below, off the GUI thread

            try:
                model, tok, info = self._open(source)
            except ModelError as e:
                if self.model is not None or source == FALLBACK_MODEL:
                    raise
                self._report(e, f"opening {source}")
                self._set_busy(f"opening {_short(FALLBACK_MODEL)}…")
                model, tok, info = self._open(FALLBACK_MODEL)
                info = replace(
                    info, note=f"{source} could not be opened ({e}); the built-in GPT opened instead"
                )
            self.model, self.tokenizer, self.info = model, tok, info
            self.model_loaded.emit(info)
            self._set_busy("")

    def _open(self, source: str):
        import sys

        if "torch" not in sys.modules:  # seconds on a warm disk, a minute on a cold one
            self._set_busy("loading PyTorch…")
        from playground import loading

        self._stop.clear()
        return loading.open_model(
            source, self._device(), self._assets, self._data_dir, self._stop.is_set, self._set_busy
        )

    @Slot(str, object)
    def generate(self, prompt: str, settings: Any) -> None:
        with self._guard("generating"):
            self._refuse_during_training("generating")
            self._end_job("stopped")
            self._need_model()
            import models

            gen = models.generate(self.model, self.tokenizer, prompt, settings)
            self.prompt_tokenized.emit(gen.prompt)
            self.start_job(
                Job(
                    "generating…",
                    iter(gen),
                    self.tokens_generated.emit,
                    self._on_generation_done,
                    gen.cancel,
                    settings.max_new_tokens,
                )
            )

    @Slot(str, str)
    def probe(self, tag: str, text: str) -> None:
        """Run later, newest text per tag wins: typing fast queues one probe, not fifty."""
        fresh = tag not in self._probes
        self._probes[tag] = text
        if fresh:
            self._chunk_scheduled.emit()

    @Slot(str, object)
    def fill_mask(self, text: str, positions: Any) -> None:
        with self._guard("filling masks"):
            self._need_model()
            import models

            result = models.fill_mask(
                self.model, self.tokenizer, text, k=10, mask_positions=tuple(positions), attentions=True
            )
            self.mask_filled.emit(result)

    @Slot(object)
    def train(self, request: Any) -> None:
        """Start (or resume) a training run as a chunked job; its model becomes active at the end."""
        self._end_job("stopped")
        self._set_busy("preparing the corpus and tokenizer…")
        try:
            from playground.loading import DEFAULT_DATA_DIR
            from playground.training_session import TrainingRun

            if request.config is not None and request.config.device == "auto":
                request = replace(request, config=request.config.replace(device=self._device()))
            run = TrainingRun(request, (self._data_dir or DEFAULT_DATA_DIR) / "runs")
        except Exception as e:  # noqa: BLE001 — bad corpus or settings: say so, keep serving
            self._report(e, "preparing the training run")
            self._set_busy("")
            self.training_finished.emit("failed", str(e))
            return
        self.training_run = run
        self.training_started.emit(run.started)
        trainer = run.trainer
        self.start_job(
            Job(
                "training…",
                run.updates,
                self.training_updated.emit,
                self._on_training_done,
                None,
                trainer.config.steps - trainer.step,
            )
        )

    def _on_training_done(self, reason: str) -> None:
        run = self.training_run
        try:
            status, message, last = run.finish(reason)
        except Exception as e:  # noqa: BLE001 — the view must hear that the run ended, whatever broke
            self._report(e, "ending the training run")
            self.training_finished.emit("failed", f"the run ended with an error: {e}")
            return
        if last:
            self.training_updated.emit(last)
        if run.trainer.save_error and status != "failed":  # a failed run reports it below
            self.errored.emit(f"Training stopped, but {run.trainer.save_error}", "")
        self.last_checkpoint = str(run.trainer.last_checkpoint or "")
        if status == "failed":
            if reason != "failed":  # an exception was reported already
                self.errored.emit(message, "")
        else:  # the trained model is now the one to prompt and inspect, without reloading
            from playground.info import model_info

            trainer = run.trainer
            self.model, self.tokenizer = trainer.model.eval(), trainer.tokenizer
            name = f"trained {trainer.config.arch.upper()} ({trainer.corpus.name})"
            self.info = model_info(self.model, name, self.last_checkpoint, trainer.device.type)
            self.model_loaded.emit(self.info)
        self.training_finished.emit(status, message)

    @Slot(str)
    def save_model(self, folder: str) -> None:
        """Write the active model; a trained one keeps its training state, so it can resume."""
        with self._guard(f"saving to {folder}"):
            self._need_model()
            self._set_busy("saving…")
            run = self.training_run
            if run is not None and run.trainer.model is self.model:
                run.trainer.save(folder)
            else:
                import models

                models.save(self.model, self.tokenizer, folder)
            self._set_busy(self.job.name if self.job else "")
            self.model_saved.emit(folder)

    def _refuse_during_training(self, doing: str) -> None:
        if self.job is not None and self.job.name.startswith("training"):
            from models import ModelError

            raise ModelError(
                f"training is running: stop it before {doing} (the trained model then becomes active)"
            )

    # ---- jobs --------------------------------------------------------------------------------
    def start_job(self, job: Job) -> None:
        """Worker thread: run `job` in chunks until it ends or `stop()` is called."""
        self._end_job("stopped")
        self._stop.clear()
        with self._pause_lock:
            self._paused, self._step_allowance, self.job_paused = False, 0, False
        self.job = job
        self.started.emit(job.name)
        self._set_busy(job.name)
        self.progress_changed.emit(0, job.total)
        self._chunk_scheduled.emit()

    @Slot()
    def _run_chunk(self) -> None:
        self._serve_probes()
        job = self.job
        if job is None:
            return
        deadline = time.perf_counter() + CHUNK_S
        reason = None
        dormant = False
        try:
            while time.perf_counter() < deadline:
                if self._stop.is_set():
                    reason = "stopped"
                    break
                if not self._may_advance():
                    dormant = True
                    break
                try:
                    item = next(job.steps)
                except StopIteration:  # a job that saw the cancel ends early: still a stop
                    reason = "stopped" if self._stop.is_set() else "done"
                    break
                self.steps_taken += 1
                job.done += 1
                job.pending.append(item)
        except Exception as e:  # noqa: BLE001 — a failing job must not take the worker down
            self._report(e, job.name)
            reason = "failed"
        now = time.perf_counter()
        if job.pending and (reason or dormant or now - job.last_flush >= FLUSH_S):
            batch, job.pending = job.pending, []
            job.last_flush = now
            job.deliver(batch)
            self.progress_changed.emit(job.done, job.total)
        if reason:
            self._end_job(reason)
        elif dormant:
            with self._pause_lock:  # sleep until resume, step or stop wakes the chain
                self.job_paused = self._paused and not self._step_allowance and not self._stop.is_set()
            if not self.job_paused:  # woken between the check and now: carry on
                self._chunk_scheduled.emit()
        else:
            self._chunk_scheduled.emit()

    def _may_advance(self) -> bool:
        with self._pause_lock:
            if not self._paused:
                return True
            if self._step_allowance:
                self._step_allowance -= 1
                return True
            return False

    def _end_job(self, reason: str) -> None:
        job, self.job = self.job, None
        if job is None:
            return
        if job.cancel is not None and reason != "done":
            job.cancel()
        with self._guard(job.name):
            if job.pending:  # never lose what was computed
                job.deliver(job.pending)
                job.pending = []
        with self._guard(job.name):
            job.finish(reason)
        self._set_busy("")

    def _on_generation_done(self, reason: str) -> None:
        self.generation_finished.emit(reason if reason in ("stopped", "failed") else "done")

    def _serve_probes(self) -> None:
        while self._probes:
            tag = next(iter(self._probes))
            text = self._probes.pop(tag)
            self._set_busy("inspecting…")
            with self._guard("inspecting"):
                self._need_model()
                import models

                self.probed.emit(tag, models.probe(self.model, self.tokenizer, text, k=10))
            self._set_busy(self.job.name if self.job else "")

    # ---- helpers -----------------------------------------------------------------------------
    def _device(self) -> str:
        if self._device_choice:
            return self._device_choice
        import torch

        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"

    def _need_model(self) -> None:
        if self.model is None:
            from models import ModelError

            raise ModelError("no model is loaded yet")

    def _set_busy(self, what: str) -> None:
        self.busy_changed.emit(what)

    def _report(self, e: BaseException, doing: str) -> None:
        from models import ModelError

        if isinstance(e, ModelError):
            message = str(e)
        elif "out of memory" in str(e).lower():
            message = f"Out of memory while {doing}. Try a shorter text, fewer tokens, or a smaller model."
        else:
            message = f"Something went wrong while {doing}: {type(e).__name__}: {e}"
        self.errored.emit(message, "".join(traceback.format_exception(e)))

    def _guard(self, doing: str) -> _Guard:
        return _Guard(self, doing)


class _Guard:
    """`with self._guard(...)`: any exception becomes `errored`, and the worker keeps serving."""

    def __init__(self, worker: Worker, doing: str) -> None:
        self.worker, self.doing = worker, doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, e, tb) -> bool:
        if e is not None and isinstance(e, Exception):
            self.worker._report(e, self.doing)
            if self.worker.job is None:
                self.worker._set_busy("")
            return True
        return False


def _short(source: str) -> str:
    return source.split(":", 1)[1].upper() if source.startswith("builtin:") else Path(source).name


class WorkerClient(QObject):
    """GUI side: starts the thread, sends requests as queued signals, stops it on close."""

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
