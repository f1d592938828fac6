"""Error reporting: a non-blocking message box with details, and a record tests can read."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from PySide6.QtWidgets import QMessageBox, QWidget


@dataclass(frozen=True)
class Report:
    message: str
    details: str


class ErrorReporter:
    """Shows errors without blocking the event loop; `interactive=False` only records them."""

    def __init__(self, parent: QWidget, interactive: bool = True) -> None:
        self.parent, self.interactive = parent, interactive
        self.history: list[Report] = []
        self.box: QMessageBox | None = None

    @property
    def last(self) -> Report | None:
        return self.history[-1] if self.history else None

    def report(self, message: str, details: str = "") -> None:
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
            self.parent,
        )
        if details:
            box.setDetailedText(details)
        box.open()  # window-modal but non-blocking: the app keeps running underneath
        self.box = box
