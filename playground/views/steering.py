"""Steering view: a direction made from contrasting texts, added to the residual stream, and the same
prompt continued side by side as the model is and steered (one seed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from models.errors import ModelError
from models.inspect.sampling import SamplingSettings
from playground import theme
from playground.recipe import recipe_for
from playground.views.resets import MODEL
from playground.views.widgets.elided_label import ElidedLabel
from playground.views.widgets.figure_export import ExportButton, export_row
from playground.views.widgets.save_dialogs import ask_file
from playground.views.widgets.tokens import TokenText, tint
from playground.worker import WorkerClient
from playground.worker.requests import SetSteering, Steer

POSITION_TITLES = {
    "all": "every position",
    "prompt": "the prompt only",
    "generated": "the generated tokens only",
}
EXPLAINED = (
    "A direction in the residual stream: the mean stream entering the chosen layer over the "
    "“towards” texts minus over the “away from” texts (one text per line). It is added, times the "
    "coefficient, while the model reads the prompt and writes; the same seed continues the prompt "
    "without it on the left, with it on the right."
)
SLIDER_STEPS = 10  # the coefficient slider moves in tenths


class SteeringView(QWidget):
    failed = Signal(str, str)
    saved = Signal(str)
    noted = Signal(str)

    def __init__(self, client: WorkerClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.request = 0
        self.vector = None  # the SteeringVector of the newest run (or loaded)
        self.loaded = None  # a vector loaded from a file: used instead of the texts until they change
        self.asked: dict = {}  # the newest run's prompt, length and seed (for its recipe)
        self.plus = QPlainTextEdit(placeholderText="towards: one text per line, e.g. Love")
        self.minus = QPlainTextEdit(placeholderText="away from: one text per line, e.g. Hate")
        for box in (self.plus, self.minus):
            box.setMaximumHeight(90)
            box.textChanged.connect(self._on_texts_changed)
        self.layer = QSpinBox(minimum=0, maximum=0)
        self.layer.setToolTip("The block whose incoming residual stream the vector is added to")
        self.coefficient = QDoubleSpinBox(decimals=1, minimum=-20.0, maximum=20.0, singleStep=0.5, value=4.0)
        self.slider = QSlider(
            Qt.Orientation.Horizontal, minimum=-20 * SLIDER_STEPS, maximum=20 * SLIDER_STEPS
        )
        self.slider.setValue(round(self.coefficient.value() * SLIDER_STEPS))
        self.slider.valueChanged.connect(lambda v: self.coefficient.setValue(v / SLIDER_STEPS))
        self.coefficient.valueChanged.connect(lambda v: self.slider.setValue(round(v * SLIDER_STEPS)))
        self.positions = QComboBox()
        for key, title in POSITION_TITLES.items():
            self.positions.addItem(title, key)
        self.load_button = QPushButton("Load vector…")
        self.load_button.clicked.connect(self._on_load_clicked)
        self.save_button = QPushButton("Save vector…")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self._on_save_clicked)
        form = QFormLayout()
        form.addRow("Towards", self.plus)
        form.addRow("Away from", self.minus)
        coefficient = QHBoxLayout()
        coefficient.addWidget(self.slider, 1)
        coefficient.addWidget(self.coefficient)
        form.addRow("Layer", self.layer)
        form.addRow("Coefficient", coefficient)
        form.addRow("Added at", self.positions)
        self.everywhere = QCheckBox("Steer every view")
        self.everywhere.setToolTip(
            "Add the vector in every model call: the Prompt tab's generation, Attention, Probabilities,\n"
            "the logit lens and attributions all show the model steered (the status bar says so)"
        )
        self.everywhere.toggled.connect(self._send_everywhere)
        self._resend = QTimer(self, singleShot=True, interval=300)  # a dragged slider sends once
        self._resend.timeout.connect(self._send_everywhere)
        for changed in (
            self.coefficient.valueChanged,
            self.layer.valueChanged,
            self.positions.currentIndexChanged,
        ):
            changed.connect(self._on_setting_changed)
        files = QHBoxLayout()
        files.addWidget(self.load_button)
        files.addWidget(self.save_button)
        files.addWidget(self.everywhere)
        files.addStretch(1)
        form.addRow(files)

        self.prompt = QLineEdit(placeholderText="A prompt to continue both ways (Ctrl+Enter)")
        self.prompt.returnPressed.connect(self.generate)
        self.max_tokens = QSpinBox(minimum=1, maximum=2000, value=60, suffix=" tokens")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=1)
        self.seed.setPrefix("seed ")
        self.generate_button = QPushButton("Generate both  (Ctrl+Enter)")
        self.generate_button.clicked.connect(self.generate)
        run = QHBoxLayout()
        run.addWidget(self.prompt, 1)
        run.addWidget(self.max_tokens)
        run.addWidget(self.seed)
        run.addWidget(self.generate_button)
        self.outputs = {"plain": TokenText(), "steered": TokenText()}
        self.titles = {"plain": ElidedLabel("As it is"), "steered": ElidedLabel("Steered")}
        grid = QGridLayout()
        for col, side in enumerate(("plain", "steered")):
            grid.addWidget(self.titles[side], 0, col)
            grid.addWidget(self.outputs[side], 1, col)
        self.summary = QLabel(EXPLAINED)
        self.summary.setWordWrap(True)
        self.steps: dict[str, list] = {"plain": [], "steered": []}
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setMaximumHeight(170)
        self.chart = self.plots.addPlot(title="probability of each token it wrote")
        self.chart.setLabel("bottom", "generated token")
        self.chart.addLegend(offset=(-10, 5))
        self.curves = {
            "plain": self.chart.plot([], [], pen=pg.mkPen((127, 127, 127), width=2), name="as it is"),
            "steered": self.chart.plot([], [], pen=pg.mkPen(theme.accent(), width=2), name="steered"),
        }
        theme.apply_plot_palette(self.plots)
        self.readout = ElidedLabel(" ")
        self.export_button = ExportButton(
            "steering",
            lambda: self.plots,
            lambda figure: recipe_for(self.client, "steering", self.recipe_settings(), figure),
            {".csv": ("CSV", self.export_csv)},
            lambda: "" if any(self.steps.values()) else "Nothing generated yet: press Generate both.",
        )
        bottom = export_row(self, self.readout, self.export_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(form)
        layout.addLayout(run)
        layout.addLayout(grid, 1)
        layout.addWidget(self.plots)
        layout.addLayout(bottom)
        QShortcut(QKeySequence("Ctrl+Return"), self, self.generate)
        client.model_loaded.connect(self._on_model_loaded)
        client.vector_made.connect(self._on_vector_made)
        client.steering_generated.connect(self._on_generated)
        client.request_finished.connect(self._on_request_finished)
        client.steering_changed.connect(self._on_steering_changed)

    # ---- asking ------------------------------------------------------------------------------
    def generate(self) -> None:
        prompt = self.prompt.text()
        if not prompt.strip():
            self.noted.emit("Type a prompt to continue as it is and steered.")
            return
        plus, minus = _lines(self.plus), _lines(self.minus)
        if self.loaded is None and (not plus or not minus):
            self.noted.emit("Give texts to steer towards and away from (one per line), or load a vector.")
            return
        try:
            settings = SamplingSettings(max_new_tokens=self.max_tokens.value(), seed=self.seed.value())
        except ModelError as e:
            self.failed.emit(str(e), "")
            return
        for side, output in self.outputs.items():
            output.clear_tokens()
            output.append_plain(prompt)
            self.steps[side] = []
            self.curves[side].setData([], [])
        self.asked = {"prompt": prompt, "max_tokens": settings.max_new_tokens, "seed": settings.seed}
        self.generate_button.setEnabled(False)
        layer = self.loaded.layer if self.loaded is not None else self.layer.value()
        self.request = self.client.send(Steer(
            prompt, settings, self.coefficient.value(), str(self.positions.currentData()), tuple(plus),
            tuple(minus), layer, self.loaded,
        ))  # fmt: skip
        if not self.request:
            self.generate_button.setEnabled(True)

    def _send_everywhere(self) -> None:
        """Steer every view as set here (the box ticked), or take the steering off."""
        plus, minus = _lines(self.plus), _lines(self.minus)
        if not self.everywhere.isChecked():
            if self.client.steering:
                self.client.send(SetSteering())
            return
        if self.loaded is None and (not plus or not minus):
            self.noted.emit("Give texts to steer towards and away from (one per line), or load a vector.")
            self._uncheck()
            return
        layer = self.loaded.layer if self.loaded is not None else self.layer.value()
        self.client.send(SetSteering(
            self.coefficient.value(), str(self.positions.currentData()), tuple(plus), tuple(minus), layer,
            self.loaded,
        ))  # fmt: skip

    def _on_setting_changed(self, *_args) -> None:
        if self.everywhere.isChecked():
            self._resend.start()

    def _on_steering_changed(self, said: str) -> None:
        if not said and self.everywhere.isChecked() and not self._resend.isActive():
            self._uncheck()  # taken off by the worker (another model) or refused

    def _uncheck(self) -> None:
        self.everywhere.blockSignals(True)  # (the worker's word, not a new request)
        self.everywhere.setChecked(False)
        self.everywhere.blockSignals(False)

    def reset(self, event: str) -> None:
        """MODEL: the last model's vector and texts' continuations go (a vector is one model's)."""
        if event == MODEL:
            self.vector = self.loaded = None
            self.save_button.setEnabled(False)
            for side, output in self.outputs.items():
                output.clear_tokens()
                self.steps[side] = []
                self.curves[side].setData([], [])
            self.readout.setText(" ")

    def _on_model_loaded(self, info) -> None:
        self.layer.setMaximum(max(0, info.n_layer - 1))
        self.layer.setValue(info.n_layer // 2)

    def _on_texts_changed(self) -> None:
        self._on_setting_changed()
        if self.loaded is not None:  # new texts: a new direction, not the loaded one
            self.loaded = None
            self.layer.setEnabled(True)
            self.readout.setText("The texts changed: the next run makes the direction from them.")

    def _on_request_finished(self, request: int, status: str, _message: str) -> None:
        if request == self.request:
            self.generate_button.setEnabled(True)

    def _on_vector_made(self, vector) -> None:
        self.vector = vector
        self.save_button.setEnabled(True)
        norm = float((vector.vector**2).sum() ** 0.5)
        self.readout.setText(
            f"Steering with {vector.described} (length {norm:.2f}) × {self.coefficient.value():g}"
        )

    def _on_generated(self, batch: list) -> None:
        for side, step in batch:
            self.outputs[side].append_token(step.text, tint(step.prob))
            self.steps[side].append(step)
        for side, steps in self.steps.items():
            self.curves[side].setData(np.arange(len(steps)), [s.prob for s in steps])

    # ---- vectors in files ----------------------------------------------------------------------
    def _on_save_clicked(self) -> None:
        if self.vector is None:
            return
        path = ask_file(
            self, "Save steering vector", str(Path.home() / "steering.npy"), "Steering vector", ".npy"
        )
        if path:
            self.save_vector(path)

    def save_vector(self, path: str) -> None:
        try:
            written = self.vector.save(path)
        except ModelError as e:
            self.failed.emit(str(e), "")
            return
        self.saved.emit(
            f"Saved the steering vector to {written} (and its recipe, {written.with_suffix('.json').name})"
        )

    def _on_load_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load steering vector", str(Path.home()), "Steering vector (*.npy)"
        )
        if path:
            self.load_vector(path)

    def load_vector(self, path: str) -> None:
        from models.inspect.steering import SteeringVector

        try:
            vector = SteeringVector.load(path)
        except ModelError as e:
            self.failed.emit(str(e), "")
            return
        self.plus.blockSignals(True)
        self.minus.blockSignals(True)
        self.plus.setPlainText("\n".join(vector.plus))
        self.minus.setPlainText("\n".join(vector.minus))
        self.plus.blockSignals(False)
        self.minus.blockSignals(False)
        self.layer.setValue(vector.layer)
        self.layer.setEnabled(False)  # a loaded vector belongs to its layer
        self.loaded = self.vector = vector
        self.save_button.setEnabled(True)
        self.readout.setText(f"Loaded {vector.described} from {Path(path).name}")

    # ---- export and recipes --------------------------------------------------------------------
    def export_csv(self, path) -> None:
        """Each generated token of both runs and the probability the model gave it."""
        import csv

        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["run", "index", "token", "probability"])
            for side, steps in self.steps.items():
                for i, s in enumerate(steps):
                    out.writerow([side, i, s.token_text, f"{s.prob:.6f}"])

    def recipe_settings(self) -> dict:
        """The run as asked: its prompt, length and seed, and the direction's texts, layer,
        coefficient and positions (a loaded vector by its texts: they make it again)."""
        return self.asked | {
            "plus": _lines(self.plus), "minus": _lines(self.minus), "layer": self.layer.value(),
            "coefficient": self.coefficient.value(), "positions": self.positions.currentData(),
        }  # fmt: skip

    def apply_recipe(self, settings: dict) -> None:
        self.plus.setPlainText("\n".join(settings.get("plus", [])))
        self.minus.setPlainText("\n".join(settings.get("minus", [])))
        self.layer.setValue(int(settings.get("layer", 0)))
        self.coefficient.setValue(float(settings.get("coefficient", 4.0)))
        self.positions.setCurrentIndex(max(0, self.positions.findData(settings.get("positions", "all"))))
        self.prompt.setText(str(settings.get("prompt", "")))
        self.max_tokens.setValue(int(settings.get("max_tokens", 60)))
        self.seed.setValue(int(settings.get("seed", 1)))
        self.generate()


def _lines(box: QPlainTextEdit) -> list[str]:
    return [line for line in box.toPlainText().splitlines() if line.strip()]
