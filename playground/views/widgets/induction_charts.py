"""The induction-head phase change, live (Olsson et al. 2022): the best head's induction score with the
step it crosses the threshold marked, and the in-context-learning score with the best induction
heads knocked out and with the weakest head knocked out beside it."""

from __future__ import annotations

import pyqtgraph as pg

from models.inspect.induction import THRESHOLD, phase_change
from playground import theme
from playground.views.widgets.training_charts import VAL_COLOR, Series

MARK_COLOR = "#d62728"
ICL_SERIES = (  # InductionEval field, legend, colour, dashed
    ("icl", "every head", VAL_COLOR, False),
    ("icl_heads_out", "induction heads out", "#9467bd", False),
    ("icl_weakest_out", "weakest out", "#7f7f7f", True),
)


def marker() -> pg.InfiniteLine:
    """The dashed line at the step the induction heads formed (hidden until then)."""
    line = pg.InfiniteLine(angle=90, pen=pg.mkPen(MARK_COLOR, width=1.5, style=pg.QtCore.Qt.DashLine))
    line.setVisible(False)
    return line


class InductionCharts(pg.GraphicsLayoutWidget):
    """Two plots fed one InductionEval per validation step; drawn by the view's budgeted redraw."""

    def __init__(self) -> None:
        super().__init__()
        self.score_plot = self.addPlot(row=0, col=0, title="induction score of the best head")
        self.icl_plot = self.addPlot(row=1, col=0)
        for plot in (self.score_plot, self.icl_plot):
            plot.setLabel("bottom", "step")
            plot.showGrid(x=True, y=True, alpha=0.2)
        # (where the curves are not: the score rises from the bottom, the in-context learning falls
        # from zero on the right)
        self.score_plot.addLegend(offset=(-10, 10), labelTextSize="8pt")
        # (the key in the title, each name in its curve's colour: a legend covers a short plot's curves)
        key = " · ".join(f"<span style='color:{color}'>{legend}</span>" for _, legend, color, _ in ICL_SERIES)
        self.icl_plot.setTitle(key, size="9pt")
        self.score_plot.setYRange(0, 1, padding=0.02)
        self.icl_plot.setLabel("left", "in-context (nats)")
        self.best = Series()
        self.best_curve = self.score_plot.plot(pen=pg.mkPen(theme.accent(), width=2), name="best head")
        threshold = pg.InfiniteLine(
            pos=THRESHOLD, angle=0, pen=pg.mkPen("#7f7f7f", style=pg.QtCore.Qt.DotLine),
            label=f"formed at {THRESHOLD:g}", labelOpts={"position": 0.1, "color": "#7f7f7f"},
        )  # fmt: skip
        self.score_plot.addItem(threshold)
        self.icl = {name: Series() for name, *_ in ICL_SERIES}
        self.icl_curves = {
            name: self.icl_plot.plot(
                pen=pg.mkPen(
                    color, width=2, style=pg.QtCore.Qt.DashLine if dashed else pg.QtCore.Qt.SolidLine
                ),
                name=legend,
            )
            for name, legend, color, dashed in ICL_SERIES
        }
        self.marks = [marker(), marker()]
        self.score_plot.addItem(self.marks[0])
        self.icl_plot.addItem(self.marks[1])
        theme.apply_plot_palette(self)
        self.history: list = []  # (step, InductionEval) of every validation
        self.formed_at: int | None = None
        self.dirty = False

    def reset(self) -> None:
        for series in (self.best, *self.icl.values()):
            series.clear()
        self.history, self.formed_at = [], None
        for mark in self.marks:
            mark.setVisible(False)
        self.dirty = True

    def add(self, step: int, measured) -> int | None:
        """One validation's measurements; the step the heads formed if this is it."""
        self.history.append((step, measured))
        self.best.extend([step], [measured.best])
        for name, series in self.icl.items():
            series.extend([step], [getattr(measured, name)])
        self.dirty = True
        if self.formed_at is None:  # (the engine's rule, the one its seeded run is tested on)
            self.formed_at = phase_change(self.history, THRESHOLD)
            return self.formed_at
        return None

    def redraw(self) -> None:
        self.best_curve.setData(*self.best.data())
        for name, curve in self.icl_curves.items():
            curve.setData(*self.icl[name].data())
        for mark in self.marks:
            if self.formed_at is not None:
                mark.setValue(self.formed_at)
            mark.setVisible(self.formed_at is not None)
        if self.history:
            step, m = self.history[-1]
            heads = ", ".join(f"L{layer}H{head}" for layer, head in m.heads)
            formed = f" · formed at {self.formed_at:,}" if self.formed_at is not None else ""
            self.score_plot.setTitle(f"best induction score {m.best:.2f} ({heads}){formed}")
        self.dirty = False

    COLUMNS = ("best_induction_score", "heads", *(n for n, *_ in ICL_SERIES), "weakest")

    def row(self, step: int) -> list[str]:
        """That validation's measurements as `COLUMNS` (empty where the step was not validated)."""
        m = dict(self.history).get(step)
        if m is None:
            return [""] * len(self.COLUMNS)
        heads = " ".join(f"L{layer}H{head}" for layer, head in m.heads)
        icl = [f"{getattr(m, n):.6f}" for n, *_ in ICL_SERIES]
        return [f"{m.best:.6f}", heads, *icl, f"L{m.weakest[0]}H{m.weakest[1]}"]
