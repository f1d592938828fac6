"""A horizontal bar chart of the top-k alternatives at one position (pyqtgraph BarGraphItem)."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from playground import theme
from playground.views.widgets.tokens import visible


class TopKChart(pg.PlotWidget):
    """Bars created once and updated in place; the chosen token's bar is drawn in the accent."""

    def __init__(self, title: str = "top alternatives", parent=None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(160)
        self.plotItem.setTitle(title)
        self.plotItem.setMouseEnabled(x=False, y=False)
        self.plotItem.hideButtons()
        self.plotItem.setMenuEnabled(False)
        self.plotItem.getAxis("bottom").setLabel("probability")
        self.plotItem.getAxis("bottom").enableAutoSIPrefix(False)
        self.plotItem.getAxis("left").setWidth(90)
        self.getViewBox().invertY(True)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.75, width=[], brushes=[])
        self.addItem(self.bars)
        self.labels: list[str] = []
        self.probs = np.zeros(0, np.float32)
        theme.apply_plot_palette(self)
        self.clear_bars(title)  # empty: no numbers on the token axis (they read 1 to 0, upside down)

    def set_alternatives(self, texts, probs, chosen: str | None = None, title: str | None = None):
        probs = np.asarray(probs, dtype=np.float32)
        n = len(probs)
        accent, other = theme.accent(), QColor(theme.accent())
        other.setAlpha(110)
        brushes = [pg.mkBrush(accent if t == chosen else other) for t in texts]
        self.bars.setOpts(x0=np.zeros(n), y=np.arange(n), width=probs, brushes=brushes)
        self.labels = [f"{visible(t)[:14]}" for t in texts]
        self.probs = probs
        self.plotItem.getAxis("left").setTicks([list(enumerate(self.labels))])
        top = float(probs.max()) if n else 1.0
        self.setXRange(0, max(0.05, min(1.0, top * 1.1)), padding=0)
        self.setYRange(-0.6, max(n, 1) - 0.4, padding=0)
        if title is not None:  # plain text: a token such as "</s>" must not read as markup
            self.plotItem.setTitle(html.escape(title, quote=False))

    def clear_bars(self, title: str = "top alternatives") -> None:
        self.set_alternatives([], [], title=title)
