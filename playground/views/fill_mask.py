"""BERT fill-mask: type a text, click tokens to mask them (or write [MASK]), see the top fills."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from playground.info import ModelInfo
from playground.recipe import recipe_for
from playground.views.widgets.figure_export import ExportButton
from playground.views.widgets.tokens import TokenText, tint, visible
from playground.views.widgets.topk_chart import TopKChart
from playground.worker import WorkerClient
from playground.worker.requests import TOKENS, FillMask, Inspect

SPECIAL = {"[CLS]", "[SEP]", "[PAD]", "<s>", "</s>"}
CHARTS = 3  # bar charts for the first masks; more masks still get their best fill inline


class FillMaskView(QWidget):
    attentions_ready = Signal(object, object, str)  # token texts, float32 [L, H, T, T], text
    saved = Signal(str)
    failed = Signal(str, str)

    def __init__(self, client: WorkerClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.info: ModelInfo | None = None
        self.positions: set[int] = set()
        self.token_texts: tuple[str, ...] = ()
        self.result = None
        self.text = QLineEdit(placeholderText="Type a text; write [MASK] or click tokens below")
        self.text.returnPressed.connect(self._on_text_return_pressed)
        self.text.textEdited.connect(self._on_text_edited)
        self.fill_button = QPushButton("Fill")
        self.fill_button.clicked.connect(self._on_text_return_pressed)
        self.export_button = ExportButton(
            "mask fills",
            lambda: self.charts[0],
            lambda figure: recipe_for(self.client, "fill-mask", self.recipe_settings(), figure),
            {".csv": ("CSV of every mask's fills", self.export_csv)},
            lambda: "" if self.result is not None else "There are no fills to export yet: fill a mask first.",
        )
        self.export_button.saved.connect(self.saved)
        self.export_button.failed.connect(self.failed)
        top = QHBoxLayout()
        top.addWidget(self.text, 1)
        top.addWidget(self.fill_button)
        top.addWidget(self.export_button)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.tokens = TokenText()
        self.tokens.setMaximumHeight(120)
        self.tokens.tooltip_for = self._tooltip
        self.tokens.token_clicked.connect(self._on_tokens_token_clicked)
        self.best = QLabel()
        self.best.setWordWrap(True)
        charts = QHBoxLayout()
        self.charts = [TopKChart("") for _ in range(CHARTS)]
        for chart in self.charts:
            chart.hide()
            charts.addWidget(chart)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.hint)
        layout.addWidget(self.tokens)
        layout.addWidget(self.best)
        layout.addLayout(charts, 1)
        w = client  # the facade relays every answer of the worker
        w.model_loaded.connect(self._on_model_loaded)
        w.mask_filled.connect(self._on_mask_filled)
        w.probed.connect(self._on_probed)
        self._set_hint()

    def _set_hint(self) -> None:
        if self.info is not None and not self.info.can_fill_mask:
            self.hint.setText(
                f"{self.info.name} is not a BERT with a masked-LM head: "
                "open the built-in BERT (Model menu) to fill masks."
            )
        else:
            self.hint.setText(
                "Press Enter, then click tokens to mask them (click again to "
                "unmask). Writing [MASK] in the text works too."
            )

    # ---- requests ---------------------------------------------------------------------------
    def current_text(self) -> str:
        return self.text.text().strip()

    def fill_or_start(self, example: str) -> None:
        """Fill the masks of the current text, or of `example` when the box is empty."""
        if not self.current_text():
            self.text.setText(example)
        self.fill()

    def fill(self) -> None:
        text = self.text.text()
        if not text.strip() or self.info is None or not self.info.can_fill_mask:
            return
        if self.positions or "[MASK]" in text.upper():
            self.client.send(FillMask(text, tuple(sorted(self.positions))))
        else:  # nothing masked yet: show the tokens so one can be clicked
            self.client.send(Inspect(text, TOKENS))

    def _on_text_return_pressed(self) -> None:
        self.fill()

    def _on_text_edited(self, _text: str) -> None:
        self.positions.clear()  # token positions belong to the old text

    def _on_tokens_token_clicked(self, i: int) -> None:
        if not 0 <= i < len(self.token_texts) or self.token_texts[i] in SPECIAL:
            return
        if self.result is not None and i not in self.positions and self.token_texts[i] == "[MASK]":
            return  # a [MASK] written in the text is always masked
        self.positions ^= {i}
        self.fill()

    # ---- answers -----------------------------------------------------------------------------
    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.info = info
        self.positions.clear()
        self.result = None
        self.fill_button.setEnabled(info.can_fill_mask)
        self._set_hint()

    def _on_probed(self, request: int, probe) -> None:
        if request != self.client.newest_probe(TOKENS):
            return
        self.result = None
        self.token_texts = probe.tokens.texts
        self.tokens.set_tokens(self.token_texts, [None] * len(self.token_texts), offsets=probe.tokens.offsets)
        self.best.setText("")
        for chart in self.charts:
            chart.hide()

    def _on_mask_filled(self, result) -> None:
        self.result = result
        self.token_texts = result.tokens.texts
        fills = {f.position: f for f in result.fills}
        colors = [
            tint(float(fills[i].top_probs[0])) if i in fills else None for i in range(len(self.token_texts))
        ]
        self.tokens.set_tokens(
            self.token_texts,
            colors,
            [i in fills for i in range(len(self.token_texts))],
            offsets=result.tokens.offsets,
        )
        guess = [
            visible(fills[i].top_texts[0]).upper() if i in fills else t
            for i, t in enumerate(self.token_texts)
            if t not in SPECIAL
        ]
        self.best.setText("Best guess: " + " ".join(guess).replace(" ##", ""))
        for j, chart in enumerate(self.charts):
            if j < len(result.fills):
                f = result.fills[j]
                chart.set_alternatives(
                    f.top_texts, f.top_probs, chosen=f.top_texts[0], title=f"mask at token {f.position}"
                )
                chart.show()
            else:
                chart.hide()
        if result.attentions is not None:
            self.attentions_ready.emit(self.token_texts, result.attentions, self.text.text())

    # ---- export and recipes -----------------------------------------------------------------------
    def export_csv(self, path) -> None:
        import csv

        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["position", "rank", "token", "probability"])
            for fill in self.result.fills:
                for rank, (text, p) in enumerate(zip(fill.top_texts, fill.top_probs, strict=True), start=1):
                    out.writerow([fill.position, rank, text, f"{p:.6f}"])

    def recipe_settings(self) -> dict:
        return {"text": self.text.text(), "positions": sorted(self.positions)}

    def apply_recipe(self, settings: dict) -> None:
        self.text.setText(str(settings.get("text", "")))
        self.positions = {int(p) for p in settings.get("positions", [])}
        self.fill()

    def _tooltip(self, i: int) -> str:
        if self.result is not None:
            for f in self.result.fills:
                if f.position == i:
                    top = ", ".join(
                        f"{visible(t)} {p:.2f}" for t, p in zip(f.top_texts[:3], f.top_probs[:3], strict=True)
                    )
                    return f"masked: {top}\nclick to unmask"
        if 0 <= i < len(self.token_texts) and self.token_texts[i] in SPECIAL:
            return "special token"
        return "click to mask"
