"""The Steering tab: a direction from typed texts, both continuations streamed side by side with one
seed, the coefficient's slider and box, vectors saved and loaded, refusals, controls after each."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

CTRL = Qt.KeyboardModifier.ControlModifier


def _run(qtbot, view) -> None:
    qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.generate_button.isEnabled(), timeout=5_000)
    qtbot.waitUntil(view.generate_button.isEnabled, timeout=30_000)


def test_both_continuations_stream_side_by_side_and_a_zero_coefficient_changes_nothing(qtbot, window):
    window.show_view("steering")
    view = window.steering_view
    assert view.layer.maximum() == window.info.n_layer - 1
    qtbot.keyClicks(view.plus, "the cat sat on the mat")
    qtbot.keyClicks(view.minus, "a dog and a log")
    view.prompt.setText("the ")
    view.max_tokens.setValue(20)
    view.slider.setValue(0)  # the slider sets the coefficient: 0
    assert view.coefficient.value() == 0.0
    _run(qtbot, view)
    plain, steered = (view.outputs[s].toPlainText() for s in ("plain", "steered"))
    assert plain.startswith("the ") and plain == steered  # one seed, nothing added: the same text
    assert view.vector is not None and view.save_button.isEnabled() and "layer" in view.readout.text()
    view.coefficient.setValue(12.0)
    assert view.slider.value() == 120
    qtbot.keyClick(view.prompt, Qt.Key.Key_Return, CTRL)  # Ctrl+Enter
    qtbot.waitUntil(
        lambda: view.outputs["steered"].token_count == 20 and view.generate_button.isEnabled(), timeout=30_000
    )
    assert view.outputs["plain"].toPlainText() == plain  # the same seed again: the same plain text
    assert view.outputs["steered"].toPlainText() != plain


def test_a_vector_saves_loads_and_steers_again_and_bad_input_says_why(qtbot, window, tmp_path):
    window.show_view("steering")
    view = window.steering_view
    messages = []
    window.client.errored.connect(lambda m, _d: messages.append(m))
    view.failed.connect(lambda m, _d: messages.append(m))
    view.prompt.setText("the ")
    qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton)  # no texts: refused with a word
    assert "Give texts to steer towards" in window.message.text() and view.generate_button.isEnabled()
    view.plus.setPlainText("the cat")
    view.minus.setPlainText("the dog")
    view.max_tokens.setValue(10)
    _run(qtbot, view)
    first = view.outputs["steered"].toPlainText()
    view.save_vector(str(tmp_path / "cat-dog"))
    assert (tmp_path / "cat-dog.npy").is_file() and (tmp_path / "cat-dog.json").is_file()
    assert "Saved the steering vector" in window.message.text()
    saved = view.vector
    view.plus.setPlainText("zzz")
    view.load_vector(str(tmp_path / "cat-dog.npy"))
    assert view.plus.toPlainText() == "the cat" and not view.layer.isEnabled()
    np.testing.assert_array_equal(view.loaded.vector, saved.vector)
    _run(qtbot, view)
    assert view.outputs["steered"].toPlainText() == first  # the loaded vector steers as it did
    (tmp_path / "junk.npy").write_bytes(b"junk")
    view.load_vector(str(tmp_path / "junk.npy"))
    assert any("not a saved steering vector" in m for m in messages) and view.loaded is not None
    view.prompt.clear()
    qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton)
    assert "Type a prompt" in window.message.text()


def test_a_bert_has_no_steering_tab(qtbot, bert_window):
    index = bert_window.tabs.indexOf(bert_window.steering_view)
    assert not bert_window.tabs.isTabEnabled(index)


def test_the_steered_runs_export_their_probabilities_and_run_again_from_their_recipe(
    qtbot, window, tmp_path, wait_signal
):
    import csv
    import json

    window.show_view("steering")
    view = window.steering_view
    view.plus.setPlainText("the cat")
    view.minus.setPlainText("the dog")
    view.prompt.setText("the ")
    view.max_tokens.setValue(12)
    view.coefficient.setValue(6.0)
    _run(qtbot, view)
    texts = {side: view.outputs[side].toPlainText() for side in view.outputs}
    curve = view.curves["steered"].getData()[1]
    assert len(curve) == 12 and np.allclose(curve, [s.prob for s in view.steps["steered"]])
    assert view.export_button.export(tmp_path / "steer.csv")
    rows = list(csv.reader(open(tmp_path / "steer.csv", encoding="utf-8")))
    assert rows[0] == ["run", "index", "token", "probability"] and len(rows) == 1 + 24
    recipe = json.loads((tmp_path / "steer.csv.recipe.json").read_text(encoding="utf-8"))
    assert recipe["view"] == "steering" and recipe["settings"]["coefficient"] == 6.0
    view.plus.setPlainText("something else")
    view.coefficient.setValue(0.0)
    window.open_recipe(tmp_path / "steer.csv.recipe.json")
    qtbot.waitUntil(lambda: not view.generate_button.isEnabled(), timeout=5_000)
    qtbot.waitUntil(view.generate_button.isEnabled, timeout=30_000)
    assert {side: view.outputs[side].toPlainText() for side in view.outputs} == texts
