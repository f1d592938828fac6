"""A settings form in a scroll area, whose boxes take the mouse wheel only when focused."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QScrollArea, QVBoxLayout, QWidget


class WheelGuard(QObject):
    """Scrolling a form over a spin or combo box scrolls the form: the box changes only once
    the user has clicked or tabbed into it ("Validate every" went from 100 to 96 otherwise)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Wheel and not watched.hasFocus():
            event.ignore()  # an ignored wheel event goes on to the parent: the scroll area
            return True
        return False


def guard_wheel(root: QWidget, guard: QObject) -> None:
    """Every spin and combo box under `root` takes focus by click or Tab (not by the wheel), and
    the wheel only while focused."""
    for box in (*root.findChildren(QAbstractSpinBox), *root.findChildren(QComboBox)):
        box.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        box.installEventFilter(guard)


def scrolling_form(form: QWidget, min_width: int) -> QWidget:
    """`form` in a scroll area that scrolls up and down only, with its wheel guarded; the form's
    `notices` (its error and warning lines) stay in view under it, whatever is scrolled."""
    scroll = QScrollArea()
    scroll.setWidget(form)
    scroll.setWidgetResizable(True)
    scroll.setMinimumWidth(max(min_width, form.minimumSizeHint().width() + 24))  # no sideways scrolling
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.wheel_guard = WheelGuard(scroll)
    guard_wheel(form, scroll.wheel_guard)
    panel = QWidget()
    column = QVBoxLayout(panel)
    column.setContentsMargins(0, 0, 0, 0)
    column.addWidget(scroll, 1)
    for notice in getattr(form, "notices", ()):
        notice.setMaximumWidth(scroll.minimumWidth())  # wrapped, never wider than the form
        column.addWidget(notice)
    return panel
