"""Positional encoding: the article's sinusoidal table (positions × dimensions); how alike positions are."""

from __future__ import annotations

import csv

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from models.inspect.positions import similarity, sinusoidal
from playground import theme
from playground.views.widgets.figure_export import ExportButton
from playground.views.widgets.heatmap import HeatmapPlot, colorbar

LAYOUTS = {
    "article": "as the article writes it: sin and cos interleaved",
    "marian": "as Marian (transformers) stores it: all sines, then all cosines",
}
EXPLAIN = (
    "PE(pos, 2i) = sin(pos / 10000<sup>2i/d</sup>), PE(pos, 2i+1) = cos(pos / 10000<sup>2i/d</sup>): each "
    "pair of dimensions turns at its own rate, from once every 2π positions to once every 10000·2π. "
    "Marian orders the same numbers differently (every sine first, then every cosine): its table is "
    "the article's with the columns permuted, so the dot products on the right are the same either way. "
    "They depend only on the distance between two positions: every row of the right map is the same "
    "curve, shifted. Click a position there to plot its row."
)


class PositionsView(QWidget):
    """Draws the table for a width and a number of positions; numpy only, milliseconds."""

    failed = Signal(str, str)
    saved = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.width_box = QSpinBox(minimum=2, maximum=2048, singleStep=2, value=128)
        self.width_box.setToolTip("d_model: the width of the embeddings the table is added to")
        self.positions_box = QSpinBox(minimum=2, maximum=2048, value=64)
        self.positions_box.setToolTip("How many positions (rows) to draw")
        self.layout_box = QComboBox()
        for key, title in LAYOUTS.items():
            self.layout_box.addItem(title, key)
        for box in (self.width_box, self.positions_box):
            box.valueChanged.connect(self.redraw)
        self.layout_box.currentIndexChanged.connect(self.redraw)
        self.table = np.zeros((0, 0))
        self.similar = np.zeros((0, 0))
        self.chosen = 0  # the position whose similarity row is plotted

        self.plots = pg.GraphicsLayoutWidget()
        self.table_plot = HeatmapPlot(diverging=True)
        self.table_plot.setLabel("left", "position")
        self.table_plot.setLabel("bottom", "dimension")
        self.plots.addItem(self.table_plot, row=0, col=0)
        colorbar(self.table_plot, "PE")
        self.similarity_plot = HeatmapPlot(diverging=True)
        self.similarity_plot.setLabel("left", "position")
        self.similarity_plot.setLabel("bottom", "position")
        self.similarity_plot.setTitle("PE(p) · PE(q), divided by PE(p) · PE(p)")
        self.similarity_plot.clicked.connect(self._on_similarity_clicked)
        self.plots.addItem(self.similarity_plot, row=0, col=2)
        colorbar(self.similarity_plot, "similarity")
        self.row_plot = self.plots.addPlot(row=1, col=0, colspan=4)
        self.row_plot.setLabel("bottom", "position")
        self.row_plot.showGrid(x=True, y=True, alpha=0.2)
        self.row_curve = self.row_plot.plot(pen=pg.mkPen(theme.accent(), width=2))
        self.plots.ci.layout.setRowStretchFactor(0, 3)
        self.plots.ci.layout.setRowStretchFactor(1, 1)
        theme.apply_plot_palette(self.plots)
        self.export_button = ExportButton(
            "positional encoding", lambda: self.plots, lambda _figure: None,
            {".csv": ("CSV of the table", self.export_csv)},
        )  # fmt: skip
        self.export_button.failed.connect(self.failed)
        self.export_button.saved.connect(self.saved)

        top = QHBoxLayout()
        controls = (
            ("d_model", self.width_box),
            ("positions", self.positions_box),
            ("layout", self.layout_box),
        )
        for label, widget in controls:
            top.addWidget(QLabel(label))
            top.addWidget(widget)
        top.addStretch(1)
        top.addWidget(self.export_button)
        explain = QLabel(EXPLAIN, wordWrap=True)
        explain.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(explain)
        layout.addWidget(self.plots, 1)
        self.redraw()

    @property
    def layout_key(self) -> str:
        return str(self.layout_box.currentData())

    def redraw(self, *_args) -> None:
        d, n = self.width_box.value(), self.positions_box.value()
        self.table = sinusoidal(n, d, self.layout_key)
        self.similar = similarity(self.table)
        labels = [str(p) for p in range(n)]
        self.table_plot.set_matrix(self.table, [str(i) for i in range(d)], labels, (-1.0, 1.0))
        self.table_plot.setTitle(f"PE: {n} positions × {d} dimensions ({self.layout_key}'s order)")
        self.similarity_plot.set_matrix(self.similar, labels, labels, (-1.0, 1.0))
        self.chosen = min(self.chosen, n - 1)
        self._plot_row()

    def _on_similarity_clicked(self, row: int, _column: int) -> None:
        self.chosen = row
        self._plot_row()

    def _plot_row(self) -> None:
        self.row_curve.setData(np.arange(len(self.similar)), self.similar[self.chosen])
        self.row_plot.setTitle(f"similarity of position {self.chosen} to every position")

    def export_csv(self, path) -> None:
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["position", *[f"dim {i}" for i in range(self.table.shape[1])]])
            for p, row in enumerate(self.table):
                out.writerow([p, *[f"{v:.6f}" for v in row]])
