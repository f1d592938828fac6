"""F1: every shortcut, searchable, gathered from the window's own actions and views (never a list
kept by hand that drifts from what the keys do)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHeaderView,
    QLineEdit,
    QMainWindow,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

Row = tuple[str, str, str]  # keys, what they do, where


def gather(window: QMainWindow, views: dict[str, object], titles: dict[str, str]) -> list[Row]:
    """(keys, what, where) of every menu action with a shortcut, every view's QShortcut (its
    whatsThis says what it does) and the keys and clicks a view handles itself (its `KEYS`)."""
    rows: list[Row] = []
    for menu_action in window.menuBar().actions():
        _menu_rows(menu_action.menu(), menu_action.text().replace("&", ""), rows)
    for name, view in views.items():
        where = titles[name]
        for shortcut in view.findChildren(QShortcut):
            if shortcut.whatsThis():
                rows.append((_keys(shortcut.key()), shortcut.whatsThis(), where))
        rows += [(keys, what, where) for keys, what in getattr(view, "KEYS", ())]
    seen, unique = set(), []
    for row in rows:  # Ctrl+Return and Ctrl+Enter, or one key in two places, once each
        if row not in seen:
            seen.add(row)
            unique.append(row)
    return unique


def _menu_rows(menu, where: str, rows: list[Row]) -> None:
    if menu is None:
        return
    for action in menu.actions():
        if action.menu() is not None:
            _menu_rows(action.menu(), f"{where} ▸ {action.text().replace('&', '')}", rows)
        elif isinstance(action, QAction) and not action.shortcut().isEmpty():
            rows.append((_keys(action.shortcut()), action.text().replace("&", ""), where))


def _keys(sequence: QKeySequence) -> str:
    return sequence.toString(QKeySequence.SequenceFormat.NativeText)


class ShortcutSheet(QDialog):
    """A table of (keys, what, where) with a filter box: type "knock" or "F5"."""

    def __init__(self, rows: list[Row], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(720, 560)
        self.search = QLineEdit(placeholderText="Search: a key, an action or a tab")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter)
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Keys", "Does", "Where"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.table, 1)
        self.search.setFocus(Qt.FocusReason.OtherFocusReason)

    def visible_rows(self) -> list[Row]:
        return [
            tuple(self.table.item(r, c).text() for c in range(3))
            for r in range(self.table.rowCount())
            if not self.table.isRowHidden(r)
        ]

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        for r in range(self.table.rowCount()):
            line = " ".join(self.table.item(r, c).text() for c in range(3)).lower()
            self.table.setRowHidden(r, not all(w in line for w in words))
