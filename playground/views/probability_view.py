"""Probability view: for any text, p(actual next token) and entropy per position, perplexity."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from playground import theme
from playground.views.attention_view import PROBE_TAG
from playground.views.heatmap import TokenAxis
from playground.views.tokens import TokenText, tint, visible
from playground.views.topk_chart import TopKChart
from playground.worker import WorkerClient


class ProbabilityView(QWidget):
    def __init__(self, client: WorkerClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.probe = None
        self.text = QLineEdit(placeholderText="Text to score (Enter) — a run's text lands here")
        self.text.returnPressed.connect(self._on_text_return_pressed)
        inspect = QPushButton("Score")
        inspect.clicked.connect(self._on_text_return_pressed)
        top = QHBoxLayout()
        top.addWidget(self.text, 1)
        top.addWidget(inspect)
        self.summary = QLabel("Score a text to see how surprised the model is by each token.")
        self.summary.setWordWrap(True)

        self.tokens = TokenText()
        self.tokens.tooltip_for = self._tooltip
        self.tokens.token_clicked.connect(self._on_tokens_token_clicked)
        self.chart = TopKChart("what the model expected here")

        self.plots = pg.GraphicsLayoutWidget()
        self.axis = TokenAxis("bottom")
        self.prob_plot = self.plots.addPlot(row=0, col=0, title="probability of the actual token")
        self.entropy_plot = self.plots.addPlot(
            row=1, col=0, title="entropy (nats)", axisItems={"bottom": self.axis}
        )
        self.prob_plot.setXLink(self.entropy_plot)
        self.prob_plot.hideAxis("bottom")
        self.prob_plot.setYRange(0, 1, padding=0.02)
        for plot in (self.prob_plot, self.entropy_plot):
            plot.setMouseEnabled(y=False)
            plot.hideButtons()
            plot.getAxis("left").setWidth(40)
        self.prob_bars = pg.BarGraphItem(x0=[], width=[], height=[], y0=0, brushes=[])
        self.prob_plot.addItem(self.prob_bars)
        self.entropy_curve = self.entropy_plot.plot(pen=pg.mkPen(theme.accent(), width=2), stepMode="center")
        theme.apply_plot_palette(self.plots)

        split = QSplitter()
        split.addWidget(self.tokens)
        split.addWidget(self.chart)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        vertical = QSplitter()
        vertical.setOrientation(pg.QtCore.Qt.Orientation.Vertical)
        vertical.addWidget(split)
        vertical.addWidget(self.plots)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(vertical, 1)
        client.probed.connect(self._on_probed)

    def set_text(self, text: str) -> None:
        """Put a run's text in the box (its probe arrives with the attention view's)."""
        self.text.setText(text)

    def _on_text_return_pressed(self) -> None:
        if self.text.text().strip():
            self.client.probe(PROBE_TAG, self.text.text())

    def _on_probed(self, tag: str, probe) -> None:
        if tag == PROBE_TAG:
            self.set_probe(probe)

    def set_probe(self, probe) -> None:
        self.probe = probe
        texts, p, h = probe.tokens.texts, probe.target_prob, probe.entropy
        self.tokens.set_tokens(
            texts, [tint(x) if np.isfinite(x) else None for x in p], offsets=probe.tokens.offsets
        )
        n = len(texts)
        finite = np.nan_to_num(p, nan=0.0)
        self.prob_bars.setOpts(
            x0=np.arange(n) + 0.1,
            width=np.full(n, 0.8),
            height=finite,
            brushes=[pg.mkBrush(tint(x)) for x in finite],
        )
        h = np.nan_to_num(h, nan=0.0)
        self.entropy_curve.setData(np.arange(n + 1), h)
        self.entropy_plot.setYRange(0, max(float(h.max()) if n else 1.0, 0.1) * 1.08, padding=0)
        self.axis.set_labels(texts)
        self.entropy_plot.setXRange(0, max(n, 1), padding=0)
        what = "next token" if probe.arch == "gpt" else "token itself (unmasked)"
        scored = int(np.isfinite(p).sum())
        self.summary.setText(
            f"perplexity {probe.perplexity:.2f} over {scored} scored tokens · mean entropy "
            f"{float(np.nanmean(h)) if n else float('nan'):.2f} nats · tint = probability of the "
            f"{what} (green likely, red surprising)"
            + "".join(f"\nNote: {note}" for note in probe.tokens.notes)
        )
        if n:  # start on the last position: what the model expects after the text
            self.tokens.select(n - 1)
            self._on_tokens_token_clicked(n - 1)

    def _tooltip(self, i: int) -> str:
        pr = self.probe
        if pr is None or not 0 <= i < len(pr.tokens):
            return ""
        lines = [f"“{visible(pr.tokens.texts[i])}”  entropy {pr.entropy[i]:.2f} nats"]
        if np.isfinite(pr.target_prob[i]):
            target = pr.tokens.texts[i + 1] if pr.arch == "gpt" else pr.tokens.texts[i]
            lines.append(f"p(“{visible(target)}”) = {pr.target_prob[i]:.3f}")
        if len(pr.top_texts[i]):
            lines.append(f"expected “{visible(pr.top_texts[i][0])}” ({pr.top_probs[i][0]:.2f})")
        return "\n".join(lines)

    def _on_tokens_token_clicked(self, i: int) -> None:
        pr = self.probe
        if pr is None or not 0 <= i < len(pr.tokens):
            return
        chosen = None
        if pr.arch == "gpt" and i + 1 < len(pr.tokens):
            chosen = pr.tokens.texts[i + 1]
        title = "after" if pr.arch == "gpt" else "at"
        self.chart.set_alternatives(
            pr.top_texts[i], pr.top_probs[i], chosen=chosen, title=f"{title} “{visible(pr.tokens.texts[i])}”"
        )
