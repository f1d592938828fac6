"""Live training charts: train/validation loss (log toggle), learning rate, and per-head pattern scores."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from models.inspect.head_scores import CROSS_SCORES, SCORES  # (numpy only)
from playground import theme

VAL_COLOR = "#e8712b"
SCORE_COLORS = {
    "previous-token": "#4e9af1", "first-token": "#9e9e9e", "induction": "#e8712b",
    "diagonal": "#4e9af1", "anti-diagonal": "#e8712b",  # an encoder–decoder's cross-attention
}  # fmt: skip


class Series:
    """A growing (x, y) series in numpy arrays, doubled as needed (appends are cheap)."""

    def __init__(self) -> None:
        self.x = np.zeros(256, np.float64)
        self.y = np.zeros(256, np.float64)
        self.n = 0

    def clear(self) -> None:
        self.n = 0

    def extend(self, xs, ys) -> None:
        xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
        need = self.n + len(xs)
        if need > len(self.x):
            size = max(need, 2 * len(self.x))
            self.x = np.resize(self.x, size)
            self.y = np.resize(self.y, size)
        self.x[self.n : need], self.y[self.n : need] = xs, ys
        self.n = need

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[: self.n], self.y[: self.n]


def fix_steps(plot: pg.PlotWidget, max_steps: int) -> None:
    """Pin the x range to the whole run: the axis is then not re-laid out on every new point."""
    plot.enableAutoRange(x=False)
    plot.setXRange(0, max(1, max_steps), padding=0.02)


class LossChart(pg.PlotWidget):
    """Train loss (every step, faint) with its moving average, and validation loss as points."""

    def __init__(self) -> None:
        super().__init__(title="loss")
        self.setLabel("bottom", "step")
        self.showGrid(x=True, y=True, alpha=0.2)
        self.addLegend(offset=(-10, 10))
        theme.apply_plot_palette(self)
        self.train, self.smooth, self.val = Series(), Series(), Series()
        self.average = float("nan")  # running exponential average of the train loss
        self.dirty = False  # points stored that are not drawn yet
        self.enableAutoRange(y=False)  # set by `_fit_y`, which changes it rarely (see there)
        accent = theme.accent()
        faint = pg.mkColor(accent)
        faint.setAlpha(70)
        self.raw_curve = self.plot(pen=pg.mkPen(faint, width=1), antialias=False)
        self.setDownsampling(auto=True, mode="mean")  # thousands of steps stay cheap to draw
        self.setClipToView(True)
        self.smooth_curve = self.plot(pen=pg.mkPen(accent, width=2), name="train")
        self.val_curve = self.plot(
            pen=pg.mkPen("#e8712b", width=2),
            symbol="o",
            symbolSize=6,
            symbolBrush="#e8712b",
            name="validation",
        )

        self.marker = pg.InfiniteLine(  # a step worth seeing, e.g. where induction heads formed
            angle=90, pen=pg.mkPen("#d62728", width=1.5, style=pg.QtCore.Qt.DashLine),
            label="", labelOpts={"position": 0.9, "color": "#d62728"},
        )  # fmt: skip
        self.marker.setVisible(False)
        self.addItem(self.marker, ignoreBounds=True)

    def mark(self, step: int | None, label: str = "") -> None:
        """A dashed line at `step`, labelled; None takes it away."""
        self.marker.setVisible(step is not None)
        if step is not None:
            self.marker.setValue(step)
            self.marker.label.setFormat(f"{label} ({step:,})")

    def set_log(self, on: bool) -> None:
        self.setLogMode(y=on)
        self.getViewBox().setYRange(0, 1, padding=0)  # in the new units: the next fit replaces it
        self._fit_y()

    def reset(self, losses: np.ndarray, val: np.ndarray) -> None:
        """Start over, optionally from the curve of a resumed run."""
        for series in (self.train, self.smooth, self.val):
            series.clear()
        self.average = float("nan")
        self.add(list(range(1, len(losses) + 1)), list(losses), list(val[:, 0]), list(val[:, 1]))
        self.dirty = True  # drawn by the view when it has time

    def add(self, steps: list[int], losses: list[float], val_steps: list[int], val: list[float]) -> None:
        keep = [(s, v) for s, v in zip(steps, losses, strict=True) if np.isfinite(v)]
        smooth = []
        for _, v in keep:  # the average is kept incrementally: redraws stay O(new points)
            self.average = v if not np.isfinite(self.average) else 0.9 * self.average + 0.1 * v
            smooth.append(self.average)
        self.train.extend([s for s, _ in keep], [v for _, v in keep])
        self.smooth.extend([s for s, _ in keep], smooth)
        self.val.extend(val_steps, val)
        self.dirty = self.dirty or bool(keep or val)

    def redraw(self) -> None:
        self.raw_curve.setData(*self.train.data())
        self.smooth_curve.setData(*self.smooth.data())
        self.val_curve.setData(*self.val.data())
        self._fit_y()
        self.dirty = False

    def _fit_y(self) -> None:
        """Show all points, but move the y range only when they leave it or fill a third of it:
        a new range re-lays out the axis, the costliest part of a repaint."""
        ys = [y for y in (self.train.data()[1], self.val.data()[1]) if y.size]
        if not ys:
            return
        low = min(float(y.min()) for y in ys)
        high = max(float(y.max()) for y in ys)
        if self.getPlotItem().ctrl.logYCheck.isChecked():
            low, high = np.log10(max(low, 1e-6)), np.log10(max(high, 1e-6))
        (shown_low, shown_high) = self.getViewBox().viewRange()[1]
        span = max(high - low, 1e-3)
        if low < shown_low or high > shown_high or (shown_high - shown_low) > 3 * span:
            # a loss falls: room below for it, so the next few hundred steps need no new range
            self.setYRange(low - 0.3 * span, high + 0.05 * span, padding=0)


class LearningRateChart(pg.PlotWidget):
    def __init__(self) -> None:
        super().__init__(title="learning rate")
        self.setLabel("bottom", "step")
        theme.apply_plot_palette(self)
        self.series = Series()
        self.curve = self.plot(pen=pg.mkPen(theme.accent(), width=2))
        self.setMinimumHeight(140)  # room for three readable ticks
        self.dirty = False

    def reset(self) -> None:
        self.series.clear()
        self.dirty = True

    def add(self, steps: list[int], lrs: list[float]) -> None:
        self.series.extend(steps, lrs)
        self.dirty = self.dirty or bool(steps)

    def redraw(self) -> None:
        self.curve.setData(*self.series.data())
        self.dirty = False


class HeadScoreChart(pg.PlotWidget):
    """For each pattern, the best head's score against the step. The title is the legend (colour,
    pattern, which head), so no legend box ever sits on the curves."""

    def __init__(self) -> None:
        super().__init__()
        self.setLabel("bottom", "step")
        self.setLabel("left", "best head's score")
        self.setYRange(0, 1.02, padding=0)
        self.setMouseEnabled(y=False)
        self.showGrid(x=True, y=True, alpha=0.2)
        theme.apply_plot_palette(self)
        self.series = {name: Series() for name in SCORE_COLORS}
        self.curves = {name: self.plot(pen=pg.mkPen(color, width=2)) for name, color in SCORE_COLORS.items()}
        self.best: dict[str, tuple[int, int]] = {}
        self.shown: tuple[str, ...] = SCORES  # the patterns the run scores (the title's keys)
        self.dirty = False
        self._set_title()

    def reset(self) -> None:
        for s in self.series.values():
            s.clear()
        self.best = {}
        self.shown = SCORES
        self.dirty = True

    def add(self, step: int, scores: dict[str, np.ndarray]) -> None:
        self.shown = CROSS_SCORES if any(name in CROSS_SCORES for name in scores) else SCORES
        for name, grid in scores.items():
            if name not in self.series or not np.isfinite(grid).any():
                continue
            layer, head = np.unravel_index(np.nanargmax(grid), grid.shape)
            self.best[name] = (int(layer), int(head))
            self.series[name].extend([step], [float(grid[layer, head])])
            self.dirty = True

    def redraw(self) -> None:
        for name, curve in self.curves.items():
            curve.setData(*self.series[name].data())
        self._set_title()
        self.dirty = False

    def _set_title(self) -> None:
        keys = []
        for name in self.shown:
            color = SCORE_COLORS[name]
            where = f" L{self.best[name][0]}H{self.best[name][1]}" if name in self.best else ""
            keys.append(f'<span style="color:{color}">━</span> {name}{where}')
        self.setTitle(" &nbsp; ".join(keys))  # short: a long title widens the plot past its widget
