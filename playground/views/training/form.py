"""Training settings: corpus, architecture, tokenizer, preset, hyperparameters — checked as you type."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
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
from models.text.modadd import DESCRIPTION as MODADD_DESCRIPTION
from models.text.modadd import LOOK_FOR as MODADD_LOOK_FOR
from models.text.modadd import NAME as MODADD
from models.text.pairs import PAIR_TASKS, pair_problem
from models.text.tasks import TASKS
from models.training.settings import DEVICES, PRESETS, TOKENIZERS, TrainConfig, tokenizer_for
from playground.errors import sentence

TOOLTIP = Qt.ItemDataRole.ToolTipRole
FILE_ITEM, FOLDER_ITEM, PAIRS_ITEM = "Text file…", "Folder of .txt files…", "Pairs file (TSV)…"
PAIRS = "pairs:"  # the form's prefix for an encoder–decoder's data: "pairs:reverse", "pairs:/path.tsv"
# picking a corpus picks its preset
SWEEP_SIZES, SWEEP_TOKENS = "20k,60k,200k,600k,1.5M", "1M"  # the scaling preset's sweep
CORPUS_PRESET = {"task": "task", "shakespeare": "shakespeare", "pairs": "seq2seq", MODADD: "grok"}
# (field, label, minimum, maximum, tooltip); floats get a QDoubleSpinBox
INT_FIELDS = (
    ("n_layer", "Layers", 1, 48, "Transformer blocks"),
    ("n_head", "Heads", 1, 64, "Attention heads per block; must divide the width"),
    ("n_embd", "Width", 8, 4096, "Size of the residual stream"),
    ("context", "Context", 2, 8192, "Training window in tokens"),
    ("batch_size", "Batch", 1, 4096, "Windows per optimizer step"),
    ("steps", "Steps", 1, 1_000_000, "Optimizer steps in the whole run"),
    ("warmup_steps", "Warmup", 0, 100_000, "Steps of linear learning-rate warmup"),
    ("vocab_size", "Vocabulary", 32, 100_000, "Target size of a learned BPE/WordPiece vocabulary"),
    ("eval_every", "Validate every", 0, 100_000, "Validation loss every N steps (0: only at the end)"),
    ("probe_every", "Probe every", 0, 100_000, "Attention snapshot every N steps (0: never)"),
    ("sample_every", "Sample every", 0, 100_000, "A generated sample every N steps (0: never)"),
    ("seed", "Seed", 0, 2**31 - 1, "Same seed, same run"),
    ("modulus", "Modulus p", 2, 1000, "Modular addition: (a + b) mod p, p a prime"),
)
FLOAT_FIELDS = (
    ("lr", "Learning rate", 1e-6, 1000.0, 6, "Peak learning rate after warmup"),
    ("min_lr", "Final learning rate", 0.0, 100.0, 6, "Floor of the cosine decay"),
    ("dropout", "Dropout", 0.0, 0.95, 2, "One rate for embeddings, attention and residuals"),
    ("weight_decay", "Weight decay", 0.0, 100.0, 3, "AdamW's decay of the weight matrices"),
    ("train_fraction", "Training fraction", 0.0, 1.0, 2,
     "Modular addition: the share of the pairs trained on (the rest are held out)"),
    ("repeat_share", "Repeated passages", 0.0, 1.0, 2,
     "The share of windows that are one passage read over and over: copying from context\n"
     "pays at once, and induction heads form in minutes instead of days"),
)  # fmt: skip
MODADD_FIELDS = ("modulus", "train_fraction")  # shown only for the modular-addition task


class TrainingForm(QWidget):
    """Emits `validity_changed(message)` on every edit: "" when the settings make a valid run."""

    validity_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._form = form = QFormLayout(self)
        self.corpus = QComboBox()
        for task in TASKS.values():
            self.corpus.addItem(f"Task: {task.name}", f"task:{task.name}")
            self.corpus.setItemData(self.corpus.count() - 1, task.description, TOOLTIP)
        self.corpus.addItem("Task: modadd (grokking)", MODADD)
        self.corpus.setItemData(self.corpus.count() - 1, MODADD_DESCRIPTION, TOOLTIP)
        for name in BUILTIN_CORPORA:
            self.corpus.addItem(f"{name.capitalize()} (built-in)", name)
        self.corpus.setItemData(self.corpus.count() - 1, "Tiny Shakespeare, 1.1 MB, public domain", TOOLTIP)
        for task in PAIR_TASKS.values():  # source → target, for the encoder–decoder
            self.corpus.addItem(f"Pairs: {task.name}", f"{PAIRS}{task.name}")
            self.corpus.setItemData(self.corpus.count() - 1, f"{task.description} (encoder–decoder)", TOOLTIP)
        self.corpus.addItem(FILE_ITEM, FILE_ITEM)
        self.corpus.addItem(FOLDER_ITEM, FOLDER_ITEM)
        self.corpus.addItem(PAIRS_ITEM, PAIRS_ITEM)
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
        self.arch.addItem("Encoder–decoder (source → target)", "seq2seq")
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
        self.induction = QCheckBox("at every validation")
        self.induction.setToolTip(
            "Score every head as an induction head, measure in-context learning (late minus early\n"
            "loss) and knock the best induction heads out: the phase change marked on the loss"
        )
        self.induction.toggled.connect(self._on_edited)
        form.addRow("Induction heads", self.induction)
        self.probe_text = QLineEdit(placeholderText="(a line from the corpus)")
        self.probe_text.setToolTip("The text whose attention is snapshotted as the model learns")
        self.probe_text.textChanged.connect(self._on_edited)
        form.addRow("Probe text", self.probe_text)
        self.sizes = QLineEdit(SWEEP_SIZES, toolTip="Non-embedding parameters of each model (k, M)")
        self.sizes.textChanged.connect(self._on_edited)
        form.addRow("Sizes", self.sizes)
        self.tokens = QLineEdit(SWEEP_TOKENS, toolTip="Tokens each model trains on (k, M)")
        self.tokens.textChanged.connect(self._on_edited)
        form.addRow("Tokens each", self.tokens)
        self.error = QLabel(wordWrap=True)
        self.error.setStyleSheet("color: #d9534f")
        self.warning = QLabel(wordWrap=True)  # legal but risky settings: said, not refused
        self.warning.setStyleSheet("color: #e0a030")
        self.notices = (self.error, self.warning)  # shown under the form, in view as one types
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
            "induction_heads": self.induction.isChecked() and self.induction.isVisibleTo(self),
        }
        if not self.floats["repeat_share"].isVisibleTo(self):  # (not a GPT learning a text)
            values["repeat_share"] = 0.0
        base = PRESETS[self.preset.currentData()].config
        return base.replace(**values)

    def scaling(self) -> bool:
        """The scaling preset: Train runs a sweep of sizes, not one model."""
        return self.preset.currentData() == "scaling"

    def sweep_settings(self) -> tuple[tuple[int, ...], int]:
        """(sizes, tokens) as typed; ModelError with the reason if they cannot make a sweep."""
        from models.training.scaling import run_configs
        from playground.cli.sweep import count

        try:
            sizes = tuple(count(s) for s in self.sizes.text().split(",") if s.strip())
            tokens = count(self.tokens.text())
        except ValueError as e:  # (argparse's error is a ValueError)
            raise ModelError(f"sizes and tokens are counts such as 20k or 1.5M: {e}") from e
        run_configs(list(sizes), tokens)
        return sizes, tokens

    def corpus_source(self) -> str:
        """What the trainer reads: a file, a folder, "task:NAME" (an encoder–decoder's pair tasks too)."""
        source = str(self.corpus.currentData())
        if source.startswith(PAIRS):
            name = source.removeprefix(PAIRS)
            return f"task:{name}" if name in PAIR_TASKS else name
        return source

    def apply(self, cfg: TrainConfig) -> None:
        """Show a config's values (from a preset) without emitting a storm of checks."""
        names = {f.name for f in fields(cfg)}
        for widget in [*self.ints.values(), *self.floats.values(), self.arch, self.tokenizer, self.induction]:
            widget.blockSignals(True)
        for name, box in [*self.ints.items(), *self.floats.items()]:
            if name in names:
                box.setValue(getattr(cfg, name))
        self.arch.setCurrentIndex(self.arch.findData(cfg.arch))
        self.tokenizer.setCurrentIndex(self.tokenizer.findData(cfg.tokenizer))
        self.induction.setChecked(cfg.induction_heads)
        for widget in [*self.ints.values(), *self.floats.values(), self.arch, self.tokenizer, self.induction]:
            widget.blockSignals(False)
        self._on_edited()

    def set_corpus_path(self, path: str, pairs: bool = False) -> None:
        """Add (once) and select a file or folder as the corpus (or a TSV of pairs)."""
        data = f"{PAIRS}{path}" if pairs else path
        index = self.corpus.findData(data)
        if index < 0:
            index = self.corpus.count() - 3  # before the three "…" items
            self.corpus.insertItem(index, f"{Path(path).name} (pairs)" if pairs else Path(path).name, data)
            self.corpus.setItemData(index, path, TOOLTIP)
        self.corpus.setCurrentIndex(index)

    # ---- slots ---------------------------------------------------------------------------------
    def _on_preset_activated(self, _index: int) -> None:
        if self.preset.currentData() == "grok":  # grokking's settings are for its task alone
            self.corpus.setCurrentIndex(self.corpus.findData(MODADD))
        elif (self.scaling() or self.preset.currentData() == "induction") and str(
            self.corpus.currentData()
        ).startswith(("task:", PAIRS)):  # a text
            self.corpus.setCurrentIndex(self.corpus.findData("shakespeare"))
        self.apply(PRESETS[self.preset.currentData()].config)

    def _on_arch_changed(self, _index: int) -> None:
        # BERT only works with WordPiece and GPT not with it: follow the architecture
        want = tokenizer_for(self.arch.currentData(), self.tokenizer.currentData())
        self.tokenizer.setCurrentIndex(self.tokenizer.findData(want))
        self._on_edited()

    def _on_corpus_activated(self, _index: int) -> None:
        choice = self.corpus.currentData()
        key = choice if choice in CORPUS_PRESET else choice.split(":")[0] if isinstance(choice, str) else ""
        preset = CORPUS_PRESET.get(key)
        if preset is not None and preset != self.preset.currentData():  # the settings it needs
            self.preset.setCurrentIndex(self.preset.findData(preset))
            self.apply(PRESETS[preset].config)
        if choice == FILE_ITEM:
            path, _ = QFileDialog.getOpenFileName(self, "Train on a text file", "", "Text (*.txt);;All (*)")
        elif choice == FOLDER_ITEM:
            path = QFileDialog.getExistingDirectory(self, "Train on a folder of .txt files")
        elif choice == PAIRS_ITEM:
            path, _ = QFileDialog.getOpenFileName(
                self, "Train an encoder–decoder on pairs (source and target columns)", "",
                "Tab-separated (*.tsv *.txt);;All (*)",
            )  # fmt: skip
            if path:
                self.preset.setCurrentIndex(self.preset.findData("seq2seq"))
                self.apply(PRESETS["seq2seq"].config)
                self.set_corpus_path(path, pairs=True)
                return
        else:
            return
        if path:
            if self.preset.currentData() in ("task", "seq2seq", "grok"):  # a text: a text preset
                self.preset.setCurrentIndex(self.preset.findData("tiny"))
                self.apply(PRESETS["tiny"].config)
            self.set_corpus_path(path)
        else:
            self.corpus.setCurrentIndex(0)

    def forget_failed_corpus(self, source: str, message: str) -> bool:
        """The file or folder `source` a run could not read (its message starts with the path)
        leaves the list; True if it did. Built-in corpora stay."""
        if not source or not Path(source).is_absolute() or not message.startswith(source):
            return False
        index = max(self.corpus.findData(source), self.corpus.findData(f"{PAIRS}{source}"))
        if index < 0:
            return False
        if index == self.corpus.currentIndex():
            self.corpus.setCurrentIndex(0)
        self.corpus.removeItem(index)
        return True

    def _on_edited(self, *_args) -> None:
        source, choice = self.corpus_source(), str(self.corpus.currentData())
        pairs = choice.startswith(PAIRS)
        task = TASKS.get(source.removeprefix("task:")) if source.startswith("task:") and not pairs else None
        pair_task = PAIR_TASKS.get(choice.removeprefix(PAIRS)) if pairs else None
        modadd, scaling = source == MODADD, self.scaling()
        for name in MODADD_FIELDS:  # (asked only where they mean something)
            self._form.setRowVisible(self.floats.get(name) or self.ints[name], modadd)
        for box in (self.sizes, self.tokens):
            self._form.setRowVisible(box, scaling)
        # (a GPT learning a text or a task; not grokking's pairs, a sweep or an encoder–decoder)
        text_gpt = self.arch.currentData() == "gpt" and not (modadd or scaling or pairs)
        self._form.setRowVisible(self.induction, text_gpt)
        self._form.setRowVisible(self.floats["repeat_share"], text_gpt)
        for name, box in [*self.ints.items(), *self.floats.items()]:  # a sweep sets each size's own
            if name not in (*MODADD_FIELDS, "repeat_share"):
                self._form.setRowVisible(box, not scaling or name == "seed")
        if modadd:
            hint = (
                f"<b>Look for:</b> {MODADD_LOOK_FOR}<br><b>Prompt it with:</b> a+b= with a and b "
                "below p (12+34=)"
            )
        elif task:
            hint = f"<b>Look for:</b> {task.look_for}<br><b>Prompt it with:</b> {task.prompt_hint}"
        elif pair_task:
            hint = f"<b>Look for</b> (cross-attention): {pair_task.look_for}"
        else:
            hint = f"<b>Corpus:</b> {source}"
        self.look_for.setText(hint)
        self.preset_note.setText(PRESETS[self.preset.currentData()].description)
        seq2seq = self.arch.currentData() == "seq2seq"
        self.tokenizer.setEnabled(not seq2seq)  # an encoder–decoder reads characters
        self.probe_text.setPlaceholderText(
            "(a held-out pair: source → target, or source -> target)"
            if seq2seq
            else "(a line from the corpus)"
        )
        try:
            warnings = self.config().warnings()
            message = ""
            if seq2seq and not pairs:
                message = "An encoder–decoder learns from pairs: pick a Pairs task or a pairs file (TSV)."
            elif pairs and not seq2seq:
                message = "Pairs train an encoder–decoder: pick that architecture (or the seq2seq preset)."
            elif scaling and (modadd or pairs or self.arch.currentData() != "gpt"):
                message = (
                    "A scaling sweep trains GPTs on a text: pick a text corpus and the GPT architecture."
                )
            elif scaling:
                self.sweep_settings()
            elif seq2seq and self.probe_text.text() and pair_problem(self.probe_text.text()):
                message = f"{sentence(pair_problem(self.probe_text.text()))}; or leave it empty."
        except ModelError as e:
            message, warnings = str(e), []
        self.message = message
        self.error.setText(message)
        self.warning.setText("\n".join(f"Warning: {w}" for w in warnings))
        self.validity_changed.emit(message)
