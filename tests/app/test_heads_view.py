"""The head effects tab: sweeps from the real controls, drawn as they fill, stoppable, exportable."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

import models
from models.inspect import sweeps


def _type(qtbot, field, text: str) -> None:
    field.clear()
    qtbot.keyClicks(field, text)


def _choose_kind(qtbot, view, kind: str) -> None:
    """Walk the combo box with the keyboard to the sweep kind."""
    view.kind.setFocus()
    while view.kind.currentData() != kind:
        qtbot.keyClick(view.kind, Qt.Key.Key_Down)


def _sweep(qtbot, window, kind: str = "ablation", **fields):
    view = window.heads_view
    window.show_view("heads")
    _choose_kind(qtbot, view, kind)
    for name, text in fields.items():
        _type(qtbot, getattr(view, name), text)
    before = view.sweep
    qtbot.keyClick(view.text, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: view.sweep is not before and view.sweep.complete, timeout=20_000)
    qtbot.waitUntil(lambda: view.run_button.isEnabled(), timeout=5_000)
    return view.sweep


def test_an_ablation_sweep_draws_every_head_and_a_click_selects_it_in_the_attention_view(qtbot, window):
    sweep = _sweep(qtbot, window, text="the cat sat on the mat")
    view, worker = window.heads_view, window.client.worker
    expected = list(models.ablation_sweep(worker.model, worker.tokenizer, "the cat sat on the mat"))[-1]
    np.testing.assert_allclose(view.heatmap.data, expected.values, atol=1e-6)
    assert sweep.kind == "ablation" and view.heatmap.data.shape == (2, 2)
    assert view.progress.value() == view.progress.maximum() == 4
    assert sum(bool(t) for row in view.labels.texts for t in row) == 4 and "hurts most" in view.summary.text()
    lo, hi = view.heatmap.levels
    assert lo == -hi and hi == pytest.approx(np.abs(expected.values).max())  # white is no change
    vb = view.heatmap.getViewBox()
    at = view.plots.mapFromScene(vb.mapViewToScene(QPointF(0.5, 1.5)))  # head 0 of layer 1
    qtbot.mouseClick(view.plots.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert (window.attention_view.layer, window.attention_view.head) == (1, 0)


def test_patching_refuses_texts_of_different_lengths_then_runs_and_names_its_tokens(qtbot, window):
    view = window.heads_view
    window.show_view("heads")
    _choose_kind(qtbot, view, "patching")
    assert view.corrupted.isVisible() and not view.mode.isVisible()
    _type(qtbot, view.text, "the cat sat")
    _type(qtbot, view.corrupted, "the dog sat on")
    qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.errors.last is not None, timeout=10_000)
    assert "same number of tokens" in window.errors.last.message
    qtbot.waitUntil(lambda: view.run_button.isEnabled(), timeout=5_000)
    sweep = _sweep(qtbot, window, "patching", text="the cat sat", corrupted="the dog sat")
    worker = window.client.worker
    expected = list(models.patching_sweep(worker.model, worker.tokenizer, "the cat sat", "the dog sat"))[-1]
    np.testing.assert_allclose(sweep.values, expected.values, atol=1e-6)
    assert sweep.target == expected.target and f"“{expected.target}”" in view.heatmap.titleLabel.text


def test_stop_keeps_the_heads_done_and_every_control_works_after(qtbot, window, monkeypatch):
    losses = sweeps._losses

    def slow(*args):  # a big model's pace: a fraction of a second per batch of heads
        time.sleep(0.3)
        return losses(*args)

    monkeypatch.setattr(sweeps, "_losses", slow)
    monkeypatch.setattr(sweeps, "BATCH_TOKENS", 8)  # one head per batch on a 10-token text
    view = window.heads_view
    window.show_view("heads")
    _type(qtbot, view.text, "the cat sa")
    qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.sweep is not None and view.sweep.done >= 1, timeout=10_000)
    assert view.stop_button.isEnabled() and not view.run_button.isEnabled()
    qtbot.keyClick(view.text, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: view.run_button.isEnabled(), timeout=10_000)
    assert not view.stop_button.isEnabled() and window.client.state.activity == "idle"
    assert not view.sweep.complete and np.isnan(view.heatmap.data).any()  # what was done stays
    monkeypatch.setattr(sweeps, "_losses", losses)
    assert _sweep(qtbot, window, text="the cat sat").complete  # and it runs again


def test_a_new_model_clears_the_map_and_knocking_heads_out_marks_it_stale(
    qtbot, window, tiny_bert_dir, wait_signal
):
    view = window.heads_view
    _sweep(qtbot, window, text="the cat sat")
    window.show_view("attention")
    window.attention_view.select(0, 1)
    wait_signal(
        window.client.ablation_changed,
        lambda: qtbot.keyClick(window.attention_view.overview_widget, Qt.Key.Key_K),
    )
    assert "run the sweep again" in view.summary.text()
    wait_signal(window.client.worker.model_loaded, lambda: window.open_model(str(tiny_bert_dir)))
    assert view.sweep is None and view.heatmap.data.size == 0


def test_the_sweep_exports_as_svg_and_pdf_with_its_labels_as_text_and_as_csv(qtbot, window, tmp_path):
    from pypdf import PdfReader

    from playground.views.widgets.figure_export import export_figure

    view = window.heads_view
    _sweep(qtbot, window, text="the cat sat")
    assert export_figure(view.plots, tmp_path / "sweep.svg")
    svg = ET.parse(tmp_path / "sweep.svg").getroot()  # well-formed XML
    texts = {"".join(t.itertext()).strip() for t in svg.iter("{http://www.w3.org/2000/svg}text")}
    assert {"L0", "L1", "H0", "H1"} <= texts and any("knocked out" in t for t in texts)
    assert export_figure(view.plots, tmp_path / "sweep.pdf")
    page = PdfReader(tmp_path / "sweep.pdf").pages[0].extract_text()
    assert "L1" in page and "H1" in page and "knocked" in page
    assert export_figure(view.plots, tmp_path / "sweep.png")
    view.export_csv(tmp_path / "sweep.csv")
    rows = (tmp_path / "sweep.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "layer \\ head,H0,H1" and rows[2].startswith("L1,")
    assert float(rows[2].split(",")[1]) == pytest.approx(view.sweep.values[1, 0], abs=1e-6)
