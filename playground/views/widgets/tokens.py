"""Token chips: text whose tokens are tinted anchors, with hover tooltips and click-to-select."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, QUrl, Signal
from PySide6.QtGui import QColor, QCursor, QFont, QPalette, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QTextBrowser, QToolTip, QWidget

from playground import theme

_VISIBLE = str.maketrans({"\n": "↵", "\t": "⇥", "\r": "␍"})


def visible(text: str) -> str:
    """A token as a label: whitespace made visible, never empty."""
    if text == "":
        return "∅"
    if text.strip() == "":
        return text.translate(_VISIBLE).replace(" ", "␣")
    return text.translate(_VISIBLE)


def chip_text(text: str) -> str:
    """A token as it sits in running text: newlines stay line breaks but get a visible mark."""
    return text.replace("\n", "↵\n") if text else ""


class TokenText(QTextBrowser):
    """A read-only text of tinted tokens. Appending is incremental (no re-render per token)."""

    token_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setUndoRedoEnabled(False)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.setFont(font)
        self.tooltip_for: Callable[[int], str] | None = None
        self._spans: list[tuple[int, int]] = []  # document positions of each token
        self._colors: list[QColor | None] = []
        self.selected: int | None = None
        self.following = True  # keep the newest text in view until the user scrolls away
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._on_scroll_range_changed)
        bar.valueChanged.connect(self._on_scroll_value_changed)
        self.anchorClicked.connect(self._on_anchor_clicked)
        self.highlighted.connect(self._on_highlighted)

    # ---- content ------------------------------------------------------------------------------
    def clear_tokens(self) -> None:
        self.clear()
        self._spans, self._colors, self.selected = [], [], None
        self.following = True

    @property
    def token_count(self) -> int:
        return len(self._spans)

    def append_plain(self, text: str, muted: bool = True) -> None:
        fmt = QTextCharFormat()
        if muted:
            fmt.setForeground(self.palette().color(QPalette.ColorRole.PlaceholderText))
        self._end().insertText(text, fmt)

    def append_token(self, text: str, color: QColor | None, bold: bool = False) -> int:
        """Add one token chip; returns its index (the number tooltips and clicks refer to)."""
        index = len(self._spans)
        cursor = self._end()
        start = cursor.position()
        shown = chip_text(text) or "\u200b"  # a zero-width space keeps empty tokens clickable
        cursor.insertText(shown, self._format(index, color, bold))
        self._spans.append((start, cursor.position()))
        self._colors.append(color)
        return index

    def set_tokens(self, texts, colors, bold=None, offsets=None) -> None:
        """Replace the content. With offsets, the spaces the tokenizer dropped come back."""
        self.clear_tokens()
        self.document().blockSignals(True)  # one layout pass at the end, not one per token
        for i, (t, c) in enumerate(zip(texts, colors, strict=True)):
            if offsets is not None and i and _spaced(offsets[i - 1], offsets[i]):
                self.append_plain(" ", muted=False)
            self.append_token(t, c, bool(bold and bold[i]))
        self.document().blockSignals(False)
        self.document().markContentsDirty(0, self.document().characterCount())

    def select(self, index: int | None) -> None:
        """Outline one token (underline + bold), un-marking the previous one."""
        for i, on in ((self.selected, False), (index, True)):
            if i is None or not 0 <= i < len(self._spans):
                continue
            cursor = QTextCursor(self.document())
            cursor.setPosition(self._spans[i][0])
            cursor.setPosition(self._spans[i][1], QTextCursor.MoveMode.KeepAnchor)
            fmt = QTextCharFormat()
            fmt.setFontUnderline(on)
            fmt.setFontWeight(QFont.Weight.Bold if on else QFont.Weight.Normal)
            cursor.mergeCharFormat(fmt)
        self.selected = index

    def token_rect_center(self, index: int):
        """Viewport point in the middle of a token (tests click there like a user would)."""
        start, _end = self._spans[index]
        cursor = QTextCursor(self.document())
        cursor.setPosition(start)
        left = self.cursorRect(cursor)
        cursor.setPosition(start + 1)
        right = self.cursorRect(cursor)
        if right.top() != left.top():  # the first character ends its line: stay on this one
            right = left.translated(6, 0)
        return QPoint((left.left() + right.left()) // 2, left.center().y())

    def scroll_to_token(self, index: int) -> None:
        """Bring a token into view (and stop following the end of the text)."""
        if not 0 <= index < len(self._spans):
            return
        self.following = False
        cursor = QTextCursor(self.document())
        cursor.setPosition(self._spans[index][0])
        self.setTextCursor(cursor)
        self.ensureCursorVisible()

    def scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _on_scroll_range_changed(self, _low: int, high: int) -> None:
        # the layout grows the range after text is appended (lazily, in chunks): follow it there
        if self.following:
            self.verticalScrollBar().setValue(high)

    def _on_scroll_value_changed(self, value: int) -> None:
        self.following = value >= self.verticalScrollBar().maximum() - 4

    # ---- internals ----------------------------------------------------------------------------
    def _end(self) -> QTextCursor:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def _format(self, index: int, color: QColor | None, bold: bool) -> QTextCharFormat:
        fmt = QTextCharFormat()
        fmt.setAnchor(True)
        fmt.setAnchorHref(f"tok:{index}")
        fmt.setForeground(self.palette().color(QPalette.ColorRole.Text))
        if color is not None:
            fmt.setBackground(color)
        if bold:
            fmt.setFontWeight(QFont.Weight.Bold)
        return fmt

    @staticmethod
    def _index(url: QUrl) -> int | None:
        s = url.toString()
        if not s.startswith("tok:"):
            return None
        try:
            return int(s[4:])
        except ValueError:
            return None

    def _on_anchor_clicked(self, url: QUrl) -> None:
        index = self._index(url)
        if index is not None:
            self.select(index)
            self.token_clicked.emit(index)

    def _on_highlighted(self, url: QUrl) -> None:
        index = self._index(url)
        if index is None or self.tooltip_for is None:
            QToolTip.hideText()
            return
        QToolTip.showText(QCursor.pos(), self.tooltip_for(index), self)


def _spaced(before, after) -> bool:
    """A space between two tokens: the input had one, or one side is a special ([CLS], [SEP])."""
    return before[1] == 0 or after[1] == 0 or after[0] > before[1]


def tint(p: float) -> QColor:
    return theme.prob_color(p)
