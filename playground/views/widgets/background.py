"""Numpy work for a view on Qt's thread pool, off the GUI thread; the newest request wins."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal


class _Failure:
    """What a pool thread hands back when the work raised."""

    def __init__(self, e: Exception) -> None:
        self.message = f"{type(e).__name__}: {e}"
        self.details = "".join(traceback.format_exception(e))


class Background(QObject):
    """`run(work, then)`: `work()` runs on a pool thread (numpy releases the GIL in its loops, so
    the window keeps drawing); `then(result)` runs on the GUI thread, unless a newer run started.
    Work that raises ends the run all the same (`busy` falls) and says so on `failed`."""

    failed = Signal(str, str)  # message, details: the newest run's work raised
    _finished = Signal(int, object)  # sequence number, result (emitted on a pool thread: queued)

    def __init__(self, doing: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doing = doing  # said in the message when the work raises ("drawing the attention")
        self.sequence = 0
        self._then: Callable[[Any], None] | None = None
        self._finished.connect(self._on_finished)

    @property
    def busy(self) -> bool:
        return self._then is not None

    def run(self, work: Callable[[], Any], then: Callable[[Any], None]) -> None:
        self.sequence += 1
        sequence, self._then = self.sequence, then

        def task() -> None:
            try:
                result = work()
            except Exception as e:  # noqa: BLE001 — the GUI thread must hear that the run ended
                result = _Failure(e)
            self._finished.emit(sequence, result)

        QThreadPool.globalInstance().start(task)

    def cancel(self) -> None:
        """Whatever is running is dropped when it ends."""
        self.sequence += 1
        self._then = None

    def _on_finished(self, sequence: int, result: Any) -> None:
        if sequence != self.sequence or self._then is None:
            return
        then, self._then = self._then, None
        if isinstance(result, _Failure):
            self.failed.emit(f"Something went wrong while {self.doing}: {result.message}", result.details)
        else:
            then(result)
