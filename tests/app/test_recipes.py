"""Every exported figure gets a recipe beside it; File ▸ Open recipe draws the figure again: the same
model (opened if another is active), the same knocked-out heads, the same settings."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import Qt

from playground.worker.requests import KnockOut


def _wait_sweep(qtbot, view, before):
    qtbot.waitUntil(lambda: view.sweep is not before and view.sweep.complete, timeout=20_000)
    qtbot.waitUntil(lambda: view.run_button.isEnabled(), timeout=5_000)
    return view.sweep


def _patching_sweep(qtbot, window):
    view = window.heads_view
    window.show_view("heads")
    view.kind.setFocus()
    qtbot.keyClick(view.kind, Qt.Key.Key_Down)  # patching
    for field, text in ((view.text, "the cat sat"), (view.corrupted, "the dog sat")):
        field.clear()
        qtbot.keyClicks(field, text)
    before = view.sweep
    qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
    return _wait_sweep(qtbot, view, before)


def test_a_sweep_figure_and_its_recipe_round_trip(qtbot, window, tmp_path, tiny_gpt_dir):
    sweep = _patching_sweep(qtbot, window)
    view = window.heads_view
    assert view.export_button.export(tmp_path / "sweep.svg")
    recipe = json.loads((tmp_path / "sweep.svg.recipe.json").read_text(encoding="utf-8"))
    assert recipe["view"] == "heads" and recipe["model"]["source"] == str(tiny_gpt_dir)
    assert recipe["model"]["fingerprint"] == window.client.info.fingerprint
    assert recipe["settings"]["kind"] == "patching" and recipe["settings"]["corrupted"] == "the dog sat"
    assert recipe["figure"] == "sweep.svg" and recipe["ablation"]["heads"] == []
    view.corrupted.setText("something else")  # the user moves on…
    view.kind.setCurrentIndex(0)
    before = view.sweep
    window.open_recipe(tmp_path / "sweep.svg.recipe.json")
    again = _wait_sweep(qtbot, view, before)
    np.testing.assert_array_equal(again.values, sweep.values)
    assert view.kind.currentData() == "patching" and view.corrupted.text() == "the dog sat"


def test_a_recipe_brings_back_its_knocked_out_heads_and_its_model(
    qtbot, window, tmp_path, tiny_bert_dir, wait_signal
):
    lens = window.lens_view
    wait_signal(window.client.ablation_changed, lambda: window.client.send(KnockOut(((1, 0),))))
    window.show_view("lens")
    lens.text.setText("the cat sat")
    before = lens.lens
    qtbot.mouseClick(lens.read_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: lens.lens is not before and lens.read_button.isEnabled(), timeout=10_000)
    knocked = lens.lens
    assert lens.export_button.export(tmp_path / "lens.pdf") and (tmp_path / "lens.pdf.recipe.json").is_file()
    wait_signal(window.client.worker.model_loaded, lambda: window.open_model(str(tiny_bert_dir)))
    assert window.client.ablation == ((), "zero")  # a new model forgets the heads
    window.open_recipe(tmp_path / "lens.pdf.recipe.json")
    qtbot.waitUntil(
        lambda: (
            window.client.ablation == (((1, 0),), "zero")
            and lens.lens is not None
            and lens.lens.tokens.texts == knocked.tokens.texts  # the GPT's lens of the same text
            and lens.read_button.isEnabled()
            and not window.client.outstanding
        ),
        timeout=20_000,
    )
    assert window.info.capabilities.causal
    np.testing.assert_allclose(lens.lens.prob, knocked.prob, atol=1e-6)
    assert window.tabs.currentWidget() is lens


RECIPE = '{"format": "transformer-playground-recipe", "version": 1, '


@pytest.mark.parametrize(
    "content, why",
    [
        ("not json at all", "not JSON"),
        ('{"format": "something else"}', "not a Transformer Playground recipe"),
        ('{"format": "transformer-playground-recipe", "version": 9}', "version 9"),
        (RECIPE + '"view": "heads"}', "missing a field"),
        (RECIPE + '"view": "charts", "model": {"source": "x"}}', "a view this app does not have"),
        (RECIPE + '"view": "lens", "model": {"source": ""}}', "never saved"),
    ],
)
def test_a_bad_recipe_is_refused_with_its_reason_and_nothing_changes(qtbot, window, tmp_path, content, why):
    path = tmp_path / "bad.recipe.json"
    path.write_text(content, encoding="utf-8")
    info, tab = window.client.info, window.tabs.currentWidget()
    window.open_recipe(path)
    assert why in window.errors.last.message
    qtbot.wait(200)
    assert window.client.info is info and window.tabs.currentWidget() is tab and not window.client.outstanding


def test_a_recipe_for_other_weights_still_draws_and_says_so(qtbot, window, tmp_path):
    att = window.attention_view
    window.show_view("attention")
    att.inspect("the cat sat")
    qtbot.waitUntil(lambda: att.attentions.size > 0, timeout=10_000)
    att.select(1, 1)
    assert att.export_head.export(tmp_path / "head.png")
    path = tmp_path / "head.png.recipe.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["model"]["fingerprint"] = "0123456789abcdef"
    data["settings"]["text"] = "a dog"
    path.write_text(json.dumps(data), encoding="utf-8")
    att.select(0, 0)
    window.open_recipe(path)
    qtbot.waitUntil(lambda: att.text.text() == "a dog" and len(att.rows) == 5, timeout=10_000)
    qtbot.waitUntil(lambda: (att.layer, att.head) == (1, 1), timeout=5_000)
    assert "not those the recipe was made with" in window.errors.last.message


def test_a_generation_recipe_makes_the_same_text_and_clicks_the_same_token(qtbot, window, tmp_path):
    view = window.prompt_view
    window.show_view("prompt")
    view.sampling.max_tokens.setValue(12)
    view.sampling.temperature.setValue(1.0)
    view.sampling.seed.setValue(-1)  # "random": the run still knows the seed it drew
    view.prompt.setPlainText("the cat")
    qtbot.keyClick(view.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not view.running, timeout=20_000)
    first = view.generated_text()
    assert view.run_settings.seed is not None
    at = view.output.token_rect_center(3)  # the 4th generated token's chip
    qtbot.mouseClick(view.output.viewport(), Qt.MouseButton.LeftButton, pos=at)
    qtbot.waitUntil(lambda: view.output.selected == 3, timeout=5_000)
    assert view.details_export.export(tmp_path / "token.svg")
    recipe = json.loads((tmp_path / "token.svg.recipe.json").read_text(encoding="utf-8"))
    assert (
        recipe["settings"]["sampling"]["seed"] == view.run_settings.seed and recipe["settings"]["token"] == 3
    )
    view.prompt.setPlainText("a dog")
    qtbot.keyClick(view.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not view.running, timeout=20_000)
    window.open_recipe(tmp_path / "token.svg.recipe.json")
    qtbot.waitUntil(lambda: view.prompt_text == "the cat" and not view.running, timeout=20_000)
    qtbot.waitUntil(lambda: view.output.selected == 3, timeout=5_000)
    assert view.generated_text() == first
    assert visible_header(view.steps[3].token_text) in view.details.header.text()


def visible_header(token: str) -> str:
    from playground.views.widgets.tokens import visible

    return f"“{visible(token)}”"


def test_a_fill_mask_recipe_fills_the_same_masks(qtbot, window, tmp_path, tiny_bert_dir, wait_signal):
    wait_signal(window.client.worker.model_loaded, lambda: window.open_model(str(tiny_bert_dir)))
    view = window.fill_mask_view
    window.show_view("fill-mask")
    qtbot.waitUntil(lambda: view.result is not None, timeout=10_000)  # the example a new BERT fills
    qtbot.waitUntil(lambda: not window.client.outstanding, timeout=10_000)
    view.text.setText("the [MASK] sat on the mat")
    before = view.result
    qtbot.keyClick(view.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: view.result is not before and view.result is not None, timeout=10_000)
    fills = view.result.fills
    assert view.export_button.export(tmp_path / "fills.png")
    view.text.setText("a dog")
    before = view.result
    window.open_recipe(tmp_path / "fills.png.recipe.json")
    qtbot.waitUntil(
        lambda: view.result is not before and view.text.text() == "the [MASK] sat on the mat", timeout=10_000
    )
    assert [f.top_texts for f in view.result.fills] == [f.top_texts for f in fills]
