"""Head effects view: every head knocked out, or patched from a clean text, in turn: a layers × heads map."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from playground import theme
from playground.recipe import recipe_for
from playground.views.resets import MODEL
from playground.views.widgets.elided_label import ElidedLabel
from playground.views.widgets.example_text import fill, offer_example, watch_typing
from playground.views.widgets.figure_export import ExportButton
from playground.views.widgets.heatmap import CellLabels, HeatmapPlot, colorbar, symmetric_levels
from playground.views.widgets.tokens import visible
from playground.worker import WorkerClient
from playground.worker.requests import Sweep, Train

KINDS = {"ablation": "Knock out each head", "patching": "Patch each head from the clean text"}
MODES = {"zero": "zero its output", "mean": "its mean over positions"}
EXPLAIN = {
    "ablation": "Each cell: how much the text's loss rises (nats per token) when that head alone is "
    "knocked out. Red: the head helps predict this text; blue: the text reads better without it.",
    "patching": "Each cell: the share of the clean answer's logit difference (answer − other) that "
    "comes back when only that head's output is taken from the clean run into the corrupted run. "
    "1 (100%) restores it all; the texts must have the same number of tokens.",
}
MAX_LABELLED_CELLS = 1024  # beyond this the values would be unreadable: hover instead
EXAMPLE = ("Romeo and Juliet. Romeo and Jul", "Romeo and Helena. Romeo and Hel")  # induction: "i" vs "e"


class HeadsView(QWidget):
    """Runs a head sweep on the worker (stoppable, with progress) and draws it as it fills."""

    failed = Signal(str, str)  # message, details
    saved = Signal(str)
    noted = Signal(str)  # a word in the status bar (nothing to do: no dialog)
    head_chosen = Signal(int, int)  # a cell was clicked: layer, head

    def __init__(self, client: WorkerClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.sweep = None  # the newest HeadSweep
        self.asked: Sweep | None = None  # what it was asked for
        self.request = 0
        self.stale = False  # heads were knocked out or restored since the sweep ran
        self.out: tuple[tuple[int, int], ...] | None = ()  # the heads out in the shown sweep's runs
        self.kind = QComboBox()
        for key, title in KINDS.items():
            self.kind.addItem(title, key)
        self.kind.currentIndexChanged.connect(self._on_kind_changed)
        self.mode = QComboBox()
        for key, title in MODES.items():
            self.mode.addItem(title, key)
        self.mode.setToolTip("How a knocked-out head is replaced")
        self.run_button = QPushButton("Run sweep")
        self.run_button.setToolTip("Every head in turn (Ctrl+Enter)")
        self.run_button.clicked.connect(self.run)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the sweep (Esc); the heads done so far stay shown")
        self.stop_button.clicked.connect(self.stop)
        self.intact = QCheckBox("on the intact model")
        self.intact.setToolTip(
            "Heads are knocked out (K in the Attention tab): sweep the model with every head in instead"
        )
        self.intact.hide()  # offered only while heads are out
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m heads")
        self.progress.setMinimumWidth(self.fontMetrics().horizontalAdvance("9999 / 9999 heads") + 24)
        top = QHBoxLayout()
        for w in (self.kind, self.mode, self.intact, self.run_button, self.stop_button, self.progress):
            top.addWidget(w)
        top.addStretch(1)

        self.text = QLineEdit(placeholderText="Text to sweep (the clean text when patching)")
        watch_typing(self.text)  # a new model's example does not replace what the user typed
        self.corrupted = QLineEdit(
            placeholderText="Corrupted text: as many tokens, the part the answer needs changed"
        )
        self.target = QLineEdit(placeholderText="answer token (empty: the clean prediction)")
        self.other = QLineEdit(placeholderText="against (empty: the corrupted prediction)")
        self.text_label, self.corrupted_label = QLabel("Text"), QLabel("Corrupted")
        self.answer_label = QLabel("Answer")
        fields = QGridLayout()
        fields.addWidget(self.text_label, 0, 0)
        fields.addWidget(self.text, 0, 1, 1, 3)
        fields.addWidget(self.corrupted_label, 1, 0)
        fields.addWidget(self.corrupted, 1, 1, 1, 3)
        fields.addWidget(self.answer_label, 2, 0)
        fields.addWidget(self.target, 2, 1)
        fields.addWidget(self.other, 2, 2)
        for field in (self.text, self.corrupted, self.target, self.other):
            field.returnPressed.connect(self.run)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plots = pg.GraphicsLayoutWidget()
        self.heatmap = HeatmapPlot(diverging=True)
        self.heatmap.setLabel("left", "layer")
        self.heatmap.setLabel("bottom", "head")
        self.heatmap.hovered.connect(self._on_heatmap_hovered)
        self.heatmap.clicked.connect(self._on_heatmap_clicked)
        self.plots.addItem(self.heatmap)
        self.bar = colorbar(self.heatmap, "")
        theme.apply_plot_palette(self.plots)
        self.labels = CellLabels()  # each cell's value, written on it
        self.heatmap.addItem(self.labels)
        self.readout = ElidedLabel("hover a cell; click one to show that head in the Attention tab")
        self.export_button = ExportButton(
            "head sweep",
            lambda: self.plots,
            lambda figure: recipe_for(self.client, "heads", self.recipe_settings(), figure),
            {
                ".csv": ("CSV", self.export_csv),
                ".npy": ("NumPy array", lambda p: np.save(p, self.sweep.values)),
            },
            lambda: "" if self.sweep is not None else "There is no sweep to export yet: run one first.",
        )
        self.export_button.saved.connect(self.saved)
        self.export_button.failed.connect(self.failed)
        exports = QHBoxLayout()
        exports.addWidget(self.readout, 1)
        exports.addWidget(self.export_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(fields)
        layout.addWidget(self.summary)
        layout.addWidget(self.plots, 1)
        layout.addLayout(exports)
        for key, slot, what in (
            ("Ctrl+Return", self.run, "Run the sweep"),
            ("Esc", self.stop, "Stop the sweep"),
        ):
            QShortcut(QKeySequence(key), self, slot).setWhatsThis(what)  # (the F1 sheet lists it)
        QShortcut(QKeySequence("Ctrl+Enter"), self, self.run)
        client.heads_swept.connect(self._on_heads_swept)
        client.ablation_changed.connect(self._on_ablation_changed)
        client.changed.connect(self._sync)
        self._on_kind_changed()
        self._sync()

    # ---- running ----------------------------------------------------------------------------
    def run(self) -> None:
        if not self.run_button.isEnabled():
            return
        kind = self.kind.currentData()
        if not self.text.text().strip():
            self.noted.emit("Type a text to sweep.")
            return
        if kind == "patching" and not self.corrupted.text().strip():
            self.failed.emit(
                "Patching needs a corrupted text: the clean text with the part the answer depends on "
                "changed, as many tokens long.",
                "",
            )
            return
        intact = self.intact.isVisible() and self.intact.isChecked()
        ask = Sweep(
            kind, self.text.text(), self.corrupted.text(), self.target.text().strip(),
            self.other.text().strip(), self.mode.currentData(), intact,
        )  # fmt: skip
        self.request = self.client.send(ask)
        if self.request:
            self.asked = ask
            self.out = None  # known at its first result (a K pressed just before is in by then)
            self.progress.setValue(0)

    def stop(self) -> None:
        self.client.stop(self.request)

    def set_text(self, text: str) -> None:
        """The text the other views show; patching keeps its own pair."""
        if self.kind.currentData() == "ablation" or not self.text.text():
            fill(self.text, text)  # the app's, not typed here: a new model's example may replace it

    def show_example(self, text: str) -> None:
        """A new model's first text, unless the user typed one of their own here (or a pair)."""
        if self.kind.currentData() == "ablation" or not self.text.text():
            offer_example(self.text, text)

    def reset(self, event: str) -> None:
        """MODEL: nothing of the last model's heads is shown."""
        if event == MODEL:
            self.clear()

    def clear(self) -> None:
        """Nothing shown (a new model: the old one's heads say nothing about it)."""
        self.sweep = None
        self.heatmap.clear_matrix()
        self._set_labels(None)
        self.heatmap.setTitle("")
        self.summary.setText(EXPLAIN[self.kind.currentData()])
        info = self.client.info
        self.progress.setRange(0, info.n_layer * info.n_head if info is not None else 0)
        self.progress.setValue(0)

    def _sync(self) -> None:
        """Buttons follow the one state: one sweep at a time, none while training runs."""
        mine = self.client.phase(self.request)
        training = bool(self.client.active(Train))
        self.run_button.setEnabled(not mine and not training and not self.client.closing)
        self.run_button.setToolTip(
            "Stop the training run first: a sweep needs the worker's model to itself"
            if training
            else "Every head in turn (Ctrl+Enter)"
        )
        self.stop_button.setEnabled(bool(mine) and mine != "stopping")

    def _on_kind_changed(self, _index: int = 0) -> None:
        patching = self.kind.currentData() == "patching"
        for w in (self.corrupted, self.corrupted_label, self.target, self.other, self.answer_label):
            w.setVisible(patching)
        self.mode.setVisible(not patching)
        self.text_label.setText("Clean" if patching else "Text")
        if patching and not self.corrupted.text():  # a worked example to start from
            self.text.setText(EXAMPLE[0])
            self.corrupted.setText(EXAMPLE[1])
        if self.sweep is None:
            self.summary.setText(EXPLAIN[self.kind.currentData()])

    # ---- results -----------------------------------------------------------------------------
    def _on_heads_swept(self, sweep) -> None:
        if self.out is None:  # the worker took every earlier request (a knock-out) first, in order
            self.out = () if self.asked.intact else tuple(self.client.ablation[0])
        self.sweep, self.stale = sweep, False
        L, H = sweep.values.shape
        self.progress.setRange(0, sweep.total)
        self.progress.setValue(sweep.done)
        self.heatmap.set_matrix(
            sweep.values, [f"H{h}" for h in range(H)], [f"L{layer}" for layer in range(L)],
            levels=symmetric_levels(sweep.values),
        )  # fmt: skip
        patching = sweep.kind == "patching"
        self.bar.setLabel("left", "share restored" if patching else "loss change (nats)")
        self.heatmap.setTitle(_title(sweep))
        self._set_labels(sweep)
        self.summary.setText(_summary(sweep, self.out))  # (set above for this sweep)

    def _set_labels(self, sweep) -> None:
        if sweep is None or sweep.values.size > MAX_LABELLED_CELLS:  # beyond that, hover instead
            self.labels.set_cells([], [])
            return
        top = max(abs(v) for v in self.heatmap.levels)
        rows = [[_format(sweep, v) if np.isfinite(v) else "" for v in row] for row in sweep.values]
        for layer, head in self.out or ():  # already out in every run of the sweep: nothing to change
            rows[layer][head] = "out"
        colors = [[_label_color(v, top) for v in row] for row in sweep.values]
        self.labels.set_cells(rows, colors)

    def _on_ablation_changed(self, heads, _mode: str) -> None:
        self.intact.setVisible(bool(heads))
        if self.sweep is not None:
            self.stale = True
            self.summary.setText(
                _summary(self.sweep, self.out or ())
                + "\nHeads were knocked out or restored since: run the sweep again."
            )

    def _on_heatmap_hovered(self, row: int, col: int, value: float) -> None:
        if self.sweep is None or row < 0:
            return
        if (row, col) in (self.out or ()):
            self.readout.setText(f"L{row}H{col} was already knocked out in every run of this sweep")
        elif not np.isfinite(value):
            self.readout.setText(f"L{row}H{col}: not computed yet")
        elif self.sweep.kind == "ablation":
            self.readout.setText(f"L{row}H{col} knocked out: the loss changes by {value:+.4f} nats per token")
        else:
            self.readout.setText(
                f"L{row}H{col} patched from the clean run: restores {value:.1%} of the difference"
            )

    def _on_heatmap_clicked(self, row: int, col: int) -> None:
        if self.sweep is not None:
            self.head_chosen.emit(row, col)
            self.readout.setText(f"L{row}H{col} is shown in the Attention tab (K there knocks it out)")

    # ---- export --------------------------------------------------------------------------------
    def export_csv(self, path: str | Path) -> None:
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            L, H = self.sweep.values.shape
            out.writerow(["layer \\ head", *(f"H{h}" for h in range(H))])
            for layer in range(L):
                out.writerow([f"L{layer}", *(f"{v:.6f}" for v in self.sweep.values[layer])])

    def export_npy(self, path: str | Path) -> None:
        np.save(path, self.sweep.values)

    # ---- recipes ----------------------------------------------------------------------------------
    def recipe_settings(self) -> dict:
        """What the shown sweep was asked for (not what the fields say now)."""
        ask = self.asked
        return {
            "kind": ask.sweep, "text": ask.text, "corrupted": ask.corrupted, "target": ask.target,
            "other": ask.other, "mode": ask.mode,
        }  # fmt: skip

    def apply_recipe(self, settings: dict) -> None:
        """Fill the fields as the recipe says and run the sweep again."""
        self.kind.setCurrentIndex(max(0, self.kind.findData(settings.get("kind", "ablation"))))
        self.mode.setCurrentIndex(max(0, self.mode.findData(settings.get("mode", "zero"))))
        for field, key in (
            (self.text, "text"),
            (self.corrupted, "corrupted"),
            (self.target, "target"),
            (self.other, "other"),
        ):
            field.setText(str(settings.get(key, "")))
        self.run()


