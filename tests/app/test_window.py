"""The window end to end (offscreen): prompt, chips, stop, attention, fill-mask, errors, close."""

from __future__ import annotations

import json

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt

from playground.views.widgets.tokens import visible


def _generate(qtbot, window, wait_signal, max_tokens: int, prompt: str = "the cat"):
    """Type a prompt, press Ctrl+Enter, wait for the run to end; its finish status."""
    view = window.prompt_view
    view.sampling.max_tokens.setValue(max_tokens)
    view.prompt.clear()
    qtbot.keyClicks(view.prompt, prompt)
    before = view.request
    qtbot.keyClick(view.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert view.request != before  # the key started a run
    qtbot.waitUntil(lambda: not view.running, timeout=30_000)
    return view.finish_reason


def test_ctrl_enter_streams_tokens_into_chips(qtbot, window, wait_signal):
    assert _generate(qtbot, window, wait_signal, 25) == "done"
    view = window.prompt_view
    assert len(view.steps) == 25
    assert view.output.token_count == 25
    assert view.output.toPlainText().startswith("the cat")
    assert "25 tokens" in view.stats.text()
    assert view.generate_button.isEnabled() and not view.stop_button.isEnabled()


class _PaintCounter(QObject):
    """Counts the paint events each watched widget receives."""

    def __init__(self, *widgets) -> None:
        super().__init__()
        self.counts = dict.fromkeys(widgets, 0)
        for w in widgets:
            w.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Paint:
            self.counts[watched] += 1
        return False


def test_streamed_tokens_repaint_their_text_and_readout_not_the_whole_window(qtbot, window):
    """Each batch of tokens updates the chips and the stats line. A QLabel's new text re-laid out
    the window and so repainted every widget in it at every token: 11 ms a token on SmolLM2's
    shape, time the model's threads lost on a 2-core machine."""
    view = window.prompt_view
    view.sampling.max_tokens.setValue(400)
    batches = []
    window.client.worker.tokens_generated.connect(batches.append)
    elsewhere = (window.tabs.tabBar(), view.sampling.max_tokens, view.generate_button)
    painted = _PaintCounter(view.stats, *elsewhere)
    qtbot.keyClick(view.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not view.running, timeout=30_000)
    assert len(batches) >= 10, len(batches)  # the stats line changed at each
    assert painted.counts[view.stats] >= 10
    # the rest only when the run starts and ends (without the readout: 19-21 times in 17 batches)
    assert max(painted.counts[w] for w in elsewhere) <= 6, painted.counts


def test_escape_stops_generation(qtbot, window, wait_signal):
    view = window.prompt_view
    view.sampling.max_tokens.setValue(10_000)
    wait_signal(
        window.client.worker.tokens_generated,
        lambda: qtbot.keyClick(view.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier),
    )
    assert view.running
    qtbot.keyClick(view.prompt, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not view.running, timeout=10_000)
    assert view.finish_reason == "stopped"
    assert 0 < len(view.steps) == window.client.worker.steps_taken < 10_000


def test_attention_overview_shows_every_layer_and_head(qtbot, window, wait_signal):
    view = window.attention_view
    window.show_view("attention")
    probe = _inspect(qtbot, window, "the cat sat")
    L, H, T, _ = probe.attentions.shape
    assert (L, H) == (window.info.n_layer, window.info.n_head) == (2, 2)
    mosaic = view.overview.image.image
    assert mosaic.shape == (L * T, H * T)
    for layer in range(L):
        for head in range(H):
            tile = mosaic[layer * T : (layer + 1) * T, head * T : (head + 1) * T]
            np.testing.assert_array_equal(tile, probe.attentions[layer, head])
    # a click on a tile selects that head for the large plot
    vb = view.overview.getViewBox()
    scene_pos = vb.mapViewToScene(pg_point((1.5) * T, (1.5) * T))
    assert view.overview.tile_at(scene_pos) == (1, 1)
    at = view.overview_widget.mapFromScene(scene_pos)
    qtbot.mouseClick(view.overview_widget.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert (view.layer, view.head) == (1, 1)
    np.testing.assert_array_equal(view.head_plot.image.image, probe.attentions[1, 1])
    assert view.head_plot.x_axis.labels == [visible(t)[:10] for t in probe.tokens.texts]


def test_keyboard_walks_heads_and_averages(qtbot, window, wait_signal):
    view = window.attention_view
    probe = _inspect(qtbot, window, "the dog")
    view.select(0, 0)
    qtbot.keyClick(view.overview_widget, Qt.Key.Key_Right)
    qtbot.keyClick(view.overview_widget, Qt.Key.Key_Down)
    assert (view.layer, view.head) == (1, 1)
    assert view.layer_box.value() == 1 and view.head_box.value() == 1
    qtbot.keyClick(view.overview_widget, Qt.Key.Key_A)
    assert view.average
    np.testing.assert_allclose(view.head_plot.image.image, probe.attentions[1].mean(0))


def test_clicking_a_token_updates_the_bar_chart(qtbot, window, wait_signal):
    _generate(qtbot, window, wait_signal, 12)
    view = window.prompt_view
    chart = view.details.chart
    for i in range(len(view.steps)):  # every chip, newlines included
        qtbot.mouseClick(
            view.output.viewport(), Qt.MouseButton.LeftButton, pos=view.output.token_rect_center(i)
        )
        step = view.steps[i]
        assert chart.labels == [visible(t)[:14] for t in step.top_texts]
        np.testing.assert_allclose(chart.probs, step.top_probs)
        assert view.output.selected == i
        # and its attention row: layers × keys (prompt tokens + tokens generated before it)
        assert view.details.attention.data.shape == (2, 7 + i)


def test_hover_tooltip_names_probability_and_entropy(qtbot, window, wait_signal):
    _generate(qtbot, window, wait_signal, 5)
    step = window.prompt_view.steps[2]
    tip = window.prompt_view._tooltip(2)
    assert f"{step.prob:.3f}" in tip and f"{step.entropy:.2f} nats" in tip


def test_run_lands_in_attention_and_probability_views(qtbot, window, wait_signal):
    _generate(qtbot, window, wait_signal, 10, prompt="a cat")
    text = window.prompt_view.prompt_text + window.prompt_view.generated_text()
    qtbot.waitUntil(
        lambda: (
            window.probability_view.probe is not None
            and "".join(window.probability_view.probe.tokens.texts) == text
        ),
        timeout=20_000,
    )
    probe = window.probability_view.probe
    assert window.attention_view.text.text() == text
    # the attention is the run's own: its tokens as generated (a special token is one token, though
    # its text, read again, would be several)
    run_tokens = len(window.prompt_view.prompt_tokens) + len(window.prompt_view.steps)
    assert window.attention_view.attentions.shape[2] == run_tokens
    # hidden, the views only keep the result (the end of a run stays smooth); shown, they draw it
    assert window.probability_view.tokens.token_count == 0
    window.show_view("probabilities")
    assert f"perplexity {probe.perplexity:.2f}" in window.probability_view.summary.text()
    assert window.probability_view.tokens.token_count == len(text)
    window.show_view("attention")
    assert window.attention_view.overview.image.image.shape[0] == 2 * run_tokens


def test_export_run_json_and_attention(qtbot, window, wait_signal, tmp_path):
    _generate(qtbot, window, wait_signal, 6)
    window.prompt_view.export_json(tmp_path / "run.json")
    record = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert record["prompt"] == "the cat"
    assert [t["prob"] for t in record["tokens"]] == [s.prob for s in window.prompt_view.steps]
    assert len(record["tokens"][0]["alternatives"]) == 10
    view = window.attention_view
    probe = _inspect(qtbot, window, "the mat")
    view.export_npy(tmp_path / "a.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), probe.attentions)
    view.export_csv(tmp_path / "a.csv")
    rows = (tmp_path / "a.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + len(probe.tokens)
    assert view.export_png(tmp_path / "a.png") and (tmp_path / "a.png").stat().st_size > 1000


def test_bert_fill_mask_shows_fills(qtbot, window, wait_signal, tiny_bert_dir):
    w = window.client.worker
    (result,) = wait_signal(w.mask_filled, lambda: window.open_model(str(tiny_bert_dir)))
    view = window.fill_mask_view
    assert window.tabs.currentWidget() is view  # a BERT opens on its own view
    assert len(result.fills) == 1
    chart = view.charts[0]
    assert chart.isVisibleTo(view)
    assert chart.labels == [visible(t)[:14] for t in result.fills[0].top_texts]
    assert "Best guess" in view.best.text()
    # click a token to mask it as well: now two fills
    target = view.token_texts.index("cat")
    (result,) = wait_signal(
        w.mask_filled,
        lambda: qtbot.mouseClick(
            view.tokens.viewport(), Qt.MouseButton.LeftButton, pos=view.tokens.token_rect_center(target)
        ),
    )
    assert sorted(f.position for f in result.fills)[0] == target
    assert view.charts[1].isVisibleTo(view)
    # the attention of the fill-mask input reaches the attention view
    assert window.attention_view.attentions.shape[:2] == (3, 2)
    # a BERT does not generate
    assert not window.prompt_view.generate_button.isEnabled()


def test_corrupt_folder_reports_and_keeps_the_old_model(qtbot, window, wait_signal, corrupt_dir):
    before = window.info
    message, details = wait_signal(window.client.worker.errored, lambda: window.open_model(str(corrupt_dir)))
    qtbot.waitUntil(lambda: window.errors.last is not None)
    assert window.errors.last.message == message and "model.safetensors" in message
    assert window.info == before
    assert window.model_label.text() == before.summary
    assert _generate(qtbot, window, wait_signal, 3) == "done"  # still serving the old model


def test_error_shows_a_message_box_with_details(qtbot, client, settings, wait_signal, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    from playground.main_window import MainWindow

    w = MainWindow(client, settings, interactive=True)
    qtbot.addWidget(w)
    w.show()
    wait_signal(client.worker.errored, lambda: w.open_model(str(tmp_path / "nowhere")))
    qtbot.waitUntil(lambda: w.errors.box is not None and w.errors.box.isVisible())
    box = w.errors.box
    assert isinstance(box, QMessageBox) and "A model folder holds config.json" in box.text()
    w.close()
    assert not box.isVisible()


def test_closing_during_generation_stops_the_thread(qtbot, window, wait_signal):
    view = window.prompt_view
    view.sampling.max_tokens.setValue(10_000)
    wait_signal(window.client.worker.tokens_generated, view.generate)
    assert view.running
    window.close()
    assert not window.client.worker_thread.isRunning()


def test_settings_and_recent_models_persist(qtbot, window, client, settings, tiny_gpt_dir):
    from playground.main_window import MainWindow

    window.prompt_view.sampling.temperature.setValue(1.3)
    window.prompt_view.sampling.seed.setValue(42)
    window.prompt_view.prompt.setPlainText("remember me")
    window.show_view("attention")
    window.save_settings()
    again = MainWindow(client, settings, interactive=False)
    qtbot.addWidget(again)
    assert again.prompt_view.sampling.temperature.value() == 1.3
    assert again.prompt_view.sampling.seed.value() == 42
    assert again.prompt_view.prompt.toPlainText() == "remember me"
    assert again.tabs.currentWidget() is again.attention_view
    assert again.recent_models()[0] == str(tiny_gpt_dir)


def _inspect(qtbot, window, text: str):
    """Inspect text and wait until the attention view shows it (an earlier probe may land first)."""
    got = []
    window.client.worker.probed.connect(lambda tag, p: got.append(p))  # runs on the worker
    window.attention_view.inspect(text)
    qtbot.waitUntil(lambda: any("".join(p.tokens.texts) == text for p in got), timeout=20_000)
    probe = next(p for p in got if "".join(p.tokens.texts) == text)
    qtbot.waitUntil(lambda: window.attention_view.attentions is probe.attentions)
    return probe


def pg_point(x: float, y: float):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)


def test_closing_while_the_worker_is_stuck_in_a_long_step_waits_and_says_so(
    qtbot, window, monkeypatch
) -> None:
    """The worker cannot be interrupted inside one step: the window must not destroy the running
    thread (Qt aborts), but say why it waits and close once the step has ended."""
    import time

    from PySide6.QtCore import QTimer

    from playground import main_window
    from playground.worker import Job

    monkeypatch.setattr(main_window, "SHUTDOWN_WAIT_MS", 100)
    worker = window.client.worker
    started = []

    def slow_steps():
        while True:
            started.append(1)
            time.sleep(1.5)  # one long forward pass
            yield 0

    job = Job("slow…", slow_steps(), lambda batch: None, lambda reason: None)
    QTimer.singleShot(0, worker, lambda: worker.start_job(job))
    qtbot.waitUntil(lambda: bool(started), timeout=10_000)
    window.close()
    assert window.isVisible() and "still finishing" in window.message.text()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert window.client.worker_thread.isFinished()


def test_knocking_a_head_out_recomputes_the_views_like_the_engine(qtbot, window, wait_signal):
    """K on the overview knocks the selected head out: the probe every view shows is then the
    engine's probe under that ablation; Restore brings the intact model back."""
    import models

    view = window.attention_view
    window.show_view("attention")
    plain = _inspect(qtbot, window, "the cat sat")
    view.overview_widget.setFocus()
    qtbot.keyClick(view.overview_widget, Qt.Key.Key_Down)  # layer 1, head 0
    qtbot.keyClick(view.overview_widget, Qt.Key.Key_Right)  # layer 1, head 1
    got = []
    window.client.probed.connect(lambda tag, probe: got.append(probe))
    qtbot.keyClick(view.overview_widget, Qt.Key.Key_K)
    qtbot.waitUntil(lambda: view.knocked == ((1, 1),) and bool(got), timeout=10_000)
    worker = window.client.worker
    with models.ablated(worker.model, [(1, 1)]):
        expected = models.probe(worker.model, worker.tokenizer, "the cat sat", k=10)
    np.testing.assert_allclose(got[-1].target_prob, expected.target_prob, atol=1e-6)
    assert not np.allclose(got[-1].target_prob[:-1], plain.target_prob[:-1])
    assert "L1H1" in view.knocked_label.text() and view.restore_button.isEnabled()
    got.clear()
    qtbot.mouseClick(view.restore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.knocked == () and bool(got), timeout=10_000)
    np.testing.assert_allclose(got[-1].target_prob, plain.target_prob, atol=1e-6)
    assert not view.restore_button.isEnabled()
