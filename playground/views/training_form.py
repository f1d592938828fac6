"""Training settings: corpus, architecture, tokenizer, preset, hyperparameters — checked as you type."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from models.errors import ModelError
from models.text.corpus import BUILTIN_CORPORA
from models.text.tasks import TASKS
from models.training.settings import DEVICES, PRESETS, TOKENIZERS, TrainConfig, tokenizer_for

TOOLTIP = Qt.ItemDataRole.ToolTipRole
FILE_ITEM, FOLDER_ITEM = "Text file…", "Folder of .txt files…"
CORPUS_PRESET = {"task": "task", "shakespeare": "shakespeare"}  # picking a corpus picks its preset
# (field, label, minimum, maximum, tooltip); floats get a QDoubleSpinBox
INT_FIELDS = (
    ("n_layer", "Layers", 1, 48, "Transformer blocks"),
    ("n_head", "Heads", 1, 64, "Attention heads per block; must divide the width"),
    ("n_embd", "Width", 8, 4096, "Size of the residual stream"),
    ("context", "Context", 8, 8192, "Training window in tokens"),
    ("batch_size", "Batch", 1, 4096, "Windows per optimizer step"),
    ("steps", "Steps", 1, 1_000_000, "Optimizer steps in the whole run"),
    ("warmup_steps", "Warmup", 0, 100_000, "Steps of linear learning-rate warmup"),
    ("vocab_size", "Vocabulary", 32, 100_000, "Target size of a learned BPE/WordPiece vocabulary"),
    ("eval_every", "Validate every", 0, 100_000, "Validation loss every N steps (0: only at the end)"),
    ("probe_every", "Probe every", 0, 100_000, "Attention snapshot every N steps (0: never)"),
    ("sample_every", "Sample every", 0, 100_000, "A generated sample every N steps (0: never)"),
    ("seed", "Seed", 0, 2**31 - 1, "Same seed, same run"),
)
FLOAT_FIELDS = (
    ("lr", "Learning rate", 1e-6, 1000.0, 6, "Peak learning rate after warmup"),
    ("min_lr", "Final learning rate", 0.0, 100.0, 6, "Floor of the cosine decay"),
    ("dropout", "Dropout", 0.0, 0.95, 2, "One rate for embeddings, attention and residuals"),
)


class TrainingForm(QWidget):
    """Emits `validity_changed(message)` on every edit: "" when the settings make a valid run."""

    validity_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = QFormLayout(self)
        self.corpus = QComboBox()
        for task in TASKS.values():
            self.corpus.addItem(f"Task: {task.name}", f"task:{task.name}")
            self.corpus.setItemData(self.corpus.count() - 1, task.description, TOOLTIP)
        for name in BUILTIN_CORPORA:
            self.corpus.addItem(f"{name.capitalize()} (built-in)", name)
        self.corpus.setItemData(self.corpus.count() - 1, "Tiny Shakespeare, 1.1 MB, public domain", TOOLTIP)
        self.corpus.addItem(FILE_ITEM, FILE_ITEM)
        self.corpus.addItem(FOLDER_ITEM, FOLDER_ITEM)
        self.corpus.setCurrentIndex(list(TASKS).index("reverse"))
        # long file names must not widen the whole panel: the box elides, its tooltip has the path
        self.corpus.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.corpus.setMinimumContentsLength(18)
        self.corpus.activated.connect(self._on_corpus_activated)
        self.corpus.currentIndexChanged.connect(self._on_edited)
        form.addRow("Corpus", self.corpus)
        self.look_for = QLabel(wordWrap=True)  # ordinary text colour: a hint, not a disabled label
        form.addRow(self.look_for)

        self.preset = QComboBox()
        for p in PRESETS.values():
            if p.config.arch == "seq2seq":  # the encoder–decoder trains headless for now
                continue
            self.preset.addItem(p.name, p.name)
            self.preset.setItemData(self.preset.count() - 1, p.description, TOOLTIP)
        self.preset.setCurrentText("task")
        self.preset.activated.connect(self._on_preset_activated)
        form.addRow("Preset", self.preset)
        self.preset_note = QLabel(wordWrap=True)
        form.addRow(self.preset_note)

        self.arch = QComboBox()
        self.arch.addItem("GPT (next token)", "gpt")
        self.arch.addItem("BERT (masked LM)", "bert")
        self.arch.currentIndexChanged.connect(self._on_arch_changed)
        form.addRow("Architecture", self.arch)
        self.tokenizer = QComboBox()
        for kind in TOKENIZERS:
            self.tokenizer.addItem(kind, kind)
        self.tokenizer.currentIndexChanged.connect(self._on_edited)
        form.addRow("Tokenizer", self.tokenizer)

        self.ints: dict[str, QSpinBox] = {}
        for name, label, low, high, tip in INT_FIELDS:
            box = QSpinBox(minimum=low, maximum=high, toolTip=tip)
            box.valueChanged.connect(self._on_edited)
            form.addRow(label, box)
            self.ints[name] = box
        self.floats: dict[str, QDoubleSpinBox] = {}
        for name, label, low, high, decimals, tip in FLOAT_FIELDS:
            box = QDoubleSpinBox(minimum=low, maximum=high, decimals=decimals, toolTip=tip)
            box.setSingleStep(10 ** -min(decimals, 4))
            box.valueChanged.connect(self._on_edited)
            form.addRow(label, box)
            self.floats[name] = box
        self.device = QComboBox()
        for d in DEVICES:
            self.device.addItem(d, d)
        self.device.setToolTip("auto: CUDA, then Apple MPS, then CPU")
        self.device.currentIndexChanged.connect(self._on_edited)
        form.addRow("Device", self.device)
        self.probe_text = QLineEdit(placeholderText="(a line from the corpus)")
        self.probe_text.setToolTip("The text whose attention is snapshotted as the model learns")
        self.probe_text.textChanged.connect(self._on_edited)
        form.addRow("Probe text", self.probe_text)
        self.error = QLabel(wordWrap=True)
        self.error.setStyleSheet("color: #d9534f")
        form.addRow(self.error)
        self.warning = QLabel(wordWrap=True)  # legal but risky settings: said, not refused
        self.warning.setStyleSheet("color: #e0a030")
        form.addRow(self.warning)
        self.message = ""
        self.apply(PRESETS["task"].config)

    # ---- reading and writing the settings ----------------------------------------------------
    def config(self) -> TrainConfig:
        """The settings as a TrainConfig; raises ModelError with a clear message if invalid."""
        values = {name: box.value() for name, box in self.ints.items()}
        values |= {name: box.value() for name, box in self.floats.items()}
        values |= {
            "arch": self.arch.currentData(),
            "tokenizer": self.tokenizer.currentData(),
            "device": self.device.currentData(),
            "probe_text": self.probe_text.text(),
        }
        base = PRESETS[self.preset.currentData()].config
        return base.replace(**values)

    def corpus_source(self) -> str:
        return str(self.corpus.currentData())

    def apply(self, cfg: TrainConfig) -> None:
        """Show a config's values (from a preset) without emitting a storm of checks."""
        names = {f.name for f in fields(cfg)}
        for widget in [*self.ints.values(), *self.floats.values(), self.arch, self.tokenizer]:
            widget.blockSignals(True)
        for name, box in [*self.ints.items(), *self.floats.items()]:
            if name in names:
                box.setValue(getattr(cfg, name))
        self.arch.setCurrentIndex(self.arch.findData(cfg.arch))
        self.tokenizer.setCurrentIndex(self.tokenizer.findData(cfg.tokenizer))
        for widget in [*self.ints.values(), *self.floats.values(), self.arch, self.tokenizer]:
            widget.blockSignals(False)
        self._on_edited()

    def set_corpus_path(self, path: str) -> None:
        """Add (once) and select a file or folder as the corpus."""
        index = self.corpus.findData(path)
        if index < 0:
            self.corpus.insertItem(self.corpus.count() - 2, Path(path).name, path)
            index = self.corpus.count() - 3
            self.corpus.setItemData(index, path, TOOLTIP)
        self.corpus.setCurrentIndex(index)

    # ---- slots ---------------------------------------------------------------------------------
    def _on_preset_activated(self, _index: int) -> None:
        self.apply(PRESETS[self.preset.currentData()].config)

    def _on_arch_changed(self, _index: int) -> None:
        # BERT only works with WordPiece and GPT not with it: follow the architecture
        want = tokenizer_for(self.arch.currentData(), self.tokenizer.currentData())
        self.tokenizer.setCurrentIndex(self.tokenizer.findData(want))
        self._on_edited()

    def _on_corpus_activated(self, _index: int) -> None:
        choice = self.corpus.currentData()
        preset = CORPUS_PRESET.get(choice.split(":")[0] if isinstance(choice, str) else "")
        if preset is not None and preset != self.preset.currentData():  # the settings it needs
            self.preset.setCurrentIndex(self.preset.findData(preset))
            self.apply(PRESETS[preset].config)
        if choice == FILE_ITEM:
            path, _ = QFileDialog.getOpenFileName(self, "Train on a text file", "", "Text (*.txt);;All (*)")
        elif choice == FOLDER_ITEM:
            path = QFileDialog.getExistingDirectory(self, "Train on a folder of .txt files")
        else:
            return
        if path:
            self.set_corpus_path(path)
        else:
            self.corpus.setCurrentIndex(0)

    def _on_edited(self, *_args) -> None:
        source = self.corpus_source()
        task = TASKS.get(source.removeprefix("task:")) if source.startswith("task:") else None
        self.look_for.setText(
            f"<b>Look for:</b> {task.look_for}<br><b>Prompt it with:</b> {task.prompt_hint}"
            if task
            else f"<b>Corpus:</b> {source}"
        )
        self.preset_note.setText(PRESETS[self.preset.currentData()].description)
        try:
            warnings = self.config().warnings()
            message = ""
        except ModelError as e:
            message, warnings = str(e), []
        self.message = message
        self.error.setText(message)
        self.warning.setText("\n".join(f"Warning: {w}" for w in warnings))
        self.validity_changed.emit(message)
