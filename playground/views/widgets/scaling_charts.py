"""A scaling-law sweep, live: each size's final held-out loss against its parameters with the fitted
L(N) = E + A·N^−α and its band, and every run's loss against compute with the compute-optimal frontier."""

from __future__ import annotations

import csv

import numpy as np
import pyqtgraph as pg

from models.training.scaling import PAPERS, fit_power_law, frontier
from playground import theme
from playground.views.widgets.log_ticks import decade_ticks, loss_ticks, si

FRONTIER_COLOR = "#d62728"


class ScalingCharts(pg.GraphicsLayoutWidget):
    """Fed the sweep's runs so far (the last one still training); drawn by the view's budgeted redraw."""

    def __init__(self) -> None:
        super().__init__()
        self.size_plot = self.addPlot(row=0, col=0, title="held-out loss against parameters")
        self.compute_plot = self.addPlot(row=1, col=0, title="held-out loss against compute")
        for plot, x in (
            (self.size_plot, "non-embedding parameters N"),
            (self.compute_plot, "compute 6·N·D (FLOP)"),
        ):
            plot.setLogMode(x=True, y=True)
            plot.setLabel("bottom", x)
            plot.setLabel("left", "held-out loss")
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.getAxis("left").setTicks(loss_ticks())
            plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.size_plot.getAxis("bottom").setTicks(decade_ticks(2, 10, si))
        self.compute_plot.getAxis("bottom").setTicks(decade_ticks(6, 20, lambda v: f"1e{np.log10(v):.0f}"))
        self.points = pg.ScatterPlotItem(size=9, brush=theme.accent())
        self.size_plot.addItem(self.points)
        self.fit_curve = self.size_plot.plot(pen=pg.mkPen(FRONTIER_COLOR, width=2))
        self.band_low = self.size_plot.plot(pen=pg.mkPen(None))  # (pen=None would draw no path to fill)
        self.band_high = self.size_plot.plot(pen=pg.mkPen(None))
        band = pg.mkColor(FRONTIER_COLOR)
        band.setAlpha(50)
        self.band = pg.FillBetweenItem(self.band_low, self.band_high, brush=band)
        self.size_plot.addItem(self.band, ignoreBounds=True)  # (its empty start would pull the axes to 1)
        self.compute_plot.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.frontier_curve = self.compute_plot.plot(
            pen=pg.mkPen(FRONTIER_COLOR, width=2, style=pg.QtCore.Qt.PenStyle.DashLine), name="frontier"
        )
        self.run_curves: list = []
        theme.apply_plot_palette(self)
        self.runs: list = []
        self.finished = 0  # the runs whose training is over (all but a running last one)
        self.law = None
        self._fitted: list = []  # the (params, final loss) points the law was fitted to
        self.dirty = False

    def reset(self) -> None:
        self.runs, self.finished, self.law, self._fitted = [], 0, None, []
        self.dirty = True

    def update_runs(self, runs: list, finished: int) -> None:
        self.runs, self.finished = runs, finished
        done = [r for r in runs[:finished] if r.curve]
        points = [(r.params, r.final_loss) for r in done]
        if points != self._fitted:  # refitted when a size finishes, not at every update of a run
            self._fitted = points
            self.law = fit_power_law(*zip(*points, strict=True)) if len(points) >= 3 else None
        self.dirty = True

    def redraw(self) -> None:
        done = [r for r in self.runs[: self.finished] if r.curve]
        self.points.setData([np.log10(r.params) for r in done], [np.log10(r.final_loss) for r in done])
        law = self.law
        if law is not None:
            grid, low, high = law.band
            self.fit_curve.setData(grid, law(grid))
            self.band_low.setData(grid, low)
            self.band_high.setData(grid, high)
            kaplan = next(iter(PAPERS.values()))
            self.size_plot.setTitle(
                f"α = {law.alpha:.3f} ± {law.alpha_std:.3f}, R² {law.r2:.3f} (Kaplan: {kaplan})"
            )
        else:
            for curve in (self.fit_curve, self.band_low, self.band_high):
                curve.setData([], [])
            self.size_plot.setTitle(
                f"held-out loss against parameters ({len(done)} of {len(self.runs)} sizes done)"
            )
        while len(self.run_curves) < len(self.runs):
            # (hue 0 is the frontier's red)
            shade = pg.intColor(len(self.run_curves) + 1, hues=max(len(self.runs), 5) + 1, maxValue=200)
            run = self.runs[len(self.run_curves)]
            name = f"{run.params / 1e6:.2g}M" if run.params >= 1e6 else f"{run.params / 1e3:.0f}k"
            self.run_curves.append(self.compute_plot.plot(pen=pg.mkPen(shade, width=1.5), name=name))
        for curve, run in zip(self.run_curves, self.runs, strict=False):
            curve.setData([6.0 * run.params * t for t, _ in run.curve], [v for _, v in run.curve])
        for curve in self.run_curves[len(self.runs) :]:
            curve.setData([], [])
        compute, best = frontier(self.runs) if self.runs else (np.zeros(0), np.zeros(0))
        self.frontier_curve.setData(compute, best)
        self.dirty = False

    def export_csv(self, path) -> None:
        """Each size: its shape, tokens, compute, final held-out loss and seconds; then the fit."""
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["params", "n_layer", "n_embd", "tokens", "compute", "val_loss", "seconds"])
            for r in self.runs[: self.finished]:
                tokens = r.curve[-1][0] if r.curve else 0
                compute = 6 * r.params * tokens
                out.writerow(
                    [
                        r.params,
                        r.n_layer,
                        r.n_embd,
                        tokens,
                        compute,
                        f"{r.final_loss:.5f}",
                        f"{r.seconds:.1f}",
                    ]
                )
            if self.law is not None:
                out.writerow([])
                out.writerow(["fit", "E", "A", "alpha", "alpha_std", "r2"])
                law = self.law
                out.writerow(["", f"{law.E:.5f}", f"{law.A:.5g}", f"{law.alpha:.5f}", f"{law.alpha_std:.5f}",
                              f"{law.r2:.5f}"])  # fmt: skip
