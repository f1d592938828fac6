"""The chunked-job scheduler: one chain of chunks at a time, with stop, pause and single steps."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot

from playground.worker.signals import Answers

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


class JobRunner(Answers):
    """Runs one `Job` at a time on its thread in short chunks, so requests and stops get served
    between them. Stop, pause and step are flags (any thread), never queued requests."""

    _chunk_scheduled = Signal()  # queued to itself: the next chunk runs after pending requests

    def __init__(self) -> None:
        super().__init__()
        self.job: Job | None = None
        self.steps_taken = 0  # items pulled from jobs so far; read by tests across threads
        self._stop = threading.Event()
        self._pause_lock = threading.Lock()
        self._paused = False  # a paused job keeps its place but is not advanced
        self._step_allowance = 0  # single steps granted while paused
        self.job_paused = False  # the chunk chain is dormant (paused); read by tests
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
        self._between_chunks()
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

    def _between_chunks(self) -> None:
        """Work that must not wait for the job to end (the worker serves probes here)."""

    # ---- reporting ------------------------------------------------------------------------------
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

    def __init__(self, runner: JobRunner, doing: str) -> None:
        self.runner, self.doing = runner, doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, e, tb) -> bool:
        if e is not None and isinstance(e, Exception):
            self.runner._report(e, self.doing)
            if self.runner.job is None:
                self.runner._set_busy("")
            return True
        return False
