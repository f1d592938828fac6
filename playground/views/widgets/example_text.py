"""A model's example text goes only into a box the user has not typed in: what the user typed stays."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QPlainTextEdit

TYPED = "typedByUser"  # a box's dynamic property: the text in it is the user's
_FILLING = "fillingExample"  # set while the app itself writes an example into the box

Box = QLineEdit | QPlainTextEdit


def watch_typing(box: Box) -> None:
    """Remember when the user writes in `box`: typing, pasting, or text restored from their last
    session (anything but `fill`)."""
    if isinstance(box, QLineEdit):
        box.textEdited.connect(lambda _text: box.setProperty(TYPED, True))
    else:
        box.textChanged.connect(lambda: box.property(_FILLING) or box.setProperty(TYPED, True))


def fill(box: Box, text: str) -> None:
    """Write the app's own text into `box` (not the user's: an example may replace it)."""
    box.setProperty(_FILLING, True)
    box.setPlainText(text) if isinstance(box, QPlainTextEdit) else box.setText(text)
    box.setProperty(_FILLING, False)
    box.setProperty(TYPED, False)


def offer_example(box: Box, text: str) -> str:
    """Fill `box` with a model's example unless it holds text the user wrote; returns what the box
    holds now."""
    current = box.toPlainText() if isinstance(box, QPlainTextEdit) else box.text()
    if box.property(TYPED) and current.strip():
        return current
    fill(box, text)
    return text
