"""Attribution view: which earlier tokens made each token — a token's input tinted, and the whole
run as a targets × inputs matrix (input × gradient, integrated gradients or attention rollout)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from models.results import ATTRIBUTION_METHODS as METHODS
from playground import theme
from playground.recipe import recipe_for
from playground.views.resets import MODEL
from playground.views.widgets.elided_label import ElidedLabel
from playground.views.widgets.example_text import fill, offer_example, watch_typing
from playground.views.widgets.figure_export import ExportButton, export_row
from playground.views.widgets.heatmap import HeatmapPlot, colorbar
from playground.views.widgets.tokens import TokenText, visible
from playground.worker import WorkerClient
from playground.worker.requests import Attribute, Train

EXPLAINED = (
    "Each row is a token, each column an earlier token: how much that input made the model give "
    "this token its probability (red: towards it, blue: against it; each row scaled to its largest "
    "share). Input × gradient: one backward pass per token. Integrated gradients (captum's): the "
    "gradients averaged along the path from a neutral text to this one, steps × tokens passes; "
    "its delta says how far the shares are from adding up. Attention rollout: attention through "
    "the layers, the residual stream counted. Click a token or a row to tint its inputs."
)


class AttributionView(QWidget):
    """Asks the worker to explain a text's tokens and draws the answer as it arrives."""

    failed = Signal(str, str)  # message, details
    saved = Signal(str)
    noted = Signal(str)  # a word in the status bar

    def __init__(self, client: WorkerClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.result = None
        self.request = 0
        self.first = 1  # the first position explained (a run's first generated token)
        self.asked: tuple = ()
        self.row = -1  # the target shown in the token text
        self.text = QLineEdit(placeholderText="Text whose tokens to explain (Enter)")
        watch_typing(self.text)
        self.text.returnPressed.connect(self.explain)
        self.method = QComboBox()
        for key, title in METHODS.items():
            self.method.addItem(title, key)
        self.method.currentIndexChanged.connect(self._on_method_changed)
        self.steps = QSpinBox(minimum=4, maximum=512, value=32, singleStep=8, suffix=" steps")
        self.steps.setToolTip(
            "Integrated gradients' points along the path: more is slower and adds up better"
        )
        self.steps.setEnabled(False)
        self.contrast = QLineEdit(placeholderText="against (optional)")
        self.contrast.setToolTip(
            "Empty: explain each token's log-probability.\n"
            "One token: explain how much more the model preferred each token to this one."
        )
        self.contrast.setMaximumWidth(160)
        self.contrast.returnPressed.connect(self.explain)
        self.explain_button = QPushButton("Explain")
        self.explain_button.setToolTip("Explain every token from the first generated one on (Enter)")
        self.explain_button.clicked.connect(self.explain)
        top = QHBoxLayout()
        for w, stretch in (
            (self.text, 1),
            (self.method, 0),
            (self.steps, 0),
            (self.contrast, 0),
            (self.explain_button, 0),
        ):
            top.addWidget(w, stretch)
        self.summary = QLabel(EXPLAINED)
        self.summary.setWordWrap(True)
        self.tokens = TokenText()
        self.tokens.tooltip_for = self._tooltip
        self.tokens.token_clicked.connect(self._on_token_clicked)
        self.plots = pg.GraphicsLayoutWidget()
        self.heatmap = HeatmapPlot(diverging=True)
        self.heatmap.setLabel("left", "explained token")
        self.heatmap.setLabel("bottom", "input token")
        self.heatmap.clicked.connect(self._on_heatmap_clicked)
        self.source_end = pg.InfiniteLine(angle=90, pen=pg.mkPen("#bbbbbb", width=2))  # source | target
        self.source_end.setVisible(False)
        self.heatmap.addItem(self.source_end)
        self.heatmap.hovered.connect(self._on_heatmap_hovered)
        self.plots.addItem(self.heatmap)
        colorbar(self.heatmap, "share (row-scaled)")
        theme.apply_plot_palette(self.plots)
        self.readout = ElidedLabel(" ")
        self.export_button = ExportButton(
            "attribution",
            lambda: self.plots,
            lambda figure: recipe_for(self.client, "attribution", self.recipe_settings(), figure),
            {".csv": ("CSV", self.export_csv), ".npy": ("NumPy array", self.export_npy)},
            lambda: (
                "" if self.result is not None else "There is nothing explained yet: explain a text first."
            ),
        )
        bottom = export_row(self, self.readout, self.export_button)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tokens)
        split.addWidget(self.plots)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)
        for key, step in ((Qt.Key.Key_Up, -1), (Qt.Key.Key_Down, 1)):  # the previous / next token
            QShortcut(QKeySequence(key), self.plots, lambda step=step: self.show_row(self.row + step))
        client.attributed.connect(self._on_attributed)
        client.request_finished.connect(self._on_request_finished)
        client.ablation_changed.connect(lambda *_: self.result is not None and self.explain())
        client.steering_changed.connect(lambda *_: self.result is not None and self.explain())

    # ---- asking ------------------------------------------------------------------------------
    def explain(self) -> None:
        text = self.text.text()
        if not text.strip():
            self.noted.emit("Type a text whose tokens to explain, or run a prompt first.")
            return
        method = str(self.method.currentData())
        self.asked = (text, method, self.first, self.contrast.text().strip(), self.steps.value())
        self.explain_button.setEnabled(False)
        self.request = self.client.send(Attribute(*self.asked))
        if not self.request:
            self.explain_button.setEnabled(True)

    def set_text(self, text: str, first: int = 1) -> None:
        """A finished run's text, explained from its first generated token (`first`) on."""
        fill(self.text, text)
        self.first = max(1, first)

    def explain_token(self, text: str, first: int, position: int) -> None:
        """The Prompt tab's "Which input made it?": the run explained, this token's row shown."""
        self.set_text(text, first)
        self._pending_row = position - self.first  # (the targets run from `first` on)
        if self.result is not None and self.asked[:3] == (text, self.method.currentData(), self.first):
            self.show_row(self._pending_row)
            self._pending_row = None
        else:
            self.explain()

    def show_example(self, text: str) -> None:
        offer_example(self.text, text)
        self.first = 1

    def shown(self) -> None:
        """The tab opened: the text is explained at once if what is shown is not of it."""
        text = self.text.text()
        fresh = self.result is not None and self.asked and self.asked[0] == text
        busy = self.client.phase(self.request) or self.client.active(Train)
        if text.strip() and not fresh and not busy:
            self.explain()

    def reset(self, event: str) -> None:
        """MODEL: nothing of the last model's explanation is shown."""
        if event == MODEL:
            self.clear()

    def clear(self) -> None:
        self.result, self.row = None, -1
        self.heatmap.clear_matrix()
        self.heatmap.setTitle("")
        self.source_end.setVisible(False)
        self.tokens.clear_tokens()
        self.readout.setText(" ")

    def _on_method_changed(self) -> None:
        self.steps.setEnabled(self.method.currentData() == "integrated_gradients")
        self.contrast.setEnabled(self.method.currentData() != "rollout")

    def _on_request_finished(self, request: int, _status: str, _message: str) -> None:
        if request == self.request:
            self.explain_button.setEnabled(True)

    # ---- drawing -----------------------------------------------------------------------------
    _pending_row: int | None = None

    def _on_attributed(self, result) -> None:
        first = self.result is None or self.result.tokens is not result.tokens
        self.result = result
        scores = self.scaled()
        texts = [visible(t) for t in result.tokens.texts]
        rows = [f"{visible(result.tokens.texts[t])} @{t}" for t in result.targets]
        self.heatmap.set_diverging(result.method != "rollout")
        S = result.source_length  # an encoder–decoder's source comes first, then its target
        self.heatmap.setLabel("bottom", "input token: source | target" if S else "input token")
        self.source_end.setPos(S - 0.5)
        self.source_end.setVisible(S > 0)
        self.heatmap.set_matrix(
            scores, texts, rows, levels=(-1.0, 1.0) if result.method != "rollout" else (0.0, 1.0)
        )
        G = len(result.targets)
        going = "" if result.done == G else f" — {result.done} of {G} tokens…"
        cost = f", {result.steps} steps × {G} tokens" if result.method == "integrated_gradients" else ""
        self.heatmap.setTitle(f"{METHODS[result.method]}{cost}{going}")
        if first:
            self.tokens.set_tokens(
                result.tokens.texts, [None] * len(result.tokens), offsets=result.tokens.offsets
            )
        pending = self._pending_row
        if pending is not None and result.done == G:
            self._pending_row = None
            self.show_row(pending)
        elif first or self.row < 0:
            self.show_row(0)
        elif self.row < result.done:
            self.show_row(self.row)

    def scaled(self) -> np.ndarray:
        """Each row divided by its largest |share| (a row's colours compare its inputs)."""
        s = self.result.scores
        peak = np.abs(s).max(axis=1, keepdims=True)
        return np.divide(s, peak, out=np.zeros_like(s), where=peak > 0)

    def show_row(self, row: int) -> None:
        """Tint the inputs of target `row` and say what it explains."""
        r = self.result
        if r is None or not 0 <= row < len(r.targets):
            return
        self.row = row
        t = int(r.targets[row])
        shares = self.scaled()[row]
        colors: list[QColor | None] = [self._tint(v) if i < t else None for i, v in enumerate(shares)]
        self.tokens.set_tokens(r.tokens.texts, colors, offsets=r.tokens.offsets)
        self.tokens.select(t)
        self.tokens.scroll_to_token(t)
        token = visible(r.tokens.texts[t])
        what = "log p" if r.contrast is None else "log p − log p(alternative)"
        readout = f"“{token}” at position {t}: {what} = {r.values[row]:.3f}"
        if row >= r.done:
            readout += " (not explained yet)"
        elif r.delta is not None:
            gap = r.scores[row].sum()
            readout += f"; shares add up to {gap:.3f}, delta {r.delta[row]:+.4f}"
            if abs(r.delta[row]) > 0.1 * max(abs(gap), 0.1):
                readout += " (large: use more steps)"
        self.readout.setText(readout)

    def _show_position(self, position: int) -> None:
        r = self.result
        rows = np.flatnonzero(r.targets == position) if r is not None else []
        if len(rows):
            self.show_row(int(rows[0]))

    def _tint(self, share: float) -> QColor | None:
        if not np.isfinite(share) or abs(share) < 0.02:
            return None
        positive = self.result.method == "rollout" or share > 0
        color = QColor(214, 39, 40) if positive else QColor(31, 119, 180)
        color.setAlphaF(min(1.0, abs(float(share))) * 0.75)
        return color

    def _on_token_clicked(self, index: int) -> None:
        self._show_position(index)

    def _on_heatmap_clicked(self, row: int, _col: int) -> None:
        self.show_row(row)

    def _on_heatmap_hovered(self, row: int, col: int, _value: float) -> None:
        r = self.result
        if r is None or row < 0:
            return
        t = int(r.targets[row])
        self.readout.setText(
            f"“{visible(r.tokens.texts[col])}” in “{visible(r.tokens.texts[t])}” (position {t}): "
            f"{r.scores[row, col]:+.4f}"
        )

    def _tooltip(self, i: int) -> str:
        r = self.result
        if r is None or self.row < 0:
            return ""
        t = int(r.targets[self.row])
        if i >= t:
            return "explain this token: click it" if i in r.targets else ""
        return f"share in “{visible(r.tokens.texts[t])}”: {r.scores[self.row, i]:+.4f}"

    # ---- export and recipes --------------------------------------------------------------------
    def export_csv(self, path) -> None:
        """Each explained token's shares over the inputs (unscaled), its value and delta."""
        import csv

        r = self.result
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["position", "token", "value", "delta", *r.tokens.texts])
            for g, t in enumerate(r.targets):
                delta = "" if r.delta is None else f"{r.delta[g]:.6f}"
                out.writerow([int(t), r.tokens.texts[t], f"{r.values[g]:.6f}", delta,
                              *(f"{v:.6f}" for v in r.scores[g])])  # fmt: skip

    def export_npy(self, path) -> None:
        np.save(path, self.result.scores)

    def recipe_settings(self) -> dict:
        text, method, first, contrast, steps = self.asked or ("", "input_x_gradient", 1, "", 32)
        return {
            "text": text,
            "method": method,
            "first": first,
            "contrast": contrast,
            "steps": steps,
            "row": self.row,
        }

    def apply_recipe(self, settings: dict) -> None:
        self.text.setText(str(settings.get("text", "")))
        self.first = int(settings.get("first", 1))
        self.method.setCurrentIndex(max(0, self.method.findData(settings.get("method", "input_x_gradient"))))
        self.contrast.setText(str(settings.get("contrast", "")))
        self.steps.setValue(int(settings.get("steps", 32)))
        row = int(settings.get("row", -1))
        self.explain()
        if row >= 0:
            self._pending_row = row
