"""Live drawing on a budget: one drawing with news per tick, painted at once, a set share of the time."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget

# (has news, draw it, the widget it paints in), in the order the drawings take turns
Drawings = Callable[[], list[tuple[bool, Callable[[], None], QWidget]]]


class BudgetedRedraw(QObject):
    """Repainting costs the GUI thread (and the CPU and GIL a run needs) far more than storing
    points: views store what arrives and call `soon()`; each tick makes one drawing with news, in
    turn, and paints it inside the measured time; the next tick waits long enough that drawing
    takes at most `budget` of the time. Painting everything in one go held the loop for 150-230 ms."""

    def __init__(self, parent: QObject, drawings: Drawings, interval_ms: int, budget: float) -> None:
        super().__init__(parent)
        self.drawings, self.interval_ms, self.budget = drawings, interval_ms, budget
        self.timer = QTimer(self, singleShot=True, interval=interval_ms)
        self.timer.timeout.connect(self._on_timer_timeout)
        self._next = 0

    def soon(self) -> None:
        """Draw what has news, a piece per tick (a tick already due keeps its time)."""
        if not self.timer.isActive():
            self.timer.start()

    def now(self) -> None:
        """Draw everything with news at once (a run ended, or a view was emptied)."""
        self.timer.stop()
        for due, draw, _ in self.drawings():
            if due:
                draw()

    def _on_timer_timeout(self) -> None:
        drawings = self.drawings()
        for i in range(1, len(drawings) + 1):
            index = (self._next + i) % len(drawings)
            due, draw, widget = drawings[index]
            if due:
                self._next = index
                t0 = time.perf_counter()
                draw()
                (widget.viewport() if hasattr(widget, "viewport") else widget).repaint()  # paint now
                cost_ms = 1000 * (time.perf_counter() - t0)
                self.timer.setInterval(max(self.interval_ms, int(cost_ms / self.budget)))
                break
        if any(due for due, _, _ in self.drawings()):
            self.timer.start()
