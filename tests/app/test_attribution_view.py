"""The Attribution tab: a generated token's inputs from the Prompt tab, the methods, stopping,
refusals, and every control working after each."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt

from tests.app.test_rough_edges import _generate


def _explain_from_prompt(qtbot, window, token: int) -> None:
    view = window.prompt_view
    window.show_view("prompt")
    _generate(qtbot, window, 12, "the cat")
    qtbot.mouseClick(
        view.output.viewport(), Qt.MouseButton.LeftButton, pos=view.output.token_rect_center(token)
    )
    assert view.explain_button.isEnabled()
    qtbot.mouseClick(view.explain_button, Qt.MouseButton.LeftButton)


def test_which_input_made_a_generated_token_opens_its_row_with_the_inputs_tinted(qtbot, window):
    _explain_from_prompt(qtbot, window, 5)
    att = window.attribution_view
    assert window.tabs.currentWidget() is att
    qtbot.waitUntil(
        lambda: att.result is not None and att.result.done == len(att.result.targets), timeout=20_000
    )
    first = len(window.prompt_view.prompt_tokens)
    result = att.result
    assert result.targets[0] == first and result.targets[-1] == len(result.tokens) - 1
    t = first + 5
    assert int(result.targets[att.row]) == t and f"at position {t}" in att.readout.text()
    assert att.heatmap.data.shape == (len(result.targets), len(result.tokens))
    colors = att.tokens._colors
    assert any(c is not None for c in colors[:t]) and all(c is None for c in colors[t:])
    assert att.tokens.selected == t


def test_each_method_explains_and_integrated_gradients_say_their_delta(qtbot, window):
    att = window.attribution_view
    window.show_view("attribution")  # the model's example text is explained as the tab opens
    qtbot.waitUntil(lambda: att.result is not None and att.explain_button.isEnabled(), timeout=20_000)
    assert att.result.tokens.texts[0] == "T"  # "To be, or not to be"
    att.text.setText("the cat sat on the mat")
    for method in ("rollout", "integrated_gradients"):
        att.method.setCurrentIndex(att.method.findData(method))
        assert att.steps.isEnabled() == (method == "integrated_gradients")
        assert att.contrast.isEnabled() == (method != "rollout")
        qtbot.mouseClick(att.explain_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda m=method: att.result is not None and att.result.method == m
                        and att.result.done == len(att.result.targets), timeout=30_000)  # fmt: skip
    assert "delta" in att.readout.text() and "steps ×" in att.heatmap.titleLabel.text
    row = len(att.result.targets) - 1
    at = att.tokens.token_rect_center(int(att.result.targets[row]))  # clicking a token shows its row
    qtbot.mouseClick(att.tokens.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert att.row == row


def test_a_stopped_explanation_keeps_what_was_done_and_a_refused_one_says_why(qtbot, window, monkeypatch):
    from models.inspect import attribution

    att = window.attribution_view
    monkeypatch.setattr(attribution, "CHUNK", 1)
    slow = attribution._gradients

    def paced(*args):
        time.sleep(0.05)
        return slow(*args)

    monkeypatch.setattr(attribution, "_gradients", paced)
    att.text.setText("the cat sat on the mat and the dog sat on the log")
    window.show_view("attribution")
    att.method.setCurrentIndex(att.method.findData("input_x_gradient"))
    qtbot.mouseClick(att.explain_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: att.result is not None and att.result.done >= 3, timeout=10_000)
    assert "tokens…" in att.heatmap.titleLabel.text and window.cancel_button.isVisible()
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(att.explain_button.isEnabled, timeout=10_000)
    stopped = att.result
    assert stopped.done < len(stopped.targets) and not np.abs(stopped.scores[stopped.done :]).any()
    errors = []
    window.client.errored.connect(lambda message, _details: errors.append(message))
    att.contrast.setText("cat sat")  # two tokens: refused
    qtbot.keyClick(att.contrast, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert "alternative “cat sat” is 7 tokens for this model" in errors[0]
    qtbot.waitUntil(att.explain_button.isEnabled, timeout=10_000)
    monkeypatch.setattr(attribution, "_gradients", slow)
    att.contrast.setText("d")  # one character: the difference against it is explained
    qtbot.mouseClick(att.explain_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: att.result is not stopped and att.result.done == len(att.result.targets), timeout=20_000
    )
    assert att.result.contrast is not None and "log p − log p(alternative)" in att.readout.text()
    qtbot.waitUntil(att.explain_button.isEnabled, timeout=10_000)
    att.text.clear()
    qtbot.mouseClick(att.explain_button, Qt.MouseButton.LeftButton)
    assert "Type a text whose tokens to explain" in window.message.text()


def test_a_bert_has_no_attribution_tab(qtbot, bert_window):
    index = bert_window.tabs.indexOf(bert_window.attribution_view)
    assert not bert_window.tabs.isTabEnabled(index) and "For decoders" in bert_window.tabs.tabToolTip(index)


def test_a_translated_token_is_explained_over_the_source_and_the_target_before_it(
    qtbot, window, marian_dir, wait_signal
):
    """An encoder–decoder: "Which input made it?" on a generated token opens its row, the source's
    columns first (a line where the target starts), tinted; rollout is refused with the reason."""
    from models.text.pairs import ARROW, START

    wait_signal(window.client.model_loaded, lambda: window.open_model(str(marian_dir)))
    assert window.tabs.isTabEnabled(window.tabs.indexOf(window.attribution_view))
    window.show_view("prompt")
    view = window.prompt_view
    view.sampling.temperature.setValue(0)
    _generate(qtbot, window, 6, "abc def")
    qtbot.mouseClick(view.output.viewport(), Qt.MouseButton.LeftButton, pos=view.output.token_rect_center(2))
    assert view.explain_button.isEnabled()
    qtbot.mouseClick(view.explain_button, Qt.MouseButton.LeftButton)
    att = window.attribution_view
    assert window.tabs.currentWidget() is att
    qtbot.waitUntil(
        lambda: att.result is not None and att.result.done == len(att.result.targets), timeout=20_000
    )
    result, S = att.result, att.result.source_length
    assert att.text.text() == f"abc def{ARROW}{view.generated_text()}"
    assert result.tokens.texts[:S] == (*"abc def", "</s>") and result.tokens.texts[S] == START
    assert att.row == 2 and int(result.targets[2]) == S + 3  # the third generated token
    assert att.source_end.isVisible() and att.source_end.value() == S - 0.5
    assert "source | target" in att.heatmap.getAxis("bottom").labelText
    colors = att.tokens._colors
    assert any(c is not None for c in colors[:S]) and all(c is None for c in colors[S + 3 :])
    errors = []
    window.client.errored.connect(lambda message, _details: errors.append(message))
    att.method.setCurrentIndex(att.method.findData("rollout"))
    qtbot.mouseClick(att.explain_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert "rollout follows one stack" in errors[0]
    qtbot.waitUntil(att.explain_button.isEnabled, timeout=10_000)  # and the tab still works
    att.method.setCurrentIndex(att.method.findData("input_x_gradient"))
    qtbot.mouseClick(att.explain_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: att.result is not result and att.result.done == len(att.result.targets),
                    timeout=20_000)  # fmt: skip
