"""What a new user tripped on across the tabs (issue 24): each driven through the real widgets."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QFormLayout, QLabel

LONG = "a message far longer than any window is wide, " * 30


def _captions(window) -> list[QLabel]:
    """The labels that name a control (form rows, fixed captions): their text never changes.
    (The wrappers are kept alive: Qt then hands back the same ones.)"""
    ids = []
    for form in window.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            if item is not None and item.widget() is not None:
                ids.append(item.widget())
    for view in window.views.values():
        for label in view.findChildren(QLabel):
            if label.text() in STATIC_CAPTIONS or label.textFormat().name == "RichText":
                ids.append(label)
    return ids


STATIC_CAPTIONS = {"Prompt", "A", "B", "d_model", "positions", "layout", "Text", "Corrupted", "Answer"}


def test_no_message_widens_the_window(qtbot, window):
    """Every label that shows a message, on every tab and in the status bar, elides or wraps a
    long text instead of widening the window (which then reopened wider next launch)."""
    captions = _captions(window)
    widened = []
    for index in range(window.tabs.count()):
        if not window.tabs.isTabEnabled(index):
            continue
        window.tabs.setCurrentIndex(index)
        window.resize(1000, 700)
        qtbot.wait(50)
        width = window.width()
        page = window.tabs.widget(index)
        for label in page.findChildren(QLabel) + window.statusBar().findChildren(QLabel):
            if any(label is c for c in captions) or not label.isVisible():
                continue
            before = label.text()
            label.setText(LONG)
            QApplication.processEvents()
            if window.width() > width:
                widened.append(f"{window.tabs.tabText(index)}: {before[:40]!r}")
            label.setText(before)
            window.resize(1000, 700)
            QApplication.processEvents()
    assert widened == []


def test_a_long_status_message_is_elided_with_the_whole_text_in_its_tooltip(qtbot, window):
    window.resize(1000, 700)
    qtbot.wait(50)
    width = window.width()
    window.message.setText(LONG)
    QApplication.processEvents()
    assert window.width() == width
    assert window.message.toolTip() == " ".join(LONG.split())
    window.message.setText("short")
    assert window.message.toolTip() == ""
