"""A labelled heatmap (pyqtgraph MatrixDisplay recipe): tokens as ticks, fixed levels, hover."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor

from playground import theme
from playground.views.widgets.tokens import visible


class TokenAxis(pg.AxisItem):
    """Ticks at cell centres labelled with tokens; thins itself so labels never overlap."""

    def __init__(self, orientation: str, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.labels: list[str] = []
        self.enableAutoSIPrefix(False)  # tokens, not quantities: never "query (x0.001)"

    def set_labels(self, labels) -> None:
        self.labels = [visible(t)[:10] for t in labels]
        self.picture = None
        self.update()

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph's name)
        n = len(self.labels)
        if n == 0 or size <= 0:
            return []
        minVal, maxVal = sorted((minVal, maxVal))  # an inverted view passes them reversed
        lo, hi = max(0, math.floor(minVal)), min(n - 1, math.ceil(maxVal) - 1)
        if hi < lo:
            return []
        if self.orientation in ("bottom", "top"):
            widest = max(len(s) for s in self.labels[lo : hi + 1])
            per_label = 7 * min(widest, 10) + 10
        else:
            per_label = 15
        step = max(1, math.ceil((hi - lo + 1) * per_label / size))
        return [(step, [i + 0.5 for i in range(lo - lo % step, hi + 1, step)])]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        return [self.labels[int(v)] if 0 <= int(v) < len(self.labels) else "" for v in values]


class HeatmapPlot(pg.PlotItem):
    """An ImageItem on token axes (rows top to bottom): probabilities on levels (0, 1) with the
    shared LUT, or, with `diverging`, signed changes on levels symmetric around 0."""

    hovered = Signal(int, int, float)  # row, column, value; row -1 when the mouse leaves
    clicked = Signal(int, int)

    def __init__(self, diverging: bool = False, square: bool = False, **kwargs) -> None:
        """`square`: cells stay square (the matrix is centred in a pane of another shape)."""
        self.x_axis, self.y_axis = TokenAxis("bottom"), TokenAxis("left")
        super().__init__(axisItems={"bottom": self.x_axis, "left": self.y_axis}, **kwargs)
        self.y_axis.setWidth(72)
        self.hideButtons()
        self.setMenuEnabled(False)
        self.getViewBox().invertY(True)
        self.getViewBox().setAspectLocked(square)
        self.square = square
        self.cmap = theme.diverging_cmap() if diverging else theme.heatmap_cmap()
        self.levels = (-1.0, 1.0) if diverging else (0.0, 1.0)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(self.cmap.getLookupTable(0.0, 1.0, 256))
        self.image.setLevels(self.levels)
        self.bar: pg.ColorBarItem | None = None
        self.addItem(self.image)
        self.data = np.zeros((0, 0), np.float32)
        self._mouse_connected = False

    def set_matrix(self, matrix: np.ndarray, x_labels=None, y_labels=None, levels=None) -> None:
        """Copy a float32 [rows, cols] array in (NaN cells stay empty); the view range resets only
        on a shape change. `levels`: the values at the ends of the colour map, if they change."""
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        reshaped = matrix.shape != self.data.shape
        self.data = matrix
        if levels is not None:
            self.levels = levels
            if self.bar is not None:
                self.bar.setLevels(levels)
        self.image.setImage(matrix, autoLevels=False, levels=self.levels)
        if x_labels is not None:
            self.x_axis.set_labels(x_labels)
        if y_labels is not None:
            self.y_axis.set_labels(y_labels)
        if reshaped and matrix.size:
            vb = self.getViewBox()
            if not self.square:  # (limits would crop a square matrix to its pane's shape)
                vb.setLimits(xMin=0, xMax=matrix.shape[1], yMin=0, yMax=matrix.shape[0])
            vb.setRange(xRange=(0, matrix.shape[1]), yRange=(0, matrix.shape[0]), padding=0)
        self._connect_mouse()

    def set_diverging(self, diverging: bool) -> None:
        """Signed changes (a map centred on white) or one-sided values (the sequential map), with
        the colour bar following."""
        self.cmap = theme.diverging_cmap() if diverging else theme.heatmap_cmap()
        self.image.setLookupTable(self.cmap.getLookupTable(0.0, 1.0, 256))
        if self.bar is not None:
            self.bar.setColorMap(self.cmap)

    def clear_matrix(self) -> None:
        """Show nothing (stale content must not sit under a new header)."""
        self.data = np.zeros((0, 0), np.float32)
        self.image.clear()
        self.x_axis.set_labels([])
        self.y_axis.set_labels([])

    def cell_at(self, scene_pos) -> tuple[int, int] | None:
        if not self.data.size or not self.getViewBox().sceneBoundingRect().contains(scene_pos):
            return None
        p = self.getViewBox().mapSceneToView(scene_pos)
        r, c = math.floor(p.y()), math.floor(p.x())
        if 0 <= r < self.data.shape[0] and 0 <= c < self.data.shape[1]:
            return r, c
        return None

    def _connect_mouse(self) -> None:
        scene = self.scene()
        if scene is None or self._mouse_connected:
            return
        scene.sigMouseMoved.connect(self._on_mouse_moved)
        scene.sigMouseClicked.connect(self._on_mouse_clicked)
        self._mouse_connected = True

    def _on_mouse_moved(self, pos) -> None:
        cell = self.cell_at(pos)
        if cell is None:
            self.hovered.emit(-1, -1, float("nan"))
        else:
            self.hovered.emit(cell[0], cell[1], float(self.data[cell]))

    def _on_mouse_clicked(self, event) -> None:
        cell = self.cell_at(event.scenePos())
        if cell is not None:
            self.clicked.emit(*cell)


class CellLabels(pg.GraphicsObject):
    """A short text in the middle of each heatmap cell, all painted by one item: hundreds of
    TextItems took half a second to make; this repaints in a millisecond or two. The text keeps
    its size however the cells are stretched, and stays text in SVG and PDF exports."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[list[str]] = []  # [rows][cols]; "" for none
        self.colors: list[list[QColor]] = []

    def set_cells(self, texts, colors) -> None:
        """texts and colours (anything QColor takes), row by row; [] shows nothing."""
        self.prepareGeometryChange()
        self.texts = [list(row) for row in texts]
        self.colors = [[QColor(*c) if isinstance(c, tuple) else QColor(c) for c in row] for row in colors]
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's name)
        rows = len(self.texts)
        return QRectF(0, 0, len(self.texts[0]) if rows else 0, rows)

    def paint(self, painter, *_args) -> None:
        to_device = painter.transform()  # cell coordinates -> pixels
        painter.save()
        painter.resetTransform()  # text in pixels: never stretched with the cells
        width = abs(to_device.m11()) or 1.0
        height = abs(to_device.m22()) or 1.0
        for r, row in enumerate(self.texts):
            for c, text in enumerate(row):
                if not text:
                    continue
                centre = to_device.map(QPointF(c + 0.5, r + 0.5))
                painter.setPen(self.colors[r][c])
                box = QRectF(centre.x() - width / 2, centre.y() - height / 2, width, height)
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


def colorbar(plot: HeatmapPlot, label: str = "attention") -> pg.ColorBarItem:
    """The plot's colour bar, not draggable: its levels mean probabilities, or a signed change."""
    bar = pg.ColorBarItem(values=plot.levels, colorMap=plot.cmap, interactive=False, width=14, label=label)
    bar.setImageItem(plot.image, insert_in=plot)
    plot.bar = bar
    return bar


def symmetric_levels(values: np.ndarray) -> tuple[float, float]:
    """Levels centred on 0 that hold every finite value (white means no change)."""
    finite = np.abs(values[np.isfinite(values)])
    top = float(finite.max()) if finite.size else 0.0
    return (-top, top) if top > 0 else (-1.0, 1.0)
