"""Fine-tuning settings: the task, the data (text, or labelled rows and their columns), the preset."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from models.errors import ModelError
from models.text.labelled import LABELLED_TASKS, columns
from models.training.settings import FINETUNE_PRESETS
from playground.info import ModelInfo
from playground.worker.requests import Finetune

TOOLTIP = Qt.ItemDataRole.ToolTipRole
TASKS = {"classify": "Classify texts (BERT)", "lm": "Continue on new text"}
CHOOSE_TEXT, CHOOSE_LABELLED = "Text file…", "Labelled file (CSV, TSV, JSON Lines)…"
DATA = {
    "lm": [("Shakespeare (built-in)", "shakespeare"), (CHOOSE_TEXT, CHOOSE_TEXT)],
    "classify": [
        (f"{t.name.replace('-', ' ').capitalize()} (built-in)", f"task:{t.name}")
        for t in LABELLED_TASKS.values()
    ]
    + [(CHOOSE_LABELLED, CHOOSE_LABELLED)],
}
INTS = (  # (setting, label, minimum, maximum, tooltip)
    ("steps", "Steps", 1, 1_000_000, "Optimizer steps of the fine-tune"),
    ("batch_size", "Batch", 1, 4096, "Examples (or windows of text) per step"),
    ("context", "Context", 8, 8192, "Tokens per example; longer texts are cut (and the run says how many)"),
    (
        "trainable_blocks",
        "Train last blocks",
        0,
        1000,
        "Only the last N blocks (and the heads) learn; 0 = all",
    ),
    ("seed", "Seed", 0, 2**31 - 1, "Same seed, same run (and the same from-scratch twin)"),
)


class FinetuneForm(QWidget):
    """Emits `validity_changed(message)` on every edit: "" when the settings can start."""

    validity_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info: ModelInfo | None = None
        self.message = ""  # why the settings cannot start, "" when they can
        self._labelled_file = ""  # the labelled file chosen, whose columns the boxes list
        self._encoder: bool | None = None  # whether the model shown last was an encoder (BERT)
        self.error = QLabel(wordWrap=True)  # laid out last; edits while building already write it
        self.error.setStyleSheet("color: #d9534f")
        form = QFormLayout(self)
        self.model_label = QLabel("no model", wordWrap=True)
        form.addRow("Starts from", self.model_label)
        self.task = QComboBox()
        for key, title in TASKS.items():
            self.task.addItem(title, key)
        self.task.setToolTip(
            "Labels for a BERT classifier, or more of the model's own pre-training on new text"
        )
        self.task.currentIndexChanged.connect(self._on_task_changed)
        form.addRow("Task", self.task)
        self.data = QComboBox()
        self.data.activated.connect(self._on_data_activated)
        form.addRow("Data", self.data)
        self.text_column, self.label_column = QComboBox(), QComboBox()
        self.text_column.setToolTip("The column holding each example's text")
        self.label_column.setToolTip("The column holding each example's label")
        for box in (self.text_column, self.label_column):
            box.currentIndexChanged.connect(self._on_edited)
        form.addRow("Text column", self.text_column)
        form.addRow("Label column", self.label_column)
        self.ints: dict[str, QSpinBox] = {}
        for name, label, low, high, tip in INTS:
            box = QSpinBox(minimum=low, maximum=high, toolTip=tip)
            box.valueChanged.connect(self._on_edited)
            self.ints[name] = box
            form.addRow(label, box)
        self.ints["seed"].setValue(1337)
        self.lr = QDoubleSpinBox(decimals=6, minimum=1e-7, maximum=1.0, singleStep=1e-5)
        self.lr.setToolTip("Peak learning rate: a fine-tune uses a rate about 10x below pre-training's")
        self.lr.valueChanged.connect(self._on_edited)
        form.addRow("Learning rate", self.lr)
        self.val_fraction = QDoubleSpinBox(decimals=2, minimum=0.05, maximum=0.85, singleStep=0.05)
        self.val_fraction.setToolTip("Share of the examples held out to score the model on")
        self.val_fraction.valueChanged.connect(self._on_edited)
        form.addRow("Held out", self.val_fraction)
        self.scratch = QCheckBox("Then train the same architecture from scratch")
        self.scratch.setToolTip(
            "A second run on the same data, settings and steps, from random weights: its curve is drawn\n"
            "beside the fine-tune's, to show what pre-training bought. The fine-tuned model stays active."
        )
        form.addRow(self.scratch)
        self.notices = (self.error,)  # shown under the form, in view as one types
        self._on_task_changed()

    # ---- reading the settings ---------------------------------------------------------------
    @property
    def task_key(self) -> str:
        return str(self.task.currentData())

    def request(self, scratch: bool = False) -> Finetune:
        settings = {name: box.value() for name, box in self.ints.items()} | {"lr": self.lr.value()}
        settings["min_lr"] = settings["lr"] / 10
        if self.task_key == "classify":
            settings["val_fraction"] = self.val_fraction.value()
        labelled = self.task_key == "classify" and self.data.currentData() == self._labelled_file
        return Finetune(
            task=self.task_key,
            data=str(self.data.currentData()),
            settings=settings,
            text_column=self.text_column.currentText() if labelled else "",
            label_column=self.label_column.currentText() if labelled else "",
            scratch=scratch,
        )

    def set_model(self, info: ModelInfo | None) -> None:
        self.info = info
        if info is None:
            self.model_label.setText("no model")
        else:
            caps = info.capabilities
            head = (
                f"a classifier, labels: {', '.join(f'“{label}”' for label in info.labels)}"
                if caps.classifier
                else ("with its masked-LM head" if caps.masked_lm else "encoder only")
                if caps.encoder_only
                else "a causal LM"
            )
            self.model_label.setText(f"<b>{info.name}</b> ({info.kind}, {head})")
            self.ints["context"].setMaximum(info.context)
            self.ints["trainable_blocks"].setMaximum(info.n_layer)
            # another kind of model: its usual task; the same kind (the end of a fine-tune): the
            # task stays, unless the model cannot do it (a BERT without its masked-LM head)
            lm_ok = not caps.encoder_only or caps.masked_lm
            if caps.encoder_only != self._encoder:
                wanted = "classify" if caps.encoder_only else "lm"
            else:
                wanted = self.task_key if lm_ok else "classify"
            self._encoder = caps.encoder_only
            if wanted != self.task_key:
                self.task.setCurrentIndex(self.task.findData(wanted))
        self._on_edited()

    def set_data_path(self, path: str) -> None:
        """Add (once) and select a text or labelled file as the data."""
        index = self.data.findData(path)
        if index < 0:
            self.data.insertItem(self.data.count() - 1, Path(path).name, path)
            index = self.data.count() - 2
            self.data.setItemData(index, path, TOOLTIP)
        self.data.setCurrentIndex(index)
        if self.task_key == "classify":
            self._labelled_file = path
            self._read_columns(path)
        self._on_edited()

    # ---- slots ------------------------------------------------------------------------------
    def _on_task_changed(self, *_args) -> None:
        task = self.task_key
        preset = FINETUNE_PRESETS[task]
        for name, box in self.ints.items():
            if name in preset:
                box.blockSignals(True)
                box.setValue(min(int(preset[name]), box.maximum()))
                box.blockSignals(False)
        self.lr.blockSignals(True)
        self.lr.setValue(float(preset["lr"]))
        self.lr.blockSignals(False)
        self.val_fraction.setValue(float(preset.get("val_fraction", 0.1)))
        self.val_fraction.setEnabled(task == "classify")
        self.data.clear()
        for title, value in DATA[task]:
            self.data.addItem(title, value)
        self._labelled_file = ""
        self.text_column.clear()
        self.label_column.clear()
        self._on_edited()

    def _on_data_activated(self, _index: int) -> None:
        choice = self.data.currentData()
        if choice in (CHOOSE_TEXT, CHOOSE_LABELLED):
            kinds = (
                "Text (*.txt);;All (*)"
                if choice == CHOOSE_TEXT
                else "Labelled (*.csv *.tsv *.jsonl *.json);;All (*)"
            )
            path, _ = QFileDialog.getOpenFileName(self, "Fine-tune on…", "", kinds)
            if path:
                self.set_data_path(path)
            else:
                self.data.setCurrentIndex(0)
        self._on_edited()

    def _read_columns(self, path: str) -> None:
        for box in (self.text_column, self.label_column):
            box.blockSignals(True)
            box.clear()
        try:
            names = columns(path)
        except ModelError as e:
            names = []
            self.error.setText(str(e))
        from models.text.labelled import LABEL_COLUMNS, TEXT_COLUMNS

        self.text_column.addItems(names)
        self.label_column.addItems(names)
        lower = [n.lower() for n in names]
        text = next((lower.index(c) for c in TEXT_COLUMNS if c in lower), 0)
        label = next((lower.index(c) for c in LABEL_COLUMNS if c in lower), len(names) - 1)
        self.text_column.setCurrentIndex(text)
        self.label_column.setCurrentIndex(max(label, 0))
        for box in (self.text_column, self.label_column):
            box.blockSignals(False)

    def _on_edited(self, *_args) -> None:
        labelled = (
            self.task_key == "classify"
            and bool(self._labelled_file)
            and (self.data.currentData() == self._labelled_file)
        )
        self.text_column.setEnabled(labelled)
        self.label_column.setEnabled(labelled)
        self.message = self._problem()
        self.error.setText(self.message)
        self.validity_changed.emit(self.message)

    def _problem(self) -> str:
        info = self.info
        if info is None:
            return "Open a model first: a fine-tune starts from the active model."
        caps = info.capabilities
        if caps.encoder_decoder:
            return "An encoder–decoder is not fine-tuned here: it trains on pairs in the Training tab."
        if self.data.currentData() in (CHOOSE_TEXT, CHOOSE_LABELLED):
            return "Choose the data to fine-tune on."
        if self.task_key == "classify":
            if not caps.encoder_only:
                return (
                    "Classification needs a BERT: open the built-in BERT (Ctrl+Shift+B) or a BERT folder. "
                    "A GPT can be fine-tuned on new text."
                )
            if self.data.currentData() == self._labelled_file:
                if self.text_column.currentText() == self.label_column.currentText():
                    return "The text and the label must be different columns."
        elif caps.encoder_only and not caps.masked_lm:
            return (
                "This BERT has no masked-LM head (encoder only, or a classifier): "
                "it can only be fine-tuned to classify."
            )
        if self.ints["trainable_blocks"].value() > info.n_layer:
            return f"The model has {info.n_layer} blocks."
        return ""
