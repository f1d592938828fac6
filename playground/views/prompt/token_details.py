"""One token up close: its top-k alternatives as bars and its attention row (layers × keys)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from playground import theme
from playground.views.widgets.elided_label import ElidedLabel
from playground.views.widgets.heatmap import HeatmapPlot
from playground.views.widgets.tokens import visible
from playground.views.widgets.topk_chart import TopKChart

OWN_TITLE = "its attention (average of heads per layer)"
EMPTY_HEADER = "Click a generated token to see its alternatives and attention."


class TokenDetails(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = QLabel(EMPTY_HEADER)
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.chart = TopKChart()
        self.attention_widget = pg.GraphicsLayoutWidget()
        self.attention_widget.setMinimumHeight(140)
        self.attention = HeatmapPlot()
        self.attention.setTitle(OWN_TITLE)
        self.attention.y_axis.setWidth(36)
        self.attention_widget.addItem(self.attention)
        theme.apply_plot_palette(self.attention_widget)
        self.readout = ElidedLabel(" ")
        self.attention.hovered.connect(self._on_attention_hovered)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.chart, 3)
        layout.addWidget(self.attention_widget, 2)
        layout.addWidget(self.readout)
        self._keys: list[str] = []

    def show_token(
        self,
        token_text: str,
        prob: float,
        entropy: float,
        top_texts,
        top_probs,
        attention: np.ndarray | None = None,
        keys=(),
        title: str = OWN_TITLE,
    ) -> None:
        """attention: float32 [layers, heads, keys] for this token's query, or None."""
        self.attention.setTitle(title)
        self.header.setText(f"“{visible(token_text)}”   p = {prob:.3f}   entropy = {entropy:.2f} nats")
        self.chart.set_alternatives(top_texts, top_probs, chosen=token_text)
        if attention is not None and attention.size:
            rows = attention.mean(axis=1)  # [layers, keys]
            self._keys = list(keys)[-rows.shape[1] :]
            self.attention.set_matrix(rows, self._keys, [f"L{i}" for i in range(len(rows))])

    def clear(self) -> None:
        """Back to empty (a new model: the last one's tokens and layers mean nothing now)."""
        self.header.setText(EMPTY_HEADER)
        self.attention.setTitle(OWN_TITLE)  # not an encoder–decoder's "over the source" any more
        self.chart.clear_bars()
        self.attention.clear_matrix()
        self.readout.setText(" ")
        self._keys = []

    def _on_attention_hovered(self, row: int, col: int, value: float) -> None:
        if 0 <= row and 0 <= col < len(self._keys):
            self.readout.setText(f"layer {row} → key “{visible(self._keys[col])}”: {value:.2f}")
