"""An encoder–decoder in the app: the prompt is its source and the target streams; the attention view
shows its three kinds (cross-attention labelled target × source); views it has no use of are off."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from models.text.pairs import ARROW, START
from playground.worker.requests import KnockOut, Train


def test_a_source_streams_its_translation_and_the_attention_view_shows_three_kinds(
    qtbot, window, marian_dir, tiny_gpt_dir, wait_signal
):
    # on the GPT: a lens read with a head knocked out (a new model's restored heads must not make the
    # lens read the old text on the encoder–decoder), and the Fill-mask tab shown
    window.show_view("lens")
    wait_signal(window.client.lens_read, window.lens_view.read)
    wait_signal(window.client.ablation_changed, lambda: window.client.send(KnockOut(((0, 0),))))
    window.show_view("fill-mask")
    wait_signal(window.client.model_loaded, lambda: window.open_model(str(marian_dir)))
    qtbot.waitUntil(lambda: window.client.ablation == ((), "zero") and not window.client.outstanding)
    assert window.errors.last is None and window.lens_view.lens is None
    assert window.tabs.currentWidget() is window.prompt_view  # not the next tab Qt would move to
    assert window.info.capabilities.encoder_decoder
    assert window.prompt_view.prompt_label.text().startswith("Source")
    for name in ("lens", "heads", "fill-mask", "finetune", "compare"):  # they read one stack of heads
        assert not window.tabs.isTabEnabled(window.tabs.indexOf(window.views[name]))
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)  # Ctrl+4: the lens
    assert window.tabs.currentWidget() is not window.lens_view and "encoder–decoder" in window.message.text()
    qtbot.keyClick(window, Qt.Key.Key_F5, Qt.KeyboardModifier.ControlModifier)  # Ctrl+F5: a fine-tune
    assert not window.finetune_view.start_action.isEnabled() and not window.client.active(Train)

    window.show_view("prompt")
    view = window.prompt_view
    view.sampling.max_tokens.setValue(12)
    view.sampling.temperature.setValue(0)  # greedy: the same output on every machine
    view.prompt.clear()
    qtbot.keyClicks(view.prompt, "abc def")
    qtbot.keyClick(view.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not view.running and bool(view.steps), timeout=30_000)
    out = view.generated_text()
    assert len(view.steps) == 12 and view.steps[-1].finish_reason == "length"
    assert view.output.toPlainText().rstrip("\u200b") == f"abc def{ARROW}{out}"  # (\u200b: the </s> chip)

    # a generated token shows which source tokens it read
    qtbot.mouseClick(view.output.viewport(), Qt.MouseButton.LeftButton, pos=view.output.token_rect_center(1))
    assert view.output.selected == 1 and view.details.attention.data.shape == (3, len(view.prompt_tokens))
    np.testing.assert_allclose(view.details.attention.data, view.steps[1].cross_attention.mean(1))

    att = window.attention_view
    window.show_view("attention")
    qtbot.waitUntil(lambda: att.text.text() == f"abc def{ARROW}{out}", timeout=10_000)
    assert not att.kind_box.isHidden() and att.kind_box.currentData() == "cross"
    n, S = len(view.steps), len(view.prompt_tokens)
    assert att.attentions.shape == (3, 2, n, S) and att.cols[-1] == "</s>"
    assert att.rows[0] == view.steps[0].token_text  # each cross row: the token it chose
    assert att.head_plot.data.shape == (n, S)  # rectangular: target rows × source columns
    steps_cross = np.stack([s.cross_attention for s in view.steps], axis=2)
    np.testing.assert_allclose(att.attentions, steps_cross)
    for kind, shape in (("decoder", (3, 2, n, n)), ("encoder", (2, 4, S, S))):
        att.kind_box.setCurrentIndex(att.kind_box.findData(kind))
        assert att.attentions.shape == shape and att.head_plot.data.shape == shape[2:]
        # the decoder's own attention reads its inputs, the start token first; the encoder, the source
        assert att.rows[0] == (START if kind == "decoder" else "a")
    assert att.knock_button.isHidden()  # heads are not knocked out of an encoder–decoder
    qtbot.keyClick(att.overview_widget, Qt.Key.Key_K)  # nor by its key: no request is sent
    assert not window.client.active(KnockOut) and window.errors.last is None
    # a recipe names the kind of attention, and drawing it again picks that kind
    assert att.recipe_settings()["kind"] == "encoder"
    att.kind_box.setCurrentIndex(att.kind_box.findData("cross"))
    att.apply_recipe(att.recipe_settings() | {"kind": "decoder", "text": f"abc{ARROW}ba"})
    qtbot.waitUntil(lambda: att.rows == (START, "b", "a"), timeout=10_000)
    assert att.kind_box.currentData() == "decoder" and att.attentions.shape == (3, 2, 3, 3)

    # Inspect a pair typed by hand: teacher-forced, the same three kinds
    att.kind_box.setCurrentIndex(att.kind_box.findData("cross"))
    att.text.clear()
    qtbot.keyClicks(att.text, "abc -> ba")  # "->" for the arrow a keyboard lacks
    qtbot.keyClick(att.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: att.cols == ("a", "b", "c", "</s>"), timeout=10_000)
    assert att.rows == ("b", "a", "</s>") and att.attentions.shape == (3, 2, 3, 4)

    # the probabilities view scores the target where it stands, </s> last
    pv = window.probability_view
    pv.score(f"abc{ARROW}ba")
    qtbot.waitUntil(lambda: pv.scores is not None and pv.scores.texts == ("b", "a", "</s>"), timeout=10_000)
    assert np.isfinite(pv.scores.prob).all()

    # back to a GPT: every view is on again, and the attention view has one kind
    wait_signal(window.client.model_loaded, lambda: window.open_model(str(tiny_gpt_dir)))
    assert all(window.tabs.isTabEnabled(i) for i in range(window.tabs.count()))
    qtbot.waitUntil(lambda: att.attentions.shape[:2] == (2, 2), timeout=10_000)
    assert att.kind_box.isHidden() and not att.knock_button.isHidden()


def test_a_token_that_looks_like_markup_keeps_its_text_in_a_chart_title(qtbot):
    """pyqtgraph titles are rich text: "</s>" (an encoder–decoder's end) used to vanish from them."""
    from playground.views.widgets.topk_chart import TopKChart

    chart = TopKChart()
    qtbot.addWidget(chart)
    chart.set_alternatives(["</s>", "4"], [0.9, 0.1], chosen="</s>", title="expected at “</s>”")
    assert chart.plotItem.titleLabel.item.toPlainText() == "expected at “</s>”"
