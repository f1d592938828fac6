"""What a new user tripped on across the tabs (issue 24): each driven through the real widgets."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QComboBox, QFormLayout, QLabel

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


def _wheel(widget, steps: int = 1) -> None:
    """Turn the mouse wheel over `widget`, as Qt delivers it (to the widget under the mouse)."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent

    centre = QPointF(widget.rect().center())
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(centre.toPoint())),
        QPoint(),
        QPoint(0, -120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_the_wheel_scrolls_a_form_and_changes_a_box_only_once_it_is_focused(qtbot, window):
    from PySide6.QtCore import Qt

    window.show_view("training")
    form = window.training_view.form
    box = form.ints["eval_every"]
    before = box.value()
    window.training_view.train_button.setFocus()
    _wheel(box, 4)
    assert box.value() == before  # scrolling past it changed nothing
    combo = form.findChildren(QComboBox)[0]
    choice = combo.currentIndex()
    _wheel(combo, 1)
    assert combo.currentIndex() == choice
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)  # clicked into: now the wheel is the user's choice
    assert box.hasFocus()
    _wheel(box, 1)
    assert box.value() != before


def test_a_launch_opens_the_builtin_gpt_unless_the_user_chose_to_reopen_the_last_model(
    qtbot, client, settings, window, tiny_gpt_dir, wait_signal
):
    from playground.main_window import MainWindow

    window.save_settings()  # the tiny GPT was the last model opened
    assert settings.value("models/last") == str(tiny_gpt_dir)
    again = MainWindow(client, settings, interactive=False)
    qtbot.addWidget(again)
    assert again.launch_source(None) == "builtin:gpt"  # as the README says
    assert again.launch_source("builtin:bert") == "builtin:bert"  # --model wins
    again.reopen_action.trigger()
    third = MainWindow(client, settings, interactive=False)
    qtbot.addWidget(third)
    assert third.reopen_action.isChecked()  # kept across launches
    source = third.launch_source(None)
    assert source == str(tiny_gpt_dir)
    wait_signal(client.model_loaded, lambda: third.open_model(source))
    assert "the last model you used" in third.message.text()
