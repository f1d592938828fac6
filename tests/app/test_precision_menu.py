"""Model ▸ Precision: the active model opens again in the chosen precision, the status bar says which,
the choice is kept for the next model and session, and every control still works."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor


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


def test_a_precision_the_device_refuses_is_not_kept(qtbot, window, settings, monkeypatch):
    import models
    from models.hf import checkpoint

    def refuse(precision, device):
        if precision == "bf16":
            raise models.ModelError("this GPU has no bfloat16: choose fp32")

    monkeypatch.setattr(checkpoint, "check_precision", refuse)
    before = window.precision
    _choose(window, "bf16")
    qtbot.waitUntil(lambda: window.precision == before, timeout=20_000)  # back to the one in use
    assert [a.data() for a in window.precision_actions.actions() if a.isChecked()] == [before]
    assert window.info.precision == "fp32" and "no bfloat16" in window.errors.last.message


def test_the_prompts_own_example_is_not_taken_for_the_users_text_next_session(qtbot, client, settings):
    from playground.views.prompt import PromptView
    from playground.views.widgets.example_text import offer_example

    first = PromptView(client)
    qtbot.addWidget(first)
    first.restore_state(settings)  # a first start: the app's example
    first.save_state(settings)
    second = PromptView(client)
    qtbot.addWidget(second)
    second.restore_state(settings)
    assert offer_example(second.prompt, "abc defg") == "abc defg"  # a model's example replaces it
    second.prompt.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(second.prompt, " mine")
    second.save_state(settings)
    third = PromptView(client)
    qtbot.addWidget(third)
    third.restore_state(settings)
    assert offer_example(third.prompt, "xyz") == "abc defg mine"  # the user's text stays
