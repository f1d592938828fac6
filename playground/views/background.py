"""Numpy work for a view on Qt's thread pool, off the GUI thread; the newest request wins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal


class Background(QObject):
    """`run(work, then)`: `work()` runs on a pool thread (numpy releases the GIL in its loops, so
    the window keeps drawing); `then(result)` runs on the GUI thread, unless a newer run started."""

    _finished = Signal(int, object)  # sequence number, result (emitted on a pool thread: queued)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.sequence = 0
        self._then: Callable[[Any], None] | None = None
        self._finished.connect(self._on_finished)

    @property
    def busy(self) -> bool:
        return self._then is not None

    def run(self, work: Callable[[], Any], then: Callable[[Any], None]) -> None:
        self.sequence += 1
        sequence, self._then = self.sequence, then
        QThreadPool.globalInstance().start(lambda: self._finished.emit(sequence, work()))

    def cancel(self) -> None:
        """Whatever is running is dropped when it ends."""
        self.sequence += 1
        self._then = None

    def _on_finished(self, sequence: int, result: Any) -> None:
        if sequence == self.sequence and self._then is not None:
            then, self._then = self._then, None
            then(result)
