"""Labels that never widen the window: one line elided (the whole of it in a tooltip), or wrapped;
and a live readout whose new text repaints only itself."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

MIN_WIDTH = 40  # px: the least a message shows before the window would have to widen


class ElidedLabel(QLabel):
    """A QLabel for messages of any length (status, readouts): it asks for no more width than it
    is given, draws what fits with "…", and shows the full text in its tooltip."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._own_tip = ""  # a tooltip set for the label itself (shown with the full text)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)  # 40 px up
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self._update_tooltip()

    def setToolTip(self, tip: str) -> None:  # noqa: N802 (Qt's name)
        self._own_tip = tip
        self._update_tooltip()

    def _update_tooltip(self) -> None:
        one_line = " ".join(self.text().split())
        cut = self.fontMetrics().horizontalAdvance(one_line) > self.contentsRect().width()
        super().setToolTip("\n".join(filter(None, (one_line if cut else "", self._own_tip))))

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        hint = super().sizeHint()
        return QSize(min(hint.width(), MIN_WIDTH * 8), hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(MIN_WIDTH, super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._update_tooltip()  # the tooltip follows whether the text still fits

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        rect = self.contentsRect()
        one_line = " ".join(self.text().split())
        shown = self.fontMetrics().elidedText(one_line, Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(rect, int(self.alignment()) | Qt.TextFlag.TextSingleLine, shown)


def wrapping_label(text: str = "") -> QLabel:
    """A label for a line that may run long where two lines fit: it wraps, and like ElidedLabel it
    never asks for more width than it is given."""
    label = QLabel(text, wordWrap=True)
    label.setMinimumWidth(MIN_WIDTH)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return label


class Readout(QWidget):
    """A line that changes while something runs (tokens/s, a loss, an ETA): a new text repaints this
    widget alone. A QLabel's setText asks the window for a new layout, and that repainted every
    widget in the window: 11 ms a token while generating, and the model's threads lost the core.
    One line is elided like ElidedLabel's; more wrap into the width given. Never widens the window."""

    def __init__(self, text: str = "", lines: int = 1, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text, self._lines = "", lines
        self.setText(text)
        wide = QSizePolicy.Policy.Preferred if lines == 1 else QSizePolicy.Policy.Ignored
        self.setSizePolicy(wide, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(MIN_WIDTH)
        self._fit_height()

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        if text != self._text:
            self._text = text
            self.setToolTip(" ".join(text.split()))  # the whole of what the width may cut off
            self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name): the same for any text, so no new layout
        return QSize(MIN_WIDTH * 8, self.height())

    def _fit_height(self) -> None:
        self.setFixedHeight(self._lines * self.fontMetrics().lineSpacing() + 2)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._fit_height()

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        rect = self.contentsRect()
        middle_left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        if self._lines == 1:
            shown = self.fontMetrics().elidedText(
                " ".join(self._text.split()), Qt.TextElideMode.ElideRight, rect.width()
            )
            painter.drawText(rect, int(middle_left | Qt.TextFlag.TextSingleLine), shown)
        else:
            painter.drawText(
                rect,
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap),
                self._text,
            )
