"""The logit lens tab: each layer's prediction from the worker's answer; cells click to their top-k."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QPointF, Qt

import models
from playground.views.widgets.tokens import visible


def _read(qtbot, window, text: str, token: str = "") -> None:
    view = window.lens_view
    window.show_view("lens")
    view.text.clear()
    qtbot.keyClicks(view.text, text)
    view.token.setText(token)
    before = view.lens
    qtbot.keyClick(view.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: view.lens is not before and view.read_button.isEnabled(), timeout=20_000)


def test_the_lens_draws_every_layer_and_a_click_shows_a_cells_top_k(qtbot, window):
    view = window.lens_view
    _read(qtbot, window, "the cat sat")
    worker = window.client.worker
    expected = models.logit_lens(worker.model, worker.tokenizer, "the cat sat", k=10)
    np.testing.assert_allclose(view.heatmap.data, expected.prob, atol=1e-6)
    assert view.heatmap.data.shape == (2, 11)  # layers × positions of the tiny GPT
    assert sum(bool(t) for row in view.labels.texts for t in row) == 22  # each cell: its top guess
    # a click on the cell of layer 0 at position 3
    vb = view.heatmap.getViewBox()
    at = view.plots.mapFromScene(vb.mapViewToScene(QPointF(3.5, 0.5)))
    qtbot.mouseClick(view.plots.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert view.chart.labels == [visible(t)[:14] for t in expected.top_texts[0][3]]
    np.testing.assert_allclose(view.chart.probs, expected.top_probs[0][3], atol=1e-6)


def test_a_picked_token_that_is_not_one_token_is_refused_and_the_view_stays_usable(qtbot, window):
    view = window.lens_view
    _read(qtbot, window, "the cat", token="e")
    assert set(view.lens.target_texts) == {"e"}
    before = view.lens
    window.show_view("lens")
    view.token.setText("ca")
    qtbot.mouseClick(view.read_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.read_button.isEnabled(), timeout=10_000)
    assert view.lens is before and "pick a single token" in window.errors.last.message
    view.token.clear()
    qtbot.mouseClick(view.read_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.lens is not before, timeout=10_000)
    assert len(set(view.lens.target_texts)) > 1


def test_a_long_lens_arrives_block_by_block_and_cancel_keeps_what_was_read(qtbot, window, monkeypatch):
    """A real model's lens is read a few positions at a time: the view shows each block as it
    comes (the last positions first, the rest waiting), the status bar's Cancel stops it, what
    was read stays, and the next read runs to its end."""
    from models.inspect import lens as lens_module

    view = window.lens_view
    worker = window.client.worker
    cfg = worker.model.config
    monkeypatch.setattr(lens_module, "BLOCK_CELLS", cfg.n_layer * cfg.vocab_size)  # one position a block
    slow = lens_module._blocks

    def paced(*args):  # a block takes a while, as on a real model
        for block in slow(*args):
            time.sleep(0.02)
            yield block

    monkeypatch.setattr(lens_module, "_blocks", paced)
    window.show_view("lens")
    view.text.setText("the cat sat on the mat " * 2)
    qtbot.mouseClick(view.read_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.lens is not None and 3 <= view.lens.done, timeout=10_000)
    assert "reading…" in view.heatmap.titleLabel.text and window.cancel_button.isVisible()
    assert np.isfinite(view.heatmap.data[:, -1]).all() and np.isnan(view.heatmap.data[:, 0]).all()
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.read_button.isEnabled(), timeout=10_000)
    stopped = view.lens
    assert not stopped.complete and np.isfinite(view.heatmap.data[:, -1]).all()
    monkeypatch.setattr(lens_module, "_blocks", slow)
    qtbot.mouseClick(view.read_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.lens is not stopped and view.lens.complete, timeout=20_000)
    assert np.isfinite(view.heatmap.data).all() and "reading" not in view.heatmap.titleLabel.text
