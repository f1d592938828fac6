"""Head types view: a gallery of every head, coloured by the kind of head it is (induction,
duplicate-token, previous-token, first-token, local, diffuse), a sortable table, and one click to
open a head in Attention or knock every head of a kind out."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from models.inspect.head_types import LOCAL, RANDOM_LENGTH, THRESHOLD, TYPES
from playground import theme
from playground.recipe import recipe_for
from playground.views.resets import MODEL
from playground.views.widgets.elided_label import ElidedLabel
from playground.views.widgets.example_text import fill, offer_example, watch_typing
from playground.views.widgets.figure_export import ExportButton, export_row
from playground.views.widgets.heatmap import CellLabels, HeatmapPlot
from playground.worker import WorkerClient
from playground.worker.requests import KnockOut, ScoreHeadTypes, Train

COLORS = {  # one colour per kind (matplotlib's tab10), "mixed" pale
    "induction": (214, 39, 40),
    "duplicate-token": (255, 127, 14),
    "previous-token": (31, 119, 180),
    "first-token": (148, 103, 189),
    "local": (44, 160, 44),
    "diffuse": (127, 127, 127),
    "mixed": (220, 220, 220),
}
SHORT = {"induction": "ind", "duplicate-token": "dup", "previous-token": "prev", "first-token": "first",
         "local": "local", "diffuse": "diff", "mixed": "—"}  # fmt: skip


class HeadTypesView(QWidget):
    failed = Signal(str, str)
    saved = Signal(str)
    noted = Signal(str)
    head_chosen = Signal(int, int)  # a head clicked: show it in Attention

    def __init__(self, client: WorkerClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.types = None
        self.request = 0
        self.on = QComboBox()
        self.on.addItem(f"random tokens, repeated ({RANDOM_LENGTH} + {RANDOM_LENGTH})", "random")
        self.on.addItem("the text", "text")
        self.on.currentIndexChanged.connect(self._draw)
        self.text = QLineEdit(placeholderText="A text to score the heads on as well (Enter)")
        watch_typing(self.text)
        self.text.returnPressed.connect(self.score)
        self.score_button = QPushButton("Score heads")
        self.score_button.clicked.connect(self.score)
        self.kind = QComboBox()
        self.kind.addItem("every kind", "")
        for name in TYPES:
            self.kind.addItem(name, name)
        self.kind.currentIndexChanged.connect(self._draw)
        self.knock_button = QPushButton("Knock them out")
        self.knock_button.setToolTip("Knock out every head of the kind shown (K in Attention puts them back)")
        self.knock_button.setEnabled(False)
        self.knock_button.clicked.connect(self.knock_out_kind)
        top = QHBoxLayout()
        for w, stretch in ((QLabel("Scored on"), 0), (self.on, 0), (self.text, 1), (self.score_button, 0),
                           (QLabel("Show"), 0), (self.kind, 0), (self.knock_button, 0)):  # fmt: skip
            top.addWidget(w, stretch)
        legend = " · ".join(
            f"<span style='background-color: rgb{COLORS[n]}'>&nbsp;&nbsp;&nbsp;</span> <b>{n}</b>: {what}"
            for n, what in TYPES.items()
        )
        self.summary = QLabel(
            f"{legend}. Scores are the share of a head's attention on its pattern (TransformerLens's "
            f"head detectors for the first three; local: the latest {LOCAL} tokens; diffuse: entropy "
            f"over its most). A head is named by the most specific kind it scores at least "
            f"{THRESHOLD:.0%} on; “—” reaches none. Click a head to open it in Attention."
        )
        self.summary.setTextFormat(Qt.TextFormat.RichText)  # (the legend's colour swatches)
        self.summary.setWordWrap(True)
        self.plots = pg.GraphicsLayoutWidget()
        self.map = HeatmapPlot()
        self.map.setLabel("left", "layer")
        self.map.setLabel("bottom", "head")
        self.map.clicked.connect(self._on_map_clicked)
        self.map.hovered.connect(self._on_map_hovered)
        self.plots.addItem(self.map)
        self.labels = CellLabels()
        self.map.addItem(self.labels)
        theme.apply_plot_palette(self.plots)
        self.table = QTableWidget(0, 3 + len(TYPES))
        self.table.setHorizontalHeaderLabels(["layer", "head", "kind", *TYPES])
        self.table.setSortingEnabled(True)
        self.table.resizeColumnsToContents()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.cellDoubleClicked.connect(self._on_table_double_clicked)
        split = QSplitter()
        split.addWidget(self.plots)
        split.addWidget(self.table)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        self.readout = ElidedLabel(" ")
        self.export_button = ExportButton(
            "head types",
            lambda: self.plots,
            lambda figure: recipe_for(self.client, "head-types", self.recipe_settings(), figure),
            {".csv": ("CSV", self.export_csv)},
            lambda: (
                "" if self.types is not None else "No heads scored yet: open the tab or press Score heads."
            ),
        )
        bottom = export_row(self, self.readout, self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)
        client.head_types_scored.connect(self._on_scored)
        client.request_finished.connect(self._on_request_finished)

    # ---- asking ------------------------------------------------------------------------------
    def score(self) -> None:
        self.score_button.setEnabled(False)
        self.request = self.client.send(ScoreHeadTypes(self.text.text()))
        if not self.request:
            self.score_button.setEnabled(True)

    def set_text(self, text: str) -> None:
        fill(self.text, text)

    def show_example(self, text: str) -> None:
        offer_example(self.text, text)

    def shown(self) -> None:
        """The tab opened: the heads are scored at once if they are not yet (not while training)."""
        if self.types is None and not self.client.phase(self.request) and not self.client.active(Train):
            self.score()

    def reset(self, event: str) -> None:
        if event == MODEL:
            self.types = None
            self.map.clear_matrix()
            self.labels.set_cells([], [])
            self.table.setRowCount(0)
            self.knock_button.setEnabled(False)
            self.readout.setText(" ")

    def _on_request_finished(self, request: int, _status: str, _message: str) -> None:
        if request == self.request:
            self.score_button.setEnabled(True)

    def _on_scored(self, types) -> None:
        self.types = types
        if types.text is None and self.on.currentData() == "text":
            self.on.setCurrentIndex(0)
        self._draw()

    # ---- drawing -----------------------------------------------------------------------------
    def scores(self) -> dict[str, np.ndarray]:
        on = self.on.currentData() if self.types is not None and self.types.text is not None else "random"
        return self.types.random if on == "random" else self.types.text

    def named(self) -> tuple[np.ndarray, np.ndarray]:
        on = self.on.currentData() if self.types.text is not None else "random"
        return self.types.dominant(on)

    def _draw(self) -> None:
        if self.types is None:
            return
        names, strength = self.named()
        L, H = names.shape
        shown = self.kind.currentData()
        rgba = np.zeros((L, H, 4), np.uint8)
        for (layer, head), name in np.ndenumerate(names):
            faded = bool(shown) and name != shown
            rgba[layer, head, :3] = COLORS["mixed"] if faded else COLORS[name]
            rgba[layer, head, 3] = (
                255 if name == "mixed" or faded else int(110 + 145 * min(1.0, strength[layer, head]))
            )
        self.map.set_matrix(
            np.zeros((L, H), np.float32), [f"H{h}" for h in range(H)], [f"L{i}" for i in range(L)]
        )
        self.map.image.setLookupTable(None)
        self.map.image.setImage(rgba, autoLevels=False, levels=(0, 255))
        if L * H <= 600:
            texts = [
                [
                    f"{SHORT[n]}\n{v:.2f}" if n != "mixed" else "—"
                    for n, v in zip(names[r], strength[r], strict=True)
                ]
                for r in range(L)
            ]
            self.labels.set_cells(texts, [["black"] * H for _ in range(L)])
        else:
            self.labels.set_cells([], [])
        self._fill_table(names, shown)
        count = int((names == shown).sum()) if shown else L * H
        counts = ", ".join(f"{int((names == n).sum())} {n}" for n in TYPES if (names == n).any())
        self.map.setTitle(f"{L * H} heads: {counts or 'none named'}")
        self.knock_button.setEnabled(bool(shown) and count > 0)
        self.knock_button.setText(f"Knock out {count} {shown} head(s)" if shown else "Knock them out")

    def _fill_table(self, names: np.ndarray, shown: str) -> None:
        scores = self.scores()
        self.table.setSortingEnabled(False)
        rows = [(layer, head) for (layer, head), n in np.ndenumerate(names) if not shown or n == shown]
        self.table.setRowCount(len(rows))
        for r, (layer, head) in enumerate(rows):
            cells = [layer, head, names[layer, head], *(float(scores[t][layer, head]) for t in TYPES)]
            for c, value in enumerate(cells):
                item = QTableWidgetItem()
                item.setData(
                    Qt.ItemDataRole.DisplayRole, round(value, 3) if isinstance(value, float) else value
                )
                if c == 2:
                    item.setBackground(QColor(*COLORS[str(value)]))
                self.table.setItem(r, c, item)
        self.table.setSortingEnabled(True)

    def heads_of(self, kind: str) -> list[tuple[int, int]]:
        names, _ = self.named()
        return [(int(layer), int(head)) for (layer, head), n in np.ndenumerate(names) if n == kind]

    def knock_out_kind(self) -> None:
        kind = self.kind.currentData()
        heads = self.heads_of(kind) if self.types is not None and kind else []
        if not heads:
            return
        self.client.send(KnockOut(tuple(heads)))
        self.noted.emit(
            f"Knocked out {len(heads)} {kind} head(s): the Probabilities tab shows the loss it costs "
            "(Attention ▸ Restore all heads puts them back)"
        )

    def _on_map_clicked(self, row: int, col: int) -> None:
        self.head_chosen.emit(row, col)

    def _on_map_hovered(self, row: int, col: int, _value: float) -> None:
        if self.types is None or row < 0:
            return
        scores = self.scores()
        names, _ = self.named()
        detail = ", ".join(f"{t} {scores[t][row, col]:.2f}" for t in TYPES)
        self.readout.setText(f"L{row}H{col}: {names[row, col]} — {detail}")

    def _on_table_double_clicked(self, row: int, _col: int) -> None:
        layer = int(self.table.item(row, 0).data(Qt.ItemDataRole.DisplayRole))
        head = int(self.table.item(row, 1).data(Qt.ItemDataRole.DisplayRole))
        self.head_chosen.emit(layer, head)

    # ---- export and recipes --------------------------------------------------------------------
    def export_csv(self, path) -> None:
        """Every head's kind and its score on each kind, as shown (random repeats or the text)."""
        import csv

        names, _ = self.named()
        scores = self.scores()
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["layer", "head", "kind", *TYPES])
            for (layer, head), name in np.ndenumerate(names):
                out.writerow([layer, head, name, *(f"{scores[t][layer, head]:.6f}" for t in TYPES)])

    def recipe_settings(self) -> dict:
        return {"text": self.text.text(), "on": self.on.currentData(), "kind": self.kind.currentData()}

    def apply_recipe(self, settings: dict) -> None:
        self.text.setText(str(settings.get("text", "")))
        self.kind.setCurrentIndex(max(0, self.kind.findData(settings.get("kind", ""))))
        self.on.setCurrentIndex(max(0, self.on.findData(settings.get("on", "random"))))
        self.score()
