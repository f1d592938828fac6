"""Model ▸ Precision: the active model opens again in the chosen precision, the status bar says which,
the choice is kept for the next model and session, and every control still works."""

from __future__ import annotations

from PySide6.QtCore import Qt


def _choose(window, key: str):
    (action,) = [a for a in window.precision_actions.actions() if a.data() == key]
    action.trigger()  # what a click on the menu item does
    return action


def test_the_active_model_opens_again_in_the_chosen_precision(qtbot, window, wait_signal, settings):
    assert window.info.precision == "fp32" and window.model_label.text().endswith("· fp32")
    wait_signal(window.client.model_loaded, lambda: _choose(window, "int8"))
    assert window.info.precision == "int8" and window.model_label.text().endswith("· int8")
    assert settings.value("models/precision") == "int8"
    assert [a.data() for a in window.precision_actions.actions() if a.isChecked()] == ["int8"]
    prompt = window.prompt_view
    window.show_view("prompt")
    prompt.sampling.max_tokens.setValue(8)
    qtbot.keyClick(prompt.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not prompt.running and len(prompt.steps) == 8, timeout=20_000)
    wait_signal(window.client.model_loaded, lambda: _choose(window, "fp32"))
    assert window.info.precision == "fp32" and window.info.source == prompt.client.info.source
