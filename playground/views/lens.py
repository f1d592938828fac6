"""Logit lens view: layers × positions, how sure each layer already is of the final prediction."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QSplitter, QVBoxLayout, QWidget

from playground import theme
from playground.recipe import recipe_for
from playground.views.resets import MODEL
from playground.views.widgets.elided_label import ElidedLabel
from playground.views.widgets.example_text import fill, offer_example, watch_typing
from playground.views.widgets.figure_export import ExportButton
from playground.views.widgets.heatmap import CellLabels, HeatmapPlot, colorbar
from playground.views.widgets.tokens import visible
from playground.views.widgets.topk_chart import TopKChart
from playground.worker import WorkerClient
from playground.worker.requests import ReadLayers, Train

MAX_LABELLED_CELLS = 400  # beyond this the cell labels would be unreadable: hover and click instead


class LensView(QWidget):
    """Asks the worker for a text's logit lens and draws it; click a cell for its top-k."""

    failed = Signal(str, str)  # message, details
    saved = Signal(str)
    noted = Signal(str)  # a word in the status bar (nothing to do: no dialog)

    def __init__(self, client: WorkerClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.lens = None
        self.request = 0
        self.asked = ("", "")  # the text and token of the newest read
        self.text = QLineEdit(placeholderText="Text to read layer by layer (Enter)")
        watch_typing(self.text)  # a new model's example does not replace what the user typed
        self.text.returnPressed.connect(self.read)
        self.token = QLineEdit(placeholderText="follow a token (optional)")
        self.token.setToolTip(
            "Empty: each position follows the model's own final prediction there.\n"
            "One token: every cell shows the probability of that token."
        )
        self.token.setMaximumWidth(200)
        self.token.returnPressed.connect(self.read)
        self.read_button = QPushButton("Read layers")
        self.read_button.clicked.connect(self.read)
        top = QHBoxLayout()
        top.addWidget(self.text, 1)
        top.addWidget(self.token)
        top.addWidget(self.read_button)
        self.summary = QLabel(
            "Each row is a layer, each column a position: the colour is how likely that layer already "
            "finds the token the model finally predicts there (read through the model's own final "
            f"norm and output head). Cells carry each layer's own top guess (up to {MAX_LABELLED_CELLS} "
            "cells; hover or click otherwise)."
        )
        self.summary.setWordWrap(True)

        self.plots = pg.GraphicsLayoutWidget()
        self.heatmap = HeatmapPlot()
        self.heatmap.setLabel("left", "layer")
        self.heatmap.getViewBox().invertY(False)  # the last layer on top, as the stream flows up
        self.heatmap.hovered.connect(self._on_heatmap_hovered)
        self.heatmap.clicked.connect(self._on_heatmap_clicked)
        self.plots.addItem(self.heatmap)
        colorbar(self.heatmap, "probability")
        theme.apply_plot_palette(self.plots)
        self.labels = CellLabels()  # each cell's top guess, written on it
        self.heatmap.addItem(self.labels)
        self.chart = TopKChart("click a cell")
        self.readout = ElidedLabel(" ")
        self.export_button = ExportButton(
            "logit lens",
            lambda: self.plots,
            lambda figure: recipe_for(self.client, "lens", self.recipe_settings(), figure),
            {".csv": ("CSV", self.export_csv), ".npy": ("NumPy array", self.export_npy)},
            lambda: "" if self.lens is not None else "There is no lens to export yet: read a text first.",
        )
        self.export_button.saved.connect(self.saved)
        self.export_button.failed.connect(self.failed)
        bottom = QHBoxLayout()
        bottom.addWidget(self.readout, 1)
        bottom.addWidget(self.export_button)
        split = QSplitter()
        split.addWidget(self.plots)
        split.addWidget(self.chart)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)
        client.lens_read.connect(self._on_lens_read)
        client.ablation_changed.connect(self._on_ablation_changed)
        client.steering_changed.connect(lambda _said: self._on_ablation_changed((), ""))
        client.request_finished.connect(self._on_request_finished)

    def read(self) -> None:
        text = self.text.text()
        if not text.strip():
            self.noted.emit("Type a text to read layer by layer.")
            return
        self.read_button.setEnabled(False)
        self.asked = (text, self.token.text().strip())
        self.request = self.client.send(ReadLayers(*self.asked))
        if not self.request:  # the app is closing
            self.read_button.setEnabled(True)

    def set_text(self, text: str) -> None:
        """Another view's text (a finished run's): the app's, not typed here, so a new model's
        example may replace it (an old model's text was swept on an unrelated one)."""
        fill(self.text, text)

    def shown(self) -> None:
        """The tab opened: its text is read at once if the map is not of it (no extra click; the
        rows stream in, the last position first). Not while training holds the model."""
        text = self.text.text()
        fresh = self.lens is not None and self.asked[0] == text
        busy = self.client.phase(self.request) or self.client.active(Train)
        if text.strip() and not fresh and not busy:
            self.read()

    def show_example(self, text: str) -> None:
        """A new model's first text, unless the user typed one of their own here."""
        offer_example(self.text, text)

    def reset(self, event: str) -> None:
        """MODEL: nothing of the last model's layers is shown."""
        if event == MODEL:
            self.clear()

    def clear(self) -> None:
        """Nothing shown (a new model: the old one's layers say nothing about it)."""
        self.lens = None
        self.heatmap.clear_matrix()
        self.labels.set_cells([], [])
        self.heatmap.setTitle("")
        self.chart.clear_bars("click a cell")
        self.readout.setText(" ")

    def _on_ablation_changed(self, _heads, _mode: str) -> None:
        if self.lens is not None and self.text.text().strip():  # read again with the heads that are out
            self.read()

    def _on_request_finished(self, request: int, _status: str, _message: str) -> None:
        if request == self.request:  # done or refused (its message went to the error box)
            self.read_button.setEnabled(True)

    def _on_lens_read(self, lens) -> None:
        """A lens, whole or a block at a time (the last positions first; the rest wait in grey)."""
        first = self.lens is None or self.lens.tokens is not lens.tokens
        self.lens = lens
        L, T = lens.prob.shape
        rows = [f"L{i}" for i in range(L)]
        self.heatmap.set_matrix(lens.prob, lens.tokens.texts, rows)
        if L * T <= MAX_LABELLED_CELLS and lens.complete:
            guesses = [[visible(top[0])[:6] if len(top) else "" for top in row] for row in lens.top_texts]
            self.labels.set_cells(guesses, [[_label_color(p) for p in row] for row in lens.prob])
        else:
            self.labels.set_cells([], [])
        picked = self.asked[1] != ""
        follows = "a picked token" if picked else "the final prediction"
        reading = "" if lens.complete else f" — reading… {lens.done} of {T} positions (the last first)"
        self.heatmap.setTitle(f"probability of {follows}, layer by layer{reading}")
        if first:  # the last position is read first: its cell is shown at once
            self._show_cell(L - 1, T - 1)

    # ---- export and recipes -----------------------------------------------------------------------
    def export_csv(self, path) -> None:
        """Each layer's probability of the followed token at each position (tokens as columns)."""
        import csv

        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["layer \\ token", *self.lens.tokens.texts])
            for layer, row in enumerate(self.lens.prob):
                out.writerow([f"L{layer}", *(f"{p:.6f}" for p in row)])

    def export_npy(self, path) -> None:
        np.save(path, self.lens.prob)

    def recipe_settings(self) -> dict:
        return {"text": self.asked[0], "token": self.asked[1]}

    def apply_recipe(self, settings: dict) -> None:
        self.text.setText(str(settings.get("text", "")))
        self.token.setText(str(settings.get("token", "")))
        self.read()

    def _show_cell(self, layer: int, t: int) -> None:
        lens = self.lens
        target = lens.target_texts[t]
        self.chart.set_alternatives(
            lens.top_texts[layer][t],
            lens.top_probs[layer][t],
            chosen=target,
            title=f"layer {layer} after “{visible(lens.tokens.texts[t])}”",
        )

    def _on_heatmap_clicked(self, row: int, col: int) -> None:
        if self.lens is not None and self.lens.top_texts[row][col]:  # (not a cell still waiting)
            self._show_cell(row, col)

    def _on_heatmap_hovered(self, row: int, col: int, value: float) -> None:
        lens = self.lens
        if lens is None or row < 0:
            return
        guess = lens.top_texts[row][col][0] if len(lens.top_texts[row][col]) else "—"
        self.readout.setText(
            f"layer {row} at “{visible(lens.tokens.texts[col])}”: top guess “{visible(guess)}”, "
            f"p(“{visible(lens.target_texts[col])}”) = {value:.3f}"
        )


def _label_color(p: float):
    """Dark text on the bright end of the colour map, light text on the dark end."""
    return (20, 20, 20) if np.isfinite(p) and p > 0.55 else (235, 235, 235)
