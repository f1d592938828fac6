"""Sampling controls (temperature, top-k, top-p, max tokens, seed) that build SamplingSettings."""

from __future__ import annotations

import random

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QSpinBox, QWidget

from models.inspect.sampling import SamplingSettings


class SamplingForm(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.temperature = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=5.0, singleStep=0.1, value=0.8)
        self.temperature.setSpecialValueText("0 (greedy)")
        self.top_k = QSpinBox(minimum=0, maximum=100_000, value=0)
        self.top_k.setSpecialValueText("off")
        self.top_p = QDoubleSpinBox(decimals=2, minimum=0.01, maximum=1.0, singleStep=0.05, value=1.0)
        self.max_tokens = QSpinBox(minimum=1, maximum=10_000, value=200)
        self.seed = QSpinBox(minimum=-1, maximum=2**31 - 1, value=-1)
        self.seed.setSpecialValueText("random")
        self.chat = QCheckBox("wrap the prompt in the model's chat template")
        self.chat.setEnabled(False)  # until a model with a chat template opens
        tips = {
            self.temperature: "Higher = more surprising; 0 always takes the most likely token",
            self.top_k: "Sample only among the k most likely tokens",
            self.top_p: "Sample among the fewest tokens whose probabilities reach p",
            self.max_tokens: "Stop after this many new tokens",
            self.seed: "Same seed, same text; 'random' draws afresh each time",
            self.chat: "Instruct models answer a user's turn: the prompt becomes one, in the\n"
            "model's own template (the Attention tab shows the template's tokens)",
        }
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        for label, box in (
            ("Temperature", self.temperature),
            ("Top-k", self.top_k),
            ("Top-p", self.top_p),
            ("Max tokens", self.max_tokens),
            ("Seed", self.seed),
            ("Chat", self.chat),
        ):
            box.setToolTip(tips[box])
            form.addRow(label, box)

    def settings(self) -> SamplingSettings:
        """The form's settings; "random" draws a fresh seed here, so a run always knows its seed
        (its export and its recipe can then make the same text again)."""
        seed = self.seed.value()
        return SamplingSettings(
            max_new_tokens=self.max_tokens.value(),
            temperature=self.temperature.value(),
            top_k=self.top_k.value(),
            top_p=self.top_p.value(),
            seed=random.randrange(2**31) if seed < 0 else seed,
            alternatives=10,
            attention=True,  # each token's attention row, for the click-to-inspect panel
            chat=self.chat.isEnabled() and self.chat.isChecked(),
        )

    def apply(self, values: dict) -> None:
        """Set the boxes from a recipe's values (temperature, top_k, top_p, max_tokens, seed, chat)."""
        for name in ("temperature", "top_k", "top_p", "max_tokens", "seed"):
            if name in values and values[name] is not None:
                box = getattr(self, name)
                box.setValue(type(box.value())(values[name]))
        self.chat.setChecked(bool(values.get("chat", False)))

    def model_changed(self, has_template: bool) -> None:
        """Chat is offered only for a model whose tokenizer has a template (and then on)."""
        self.chat.setEnabled(has_template)
        self.chat.setChecked(has_template)

    def save(self, store: QSettings) -> None:
        for name in ("temperature", "top_k", "top_p", "max_tokens", "seed"):
            store.setValue(f"sampling/{name}", getattr(self, name).value())

    def restore(self, store: QSettings) -> None:
        for name in ("temperature", "top_k", "top_p", "max_tokens", "seed"):
            value = store.value(f"sampling/{name}")
            if value is None:
                continue
            box = getattr(self, name)
            try:
                box.setValue(type(box.value())(value))
            except (TypeError, ValueError):
                pass  # a damaged settings file only loses this one value
