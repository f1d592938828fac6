"""Neurons view: the MLP neurons behind a token (their direct effects on its logit), a neuron's
activations over the text, and its top-activating contexts over a corpus."""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from playground import theme
from playground.recipe import recipe_for
from playground.views.resets import MODEL
from playground.views.widgets.elided_label import ElidedLabel
from playground.views.widgets.example_text import fill, offer_example, watch_typing
from playground.views.widgets.figure_export import ExportButton, export_row
from playground.views.widgets.tokens import TokenText, visible
from playground.worker import WorkerClient
from playground.worker.requests import FindContexts, ReadNeurons, Train

EXPLAINED = (
    "Click a token: the neurons (MLP units, per layer) whose activation most pushes the model "
    "towards — or away from — the token that comes next there, each one's direct effect on that "
    "token's logit (its activation × its output read through the final norm and the output head). "
    "Pick a neuron: the text is tinted by its activation, and its strongest activations over the "
    "corpus are listed (read a layer at a time, then kept)."
)


class NeuronsView(QWidget):
    failed = Signal(str, str)
    saved = Signal(str)
    noted = Signal(str)

    def __init__(self, client: WorkerClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.effects = None
        self.contexts = None
        self.request = 0
        self.contexts_request = 0
        self.corpus = ""  # "" = the built-in Shakespeare
        self.neuron: tuple[int, int] | None = None
        self.text = QLineEdit(placeholderText="A text whose tokens' neurons to read (Enter)")
        watch_typing(self.text)
        self.text.returnPressed.connect(lambda: self.read())
        self.read_button = QPushButton("Read neurons")
        self.read_button.clicked.connect(lambda: self.read())
        self.corpus_button = QPushButton("Corpus: Shakespeare…")
        self.corpus_button.setToolTip("The text a neuron's top contexts are found in (a UTF-8 .txt file)")
        self.corpus_button.clicked.connect(self._on_corpus_clicked)
        top = QHBoxLayout()
        top.addWidget(self.text, 1)
        top.addWidget(self.read_button)
        top.addWidget(self.corpus_button)
        self.summary = QLabel(EXPLAINED)
        self.summary.setWordWrap(True)
        self.tokens = TokenText()
        self.tokens.token_clicked.connect(self._on_token_clicked)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["layer", "neuron", "effect on the logit", "activation here"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.itemSelectionChanged.connect(self._on_row_selected)
        self.plots = pg.GraphicsLayoutWidget()
        self.layers = self.plots.addPlot(title="every neuron's effect, summed per layer")
        self.layers.setLabel("bottom", "layer")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=theme.accent())
        self.layers.addItem(self.bars)
        theme.apply_plot_palette(self.plots)
        self.found = QTextBrowser()
        self.found.setPlaceholderText("Pick a neuron to see where in the corpus it fires most")
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.table)
        left.addWidget(self.plots)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.tokens)
        right.addWidget(self.found)
        body = QSplitter()
        body.addWidget(left)
        body.addWidget(right)
        body.setStretchFactor(0, 2)
        body.setStretchFactor(1, 3)
        self.readout = ElidedLabel(" ")
        self.export_button = ExportButton(
            "neurons",
            lambda: self.plots,
            lambda figure: recipe_for(self.client, "neurons", self.recipe_settings(), figure),
            {".csv": ("CSV", self.export_csv)},
            lambda: "" if self.effects is not None else "No neurons read yet: click a token of a text.",
        )
        bottom = export_row(self, self.readout, self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(body, 1)
        layout.addLayout(bottom)
        client.neurons_read.connect(self._on_neurons_read)
        client.contexts_found.connect(self._on_contexts_found)
        client.request_finished.connect(self._on_request_finished)

    # ---- asking ------------------------------------------------------------------------------
    def read(self, position: int = -1) -> None:
        text = self.text.text()
        if not text.strip():
            self.noted.emit("Type a text whose neurons to read.")
            return
        self.read_button.setEnabled(False)
        self.request = self.client.send(ReadNeurons(text, position))
        if not self.request:
            self.read_button.setEnabled(True)

    def set_text(self, text: str) -> None:
        fill(self.text, text)

    def show_example(self, text: str) -> None:
        offer_example(self.text, text)

    def shown(self) -> None:
        busy = self.client.phase(self.request) or self.client.active(Train)
        if self.effects is None and self.text.text().strip() and not busy:
            self.read()

    def reset(self, event: str) -> None:
        if event == MODEL:
            self.effects = self.contexts = self.neuron = None
            self.tokens.clear_tokens()
            self.table.setRowCount(0)
            self.bars.setOpts(x=[], height=[])
            self.found.clear()
            self.readout.setText(" ")

    def _on_request_finished(self, request: int, _status: str, _message: str) -> None:
        if request == self.request:
            self.read_button.setEnabled(True)

    def _on_corpus_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "A corpus for top contexts", str(Path.home()), "Text (*.txt)"
        )
        if path:
            self.set_corpus(path)

    def set_corpus(self, path: str) -> None:
        self.corpus = path
        self.corpus_button.setText(f"Corpus: {Path(path).name}…" if path else "Corpus: Shakespeare…")
        self.contexts = None
        if self.neuron is not None:
            self._ask_contexts(self.neuron[0])

    # ---- drawing -----------------------------------------------------------------------------
    def _on_neurons_read(self, effects) -> None:
        self.effects = effects
        t = effects.tokens
        self.tokens.set_tokens(t.texts, [None] * len(t), offsets=t.offsets)
        self.tokens.select(effects.position)
        self.tokens.scroll_to_token(effects.position)
        self.table.blockSignals(True)
        self.table.setRowCount(len(effects.layers))
        for r, (layer, neuron, effect) in enumerate(
            zip(effects.layers, effects.neurons, effects.effects, strict=True)
        ):
            here = float(effects.activations[r, effects.position])
            for c, value in enumerate((int(layer), int(neuron), round(float(effect), 4), round(here, 4))):
                item = QTableWidgetItem()
                item.setData(Qt.ItemDataRole.DisplayRole, value)
                if c == 2:
                    item.setForeground(QColor(214, 39, 40) if effect > 0 else QColor(31, 119, 180))
                self.table.setItem(r, c, item)
        self.table.blockSignals(False)
        self.table.resizeColumnsToContents()
        self.bars.setOpts(x=np.arange(len(effects.per_layer)), height=effects.per_layer, width=0.7)
        self.readout.setText(
            f"After “{visible(t.texts[effects.position])}” (position {effects.position}): the logit of "
            f"“{visible(effects.target_text)}” is {effects.logit:.3f}; the {len(effects.layers)} neurons "
            "with the largest direct effects on it"
        )
        self.table.selectRow(0)

    def _on_token_clicked(self, index: int) -> None:
        if self.effects is not None and index != self.effects.position:
            self.read(index)

    def _on_row_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if self.effects is None or not rows:
            return
        r = rows[0].row()
        layer, neuron = int(self.effects.layers[r]), int(self.effects.neurons[r])
        self.neuron = (layer, neuron)
        acts = self.effects.activations[r]
        peak = float(np.abs(acts).max()) or 1.0
        colors = []
        for a in acts:
            c = QColor(214, 39, 40) if a > 0 else QColor(31, 119, 180)
            c.setAlphaF(min(1.0, abs(float(a)) / peak) * 0.75)
            colors.append(c if abs(a) > 0.02 * peak else None)
        t = self.effects.tokens
        self.tokens.set_tokens(t.texts, colors, offsets=t.offsets)
        self.tokens.select(self.effects.position)
        self.tokens.scroll_to_token(self.effects.position)
        if (
            self.contexts is not None
            and self.contexts.layer == layer
            and self.contexts.done == self.contexts.total
        ):
            self._show_contexts()
        else:
            self._ask_contexts(layer)

    def _ask_contexts(self, layer: int) -> None:
        self.found.setHtml(f"<i>Reading layer {layer}'s neurons over the corpus…</i>")
        self.contexts_request = self.client.send(FindContexts(layer, self.corpus))

    def _on_contexts_found(self, contexts) -> None:
        self.contexts = contexts
        if self.neuron is not None and contexts.layer == self.neuron[0]:
            self._show_contexts()

    def _show_contexts(self) -> None:
        c, (layer, neuron) = self.contexts, self.neuron
        going = "" if c.done == c.total else f" (reading… {c.done} of {c.total} windows)"
        rows = [
            f"<tr><td align='right'>{value:.3f}</td><td>{escape(visible(before))}"
            f"<b style='background-color: rgba(214, 39, 40, 0.45)'>{escape(visible(token))}</b>"
            f"{escape(visible(after))}</td></tr>"
            for before, token, after, value in c.contexts(neuron)
        ]
        self.found.setHtml(
            f"<b>L{layer} neuron {neuron}</b>: its strongest activations over the corpus{going}"
            f"<table cellspacing='6'>{''.join(rows)}</table>"
        )

    # ---- export and recipes --------------------------------------------------------------------
    def export_csv(self, path) -> None:
        """The listed neurons: layer, index, direct effect, and their activation at every token."""
        import csv

        e = self.effects
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["layer", "neuron", "effect", *e.tokens.texts])
            for r, (layer, neuron, effect) in enumerate(zip(e.layers, e.neurons, e.effects, strict=True)):
                out.writerow(
                    [int(layer), int(neuron), f"{effect:.6f}", *(f"{a:.6f}" for a in e.activations[r])]
                )

    def recipe_settings(self) -> dict:
        e = self.effects
        return {
            "text": self.text.text(),
            "position": -1 if e is None else int(e.position),
            "corpus": self.corpus,
        }

    def apply_recipe(self, settings: dict) -> None:
        self.text.setText(str(settings.get("text", "")))
        self.set_corpus(str(settings.get("corpus", "")))
        self.read(int(settings.get("position", -1)))
