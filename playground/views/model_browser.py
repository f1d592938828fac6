"""File ▸ Open a model you have: the Hugging Face cache, LM Studio, Ollama and added folders in one list."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QBrush, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from models.hf.local_models import FOLDER, READING, LocalModel, lmstudio_dirs, ollama_dir, scan
from playground.info import format_count
from playground.views.widgets.background import Background

COLUMNS = ("Model", "Source", "Family", "Parameters", "Quantisation", "Size", "Opens here")
FOLDERS_KEY = "models/folders"  # the folders the user added, in QSettings


class ModelBrowser(QDialog):
    """Lists every model found (read off the GUI thread: file names first, then each GGUF file's
    header); Open or a double-click picks one that opens. Add folder… looks in a folder of the
    user's too, and remembers it."""

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open a model you have")
        self.resize(980, 460)
        self.settings = settings
        self.chosen = ""  # what File ▸ Open takes: a hub id, a path or "ollama:name:tag"
        self.models: list[LocalModel] = []
        self.where = QLabel("Looking for models…")
        self.where.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 300)
        for col in range(1, len(COLUMNS) - 1):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)  # long reasons elide
        self.table.verticalHeader().hide()
        self.table.itemSelectionChanged.connect(self._on_selection_changed)
        self.table.cellDoubleClicked.connect(self._on_cell_double_clicked)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        self.add_button = QPushButton("Add folder…")
        self.add_button.setToolTip("Look for models (GGUF files, model folders) in a folder of yours too")
        self.remove_button = QPushButton("Remove folder")
        self.remove_button.setToolTip("Stop looking in the added folder the selected model is in")
        self.remove_button.setEnabled(False)
        self.buttons.addButton(self.add_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.remove_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.add_button.clicked.connect(self._on_add_clicked)
        self.remove_button.clicked.connect(self._on_remove_clicked)
        self.buttons.accepted.connect(self._on_open)
        self.buttons.rejected.connect(self.reject)
        self.open_button = self.buttons.button(QDialogButtonBox.StandardButton.Open)
        self.open_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.where)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.buttons)
        self.background = Background("looking for models", self)
        self.background.failed.connect(lambda message, _details: self.where.setText(message))
        self.rescan()

    # ---- the folders -----------------------------------------------------------------------
    def folders(self) -> list[str]:
        value = self.settings.value(FOLDERS_KEY, [])
        return [str(v) for v in ([value] if isinstance(value, str) else list(value or [])) if v]

    def add_folder(self, folder: str) -> None:
        if folder and folder not in self.folders():
            self.settings.setValue(FOLDERS_KEY, [*self.folders(), folder])
        self.rescan()

    def _on_add_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Look for models in a folder", str(Path.home()))
        if folder:
            self.add_folder(folder)

    def _on_remove_clicked(self) -> None:
        root = self._added_root(self._selected())
        if root:
            self.settings.setValue(FOLDERS_KEY, [f for f in self.folders() if f != root])
            self.rescan()

    def _added_root(self, m: LocalModel | None) -> str:
        if m is None or m.source != FOLDER:
            return ""
        return next((f for f in self.folders() if Path(m.path).is_relative_to(Path(f).expanduser())), "")

    # ---- scanning ----------------------------------------------------------------------------
    def rescan(self) -> None:
        """Names first (milliseconds), then every GGUF header (seconds each, once per file)."""
        folders = tuple(self.folders())
        self.where.setText("Looking for models…")
        self.background.run(
            lambda: scan(folders, read_gguf=False), lambda found: self._listed(folders, found)
        )

    def _listed(self, folders: tuple[str, ...], found: list[LocalModel]) -> None:
        """The names are shown: the GGUF headers not read before are read next."""
        self._show(found, reading=True)
        if any(m.why_not == READING for m in found):
            self.background.run(lambda: scan(folders), lambda found: self._show(found, reading=False))

    def _show(self, found: list[LocalModel], reading: bool) -> None:
        chosen = self._selected()
        self.models = found
        opens = sum(m.opens for m in found)
        unread = sum(m.why_not == READING for m in found)
        places = ", ".join(str(p) for p in [*lmstudio_dirs()[:1], ollama_dir()])
        self.where.setText(
            (f"{len(found)} model(s), {opens} of them open here"
             + (f"; reading {unread} GGUF file(s)…" if unread and reading else ".")
             + " Nothing is downloaded.")
            if found
            else f"No models found in the Hugging Face cache, {places} or an added folder."
        )  # fmt: skip
        self.table.setRowCount(len(found))
        muted = QBrush(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
        for row, m in enumerate(found):
            cells = (
                m.name, m.source, m.family or "—", format_count(m.n_params) if m.n_params else "—",
                m.quantization or "—", _size(m.size), "yes" if m.opens else m.why_not if m.why_not == READING
                else f"no: {m.why_not}",
            )  # fmt: skip
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(m.path if col == 0 else text)
                if not m.opens:
                    item.setForeground(muted)
                self.table.setItem(row, col, item)
            if chosen is not None and m.path == chosen.path:
                self.table.selectRow(row)
        self._on_selection_changed()

    # ---- choosing ----------------------------------------------------------------------------
    def _selected(self) -> LocalModel | None:
        rows = self.table.selectionModel().selectedRows()
        return self.models[rows[0].row()] if rows and rows[0].row() < len(self.models) else None

    def _on_selection_changed(self) -> None:
        m = self._selected()
        self.open_button.setEnabled(m is not None and m.opens)
        self.open_button.setToolTip("" if m is None or m.opens else m.why_not)
        self.remove_button.setEnabled(bool(self._added_root(m)))

    def _on_cell_double_clicked(self, row: int, _col: int) -> None:
        if self.models[row].opens:
            self.table.selectRow(row)
            self._on_open()

    def _on_open(self) -> None:
        m = self._selected()
        if m is not None and m.opens:
            self.chosen = m.opens_as
            self.accept()


def _size(n: int) -> str:
    if not n:
        return "—"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n} B"
