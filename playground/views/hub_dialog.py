"""File ▸ Open from Hugging Face cache: the models on this machine, what they are, and whether they open."""

from __future__ import annotations

from PySide6.QtGui import QBrush, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.info import format_count
from playground.worker import WorkerClient
from playground.worker.requests import ScanCache

COLUMNS = ("Model", "Architecture", "Parameters", "Size on disk", "Opens here")


class HubDialog(QDialog):
    """Lists the cache (read on the worker thread); Open or a double-click picks a model that opens."""

    def __init__(self, client: WorkerClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open from Hugging Face cache")
        self.resize(820, 420)
        self.chosen = ""  # the repository id picked
        self.models: list = []
        self.where = QLabel("Reading the cache…")
        self.where.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        for col in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)  # long reasons elide
        self.table.verticalHeader().hide()
        self.table.itemSelectionChanged.connect(self._on_selection_changed)
        self.table.cellDoubleClicked.connect(self._on_cell_double_clicked)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._on_open)
        self.buttons.rejected.connect(self.reject)
        self.open_button = self.buttons.button(QDialogButtonBox.StandardButton.Open)
        self.open_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.where)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.buttons)
        client.cache_scanned.connect(self._on_cache_scanned)
        client.send(ScanCache())

    def _on_cache_scanned(self, folder: str, found: list) -> None:
        self.models = found
        opens = sum(m.opens for m in found)
        self.where.setText(
            f"{folder}: {len(found)} model(s), {opens} of them open here. Nothing is downloaded: "
            "models get here with huggingface-cli or transformers on a machine online."
            if found
            else f"No models in {folder} (set HF_HUB_CACHE or HF_HOME to look elsewhere)."
        )
        self.table.setRowCount(len(found))
        muted = QBrush(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
        for row, m in enumerate(found):
            cells = (
                m.repo_id, m.architecture or "—", format_count(m.n_params) if m.n_params else "—",
                _size(m.size_on_disk), "yes" if m.opens else f"no: {m.why_not}",
            )  # fmt: skip
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(m.folder if col == 0 else text)
                if not m.opens:
                    item.setForeground(muted)
                self.table.setItem(row, col, item)

    def _selected(self):
        rows = self.table.selectionModel().selectedRows()
        return self.models[rows[0].row()] if rows else None

    def _on_selection_changed(self) -> None:
        m = self._selected()
        self.open_button.setEnabled(m is not None and m.opens)
        self.open_button.setToolTip("" if m is None or m.opens else m.why_not)

    def _on_cell_double_clicked(self, row: int, _col: int) -> None:
        if self.models[row].opens:
            self.table.selectRow(row)
            self._on_open()

    def _on_open(self) -> None:
        m = self._selected()
        if m is not None and m.opens:
            self.chosen = m.repo_id
            self.accept()


def _size(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n} B"
