"""Grokking, live: train and test accuracy on a log-step axis with the step test accuracy crosses 50%
marked, Nanda et al.'s progress measures and the weight norm, and the embedding's Fourier spectrum."""

from __future__ import annotations

import csv

import numpy as np
import pyqtgraph as pg

from playground import theme
from playground.views.widgets.log_ticks import decade_ticks
from playground.views.widgets.training_charts import VAL_COLOR, Series

TRAIN_COLOR, TEST_COLOR = "#4e9af1", VAL_COLOR
MEASURES = (  # GrokkingEval field, legend, colour
    ("train_loss", "train loss", TRAIN_COLOR),
    ("test_loss", "test loss", TEST_COLOR),
    ("restricted_loss", "restricted (key frequencies only)", "#2ca02c"),
    ("excluded_loss", "excluded (key frequencies out)", "#9467bd"),
)


class GrokkingCharts(pg.GraphicsLayoutWidget):
    """Three plots fed one GrokkingEval per validation step; drawn by the view's budgeted redraw."""

    def __init__(self) -> None:
        super().__init__()
        self.accuracy = self.addPlot(row=0, col=0, title="accuracy")
        self.measures = self.addPlot(row=1, col=0, title="losses and progress measures")
        self.spectrum = self.addPlot(row=2, col=0, title="embedding: power per frequency")
        for plot in (self.accuracy, self.measures):
            plot.setLogMode(x=True)  # the gap, then the jump: steps span three decades
            plot.setLabel("bottom", "step (log)")
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.addLegend(offset=(10, 10))
            plot.getAxis("bottom").setTicks(decade_ticks(0, 6))
        self.measures.setLogMode(x=True, y=True)
        self.accuracy.setYRange(0, 1.02, padding=0)
        self.spectrum.setLabel("bottom", "frequency k (cos, sin of 2πk·a/p)")
        self.spectrum.setLabel("left", "share of power")
        self.spectrum.getAxis("left").enableAutoSIPrefix(False)
        self.series = {
            name: Series() for name in ("train_accuracy", "test_accuracy", *(m[0] for m in MEASURES))
        }
        self.norms = Series()
        self.curves = {
            "train_accuracy": self.accuracy.plot(pen=pg.mkPen(TRAIN_COLOR, width=2), name="train"),
            "test_accuracy": self.accuracy.plot(pen=pg.mkPen(TEST_COLOR, width=2), name="test"),
        }
        for name, legend, color in MEASURES:
            self.curves[name] = self.measures.plot(pen=pg.mkPen(color, width=2), name=legend)
        self.crossing = pg.InfiniteLine(
            angle=90, pen=pg.mkPen("#d62728", width=1.5, style=pg.QtCore.Qt.DashLine)
        )
        self.crossing.setVisible(False)
        self.accuracy.addItem(self.crossing)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=theme.accent())
        self.spectrum.addItem(self.bars)
        theme.apply_plot_palette(self)
        self.latest = None  # the newest GrokkingEval
        self.crossed_at: int | None = None  # the step test accuracy first reached 50%
        self.dirty = False

    def reset(self) -> None:
        for series in (*self.series.values(), self.norms):
            series.clear()
        self.latest, self.crossed_at = None, None
        self.crossing.setVisible(False)
        self.dirty = True

    def add(self, step: int, scores) -> int | None:
        """One validation's scores; the step test accuracy crossed 50% if this is it."""
        for name, series in self.series.items():
            series.extend([step], [max(getattr(scores, name), 1e-6)])
        self.norms.extend([step], [scores.weight_norm])
        self.latest = scores
        self.dirty = True
        if self.crossed_at is None and scores.test_accuracy >= 0.5:
            self.crossed_at = step
            return step
        return None

    def redraw(self) -> None:
        for name, curve in self.curves.items():
            curve.setData(*self.series[name].data())
        if self.crossed_at is not None:
            self.crossing.setValue(np.log10(self.crossed_at))  # (the log axis's own coordinate)
            self.crossing.setVisible(True)
        s = self.latest
        if s is not None:
            crossed = f" · test ≥ 50% at {self.crossed_at:,}" if self.crossed_at is not None else ""
            self.accuracy.setTitle(f"accuracy{crossed}")  # (short: a title sets the plot's least width)
            self.measures.setTitle(f"losses · weight norm {s.weight_norm:.1f}")
            k = np.arange(1, len(s.spectrum) + 1)
            self.bars.setOpts(x=k, height=s.spectrum, width=0.8)
            keys = ", ".join(map(str, s.key_frequencies))
            self.spectrum.setTitle(f"embedding spectrum · key k = {keys}")
        self.dirty = False

    def export_csv(self, path) -> None:
        """step, the accuracies, the losses and progress measures, the weight norm."""
        names = list(self.series)
        steps = self.norms.data()[0]
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["step", *names, "weight_norm"])
            columns = [self.series[n].data()[1] for n in names] + [self.norms.data()[1]]
            for i, step in enumerate(steps):
                out.writerow([int(step), *(f"{c[i]:.6f}" for c in columns)])