def _title(sweep) -> str:
    if sweep.kind == "ablation":
        how = "zeroed" if sweep.mode == "zero" else "mean over positions"
        return f"loss change with each head knocked out ({how})"
    return f"share of “{visible(sweep.target)}” vs “{visible(sweep.other)}” restored by each head"


def _summary(sweep, out: tuple[tuple[int, int], ...] = ()) -> str:
    """What the sweep found, and what its baseline is: the model with every head in, or with the
    heads knocked out when it ran (they stay out in each of its runs)."""
    values = sweep.values
    done = f"{sweep.done} of {sweep.total} heads" if not sweep.complete else "all heads"
    if not np.isfinite(values).any():
        return EXPLAIN[sweep.kind]
    layer, head = np.unravel_index(np.nanargmax(values), values.shape)
    if sweep.kind == "ablation":
        baseline = (
            f"Loss with {heads_named(out)} knocked out (marked “out”; every run of the sweep keeps "
            f"them out): {sweep.baseline:.3f} nats per token"
            if out
            else f"Loss with every head in: {sweep.baseline:.3f} nats per token"
        )
        return (
            f"{baseline}. Of {done}, knocking out "
            f"L{layer}H{head} hurts most ({values[layer, head]:+.3f}). " + EXPLAIN["ablation"]
        )
    with_out = f"With {heads_named(out)} knocked out: " if out else ""
    return with_out + (
        f"Clean run: “{visible(sweep.target)}” beats “{visible(sweep.other)}” by {sweep.reference:+.2f} "
        f"logits; corrupted run: {sweep.baseline:+.2f}. Of {done}, L{layer}H{head} restores most "
        f"({values[layer, head]:.0%}). " + EXPLAIN["patching"]
    )


def heads_named(heads) -> str:
    names = [f"L{layer}H{head}" for layer, head in heads]
    return ", ".join(names) if len(names) <= 6 else f"{', '.join(names[:5])} and {len(names) - 5} more"


def _format(sweep, value: float) -> str:
    if sweep.kind == "patching":
        return f"{round(value, 2) + 0.0:.0%}"  # + 0.0: no "-0%"
    return f"{round(value, 2) + 0.0:+.2f}"


def _label_color(value: float, top: float):
    """Dark text on the pale middle of the diverging map, light text on its saturated ends."""
    return (235, 235, 235) if top > 0 and abs(value) > 0.6 * top else (20, 20, 20)
