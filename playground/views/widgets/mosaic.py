"""All layers × heads as ONE image: a mosaic of tiles, cheaper than a grid of plots."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsRectItem

from playground import theme
from playground.overview import build_mosaic


class TileAxis(pg.AxisItem):
    def __init__(self, orientation: str, prefix: str) -> None:
        super().__init__(orientation)
        self.prefix, self.count, self.tile = prefix, 0, 1

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph's name)
        if not self.count:
            return []
        step = max(1, math.ceil(self.count * 26 / max(size, 1)))
        return [(step, [(i + 0.5) * self.tile for i in range(0, self.count, step)])]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        return [f"{self.prefix}{int(v // self.tile)}" for v in values]


class AttentionMosaic(pg.PlotItem):
    """Overview of every head; click a tile to select it. Items are made once, then updated."""

    tile_clicked = Signal(int, int)  # layer, head
    tile_toggled = Signal(int, int)  # shift-click: add the head to the chosen ones, or take it out

    def __init__(self) -> None:
        self.layer_axis, self.head_axis = TileAxis("left", "L"), TileAxis("top", "H")
        super().__init__(axisItems={"left": self.layer_axis, "top": self.head_axis})
        self.hideAxis("bottom")
        self.showAxis("top")
        self.hideButtons()
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        vb = self.getViewBox()
        vb.invertY(True)
        vb.setAspectLocked(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(theme.heatmap_lut())
        self.image.setLevels((0.0, 1.0))
        self.addItem(self.image)
        self.grid = QGraphicsPathItem()
        pen = QPen(theme.palette().color(QPalette.ColorRole.Base), 2)
        pen.setCosmetic(True)
        self.grid.setPen(pen)
        self.addItem(self.grid)
        self.knocked = QGraphicsPathItem()  # a cross over each knocked-out head
        pen = QPen(QColor("#e04040"), 2)
        pen.setCosmetic(True)
        self.knocked.setPen(pen)
        self.addItem(self.knocked)
        self.chosen = QGraphicsPathItem()  # a dashed outline round each head chosen for knocking out
        pen = QPen(theme.accent(), 2, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self.chosen.setPen(pen)
        self.addItem(self.chosen)
        self.marker = QGraphicsRectItem()
        pen = QPen(theme.accent(), 3)
        pen.setCosmetic(True)
        self.marker.setPen(pen)
        self.addItem(self.marker)
        self.layers = self.heads = self.tile = 0
        self.data = np.zeros((0, 0), np.float32)
        self._clicks_connected = False

    def set_attentions(self, att: np.ndarray) -> None:
        self.set_mosaic(*build_mosaic(att), *att.shape[:2])

    def set_mosaic(self, mosaic: np.ndarray, s: int, L: int, H: int) -> None:
        """Show a mosaic built already (by `build_mosaic`, maybe off the GUI thread)."""
        reshaped = (L, H, s) != (self.layers, self.heads, self.tile)
        self.layers, self.heads, self.tile, self.data = L, H, s, mosaic
        self.image.setImage(mosaic, autoLevels=False, levels=(0.0, 1.0))
        if reshaped:
            self._draw_grid()
            for axis, n in ((self.layer_axis, L), (self.head_axis, H)):
                axis.count, axis.tile = n, s
                axis.picture = None
                axis.update()
            self.getViewBox().setRange(xRange=(0, H * s), yRange=(0, L * s), padding=0.01)
        if not self._clicks_connected and self.scene() is not None:
            self.scene().sigMouseClicked.connect(self._on_scene_clicked)
            self._clicks_connected = True

    def clear_attentions(self) -> None:
        """Show no heads (a new run has none yet)."""
        self.layers = self.heads = self.tile = 0
        self.data = np.zeros((0, 0), np.float32)
        self.image.clear()
        self.grid.setPath(QPainterPath())
        self.chosen.setPath(QPainterPath())
        self.marker.setRect(QRectF())
        for axis in (self.layer_axis, self.head_axis):
            axis.count = 0
            axis.picture = None
            axis.update()

    def mark_knocked_out(self, heads) -> None:
        """Cross out these (layer, head) tiles."""
        path, s = QPainterPath(), self.tile
        for layer, head in heads:
            if layer < self.layers and head < self.heads:
                x, y = head * s, layer * s
                path.moveTo(x + 0.15 * s, y + 0.15 * s)
                path.lineTo(x + 0.85 * s, y + 0.85 * s)
                path.moveTo(x + 0.85 * s, y + 0.15 * s)
                path.lineTo(x + 0.15 * s, y + 0.85 * s)
        self.knocked.setPath(path)

    def mark_chosen(self, heads) -> None:
        """Outline these (layer, head) tiles (the heads K would knock out)."""
        path, s = QPainterPath(), self.tile
        for layer, head in heads:
            if layer < self.layers and head < self.heads:
                path.addRect(QRectF(head * s + 0.08 * s, layer * s + 0.08 * s, 0.84 * s, 0.84 * s))
        self.chosen.setPath(path)

    def select(self, layer: int, head: int | None) -> None:
        """Outline one tile, or the whole layer row when head is None (the average)."""
        s = self.tile
        if head is None:
            self.marker.setRect(QRectF(0, layer * s, self.heads * s, s))
        else:
            self.marker.setRect(QRectF(head * s, layer * s, s, s))

    def tile_at(self, scene_pos) -> tuple[int, int] | None:
        vb = self.getViewBox()
        if not self.tile or not vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = vb.mapSceneToView(scene_pos)
        layer, head = math.floor(p.y() / self.tile), math.floor(p.x() / self.tile)
        if 0 <= layer < self.layers and 0 <= head < self.heads:
            return layer, head
        return None

    def _draw_grid(self) -> None:
        path, s = QPainterPath(), self.tile
        for h in range(1, self.heads):
            path.moveTo(h * s, 0)
            path.lineTo(h * s, self.layers * s)
        for layer in range(1, self.layers):
            path.moveTo(0, layer * s)
            path.lineTo(self.heads * s, layer * s)
        self.grid.setPath(path)

    def _on_scene_clicked(self, event) -> None:
        tile = self.tile_at(event.scenePos())
        if tile is None:
            return
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.tile_toggled.emit(*tile)
        else:
            self.tile_clicked.emit(*tile)
