"""Fine-tune the active model: live loss, validation accuracy against a from-scratch twin, a confusion
matrix, the validation examples and their attention; or, on text, the loss and a sample before and after."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGraphicsRectItem,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyle,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from models.results import ClassEval, TrainingReport
from playground import theme
from playground.info import ModelInfo
from playground.training_session import TrainingStarted
from playground.views.finetune import held_out
from playground.views.finetune.form import FinetuneForm
from playground.views.resets import REFUSED, STOPPED, ended_line, event_of
from playground.views.widgets.budgeted_redraw import BudgetedRedraw
from playground.views.widgets.elided_label import Readout
from playground.views.widgets.figure_export import ExportButton
from playground.views.widgets.heatmap import CellLabels, HeatmapPlot, colorbar
from playground.views.widgets.mosaic import AttentionMosaic
from playground.views.widgets.save_dialogs import ask_new_folder
from playground.views.widgets.scrolling_form import scrolling_form
from playground.views.widgets.training_charts import LossChart, Series, fix_steps
from playground.worker import WorkerClient
from playground.worker.requests import EXAMPLE, Generate, Inspect, Save, Train

REDRAW_MS = 150  # one drawing (a chart, the confusion matrix, the table) per tick, at most this often
REDRAW_BUDGET = 0.1  # and drawing takes at most this share of the time: the run wants the CPU


CONFUSION_TITLE = "confusion matrix (validation)"


class ComparisonChart(pg.PlotWidget):
    """The validation score of the fine-tune and of its from-scratch twin, step by step."""

    def __init__(self) -> None:
        super().__init__(title="validation")
        self.setLabel("bottom", "step")
        self.showGrid(x=True, y=True, alpha=0.2)
        self.addLegend(offset=(-10, -10))
        theme.apply_plot_palette(self)
        self.series = {"fine-tuned": Series(), "from scratch": Series()}
        self.label = "validation"
        grey = pg.mkPen("#9a9a9a", width=2, style=Qt.PenStyle.DashLine)
        self.curves = {
            "fine-tuned": self.plot(
                pen=pg.mkPen(theme.accent(), width=2), symbol="o", symbolSize=5, symbolBrush=theme.accent(),
                name="pre-trained, fine-tuned",
            ),
            "from scratch": self.plot(
                pen=grey, symbol="t", symbolSize=6, symbolBrush="#9a9a9a", name="same shape, from scratch"
            ),
        }  # fmt: skip
        self.dirty = False

    def start(self, which: str, label: str) -> None:
        self.series[which].clear()
        if label != self.label:  # a new title re-lays out the plot: only when it changes
            self.label = label
            self.setTitle(label)
            self.setLabel("left", label)
        self.dirty = True

    def place_legend(self, rising: bool) -> None:
        """Where the curves are not: bottom right under rising accuracy, top right over a falling loss."""
        y, offset = (1, -10) if rising else (0, 10)
        self.getPlotItem().legend.anchor(itemPos=(1, y), parentPos=(1, y), offset=(-10, offset))

    def add(self, which: str, steps: list[int], values: list[float]) -> None:
        self.series[which].extend(steps, values)
        self.dirty = self.dirty or bool(values)

    def redraw(self) -> None:
        for key, curve in self.curves.items():
            curve.setData(*self.series[key].data())
        self.dirty = False


class ExamplesModel(QAbstractTableModel):
    """The validation examples with the label the model gives each (one reset per validation)."""

    HEADERS = ("text", "true label", "predicted", "probability")

    def __init__(self) -> None:
        super().__init__()
        self.scores: ClassEval | None = None
        self.wrong = QColor(217, 83, 79, 60)

    def set_scores(self, scores: ClassEval | None) -> None:
        self.beginResetModel()
        self.scores = scores
        self.endResetModel()

    def rowCount(self, parent=None) -> int:  # noqa: N802 (Qt's name)
        return (
            0 if self.scores is None or (parent is not None and parent.isValid()) else len(self.scores.texts)
        )

    def columnCount(self, parent=None) -> int:  # noqa: N802
        return len(self.HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        s, row, col = self.scores, index.row(), index.column()
        if s is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                s.texts[row],
                s.labels[s.true[row]],
                s.labels[s.predicted[row]],
                f"{s.prob[row]:.2f}",
            )[col]
        if role == Qt.ItemDataRole.BackgroundRole and s.true[row] != s.predicted[row]:
            return self.wrong
        if role == Qt.ItemDataRole.ToolTipRole and col == 0:
            return s.texts[row]
        return None


class FinetuneView(QWidget):
    """Drives fine-tunes of the active model through the worker (and their from-scratch twins)."""

    failed = Signal(str, str)
    saved = Signal(str)
    compare_requested = Signal()  # show the model before and after the fine-tune side by side
    tuned = Signal()  # a fine-tune ended and its model is the active one (the base is kept)

    def __init__(self, client: WorkerClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.request = 0  # this view's newest run
        self.twin_pending = False  # a from-scratch run follows the fine-tune
        self.following = False  # the run now reporting is this view's
        self.scratch_run = False  # it is the from-scratch twin
        self.task = "classify"
        self.last_step = 0
        self.example_tokens: tuple[str, ...] = ()
        self.out_dir = ""
        self.asked = None  # the Finetune asked for by the newest fine-tune
        self.newest: TrainingReport | None = None  # the newest report, not drawn yet
        self.pending_scores: ClassEval | None = None  # the newest validation scores
        self._scores_due: set[str] = set()  # which of their drawings are not made yet
        self._setups: list[tuple[object, QWidget]] = []  # chart set-ups for a new run, one per tick

        scroll = self._build_form()
        controls = self._build_controls()
        charts = self._build_charts()
        self.panels = QStackedWidget()
        self.panels.addWidget(self._build_classify_panel())
        self.panels.addWidget(self._build_before_after())
        self.log = QPlainTextEdit(readOnly=True, placeholderText="Events of the run")
        self.log.setMaximumBlockCount(2000)

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(charts)
        right.addWidget(self.panels)
        right.addWidget(self.log)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 4)
        right.setStretchFactor(2, 1)
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.addLayout(controls)
        body_layout.addWidget(self.summary)
        body_layout.addWidget(self.small_held_out)
        body_layout.addWidget(right, 1)
        splitter = QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(body)
        splitter.setStretchFactor(1, 1)
        QVBoxLayout(self).addWidget(splitter)

        self.redraw = BudgetedRedraw(self, self._drawings, REDRAW_MS, REDRAW_BUDGET)
        w = client
        w.training_started.connect(self._on_training_started)
        w.training_updated.connect(self._on_training_updated)
        w.request_finished.connect(self._on_request_finished)
        w.model_loaded.connect(self._on_model_loaded)
        w.probed.connect(self._on_probed)
        w.changed.connect(self._sync)
        self._sync()

    # ---- building the panels ------------------------------------------------------------------
    def _build_form(self) -> QWidget:
        """The settings, scrolling on their own."""
        self.form = FinetuneForm()
        self.form.validity_changed.connect(self._sync)
        return scrolling_form(self.form, 320)

    def _build_controls(self) -> QHBoxLayout:
        """Start, pause, stop (also the Training menu's actions), progress, save and compare; the
        summary line under them."""
        icon = self.style().standardIcon
        play, pause, stop = (
            icon(QStyle.StandardPixmap.SP_MediaPlay),
            icon(QStyle.StandardPixmap.SP_MediaPause),
            icon(QStyle.StandardPixmap.SP_MediaStop),
        )
        self.start_action = self._action("Fine-tune", "Ctrl+F5", self._on_start_triggered, play)
        self.pause_action = self._action("Pause fine-tune", "Ctrl+F6", self._on_pause_triggered, pause)
        self.stop_action = self._action("Stop fine-tune", "Ctrl+Shift+F5", self._on_stop_triggered, stop)
        self.actions_ = (self.start_action, self.pause_action, self.stop_action)
        controls = QHBoxLayout()
        self.start_button, self.pause_button, self.stop_button = (QToolButton() for _ in self.actions_)
        for b, action in zip(
            (self.start_button, self.pause_button, self.stop_button), self.actions_, strict=True
        ):
            b.setDefaultAction(action)  # text, icon, tooltip and enabled state follow the action
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            controls.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m steps")
        self.stats = Readout("not started")  # changes at every report: repaints itself alone
        self.save_button = QPushButton("Save as…")
        self.save_button.setToolTip("Write the fine-tuned model as a folder transformers opens")
        self.save_button.clicked.connect(self._on_save_clicked)
        self.compare_button = QPushButton("Compare before/after")
        self.compare_button.setToolTip("The model before and after the fine-tune, side by side (Compare tab)")
        self.compare_button.clicked.connect(self.compare_requested)
        controls.addWidget(self.progress, 1)
        controls.addWidget(self.stats)
        controls.addWidget(self.save_button)
        controls.addWidget(self.compare_button)
        self.summary = QLabel(wordWrap=True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setMinimumHeight(2 * self.summary.fontMetrics().lineSpacing() + 4)
        self.small_held_out = QLabel(wordWrap=True)  # a held-out set too small to mean much
        self.small_held_out.setStyleSheet("color: #e0a030")
        self.small_held_out.hide()
        return controls

    def _build_charts(self) -> QSplitter:
        """The loss curves, and the fine-tune against its from-scratch twin."""
        self.loss_chart = LossChart()
        self.comparison = ComparisonChart()
        self.export_button = ExportButton(
            "fine-tune curves", lambda: self.comparison, lambda _figure: None,
            {".csv": ("CSV of the validation curves", self.export_curves_csv)},
            self._nothing_to_export,
        )  # fmt: skip
        self.export_button.failed.connect(self.failed)
        self.export_button.saved.connect(self.saved)
        charts = QSplitter()
        charts.addWidget(self.loss_chart)
        chart_box = QWidget()
        chart_layout = QVBoxLayout(chart_box)
        chart_layout.setContentsMargins(0, 0, 0, 0)
        chart_layout.addWidget(self.comparison, 1)
        chart_layout.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignRight)
        charts.addWidget(chart_box)
        return charts

    def _build_classify_panel(self) -> QSplitter:
        """Classification: the confusion matrix, the held-out examples, a clicked one's attention."""
        self.confusion_widget = pg.GraphicsLayoutWidget()
        self.confusion = HeatmapPlot()
        self.confusion.setTitle(CONFUSION_TITLE)
        self.confusion.setLabel("left", "true label")
        self.confusion.setLabel("bottom", "predicted")
        self.confusion.y_axis.setWidth(90)
        self.confusion_widget.addItem(self.confusion)
        colorbar(self.confusion, "share of the true label")
        self.confusion_counts = CellLabels()
        self.confusion.addItem(self.confusion_counts)
        theme.apply_plot_palette(self.confusion_widget)
        self.examples = ExamplesModel()
        self.table = QTableView()
        self.table.setModel(self.examples)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # sizes fixed once, never measured from the rows: "resize to contents" measured all 200
        # rows at every validation and held the event loop for 100 ms
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the text takes what is left
        width = self.table.fontMetrics().horizontalAdvance
        for column, sample in ((1, "true label  "), (2, "predicted  "), (3, "probability  ")):
            header.resizeSection(column, width(sample) + 12)
        rows = self.table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.table.fontMetrics().lineSpacing() + 6)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.setToolTip("Click an example to see its attention; red rows are wrong")
        self.table.clicked.connect(self._on_example_clicked)
        self.attention_widget = pg.GraphicsLayoutWidget()
        self.mosaic = AttentionMosaic()
        self.mosaic.setTitle("the example's attention: all layers × heads")
        self.mosaic.tile_clicked.connect(self._on_tile_clicked)
        self.mosaic.tile_toggled.connect(self._on_tile_clicked)
        self.attention_widget.addItem(self.mosaic)
        self.head_plot = HeatmapPlot()
        self.attention_widget.addItem(self.head_plot, row=1, col=0)
        colorbar(self.head_plot)
        self.cls_row = QGraphicsRectItem(0, 0, 0, 1)  # the [CLS] query: what the classifier reads
        pen = QPen(QColor("#e8712b"))
        pen.setWidthF(2.5)
        pen.setCosmetic(True)
        self.cls_row.setPen(pen)
        self.cls_row.hide()
        self.head_plot.addItem(self.cls_row)
        theme.apply_plot_palette(self.attention_widget)
        self.example_attention: np.ndarray | None = None
        self.selected = (0, 0)
        scores = QSplitter(Qt.Orientation.Vertical)  # the counts above the examples they count
        scores.addWidget(self.confusion_widget)
        scores.addWidget(self.table)
        scores.setStretchFactor(0, 2)
        scores.setStretchFactor(1, 3)
        classify = QSplitter()
        classify.addWidget(scores)
        classify.addWidget(self.attention_widget)
        classify.setStretchFactor(0, 1)
        classify.setStretchFactor(1, 1)
        return classify

    def _build_before_after(self) -> QSplitter:
        """Text: the loss and a sample from the same prompt and seed, before and after, side by side."""
        self.before, self.after = (QPlainTextEdit(readOnly=True) for _ in range(2))
        self.before.setPlaceholderText(
            "Before fine-tuning: the validation loss on the new text, and a sample"
        )
        self.after.setPlaceholderText("After: the same, from the same prompt and seed, as the run goes")
        before_after = QSplitter()
        before_after.addWidget(self.before)
        before_after.addWidget(self.after)
        return before_after

    def _action(self, text: str, key: str, slot, icon) -> QAction:
        action = QAction(icon, text, self)
        action.setShortcut(QKeySequence(key))
        action.triggered.connect(slot)
        return action

    # ---- commands -----------------------------------------------------------------------------
    @property
    def state(self) -> str:
        phase = self.client.phase(self.request)
        return {"": "idle", "queued": "preparing"}.get(phase, phase)

    def start(self, out_dir: str = "") -> bool:
        """Fine-tune the active model with the form's settings (then, if asked, its twin).

        Checkpoints go to `out_dir` (the twin's beside it), or to new folders under the app's runs."""
        if self.form.message or self.client.active(Train):
            self.failed.emit(self.form.message or "A run is going: stop it first.", "")
            return False
        self.task = self.form.task_key
        self.twin_pending = self.form.scratch.isChecked()
        self._reset()
        self.out_dir = out_dir
        self.asked = self.form.request()  # the twin runs the very same request, from random weights
        self.request = self.client.send(Train(None, out_dir=out_dir, finetune=self.asked))
        self._sync()
        return True

    def _start_twin(self) -> None:
        self.twin_pending = False
        self.last_step = 0  # the twin's own steps: a refused twin is "not started", not "stopped"
        out = f"{self.out_dir}-from-scratch" if self.out_dir else ""
        twin = replace(self.asked, scratch=True)
        self.request = self.client.send(Train(None, out_dir=out, finetune=twin))
        self._sync()

    def _on_start_triggered(self) -> None:
        if self.start_action.isEnabled():
            self.start()

    def _on_pause_triggered(self) -> None:
        if self.state == "running":
            self.client.pause(self.request)
        elif self.state == "paused":
            self.client.resume(self.request)

    def _on_stop_triggered(self) -> None:
        self.twin_pending = False  # a stop ends the whole comparison
        self.client.stop(self.request)

    def _on_save_clicked(self) -> None:
        folder = ask_new_folder(self, "Save the fine-tuned model as a folder", "finetuned")
        if folder:
            self.client.send(Save(folder))

    # ---- reports in -------------------------------------------------------------------------------
    def _on_training_started(self, info: TrainingStarted) -> None:
        self.following = info.finetune
        if not self.following:
            return  # a run of the Training tab
        self.scratch_run = info.scratch
        self.last_step = len(info.losses)
        classify = info.config.task == "classify"
        self.task = info.config.task
        self.panels.setCurrentIndex(0 if classify else 1)
        label = "validation accuracy" if classify else "validation loss"
        if self.scratch_run:
            self.comparison.start("from scratch", label)
            self.log.appendPlainText(f"── the same architecture from random weights: {info.data} ──")
        else:
            steps = info.config.steps
            # each chart's new ranges are drawn in a tick of its own: together they were one
            # 80-130 ms repaint as the run started
            self._setups += [
                (lambda: fix_steps(self.loss_chart, steps), self.loss_chart),
                (lambda: self._set_comparison_range(steps, classify), self.comparison),
            ]
            self.comparison.start("fine-tuned", label)
            self.comparison.start("from scratch", label)
            self.comparison.place_legend(rising=classify)
            self.loss_chart.reset(info.losses, info.val_losses)
            self.summary.setText(
                f"<b>{info.corpus}</b> · {info.data} · {info.n_params:,} parameters · {info.device}"
                + (f" · classes: {', '.join(info.labels)}" if info.labels else "")
            )
        self.progress.setRange(0, info.config.steps)
        self.progress.setValue(self.last_step)
        self.redraw.soon()

    def _set_comparison_range(self, steps: int, classify: bool) -> None:
        fix_steps(self.comparison, steps)
        if classify:
            self.comparison.setYRange(0, 1)
        else:
            self.comparison.enableAutoRange(y=True)

    def _next_setup(self) -> None:
        self._setups.pop(0)[0]()

    def _on_training_updated(self, reports: list[TrainingReport]) -> None:
        if not self.following:
            return
        which = "from scratch" if self.scratch_run else "fine-tuned"
        steps, losses, val_steps, val, scores = [], [], [], [], []
        for r in reports:
            for e in r.events:
                self.log.appendPlainText(f"[step {r.step}] {e}")
            if r.before is not None:
                self._on_before(r, which)
            if r.step > self.last_step and math.isfinite(r.loss):
                steps.append(r.step)
                losses.append(r.loss)
                self.last_step = r.step
            if r.val_loss is not None:
                val_steps.append(r.step)
                val.append(r.classes.accuracy if r.classes is not None else r.val_loss)
                if not self.scratch_run:
                    self.loss_chart.add([], [], [r.step], [r.val_loss])
            if r.classes is not None and not self.scratch_run:
                scores.append(r.classes)
            if r.sample and not self.scratch_run and self.task == "lm":
                self._show_after(r)
        if not self.scratch_run:
            self.loss_chart.add(steps, losses, [], [])
        self.comparison.add(which, val_steps, val)
        if scores:
            self._show_scores(scores[-1])
        self.newest = reports[-1]
        self.redraw.soon()  # drawn on the timer, one piece per tick

    def _on_before(self, r: TrainingReport, which: str) -> None:
        b = r.before
        score = b.classes.accuracy if b.classes is not None else b.val_loss
        self.comparison.add(which, [0], [score])  # where the curve starts: the untrained head
        if self.scratch_run:
            return
        if b.classes is not None:
            self.log.appendPlainText(
                "before fine-tuning (a random head on the pre-trained encoder): "
                f"accuracy {b.classes.accuracy:.1%}"
            )
            self._show_scores(b.classes)
        else:
            self.before.setPlainText(
                f"BEFORE fine-tuning: validation loss {b.val_loss:.3f} "
                f"(perplexity {math.exp(min(b.val_loss, 50)):.1f})\n\n{b.sample or ''}"
            )

    def _show_after(self, r: TrainingReport) -> None:
        val = self.loss_chart.val.data()[1]
        loss = (
            f"validation loss {val[-1]:.3f} (perplexity {math.exp(min(val[-1], 50)):.1f})" if val.size else ""
        )
        self.after.setPlainText(f"AFTER {r.step} steps: {loss}\n\n{r.sample}")

    def _show_scores(self, scores: ClassEval) -> None:
        """Kept, and drawn by the timer (the matrix in one tick, the table in the next)."""
        self.pending_scores = scores
        self._scores_due = {"confusion", "table"}
        self.redraw.soon()

    def _draw_confusion(self) -> None:
        scores = self.pending_scores
        counts = scores.confusion.astype(np.float32)
        share = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        labels = list(scores.labels)
        self.confusion.set_matrix(share, labels, labels)
        colors = [["#202020" if v > 0.5 else "#ffffff" for v in row] for row in share]  # dark on bright
        self.confusion_counts.set_cells([[str(int(c)) for c in row] for row in scores.confusion], colors)
        n = len(scores.texts)
        self.confusion.setTitle(held_out.described(int(np.trace(scores.confusion)), n))
        if (why := held_out.warning(n)) and why not in self.log.toPlainText():
            self.log.appendPlainText(f"Note: {why}")
            self.small_held_out.setText(why)
            self.small_held_out.show()
        self._scores_due.discard("confusion")

    def _draw_table(self) -> None:
        selected = self.table.currentIndex().row()
        self.examples.set_scores(self.pending_scores)
        if selected >= 0:
            self.table.selectRow(selected)
        self._scores_due.discard("table")

    def _draw_progress(self) -> None:
        r, self.newest = self.newest, None
        self.progress.setMaximum(r.max_steps)
        self.progress.setValue(r.step)
        which = "from scratch" if self.scratch_run else "fine-tuned"
        score = self.comparison.series[which].data()[1]
        shown = (
            (f" · accuracy {score[-1]:.1%}" if self.task == "classify" else f" · val {score[-1]:.3f}")
            if score.size
            else ""
        )
        self.stats.setText(f"{'scratch' if self.scratch_run else 'fine-tune'}: loss {r.loss:.3f}{shown}")

    def _drawings(self) -> list[tuple[bool, object, QWidget]]:
        """(has news, draw it, the widget it paints in), in the order they take turns."""
        return [
            (bool(self._setups), self._next_setup, self._setups[0][1] if self._setups else self),
            (self.newest is not None, self._draw_progress, self.progress),
            (self.loss_chart.dirty, self.loss_chart.redraw, self.loss_chart),
            (self.comparison.dirty, self.comparison.redraw, self.comparison),
            ("confusion" in self._scores_due, self._draw_confusion, self.confusion_widget),
            ("table" in self._scores_due, self._draw_table, self.table),
        ]

    def _on_request_finished(self, request: int, status: str, message: str) -> None:
        if request != self.request:
            return
        self.redraw.now()
        self.log.appendPlainText(f"[{status}] {message}" if message else f"[{status}]")
        info = self.client.info
        if not self.scratch_run and status in ("done", "stopped") and info is not None and info.base:
            self.tuned.emit()  # before the twin is sent: what it asks for is served first
        if status == "done" and self.twin_pending:
            self._start_twin()
        elif not self.scratch_run:
            self.twin_pending = False
        if event := event_of(status, self.last_step > 0):
            self.reset(event, message)
        self._compare_summary()
        self._sync()

    def reset(self, event: str, message: str = "") -> None:
        """REFUSED: nothing of the run that did not start (no progress, no "preparing…", no
        scores), the reason in the status line; STOPPED: where it stopped, in place of "stopping
        after this step…"; MODEL: nothing (a fine-tune's end makes its model active: its charts
        are that model's story)."""
        if event == REFUSED:
            self._reset()
            self.progress.setValue(0)
            self.stats.setText(ended_line(event, message, 0, 0))
        elif event == STOPPED:
            self.stats.setText(ended_line(event, message, self.last_step, self.progress.maximum()))

    def _compare_summary(self) -> None:
        tuned = self.comparison.series["fine-tuned"].data()[1]
        scratch = self.comparison.series["from scratch"].data()[1]
        if self.task == "classify" and tuned.size > 1 and scratch.size > 1 and not self.twin_pending:
            self.summary.setText(
                self.summary.text().split("<br>")[0]
                + f"<br><b>Pre-trained, fine-tuned: {tuned[-1]:.1%}</b> · from scratch, same steps: "
                f"{scratch[-1]:.1%} · pre-training bought "
                f"<b>{100 * (tuned[-1] - scratch[-1]):+.1f} points</b>"
            )

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.form.set_model(info)
        self._sync()

    # ---- one example's attention ----------------------------------------------------------------
    def show_example(self, row: int) -> None:
        """Select a validation example and show its attention (as clicking its row does)."""
        self.table.selectRow(row)
        self._on_example_clicked(self.examples.index(row, 0))

    def _on_example_clicked(self, index) -> None:
        s = self.examples.scores
        if s is None or not index.isValid():
            return
        # while the fine-tune runs, the model being tuned; afterwards (or while its from-scratch
        # twin runs) the fine-tuned model, which is then the active one
        live = self.state != "idle" and not self.scratch_run
        self.client.send(Inspect(s.texts[index.row()], EXAMPLE, training=live))

    def _on_probed(self, request: int, probe) -> None:
        if request != self.client.newest_probe(EXAMPLE):
            return
        self.example_attention = probe.attentions
        self.example_tokens = probe.tokens.texts
        self.mosaic.set_attentions(probe.attentions)
        self._show_head()

    def _on_tile_clicked(self, layer: int, head: int) -> None:
        self.selected = (layer, head)
        self._show_head()

    def _show_head(self) -> None:
        att = self.example_attention
        if att is None or not att.size:
            return
        layer, head = min(self.selected[0], att.shape[0] - 1), min(self.selected[1], att.shape[1] - 1)
        self.mosaic.select(layer, head)
        self.head_plot.set_matrix(att[layer, head], self.example_tokens, self.example_tokens)
        self.head_plot.setTitle(f"L{layer}H{head} · outlined: [CLS], what the classifier reads")
        self.cls_row.setRect(0, 0, att.shape[-1], 1)
        self.cls_row.show()

    # ---- state ------------------------------------------------------------------------------------
    def _reset(self) -> None:
        self.last_step = 0
        self.before.clear()
        self.after.clear()
        self.log.clear()
        self.examples.set_scores(None)
        self.confusion.clear_matrix()
        self.confusion.setTitle(CONFUSION_TITLE)
        self.small_held_out.hide()
        self.confusion_counts.set_cells([], [])
        self.pending_scores, self._scores_due = None, set()
        self.progress.setValue(0)  # the last run's "100 / 100" is not this one's
        self.head_plot.clear_matrix()
        self.mosaic.clear_attentions()
        self.cls_row.hide()
        self.example_attention = None
        self.loss_chart.reset(np.zeros(0, np.float32), np.zeros((0, 2), np.float32))
        self.comparison.start("fine-tuned", "validation")
        self.comparison.start("from scratch", "validation")
        self.summary.setText("")
        self.stats.setText("waiting to start…")
        self.redraw.soon()  # the emptied charts are drawn a piece per tick, like news

    def _sync(self, *_args) -> None:
        state = self.state
        busy = bool(self.client.active(Train)) or bool(self.client.active(Generate))
        self.start_action.setEnabled(
            state == "idle" and not self.form.message and not busy and not self.twin_pending
        )
        self.start_action.setToolTip(
            self.form.message
            or ("Another run is going: stop it first." if busy else "Fine-tune the active model (Ctrl+F5)")
        )
        paused = state == "paused"
        self.pause_action.setEnabled(state in ("running", "paused"))
        self.pause_action.setText("Continue fine-tune" if paused else "Pause fine-tune")
        self.stop_action.setEnabled(state in ("running", "paused", "preparing"))
        self.form.setEnabled(state == "idle" and not self.twin_pending)
        info = self.client.info
        self.save_button.setEnabled(state in ("idle", "paused") and info is not None)
        self.compare_button.setEnabled(state == "idle" and info is not None and bool(info.base))
        worker = self.client.state
        if state == "preparing" and worker.request == self.request and worker.label:
            self.stats.setText(worker.label)
        elif state == "stopping":
            self.stats.setText("stopping after this step…")

    # ---- export -------------------------------------------------------------------------------------
    def _nothing_to_export(self) -> str:
        return "" if self.comparison.series["fine-tuned"].n else "Nothing to export yet: fine-tune first."

    def export_curves_csv(self, path) -> None:
        import csv

        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(
                ["run", "step", "validation accuracy" if self.task == "classify" else "validation loss"]
            )
            for name, series in self.comparison.series.items():
                for step, value in zip(*series.data(), strict=True):
                    out.writerow([name, int(step), f"{value:.6f}"])
