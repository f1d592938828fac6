"""Figures out of the app: a plot widget as PNG (pixels), SVG or PDF (vectors, text kept as text),
from an Export button that writes the figure's recipe beside it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QMarginsF, QRectF, QSize, QSizeF, Signal
from PySide6.QtGui import QPageLayout, QPageSize, QPaintDevice, QPainter, QPdfWriter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QMenu, QToolButton, QWidget

from playground.views.widgets.save_dialogs import ask_file

FIGURE_KINDS = {".png": "PNG image", ".svg": "SVG vector image", ".pdf": "PDF document"}


LATER = "written later"  # a data writer's answer: the worker writes the file, and its view says when


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
        # a PDF would store the heatmaps as JPEG: zero cells came out tinted; PNG-like instead
        painter.setRenderHint(QPainter.RenderHint.LosslessImageRendering)
        widget.render(painter)
    finally:
        if painter.isActive():
            painter.end()
        for item, mode in cached:
            item.setCacheMode(mode)
    return path.is_file() and path.stat().st_size > 0


class ExportButton(QToolButton):
    """“Export ▾”: the figure as PNG, SVG or PDF, and the numbers behind it (CSV, .npy…), each
    written with its recipe beside it (File ▸ Open recipe draws the figure again)."""

    saved = Signal(str)  # what was written, and where
    failed = Signal(str, str)  # message, details

    def __init__(
        self,
        name: str,
        figure: Callable[[], pg.GraphicsView],
        recipe: Callable[[str], object],
        data: dict[str, tuple[str, Callable[[Path], object]]] | None = None,
        empty: Callable[[], str] = lambda: "",
        parent: QWidget | None = None,
    ) -> None:
        """`name`: the figure's file stem and words ("attention" -> "Saved the attention …");
        `figure`: the widget to draw; `recipe(figure_path)`: its Recipe (or None); `data`: suffix
        -> (kind, writer) for the numbers; `empty()`: why there is nothing to export, or ""."""
        super().__init__(parent)
        self.name, self.figure, self.recipe, self.empty = name, figure, recipe, empty
        self.writers: dict[str, tuple[str, Callable[[Path], object]]] = {
            suffix: (kind, lambda path: export_figure(self.figure(), path))
            for suffix, kind in FIGURE_KINDS.items()
        }
        self.writers.update(data or {})
        self.setText("Export")
        self.setToolTip("Save the figure (PNG, SVG, PDF) or its numbers, with a recipe to redo it")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self)
        for suffix, (kind, _) in self.writers.items():
            menu.addAction(f"{kind} ({suffix})…").triggered.connect(lambda _=False, s=suffix: self.ask(s))
        self.setMenu(menu)

    def ask(self, suffix: str) -> None:
        """Ask where to write, then write (the recipe beside it) and say where or why not."""
        why = self.empty()
        if why:
            self.failed.emit(why, "")
            return
        kind = self.writers[suffix][0]
        path = ask_file(
            self, f"Export the {self.name}", f"{self.name.replace(' ', '-')}{suffix}", kind, suffix
        )
        if path:
            self.export(path)

    def export(self, path: str | Path) -> bool:
        """Write `path` (its suffix picks the format) and its recipe; True if both were written."""
        from playground.recipe import write_recipe

        path = Path(path)
        try:
            written = self.writers[path.suffix.lower()][1](path)
            ok = written is not False
            recipe = self.recipe(path.name) if ok else None
            beside = write_recipe(path, recipe) if recipe is not None else None
        except OSError as e:
            self.failed.emit(f"Could not write {path}: {e.strerror or e}.", "")
            return False
        if not ok:
            self.failed.emit(f"Could not write {path}: the figure could not be drawn into it.", "")
            return False
        if written is LATER:  # the worker writes it: its owner says when it is done
            return True
        self.saved.emit(f"Saved the {self.name} to {path}" + (f" (recipe: {beside.name})" if beside else ""))
        return True


def export_row(view: QWidget, readout: QWidget, button: ExportButton) -> QHBoxLayout:
    """The line under a view's figure: its readout, then its Export button, whose messages go out
    on the view's own `saved` and `failed` signals."""
    button.saved.connect(view.saved)
    button.failed.connect(view.failed)
    row = QHBoxLayout()
    row.addWidget(readout, 1)
    row.addWidget(button)
    return row
