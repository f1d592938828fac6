"""Knocking heads out from the attention overview: several at once, either mode, and what it costs
each token (the probability view against the engine, with and without the heads)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

import models

TEXT = "the cat sat on the mat"


def _inspect(qtbot, window, text: str = TEXT):
    """Type `text` into the attention view, press Enter: the probes that arrive (growing)."""
    view = window.attention_view
    window.show_view("attention")
    view.text.clear()
    qtbot.keyClicks(view.text, text)
    got = []
    window.client.probed.connect(lambda _tag, probe: got.append(probe))
    qtbot.keyClick(view.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(got) and view.has_attention, timeout=10_000)
    return got


def _click_tile(qtbot, view, layer: int, head: int, shift: bool = False) -> None:
    tile = view.overview.tile
    scene = view.overview.getViewBox().mapViewToScene(QPointF((head + 0.5) * tile, (layer + 0.5) * tile))
    modifier = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    at = view.overview_widget.mapFromScene(scene)
    qtbot.mouseClick(view.overview_widget.viewport(), Qt.MouseButton.LeftButton, modifier, at)


def _engine(window, heads, mode="zero"):
    worker = window.client.worker
    with models.ablated(worker.model, heads, mode):
        return models.probe(worker.model, worker.tokenizer, TEXT, k=10)


def test_shift_click_chooses_heads_k_knocks_them_out_and_the_loss_change_is_shown(qtbot, window):
    got = _inspect(qtbot, window)
    view = window.attention_view
    _click_tile(qtbot, view, 0, 0)
    _click_tile(qtbot, view, 1, 1, shift=True)
    assert view.chosen == {(0, 0), (1, 1)} and view.knock_button.text() == "Knock out 2 heads (K)"
    got.clear()
    qtbot.keyClick(view.overview_widget, Qt.Key.Key_K)
    qtbot.waitUntil(lambda: bool(got) and got[-1].knocked_out == ((0, 0), (1, 1)), timeout=10_000)
    probe = got[-1]
    intact, knocked = _engine(window, []), _engine(window, [(0, 0), (1, 1)])
    np.testing.assert_allclose(probe.target_prob, knocked.target_prob, atol=1e-6)
    np.testing.assert_allclose(probe.intact_prob, intact.target_prob, atol=1e-6)
    assert probe.knocked_out == ((0, 0), (1, 1)) and probe.loss == pytest.approx(knocked.loss, abs=1e-5)
    window.show_view("probabilities")
    summary = window.probability_view.summary.text()
    assert f"loss {intact.loss:.3f} → {knocked.loss:.3f}" in summary and "L0H0, L1H1" in summary
    outline = window.probability_view.intact_bars.opts["height"]
    np.testing.assert_allclose(outline[1:], intact.target_prob[:-1], atol=1e-6)  # token i's own bar
    assert view.knock_button.text() == "Restore 2 heads (K)"


def test_the_mode_box_switches_to_mean_ablation_and_k_restores(qtbot, window):
    got = _inspect(qtbot, window)
    view = window.attention_view
    _click_tile(qtbot, view, 1, 0)
    qtbot.keyClick(view.overview_widget, Qt.Key.Key_L)  # the whole layer 1
    assert view.chosen == {(1, 0), (1, 1)}
    qtbot.mouseClick(view.knock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.knocked == ((1, 0), (1, 1)), timeout=10_000)
    got.clear()
    view.mode_box.setFocus()
    qtbot.keyClick(view.mode_box, Qt.Key.Key_Down)  # "mean over positions"
    qtbot.waitUntil(lambda: bool(got) and got[-1].knock_mode == "mean", timeout=10_000)
    mean = _engine(window, [(1, 0), (1, 1)], "mean")
    np.testing.assert_allclose(got[-1].target_prob, mean.target_prob, atol=1e-6)
    assert "mean over positions" in view.knocked_label.text()
    got.clear()
    qtbot.keyClick(view.overview_widget, Qt.Key.Key_K)  # all chosen are out: K puts them back
    qtbot.waitUntil(lambda: view.knocked == () and bool(got) and got[-1].intact_prob is None, timeout=10_000)
    assert got[-1].intact_prob is None and "knocked out" not in window.probability_view.summary.text()
    assert not view.restore_button.isEnabled() and view.knock_button.text() == "Knock out 2 heads (K)"
