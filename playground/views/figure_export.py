"""Figures out of the app: a plot widget as PNG (pixels), SVG or PDF (vectors, text kept as text)."""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QMarginsF, QRectF, QSize, QSizeF
from PySide6.QtGui import QPageLayout, QPageSize, QPaintDevice, QPainter, QPdfWriter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QGraphicsItem

FIGURE_KINDS = {".png": "PNG image", ".svg": "SVG vector image", ".pdf": "PDF document"}


def export_figure(widget: pg.GraphicsView, path: str | Path) -> bool:
    """Write what `widget` shows to `path`, in the format its suffix names; False if it failed."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        return widget.grab().save(str(path))
    # Qt's own vector engines, not pyqtgraph's SVG exporter: that one fails on the paths
    # current Qt writes (pyqtgraph issue 3485). Lines and text stay vectors, heatmaps embed.
    if suffix == ".svg":
        return _paint(widget, path, _svg(widget, path))
    if suffix == ".pdf":
        return _paint(widget, path, _pdf(widget, path))
    raise ValueError(f"cannot export a figure as {suffix or 'a file without a suffix'}")


def _svg(widget: pg.GraphicsView, path: Path) -> QSvgGenerator:
    svg = QSvgGenerator()
    svg.setFileName(str(path))
    svg.setSize(QSize(widget.width(), widget.height()))
    svg.setViewBox(QRectF(0, 0, widget.width(), widget.height()))
    svg.setResolution(widget.logicalDpiX())  # its default (90 dpi) would scale text and axes
    svg.setTitle("Transformer Playground figure")
    return svg


def _pdf(widget: pg.GraphicsView, path: Path) -> QPdfWriter:
    """A one-page PDF the size of the widget."""
    pdf = QPdfWriter(str(path))
    dpi = widget.logicalDpiX()
    pdf.setResolution(dpi)  # one widget pixel = one PDF pixel, at the screen's density
    page = QPageSize(QSizeF(widget.width() * 72 / dpi, widget.height() * 72 / dpi), QPageSize.Unit.Point)
    pdf.setPageLayout(QPageLayout(page, QPageLayout.Orientation.Portrait, QMarginsF()))
    pdf.setCreator("Transformer Playground")
    return pdf


def _paint(widget: pg.GraphicsView, path: Path, device: QPaintDevice) -> bool:
    # items that cache themselves (the axes do, for fast live repaints) would be painted as
    # pixmaps: uncached while the figure is drawn, their labels stay text
    cached = [(item, item.cacheMode()) for item in widget.scene().items()
              if item.cacheMode() != QGraphicsItem.CacheMode.NoCache]  # fmt: skip
    painter = QPainter()
    try:
        for item, _ in cached:
            item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
        if not painter.begin(device):
            return False
        widget.render(painter)
    finally:
        if painter.isActive():
            painter.end()
        for item, mode in cached:
            item.setCacheMode(mode)
    return path.is_file() and path.stat().st_size > 0
