"""Attention colours on a sink-dominated pattern (as real models attend): automatic leaves the first
token out and says so; each scale maps into 0–1 and the hover still reads the attention itself."""

from __future__ import annotations

import numpy as np
import pytest

from playground.views.widgets.attention_scale import SINK, rescaled, resolve, sink_share


def _causal(T: int, sink: float, rng) -> np.ndarray:
    """[2, 3, T, T] causal rows: `sink` of each row's attention on the first token, the rest spread."""
    att = np.tril(rng.random((2, 3, T, T)).astype(np.float32) + 0.05)
    att[..., 0] = 0
    att /= np.maximum(att.sum(-1, keepdims=True), 1e-9)
    att *= 1 - sink
    att[..., 0] += sink
    att[..., 0, :] = 0
    att[..., 0, 0] = 1  # the first query sees only itself
    return att


def test_the_scales_map_into_zero_to_one_and_automatic_finds_the_sink():
    rng = np.random.default_rng(0)
    sunk, plain = _causal(8, 0.9, rng), _causal(8, 0.0, rng)
    assert sink_share(sunk) == pytest.approx(0.9, abs=1e-5) and sink_share(plain) < SINK
    assert resolve("auto", sink_share(sunk)) == "no-first" and resolve("auto", sink_share(plain)) == "linear"
    left_out = rescaled(sunk, "no-first")
    assert np.isnan(left_out[..., 0]).all()
    np.testing.assert_allclose(np.nansum(left_out[..., 1:, :], -1), 1.0, rtol=1e-5)  # rows shared anew
    for scale in ("linear", "sqrt", "log", "row"):
        shown = rescaled(sunk, scale)
        assert np.nanmin(shown) >= 0 and np.nanmax(shown) <= 1 + 1e-6, scale
    np.testing.assert_allclose(np.nanmax(rescaled(sunk, "row")[..., 1:, :], -1), 1.0)
    assert rescaled(np.full((2, 2), 1e-3, np.float32), "log").max() == 0  # the floor is 0


def test_the_view_leaves_a_sink_out_says_so_and_the_box_chooses_another_scale(qtbot, window):
    view = window.attention_view
    window.show_view("attention")
    att = _causal(12, 0.9, np.random.default_rng(1))
    view.set_attentions([f"t{i}" for i in range(12)], att)
    assert view.scale == "no-first"
    assert "first token left out (it holds 90%" in view.head_plot.titleLabel.text
    assert np.isnan(view.head_plot.data[:, 0]).all()
    assert view.bar.getAxis("left").labelText.startswith("attention among")
    view._on_head_plot_hovered(5, 0, float("nan"))
    assert view.readout.text().endswith(f"{att[view.layer, view.head, 5, 0]:.2f}")  # the attention itself
    view.scale_box.setCurrentIndex(view.scale_box.findData("linear"))  # what a choice in the box does
    assert view.scale == "linear" and "left out" not in view.head_plot.titleLabel.text
    np.testing.assert_allclose(view.head_plot.data, att[view.layer, view.head])
    assert view.recipe_settings()["scale"] == "linear"
    view.scale_box.setCurrentIndex(view.scale_box.findData("auto"))
    view.set_attentions([f"t{i}" for i in range(12)], _causal(12, 0.1, np.random.default_rng(2)))
    assert view.scale == "linear"  # no sink: nothing is left out
