"""The chunked-job scheduler: one chain of chunks, ever; stop, pause and step aimed at a request."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot

from playground.errors import sentence
from playground.worker.signals import Answers
from playground.worker.state import JOB_ACTIVITY, WorkerState

FLUSH_S = 0.05  # deliver batched results at most ~20 times a second (a job may ask for less)
CHUNK_S = 0.03  # work this long, then go back to the event loop to serve probes and stops
PHASE_LABEL = {"paused": "paused", "stopping": "stopping…"}


@dataclass
class Job:
    """A long-running task advanced in chunks: a generation or a training run.

    `steps` yields items; `deliver` gets every item, batched (never dropped) at ~20 Hz;
    `finish` gets "done", "stopped" or "failed" once and may return (status, message) for the
    request's end; `cancel` is called (any thread) on stop.
    """

    kind: str  # "generate" or "train": what views and refusals go by
    steps: Iterator[Any]
    deliver: Callable[[list[Any]], None]
    finish: Callable[[str], tuple[str, str] | None] | None = None
    cancel: Callable[[], None] | None = None
    total: int = 0  # for a determinate progress bar; 0 = unknown
    flush_s: float = FLUSH_S  # deliver at most this often
    request: int = 0  # the request it serves (0: none, e.g. a test's job)
    done: int = 0
    pending: list[Any] = field(default_factory=list)
    last_flush: float = 0.0

    @property
    def activity(self) -> str:
        return JOB_ACTIVITY.get(self.kind, self.kind)


class JobRunner(Answers):
    """Runs one `Job` at a time on its thread in short chunks, so requests and stops get served
    between them. Stop, pause and step are flags set from any thread for one request id."""

    _chunk_scheduled = Signal()  # queued to itself: the next chunk runs after pending requests

    def __init__(self) -> None:
        super().__init__()
        self.job: Job | None = None
        self.steps_taken = 0  # items pulled from jobs so far; read by tests across threads
        self.chunks_run = 0  # chunk events served so far; read by tests
        self._lock = threading.RLock()  # guards the fields below; RLock: a direct slot may call back
        self._cancelled: set[int] = set()  # requests stopped, whether or not they started yet
        self._paused = False  # the job keeps its place but is not advanced
        self._step_allowance = 0  # single steps granted while paused
        self._chunk_queued = False  # one chunk event in the queue at most: one chain, always
        self._activity = ("", 0, "")  # work outside a job: (activity, request, label)
        self.state = WorkerState()
        self._chunk_scheduled.connect(self._run_chunk, Qt.ConnectionType.QueuedConnection)

    # ---- thread-safe control ---------------------------------------------------------------
    def stop(self, request: int) -> None:
        """Any thread: stop `request`, now if it runs, at once when it starts if it is queued."""
        with self._lock:
            self._cancelled.add(request)
            job = self.job if self.job is not None and self.job.request == request else None
            self._publish()
        if job is not None and job.cancel is not None:
            job.cancel()
        if job is not None:
            self._schedule()  # a paused job must wake up to see the stop

    def stop_all(self) -> None:
        """Any thread: stop whatever runs now (closing the window)."""
        with self._lock:
            running = [self._activity[1]] + ([self.job.request] if self.job is not None else [])
        for request in running:
            self.stop(request)

    def is_cancelled(self, request: int) -> bool:
        with self._lock:
            return request in self._cancelled

    def pause_job(self, request: int) -> None:
        """Any thread: keep the job serving `request` but stop advancing it (training's pause)."""
        with self._lock:
            if self._serves(request):
                self._paused = True
                self._publish()

    def resume_job(self, request: int) -> None:
        with self._lock:
            if not self._serves(request):
                return
            self._paused, self._step_allowance = False, 0
            self._publish()
        self._schedule()

    def step_job(self, request: int) -> None:
        """Any thread, while paused: advance the job by exactly one item."""
        with self._lock:
            if not (self._serves(request) and self._paused):
                return
            self._step_allowance += 1
        self._schedule()

    def _serves(self, request: int) -> bool:
        return self.job is not None and self.job.request == request

    def _schedule(self) -> None:
        """Any thread: make sure one chunk event is queued (never a second chain)."""
        with self._lock:
            if self._chunk_queued:
                return
            self._chunk_queued = True
        self._chunk_scheduled.emit()

    # ---- state ----------------------------------------------------------------------------
    def _publish(self) -> None:
        """Emit the state if it changed; computed and emitted under the lock, so the newest wins."""
        with self._lock:
            state = self._current_state()
            if state != replace(self.state, version=0):
                self.state = replace(state, version=self.state.version + 1)
                self.state_changed.emit(self.state)

    def _current_state(self) -> WorkerState:
        activity, request, label = self._activity
        job = self.job
        if job is None:
            return WorkerState(activity or "idle", request, label)
        if job.request in self._cancelled:
            phase = "stopping"
        else:
            phase = "paused" if self._paused else "running"
        if not activity:
            activity = job.activity if phase == "running" else phase
            request, label = job.request, PHASE_LABEL.get(phase, f"{job.activity}…")
        return WorkerState(activity, request, label, job.kind, job.request, phase)

    def _set_activity(self, activity: str = "", request: int = 0, label: str = "") -> None:
        """Worker thread: work outside the job (loading, probing…); "" when it ends."""
        with self._lock:
            self._activity = (activity, request, label)
            self._publish()

    def _say(self, label: str) -> None:
        """Worker thread: new status-bar words for the current activity (slow steps of a load)."""
        with self._lock:
            activity, request, _ = self._activity
            self._activity = (activity, request, label)
            self._publish()

    def _finish_request(self, request: int, status: str, message: str = "") -> None:
        with self._lock:
            self._cancelled.discard(request)
        if request:
            self.request_finished.emit(request, status, message)

    # ---- jobs --------------------------------------------------------------------------------
    def start_job(self, job: Job) -> None:
        """Worker thread: run `job` in chunks until it ends or its request is stopped."""
        self._end_job("stopped")
        self._job_starting(job)
        with self._lock:
            self.job = job
            self._paused, self._step_allowance = False, 0
            self._publish()
        self.progress_changed.emit(0, job.total)
        self._schedule()

    @Slot()
    def _run_chunk(self) -> None:
        with self._lock:
            self._chunk_queued = False
        self.chunks_run += 1
        self._between_chunks()
        job = self.job
        if job is None:
            return
        start = time.perf_counter()
        deadline = start + CHUNK_S
        done_before = job.done
        reason = None
        dormant = False
        try:
            while time.perf_counter() < deadline:
                if self.is_cancelled(job.request):
                    reason = "stopped"
                    break
                if not self._may_advance():
                    dormant = True  # resume, step and stop schedule the next chunk
                    break
                try:
                    item = next(job.steps)
                except StopIteration:  # a job that saw the cancel ends early: still a stop
                    reason = "stopped" if self.is_cancelled(job.request) else "done"
                    break
                self.steps_taken += 1
                job.done += 1
                job.pending.append(item)
            now = time.perf_counter()
            if job.pending and (reason or dormant or now - job.last_flush >= job.flush_s):
                batch, job.pending = job.pending, []
                job.last_flush = now
                job.deliver(batch)
                self.progress_changed.emit(job.done, job.total)
        except Exception as e:  # noqa: BLE001 — a failing job (or its delivery) must not take the
            self._report(e, job.activity)  # worker down, and its request must still end
            reason = "failed"
        if job.done > done_before:
            self._chunk_done(job, job.done - done_before, time.perf_counter() - start)
        if reason:
            self._end_job(reason)
        elif not dormant:
            self._schedule()

    def _may_advance(self) -> bool:
        with self._lock:
            if not self._paused:
                return True
            if self._step_allowance:
                self._step_allowance -= 1
                return True
            return False

    def _end_job(self, reason: str) -> None:
        job = self.job
        if job is None:
            return
        if job.cancel is not None and reason != "done":
            job.cancel()
        status, message = reason, ""
        with self._guard(job.activity):
            if job.pending:  # never lose what was computed
                job.deliver(job.pending)
                job.pending = []
        with self._guard(job.activity):
            if job.finish is not None:
                status, message = job.finish(reason) or (reason, "")
        with self._lock:
            self.job = None
            self._paused = False
            self._publish()
        self._finish_request(job.request, status, message)

    def _between_chunks(self) -> None:
        """Work that must not wait for the job to end (the worker serves probes here)."""

    def _job_starting(self, job: Job) -> None:
        """Worker thread, before a job's first chunk (the worker picks its threads here)."""

    def _chunk_done(self, job: Job, items: int, seconds: float) -> None:
        """Worker thread: a chunk of `job` made `items` in `seconds` (the worker tunes threads)."""

    # ---- reporting ------------------------------------------------------------------------------
    def _report(self, e: BaseException, doing: str) -> str:
        """Say what went wrong (as `errored`); returns the message."""
        message, details = self._explain(e, doing)
        self.errored.emit(message, details)
        return message

    @staticmethod
    def _explain(e: BaseException, doing: str) -> tuple[str, str]:
        """(message, details): a ModelError is the user's to fix, so it has no traceback."""
        from models.errors import ModelError, is_out_of_memory

        if isinstance(e, ModelError):
            return sentence(str(e)), ""
        details = "".join(traceback.format_exception(e))
        if is_out_of_memory(e):
            advice = "Try a shorter text, fewer tokens, or a smaller model."
            return f"Out of memory while {doing}. {advice}", details
        return f"Something went wrong while {doing}: {type(e).__name__}: {e}", details

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
            return True
        return False
