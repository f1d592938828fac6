"""Error reporting: a non-blocking message box with details, and a record tests can read."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtWidgets import QMessageBox, QWidget


@dataclass(frozen=True)
class Report:
    message: str
    details: str


def sentence(text: str) -> str:
    """Messages start with a capital letter, whichever check or library wrote them."""
    return text[:1].upper() + text[1:]


class ErrorReporter(QObject):
    """Shows errors without blocking the event loop; `interactive=False` only records them.

    `report` may be called from any thread (an uncaught exception on the worker reaches it):
    a message box is only ever built on the GUI thread.
    """

    _posted = Signal(str, str)  # queued to the GUI thread

    def __init__(self, window: QWidget, interactive: bool = True) -> None:
        super().__init__(window)
        self.window, self.interactive = window, interactive
        self.history: list[Report] = []
        self.box: QMessageBox | None = None
        self._posted.connect(self.report, Qt.ConnectionType.QueuedConnection)

    @property
    def last(self) -> Report | None:
        return self.history[-1] if self.history else None

    def report(self, message: str, details: str = "") -> None:
        if QThread.currentThread() is not self.thread():
            self._posted.emit(message, details)
            return
        message = sentence(message)
        self.history.append(Report(message, details))
        print(f"playground: {message}", file=sys.stderr)
        if not self.interactive:
            return
        if self.box is not None:  # one box at a time: the newest error replaces the old one
            self.box.close()
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Transformer Playground",
            message,
            QMessageBox.StandardButton.Ok,
            self.window,
        )
        if details:
            box.setDetailedText(details)
        box.open()  # window-modal but non-blocking: the app keeps running underneath
        self.box = box
