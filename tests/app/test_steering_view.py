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


def test_steer_every_view_shows_the_model_steered_in_attention_and_probabilities(qtbot, window, tiny_gpt_dir):
    """Ticked, the vector is added in every model call: the Probabilities tab reads the steered
    model's probabilities (equal to the engine's steered probe), with the model as it is outlined and
    the change said; the status bar says it; unticked or another model, it is off again."""
    import models
    from models.inspect.steering import make_vector, steered

    text = "the cat sat on the mat"
    window.show_view("steering")
    view = window.steering_view
    qtbot.mouseClick(view.everywhere, Qt.MouseButton.LeftButton)  # no texts yet: said, and left off
    assert not view.everywhere.isChecked() and "Give texts to steer towards" in window.message.text()
    view.plus.setPlainText("the cat")
    view.minus.setPlainText("the dog")
    view.layer.setValue(1)
    view.coefficient.setValue(6.0)
    probs = window.probability_view
    probs.text.setText(text)
    window.attention_view.text.setText(text)
    qtbot.mouseClick(view.everywhere, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.client.steering != "", timeout=10_000)
    assert window.steering_label.isVisible() and "× 6" in window.steering_label.text()
    window.show_view("probabilities")
    qtbot.waitUntil(lambda: "Steered by" in probs.summary.text(), timeout=20_000)
    model, tok = models.load(tiny_gpt_dir)
    vector = make_vector(model, tok, ["the cat"], ["the dog"], 1)
    with steered(model, vector, 6.0):
        expected = models.probe(model, tok, text).target_prob
    plain = models.probe(model, tok, text).target_prob
    shown = probs.scores.prob
    np.testing.assert_allclose(shown[1:], expected[:-1], atol=1e-5)  # (each token's own probability)
    assert np.abs(expected - plain)[:-1].max() > 1e-3  # the vector changed what it shows
    np.testing.assert_allclose(probs.scores.intact[1:], plain[:-1], atol=1e-5)
    assert "steered by" in window.attention_view.knocked_label.text()

    window.show_view("steering")
    view.coefficient.setValue(3.0)  # a new coefficient while ticked: sent again (once)
    qtbot.waitUntil(lambda: "× 3" in window.client.steering, timeout=10_000)
    qtbot.mouseClick(view.everywhere, Qt.MouseButton.LeftButton)  # off again
    qtbot.waitUntil(lambda: window.client.steering == "", timeout=10_000)
    assert not window.steering_label.isVisible()
    window.show_view("probabilities")
    qtbot.waitUntil(lambda: "Steered by" not in probs.summary.text(), timeout=20_000)
    np.testing.assert_allclose(probs.scores.prob[1:], plain[:-1], atol=1e-5)
    qtbot.mouseClick(view.everywhere, Qt.MouseButton.LeftButton)  # on, then another model: off
    qtbot.waitUntil(lambda: window.client.steering != "", timeout=10_000)
    from models.inspect.sampling import SamplingSettings
    from tests.app.test_rough_edges import _generate

    window.show_view("prompt")  # the Prompt tab's generation is steered too
    window.prompt_view.sampling.temperature.setValue(0)
    _generate(qtbot, window, 8, "the ")
    with steered(model, vector, 3.0):
        greedy = [s.prob for s in models.generate(model, tok, "the ", SamplingSettings(8, temperature=0))]
    plain_run = [s.prob for s in models.generate(model, tok, "the ", SamplingSettings(8, temperature=0))]
    shown = [s.prob for s in window.prompt_view.steps]
    np.testing.assert_allclose(shown, greedy, atol=1e-5)
    assert np.abs(np.subtract(shown, plain_run)).max() > 1e-3
    with qtbot.waitSignal(window.client.model_loaded, timeout=30_000):
        window.open_model(str(tiny_gpt_dir))
    qtbot.waitUntil(lambda: window.client.steering == "" and not view.everywhere.isChecked(), timeout=10_000)
