"""A long text on a big model, read layer by layer: the attention view draws the overview the
worker pooled, asks for each layer it shows, writes every head through the worker, and keeps
working after a layer read is refused (the model changed)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

import models
from playground.overview import build_mosaic
from playground.views.widgets.attention_scale import rescaled
from playground.worker.requests import LayerAttention
from tests.app.test_knock_out import _click_tile
from tests.app.test_knock_out import _inspect as _typed_and_inspected

TEXT = "the cat sat on the mat and the dog sat on the log"


@pytest.fixture
def layered(monkeypatch):
    """Every probe with attentions is read layer by layer (as a long text on a real model is)."""
    from models.inspect import analysis

    monkeypatch.setattr(analysis, "FULL_BYTES", 1)


def _inspect(qtbot, window):
    got = _typed_and_inspected(qtbot, window, TEXT)
    qtbot.waitUntil(lambda: window.attention_view.pooled is not None, timeout=10_000)
    return got


def _whole(window) -> np.ndarray:
    worker = window.client.worker
    return models.probe(worker.model, worker.tokenizer, TEXT).attentions.astype(np.float32)


def test_the_view_draws_the_pooled_overview_and_reads_each_layer_it_shows(qtbot, window, layered, tmp_path):
    view = window.attention_view
    got = _inspect(qtbot, window)
    probe, whole = got[-1], _whole(window)
    assert probe.attentions.size == 0 and probe.pooled.layers == whole.shape[0] == 2
    assert view.heads_shape == whole.shape[:2] and view.scale in ("linear", "no-first")
    np.testing.assert_allclose(view.overview.data, build_mosaic(whole, scale=view.scale)[0], atol=2e-3)
    qtbot.waitUntil(lambda: view.shown_matrix() is not None, timeout=10_000)  # the layer it kept
    np.testing.assert_allclose(view.head_plot.data, rescaled(whole[0, 0], view.scale), atol=2e-3)

    _click_tile(qtbot, view, 1, 1)  # another layer: asked of the worker, drawn when it comes
    assert (view.layer, view.head) == (1, 1)
    assert "reading this layer" in view.head_plot.titleLabel.text
    qtbot.waitUntil(lambda: "reading" not in view.head_plot.titleLabel.text, timeout=10_000)
    np.testing.assert_allclose(view.head_plot.data, rescaled(whole[1, 1], view.scale), atol=2e-3)
    view._on_head_plot_hovered(4, 2, 0.0)
    assert view.readout.text().endswith(f"{whole[1, 1, 4, 2]:.2f}")
    qtbot.keyClick(view.overview_widget, Qt.Key.Key_A)  # the layer's average, from the layer read
    np.testing.assert_allclose(view.shown_matrix(), whole[1].mean(0), atol=2e-3)
    qtbot.keyClick(view.overview_widget, Qt.Key.Key_A)
    qtbot.keyClick(view.overview_widget, Qt.Key.Key_Up)  # back to layer 0: read again
    qtbot.waitUntil(lambda: view.shown_matrix() is not None and view.layer == 0, timeout=10_000)
    np.testing.assert_allclose(view.shown_matrix(), whole[0, 1], atol=2e-3)
    asked = []  # down and straight back up: the layer walked past does not replace the one shown
    window.client.layer_attention_read.connect(lambda _r, answer: asked.append(answer[0]))
    qtbot.keyClick(view.overview_widget, Qt.Key.Key_Down)
    qtbot.keyClick(view.overview_widget, Qt.Key.Key_Up)
    qtbot.waitUntil(lambda: 1 in asked and view.shown_matrix() is not None, timeout=10_000)
    qtbot.wait(50)
    assert view.layer == 0 and view.shown_matrix() is not None
    np.testing.assert_allclose(view.shown_matrix(), whole[0, 1], atol=2e-3)

    from playground.worker.requests import EXAMPLE, Inspect

    example = []  # another view's probe of another text keeps every head, and leaves these layers be
    window.client.probed.connect(
        lambda r, probe: example.append(probe) if r == window.client.newest_probe(EXAMPLE) else None
    )
    window.client.send(Inspect("a few words", EXAMPLE))
    qtbot.waitUntil(lambda: bool(example), timeout=10_000)
    assert example[0].pooled is None and example[0].attentions.shape[:2] == whole.shape[:2]
    _click_tile(qtbot, view, 1, 0)
    qtbot.waitUntil(lambda: view.shown_matrix() is not None and view.layer == 1, timeout=10_000)
    np.testing.assert_allclose(view.shown_matrix(), whole[1, 0], atol=2e-3)

    view.scale_box.setCurrentIndex(view.scale_box.findData("row"))  # not pooled so: read again
    repooled = lambda: any(p.pooled is not None and "row" in p.pooled.mosaics for p in got)  # noqa: E731
    qtbot.waitUntil(lambda: repooled() and view.scale == "row", timeout=10_000)
    qtbot.waitUntil(lambda: view.overview.data.shape == build_mosaic(whole)[0].shape, timeout=10_000)
    np.testing.assert_allclose(view.overview.data, build_mosaic(whole, scale="row")[0], atol=2e-3)
    view.scale_box.setCurrentIndex(view.scale_box.findData("sqrt"))  # from the linear pooling
    np.testing.assert_allclose(view.overview.data, build_mosaic(whole, scale="sqrt")[0], atol=2e-3)

    path = tmp_path / "every-head.npy"  # every head, written by the worker a layer at a time
    said = []
    view.saved.connect(said.append)
    view.export_head.export(path)
    qtbot.waitUntil(lambda: bool(said), timeout=10_000)
    assert str(path) in said[0]
    np.testing.assert_allclose(np.load(path).astype(np.float32), whole, atol=2e-3)


def test_a_layer_of_another_models_text_is_refused_and_the_worker_reads_again(
    finish, client, tiny_gpt_dir, layered
):
    """The streams belong to the model that read the text: after another opens, a layer is refused
    with what to do; the next long text is read layer by layer again."""
    from playground.worker.requests import Inspect, Load

    answers = []
    client.layer_attention_read.connect(lambda _r, answer: answers.append(answer))
    assert finish(lambda: client.send(Load(str(tiny_gpt_dir)))) == ("done", "")
    assert finish(lambda: client.send(Inspect(TEXT))) == ("done", "")
    assert finish(lambda: client.send(LayerAttention(1))) == ("done", "")
    T = answers[-1][1].shape[-1]
    assert answers[-1][0] == 1 and answers[-1][1].shape == (2, T, T) and T > 10
    assert finish(lambda: client.send(Load(str(tiny_gpt_dir)))) == ("done", "")
    status, message = finish(lambda: client.send(LayerAttention(1)))
    assert status == "failed" and "inspect it again" in message
    assert finish(lambda: client.send(LayerAttention(7)))[0] == "failed"
    assert finish(lambda: client.send(Inspect(TEXT))) == ("done", "")
    assert finish(lambda: client.send(LayerAttention(0))) == ("done", "")
    assert answers[-1][0] == 0


def test_a_refused_layer_read_is_said_and_every_control_still_works(qtbot, window, layered):
    view = window.attention_view
    _inspect(qtbot, window)
    window.client.worker._streams = None  # (as if the text's streams had been let go)
    _click_tile(qtbot, view, 1, 0)
    qtbot.waitUntil(lambda: "could not read" in view.head_plot.titleLabel.text, timeout=10_000)
    assert "inspect it again" in view.head_plot.titleLabel.text
    qtbot.keyClick(view.text, Qt.Key.Key_Return)  # inspected again: the same layer is kept whole
    qtbot.waitUntil(lambda: view.shown_matrix() is not None and view.layer == 1, timeout=10_000)
    np.testing.assert_allclose(view.shown_matrix(), _whole(window)[1, 0], atol=2e-3)
    qtbot.keyClick(view.overview_widget, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: view.head == 1 and view.shown_matrix() is not None, timeout=10_000)
    np.testing.assert_allclose(view.shown_matrix(), _whole(window)[1, 1], atol=2e-3)
