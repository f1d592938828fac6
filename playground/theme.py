"""Colours that follow the system palette: plot backgrounds, probability tints, the heatmap LUT."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QGraphicsItem

HEATMAP = "inferno"  # perceptually uniform, readable on light and dark backgrounds
DIVERGING = "CET-D1"  # blue - white - red, for signed changes centred on 0


def palette() -> QPalette:
    return QApplication.palette()


def is_dark() -> bool:
    return palette().color(QPalette.ColorRole.Base).lightness() < 128


def apply_plot_palette(widget: pg.GraphicsView) -> None:
    """pyqtgraph draws its own background; take it (and the axis colour) from the palette."""
    pal = palette()
    widget.setBackground(pal.color(QPalette.ColorRole.Base))
    fg = pal.color(QPalette.ColorRole.Text)
    for item in widget.scene().items():
        if isinstance(item, pg.AxisItem):
            item.setPen(fg)
            item.setTextPen(fg)
            # a repaint near an axis then blits its pixels instead of re-rendering every label
            # (live charts repaint often; the cache is dropped when the ticks change)
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def configure_pyqtgraph() -> None:
    pal = palette()
    pg.setConfigOptions(
        background=pal.color(QPalette.ColorRole.Base),
        foreground=pal.color(QPalette.ColorRole.Text),
        antialias=True,
        imageAxisOrder="row-major",
    )


def heatmap_cmap() -> pg.ColorMap:
    return pg.colormap.get(HEATMAP)


def diverging_cmap() -> pg.ColorMap:
    return pg.colormap.get(DIVERGING)


def heatmap_lut() -> np.ndarray:
    """One 256-entry lookup table shared by every heatmap."""
    return heatmap_cmap().getLookupTable(0.0, 1.0, 256)


def prob_color(p: float) -> QColor:
    """A tint for a token of probability p: red (unlikely) through amber to green (likely).

    Blended into the base colour so the palette's text colour stays readable, light or dark.
    """
    base = palette().color(QPalette.ColorRole.Base)
    if not np.isfinite(p):
        return base
    hue = QColor.fromHsvF(0.33 * float(np.clip(p, 0.0, 1.0)), 0.85, 0.95)
    mix = 0.45 if is_dark() else 0.55
    return QColor.fromRgbF(
        base.redF() + (hue.redF() - base.redF()) * mix,
        base.greenF() + (hue.greenF() - base.greenF()) * mix,
        base.blueF() + (hue.blueF() - base.blueF()) * mix,
    )


def accent() -> QColor:
    return palette().color(QPalette.ColorRole.Highlight)
