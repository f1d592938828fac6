"""Before and after: two models on one text; per-head attention and score changes, token probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from models.results import Comparison
from playground import theme
from playground.info import ModelInfo
from playground.views.widgets.elided_label import wrapping_label
from playground.views.widgets.figure_export import ExportButton
from playground.views.widgets.heatmap import CellLabels, HeatmapPlot, TokenAxis, colorbar, symmetric_levels
from playground.worker import WorkerClient
from playground.worker.requests import Compare, Train

FOLDER = "folder…"
MAPS = {  # what the layers × heads map shows: the attention's movement, or a head score's change
    "moved": "attention moved (mean |B − A| per query, 0 to 2)",
    "previous-token": "change of the previous-token score",
    "first-token": "change of the first-token score",
    "induction": "change of the induction score",
}
EXAMPLE = "the king is come to england, and the queen is dead."


class CompareView(QWidget):
    """Asks the worker for a Comparison and draws it; works on any two models of one shape."""

    failed = Signal(str, str)
    saved = Signal(str)
    noted = Signal(str)  # a word in the status bar (nothing to do: no dialog)

    def __init__(self, client: WorkerClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.request = 0
        self.result: Comparison | None = None
        self._undrawn = False  # a result came while the tab was hidden
        self.head = (0, 0)
        self.a, self.b = QComboBox(), QComboBox()
        for box, default in ((self.a, "base"), (self.b, "active")):
            box.addItem("Before the last fine-tune", "base")
            box.addItem("Active model", "active")
            box.addItem("Model folder…", FOLDER)
            box.setCurrentIndex(box.findData(default))
            box.activated.connect(lambda _i, b=box: self._on_source_activated(b))
            box.currentIndexChanged.connect(self._sync)
        self.text = QLineEdit(EXAMPLE)
        self.text.setPlaceholderText("A text both models read")
        self.text.returnPressed.connect(self.run)
        self.run_button = QPushButton("Compare")
        self.run_button.setToolTip("Run both models on the text (Enter or Ctrl+Enter)")
        self.run_button.clicked.connect(self.run)
        QShortcut(QKeySequence("Ctrl+Return"), self, self.run).setWhatsThis("Compare the two models")
        self.map_kind = QComboBox()
        for key, title in MAPS.items():
            self.map_kind.addItem(title, key)
        self.map_kind.currentIndexChanged.connect(self._draw_map)
        top = QHBoxLayout()
        for label, w in (("A", self.a), ("B", self.b)):
            top.addWidget(QLabel(label))
            top.addWidget(w)
        top.addWidget(self.text, 1)
        top.addWidget(self.run_button)
        self.summary = wrapping_label(  # a long summary wraps: it never widens the window
            "Choose two models of one architecture (e.g. before and after a fine-tune) and a text."
        )
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.maps = pg.GraphicsLayoutWidget()
        self.map = HeatmapPlot(diverging=True)
        self.map.setLabel("left", "layer")
        self.map.setLabel("bottom", "head")
        self.map.clicked.connect(self._on_map_clicked)
        self.maps.addItem(self.map)
        self.map_bar = colorbar(self.map, "")
        self.map_labels = CellLabels()
        self.map.addItem(self.map_labels)
        theme.apply_plot_palette(self.maps)
        self.heads = pg.GraphicsLayoutWidget()
        self.head_a, self.head_b = HeatmapPlot(square=True), HeatmapPlot(square=True)
        self.head_change = HeatmapPlot(diverging=True, square=True)
        for i, plot in enumerate((self.head_a, self.head_b, self.head_change)):
            self.heads.addItem(plot, row=0, col=i)
            self.heads.ci.layout.setColumnStretchFactor(i, 1)  # three equal panes, not strips
        for plot in (self.head_b, self.head_change):  # the rows are A's: named once, on the left
            plot.y_axis.setWidth(8)
            plot.y_axis.setStyle(showValues=False)
        colorbar(self.head_b)
        self.change_bar = colorbar(self.head_change, "B − A")
        theme.apply_plot_palette(self.heads)
        self.tokens = pg.PlotWidget(axisItems={"bottom": TokenAxis("bottom")})
        self.tokens.setTitle("probability of each token: B − A")
        self.tokens.showGrid(y=True, alpha=0.2)
        self.tokens.setMenuEnabled(False)
        theme.apply_plot_palette(self.tokens)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8)
        self.tokens.addItem(self.bars)
        self.export_button = ExportButton(
            "comparison", lambda: self.heads, lambda _figure: None,
            {".npy": ("NumPy array of the attention change", self.export_change_npy),
             ".csv": ("CSV of the token probabilities", self.export_tokens_csv)},
            lambda: "" if self.result is not None else "Nothing to export yet: compare two models first.",
        )  # fmt: skip
        self.export_button.failed.connect(self.failed)
        self.export_button.saved.connect(self.saved)

        upper = QSplitter()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.map_kind)
        left_layout.addWidget(self.maps, 1)
        upper.addWidget(left)
        upper.addWidget(self.heads)
        upper.setStretchFactor(0, 1)  # the heads' three square panes take the most width
        upper.setStretchFactor(1, 3)
        upper.setSizes([300, 900])
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(upper)
        body.addWidget(self.tokens)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        row.addWidget(self.export_button)
        layout.addLayout(row)
        layout.addWidget(body, 1)

        client.compared.connect(self._on_compared)
        client.request_finished.connect(self._on_request_finished)
        client.model_loaded.connect(self._on_model_loaded)
        client.changed.connect(self._sync)
        self._sync()

    # ---- commands -----------------------------------------------------------------------------
    def run(self, quiet: bool = False) -> None:
        """Compare the chosen models on the text (refused with a reason when it cannot run,
        silently when `quiet`)."""
        self._sync()
        if not self.run_button.isEnabled():
            if not quiet:
                self.failed.emit(self.run_button.toolTip(), "")
            return
        if not self.text.text().strip():
            self.noted.emit("Type a text for both models to read.")
            return
        self.summary.setText("comparing…")
        a, b = self.a.currentData(), self.b.currentData()
        self.request = self.client.send(Compare(a, b, self.text.text(), (self._name(a), self._name(b))))
        self._sync()

    def _name(self, source: str) -> str:
        """What a side is called in the result: the active model's name, its base's, a folder's."""
        info = self.client.info
        if source == "active":
            return info.name if info is not None else "active model"
        if source == "base":
            return info.base if info is not None and info.base else "base model"
        return Path(source).name

    def compare_before_after(self, quiet: bool = False) -> None:
        """The model before the last fine-tune (A) against the fine-tuned one (B)."""
        self.a.setCurrentIndex(self.a.findData("base"))
        self.b.setCurrentIndex(self.b.findData("active"))
        self.run(quiet)

    def compare_after_tuning(self) -> None:
        """A fine-tune just ended: its before/after comparison is made at once (two probes), so
        the tab shows it when opened; nothing is said if it cannot run."""
        self.compare_before_after(quiet=True)

    def choose_folder(self, box: QComboBox, folder: str) -> None:
        index = box.findData(folder)
        if index < 0:
            box.insertItem(box.count() - 1, Path(folder).name, folder)
            index = box.count() - 2
            box.setItemData(index, folder, Qt.ItemDataRole.ToolTipRole)
        box.setCurrentIndex(index)

    def _on_source_activated(self, box: QComboBox) -> None:
        if box.currentData() != FOLDER:
            return
        folder = QFileDialog.getExistingDirectory(self, "Compare with a model folder")
        if folder:
            self.choose_folder(box, folder)
        else:
            box.setCurrentIndex(box.findData("active"))

    # ---- answers ------------------------------------------------------------------------------
    def _on_compared(self, result: Comparison) -> None:
        self.result = result
        moved = result.head_change
        layer, head = (int(i) for i in np.unravel_index(int(np.argmax(moved)), moved.shape))
        self.head = (layer, head)  # the head that changed most is shown first
        self._undrawn = True
        if self.isVisible():  # hidden (a fine-tune's own comparison, as the run ends): drawn when
            self._draw_all()  # shown, so the end of a run does not paint three heatmaps unseen
        loss = (
            f" · loss on this text {result.a.loss:.3f} → {result.b.loss:.3f} nats per token"
            if np.isfinite(result.a.loss) and np.isfinite(result.b.loss)
            else ""
        )
        self.summary.setText(
            f"<b>A</b>: {result.names[0]} · <b>B</b>: {result.names[1]} · {len(result.a.tokens)} tokens{loss}"
            f" · the head that moved most: <b>L{layer}H{head}</b> ({moved[layer, head]:.2f})"
        )

    def _draw_all(self) -> None:
        self._undrawn = False
        self._draw_map()
        self._draw_head()
        self._draw_tokens()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._undrawn and self.result is not None:
            self._draw_all()

    def _on_request_finished(self, request: int, status: str, message: str) -> None:
        if request == self.request and status != "done":
            self.summary.setText(f"Not compared: {message or status}")
        self._sync()

    def _on_model_loaded(self, _info: ModelInfo) -> None:
        self._sync()

    def _on_map_clicked(self, layer: int, head: int) -> None:
        self.head = (layer, head)
        self._draw_head()

    # ---- drawing ------------------------------------------------------------------------------
    def _draw_map(self, *_args) -> None:
        r = self.result
        if r is None:
            return
        kind = self.map_kind.currentData()
        values = r.head_change if kind == "moved" else r.score_change[kind]
        moved = kind == "moved"  # never negative: one-sided, from 0 up; score changes are signed
        self.map.set_diverging(not moved)
        top = float(np.nanmax(values)) if moved and np.isfinite(values).any() else 0.0
        levels = (0.0, top if top > 0 else 1.0) if moved else symmetric_levels(values)
        self.map.set_matrix(
            values, [str(h) for h in range(values.shape[1])], [str(i) for i in range(values.shape[0])], levels
        )
        self.map.setToolTip(MAPS[kind])  # (named by the box above: a long title would crop the map)
        top = max(abs(v) for v in levels)
        bright = (lambda v: abs(v) < 0.6 * top) if moved else (lambda v: abs(v) > 0.6 * top)
        self.map_labels.set_cells(  # light text on dark cells: the high end of the diverging map,
            [[f"{v:.2f}" if np.isfinite(v) else "" for v in row] for row in values],  # the low of
            [["#ffffff" if np.isfinite(v) and bright(v) else "#202020" for v in row] for row in values],
        )  # the sequential one

    def _draw_head(self) -> None:
        r = self.result
        if r is None:
            return
        layer, head = self.head
        tokens = r.a.tokens.texts
        change = r.attention_change[layer, head]
        self.head_a.set_matrix(r.a.attentions[layer, head], tokens, tokens)
        self.head_b.set_matrix(r.b.attentions[layer, head], tokens, tokens)
        self.head_change.set_matrix(change, tokens, tokens, symmetric_levels(change))
        self.head_a.setTitle(f"A: L{layer}H{head}")
        self.head_b.setTitle(f"B: L{layer}H{head}")
        self.head_change.setTitle(f"B − A (largest {np.abs(change).max():.2f})")

    def _draw_tokens(self) -> None:
        r = self.result
        change = np.nan_to_num(r.prob_change)
        self.tokens.getPlotItem().getAxis("bottom").set_labels(r.a.tokens.texts)
        colors = [pg.mkBrush("#3c9a5f" if v >= 0 else "#d9534f") for v in change]
        self.bars.setOpts(x=np.arange(len(change)) + 0.5, height=change, width=0.8, brushes=colors)
        top = float(np.abs(change).max()) if change.size else 0.0
        self.tokens.setYRange(-max(top, 0.05), max(top, 0.05))
        self.tokens.setXRange(0, max(1, len(change)), padding=0)
        scored = np.isfinite(r.prob_change).any()
        self.tokens.setVisible(bool(scored))  # an empty chart would take a third of the tab
        self.tokens.setTitle(
            "probability of each token: B − A (green: B finds it likelier)"
            if scored
            else "no token probabilities: a model without a language-model head (e.g. a classifier)"
        )

    def _sync(self, *_args) -> None:
        info = self.client.info
        has_base = info is not None and bool(info.base)
        for box in (self.a, self.b):
            item = box.model().item(box.findData("base"))
            item.setEnabled(has_base)
            item.setToolTip("" if has_base else "Fine-tune a model first (Fine-tune tab)")
        busy = bool(self.client.phase(self.request)) or bool(self.client.active(Train))
        needs_base = "base" in (self.a.currentData(), self.b.currentData()) and not has_base
        self.run_button.setEnabled(info is not None and not busy and not needs_base)
        self.run_button.setToolTip(
            "No model is loaded yet." if info is None
            else "A run is going: compare when it ends." if busy
            else "There is no model from before a fine-tune: fine-tune one, or choose a folder." if needs_base
            else "Run both models on the text (Enter)"
        )  # fmt: skip

    def export_change_npy(self, path) -> None:
        np.save(path, self.result.attention_change)

    def export_tokens_csv(self, path) -> None:
        import csv

        r = self.result
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["position", "token", "probability A", "probability B", "change"])
            a, b = r.token_probs
            for i, token in enumerate(r.a.tokens.texts):
                out.writerow([i, token, a[i], b[i], b[i] - a[i]])
