"""Train in the app: settings, play/pause/step/stop, live loss, samples, and attention heads forming."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from models.errors import ModelError
from models.results import TrainingReport
from models.text.modadd import is_modadd
from models.training.scaling import run_configs
from playground import theme
from playground.training_session import TrainingStarted
from playground.views.resets import REFUSED, STOPPED, ended_line, event_of
from playground.views.training.form import TrainingForm
from playground.views.widgets.attention_scale import LABELS, described, rescaled, resolve, sink_share
from playground.views.widgets.budgeted_redraw import BudgetedRedraw
from playground.views.widgets.elided_label import ElidedLabel, Readout
from playground.views.widgets.figure_export import ExportButton
from playground.views.widgets.grokking_charts import GrokkingCharts
from playground.views.widgets.heatmap import HeatmapPlot, colorbar
from playground.views.widgets.induction_charts import InductionCharts
from playground.views.widgets.mosaic import AttentionMosaic
from playground.views.widgets.save_dialogs import ask_new_folder
from playground.views.widgets.scaling_charts import ScalingCharts
from playground.views.widgets.scrolling_form import scrolling_form
from playground.views.widgets.training_charts import HeadScoreChart, LearningRateChart, LossChart, fix_steps
from playground.worker import WorkerClient
from playground.worker.requests import CheckHeads, Generate, Save, ScalingSweep, Train

REDRAW_MS = 250  # at most one chart repaints per interval while training, and only one with news
# live drawing takes at most this share of the time: on two cores the trainer's two threads wait at
# every step for the one the GUI displaced, so the run loses several times what the drawing costs
# (bench_app_training.py: 3% of the time drawing cost the run 0.83-0.87x of headless; 1%, 0.91-0.96x).
# The loss chart, ~6 ms a paint, then shows news about once a second.
REDRAW_BUDGET = 0.01
MAX_SNAPSHOTS = 240  # attention snapshots kept for the timeline; older ones are thinned out


class TrainingView(QWidget):
    """Drives one training run at a time through the worker and draws what it reports."""

    failed = Signal(str, str)  # message, details: invalid settings refused before the run
    saved = Signal(str)  # what an export wrote, and where

    def __init__(self, client: WorkerClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.request = 0  # the id of this view's newest training request
        self.snapshots: list[tuple[int, np.ndarray]] = []  # (step, [L, H, T, T])
        self.probe_rows: tuple[str, ...] = ()  # the probe's query tokens (an encoder–decoder's:
        self.probe_cols: tuple[str, ...] = ()  # the target it chose) and key tokens (its source)
        self.scores_text = ""
        self.selected = (0, 0)
        self.last_step = 0
        self.refusal = ""  # the status line of a refused start, until the settings change
        self.asked_corpus = ""  # the corpus the newest run was asked to read
        self._snapshot_due = False  # the newest snapshot is not drawn yet
        self.following = False  # the run reporting now is this view's (not a fine-tune)

        self.task_run = False  # the last run trained on a built-in task
        self.induction_run = False  # the last run measured its induction heads
        self.latest_scores: dict[str, np.ndarray] | None = None  # the newest head scores
        self.check_request = 0

        scroll = self._build_form()
        controls = self._build_controls()
        charts = self._build_charts()
        attention = self._build_attention()
        self.samples = QPlainTextEdit(
            readOnly=True, placeholderText="Samples appear here as the model learns"
        )
        self.samples.setMaximumBlockCount(2000)
        right = QSplitter(Qt.Orientation.Vertical)
        top = QSplitter()
        chart_box = QWidget()
        chart_layout = QVBoxLayout(chart_box)
        chart_layout.setContentsMargins(0, 0, 0, 0)
        chart_layout.addWidget(charts, 1)
        chart_options = QHBoxLayout()
        chart_options.addWidget(self.log_box)
        chart_options.addStretch(1)
        chart_options.addWidget(self.export_button)
        chart_layout.addLayout(chart_options)
        top.addWidget(chart_box)
        top.addWidget(attention)
        self.attention_panel = attention  # (a sweep has no probe: its charts take the width)
        right.addWidget(top)
        right.addWidget(self.samples)
        right.setStretchFactor(0, 4)
        right.setStretchFactor(1, 1)
        self.splitter = QSplitter()
        self.splitter.addWidget(scroll)
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.addLayout(controls)
        body_layout.addWidget(self.look_for)
        body_layout.addWidget(self.check_label)
        body_layout.addWidget(right, 1)
        self.splitter.addWidget(body)
        self.splitter.setStretchFactor(1, 1)
        QVBoxLayout(self).addWidget(self.splitter)
        self._show_charts(None)

        w = client  # the facade relays every answer of the worker
        w.training_started.connect(self._on_training_started)
        w.training_updated.connect(self._on_training_updated)
        w.scaling_updated.connect(self._on_scaling_updated)
        w.heads_checked.connect(self._on_heads_checked)
        self.redraw = BudgetedRedraw(self, self._drawings, REDRAW_MS, REDRAW_BUDGET)
        w.request_finished.connect(self._on_request_finished)
        w.changed.connect(self._sync)
        self._sync()

    # ---- building the panels ------------------------------------------------------------------
    def _build_form(self) -> QWidget:
        """The run's settings, scrolling on their own."""
        self.form = TrainingForm()
        self.form.validity_changed.connect(self._on_form_validity_changed)
        return scrolling_form(self.form, 330)

    def _build_controls(self) -> QHBoxLayout:
        """Train, pause, step, stop (also the Training menu's actions), progress, save, resume and
        the copying-head check; the "look for" line under them."""
        # One action per command: the buttons show them, the main window's Training menu lists
        # them, and their shortcuts work from every tab (the state decides what is enabled).
        icon = self.style().standardIcon
        self.icons = {
            "play": icon(QStyle.StandardPixmap.SP_MediaPlay),
            "pause": icon(QStyle.StandardPixmap.SP_MediaPause),
        }
        self.train_action = self._action("Train", "F5", self._on_train_triggered, self.icons["play"])
        self.pause_action = self._action("Pause", "F6", self._on_pause_triggered, self.icons["pause"])
        self.step_action = self._action(
            "Step", "F10", self._on_step_triggered, icon(QStyle.StandardPixmap.SP_MediaSkipForward)
        )
        self.stop_action = self._action(
            "Stop", "Shift+F5", self._on_stop_triggered, icon(QStyle.StandardPixmap.SP_MediaStop)
        )
        self.actions_ = (self.train_action, self.pause_action, self.step_action, self.stop_action)
        self.train_button, self.pause_button, self.step_button, self.stop_button = (
            self._tool_button(a) for a in self.actions_
        )
        self.save_button = self._button(
            "Save as…", "Write the model (with its training state) as a new checkpoint folder",
            self._on_save_clicked,
        )  # fmt: skip
        self.resume_button = self._button(
            "Resume…", "Continue a run from a checkpoint folder", self._on_resume_clicked
        )
        self.check_button = self._button(
            "Test the copying head",
            "Knock out the head with the best induction score, then the weakest, and count exact\n"
            "answers on 50 fresh questions of the task: is that head the one doing the job?",
            self._on_check_clicked,
        )
        self.knock_button = self._button(
            "Test the induction heads",
            "In-context learning with the best induction heads knocked out, and with the weakest\n"
            "head out, before the heads formed and at the timeline's step (measured at each validation)",
            self._on_knock_clicked,
        )
        self.check_label = QLabel(wordWrap=True)
        self.check_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.check_label.hide()
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m steps")
        self.stats = Readout("not started")  # changes at every report: repaints itself alone
        controls = QHBoxLayout()
        for b in (self.train_button, self.pause_button, self.step_button, self.stop_button):
            controls.addWidget(b)
        controls.addWidget(self.progress, 1)
        controls.addWidget(self.stats)
        controls.addWidget(self.save_button)
        controls.addWidget(self.resume_button)
        controls.addWidget(self.check_button)
        controls.addWidget(self.knock_button)
        self.look_for = QLabel(wordWrap=True)
        # two lines reserved: text arriving at the start must not re-lay out (and repaint) the charts
        self.look_for.setMinimumHeight(2 * self.look_for.fontMetrics().lineSpacing() + 4)
        return controls

    def _build_charts(self) -> QSplitter:
        """The loss, the head scores and the learning rate, one above the other."""
        self.loss_chart = LossChart()
        self.lr_chart = LearningRateChart()
        self.score_chart = HeadScoreChart()
        self.grok_charts = GrokkingCharts()  # shown for a modular-addition run, in place of the two below
        self.grok_charts.hide()
        self.scaling_charts = ScalingCharts()  # a scaling sweep's: in place of all the others
        self.scaling_charts.hide()
        self.induction_charts = InductionCharts()  # a run tracking induction heads: below its loss
        self.induction_charts.hide()
        self.charts = (
            self.loss_chart,
            self.grok_charts,
            self.scaling_charts,
            self.induction_charts,
            self.score_chart,
            self.lr_chart,
        )
        self.log_box = QCheckBox("log scale")
        self.log_box.toggled.connect(self.loss_chart.set_log)
        self.export_button = ExportButton(
            "training charts", self._chart_to_export, lambda _figure: None,
            {".csv": ("CSV of the losses", self.export_losses_csv)},
            lambda: "" if self.loss_chart.train.n else "There is no run to export yet: train first.",
        )  # fmt: skip
        self.export_button.setToolTip("Save the loss chart (PNG, SVG, PDF) or the losses (CSV)")
        self.export_button.failed.connect(self.failed)
        self.export_button.saved.connect(self.saved)
        charts = QSplitter(Qt.Orientation.Vertical)
        charts.addWidget(self.loss_chart)
        charts.addWidget(self.grok_charts)
        charts.addWidget(self.scaling_charts)
        charts.addWidget(self.induction_charts)
        charts.addWidget(self.score_chart)
        charts.addWidget(self.lr_chart)
        self.chart_splitter = charts
        return charts

    def _build_attention(self) -> QWidget:
        """The probe's attention, all heads and one large, and the timeline of its snapshots."""
        self.attention_widget = pg.GraphicsLayoutWidget()
        self.mosaic = AttentionMosaic()
        self.mosaic.setTitle("probe attention: all layers × heads")
        self.mosaic.tile_clicked.connect(self._on_tile_clicked)
        self.mosaic.tile_toggled.connect(self._on_tile_clicked)  # no choosing here: shift-click selects
        self.attention_widget.addItem(self.mosaic)
        self.head_plot = HeatmapPlot()
        self.attention_widget.addItem(self.head_plot, row=1, col=0)
        colorbar(self.head_plot)
        theme.apply_plot_palette(self.attention_widget)
        self.timeline = QSlider(Qt.Orientation.Horizontal)
        self.timeline.setToolTip("Scrub back through the attention snapshots taken so far")
        self.timeline.setRange(0, 0)
        self.timeline.valueChanged.connect(self._on_timeline_value_changed)
        self.timeline_label = ElidedLabel("no snapshot yet")
        timeline = QHBoxLayout()
        timeline.addWidget(QLabel("timeline"))
        timeline.addWidget(self.timeline, 1)
        timeline.addWidget(self.timeline_label)
        attention = QWidget()
        attention_layout = QVBoxLayout(attention)
        attention_layout.setContentsMargins(0, 0, 0, 0)
        attention_layout.addWidget(self.attention_widget, 1)
        attention_layout.addLayout(timeline)
        return attention

    def _action(self, text: str, key: str, slot, icon) -> QAction:
        action = QAction(icon, text, self)
        action.setShortcut(QKeySequence(key))
        action.triggered.connect(slot)
        return action

    def _tool_button(self, action: QAction) -> QToolButton:
        b = QToolButton()
        b.setDefaultAction(action)  # text, icon, tooltip and enabled state follow the action
        b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        return b

    def _button(self, text: str, tip: str, slot) -> QPushButton:
        b = QPushButton(text)
        b.setToolTip(tip)
        b.clicked.connect(slot)
        return b

    # ---- commands ---------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """idle, preparing, running, paused or stopping: this view's run as the client knows it."""
        phase = self.client.phase(self.request)
        return {"": "idle", "queued": "preparing"}.get(phase, phase)

    @property
    def running(self) -> bool:
        return self.state != "idle"

    def start(self, out_dir: str = "") -> bool:
        """Start a run with the form's settings; invalid settings are refused with a message.

        Checkpoints go to `out_dir`, or to a new folder under the app's runs when it is "".
        """
        if self.form.scaling():
            return self.start_sweep(out_dir)
        try:
            config = self.form.config()
        except ModelError as e:
            self.failed.emit(f"These settings cannot train: {e}", "")
            return False
        self._reset()
        self.asked_corpus = self.form.corpus_source()  # (a file it cannot read leaves the list)
        self.request = self.client.send(Train(config, self.asked_corpus, out_dir=out_dir))
        self._sync()
        return True

    def _show_charts(self, special) -> None:
        """A grokking run's or a sweep's charts in place of the run charts, a run tracking
        induction heads' below its loss, or (None) the run charts."""
        for chart in (self.grok_charts, self.scaling_charts, self.induction_charts):
            chart.setVisible(chart is special)
        for chart in (self.score_chart, self.lr_chart):
            chart.setVisible(special is None)
        with_loss = special in (None, self.induction_charts)
        self.loss_chart.setVisible(with_loss)
        self.log_box.setVisible(with_loss)
        # the shown charts share the height by weight (a splitter keeps a chart hidden so far at nothing)
        weights = {self.loss_chart: 3, self.score_chart: 2, self.lr_chart: 1, self.induction_charts: 3}
        height = max(self.chart_splitter.height(), 600)
        shown = [w for w in self.charts if w.isVisibleTo(self)]
        total = sum(weights.get(w, 1) for w in shown)
        self.chart_splitter.setSizes(
            [height * weights.get(w, 1) // total if w in shown else 0 for w in self.charts]
        )
        self.attention_panel.setVisible(special is not self.scaling_charts)

    def start_sweep(self, out_dir: str = "") -> bool:
        """The scaling preset: GPTs of the typed sizes trained one after another, the law fitted."""
        try:
            sizes, tokens = self.form.sweep_settings()
        except ModelError as e:
            self.failed.emit(f"This sweep cannot run: {e}", "")
            return False
        self._reset()
        self._show_charts(self.scaling_charts)
        self.asked_corpus = self.form.corpus_source()
        seed = self.form.ints["seed"].value()
        self.request = self.client.send(ScalingSweep(self.asked_corpus, sizes, tokens, seed, out_dir))
        self.progress.setRange(0, sum(c.steps for c in run_configs(list(sizes), tokens, seed)))
        self.stats.setText(f"training {len(sizes)} sizes for {self.form.tokens.text()} tokens each…")
        self._sync()
        return True

    def _on_scaling_updated(self, runs: list) -> None:
        running = self.client.phase(self.request) not in ("", "done")
        self.scaling_charts.update_runs(runs, len(runs) - 1 if running else len(runs))
        self.progress.setValue(sum(r.steps_done for r in runs))
        self.redraw.soon()
        last = runs[-1]
        law = self.scaling_charts.law
        fitted = f" · α = {law.alpha:.3f} ± {law.alpha_std:.3f}" if law is not None else ""
        self.stats.setText(
            f"size {len(runs)}: {last.params:,} parameters, held-out {last.final_loss:.3f}{fitted}"
        )

    def resume_from(self, folder: str, steps: int = 0) -> None:
        self._reset()
        self.asked_corpus = ""
        self.request = self.client.send(Train(None, resume_from=folder, steps=steps))
        self._sync()

    def _on_train_triggered(self) -> None:
        if self.train_action.isEnabled():
            self.start()

    def _on_pause_triggered(self) -> None:
        if self.state == "running":
            self.client.pause(self.request)
        elif self.state == "paused":
            self.client.resume(self.request)

    def _on_step_triggered(self) -> None:
        if self.state == "paused":
            self.client.step(self.request)

    def _on_stop_triggered(self) -> None:
        self.client.stop(self.request)  # its own run only; a finished one stops nothing

    def _on_save_clicked(self) -> None:
        folder = ask_new_folder(self, "Save the model as a checkpoint folder", "model")
        if folder:
            self.client.send(Save(folder))

    def _on_resume_clicked(self) -> None:
        runs = self.client.runs_dir  # where this app's runs are, not the last folder used
        folder = QFileDialog.getExistingDirectory(
            self, "Resume training from a checkpoint folder", str(runs if runs.is_dir() else Path.home())
        )
        if folder:
            self.resume_from(folder)

    def _on_form_validity_changed(self, _message: str) -> None:
        if self.refusal and self.stats.text() == self.refusal:  # settings changed since: said no more
            self.stats.setText("not started")
        self.refusal = ""
        self._sync()

    # ---- reports in -------------------------------------------------------------------------
    def _on_training_started(self, info: TrainingStarted) -> None:
        self.following = not info.finetune  # the Fine-tune tab's runs are drawn there
        if not self.following:
            return
        grokking = is_modadd(info.corpus)
        # grokking's losses on a log-step axis stand for the loss chart's (one layer of 4 heads on 5
        # tokens: little to score; a constant learning rate)
        tracking = info.config.induction_heads
        self._show_charts(self.grok_charts if grokking else self.induction_charts if tracking else None)
        for chart in (self.loss_chart, self.score_chart, self.lr_chart):
            fix_steps(chart, info.config.steps)
        self.lr_chart.setYRange(0, info.config.lr * 1.05)
        self.progress.setRange(0, info.config.steps)
        self.progress.setValue(len(info.losses))
        self.loss_chart.reset(info.losses, info.val_losses)
        done = np.arange(1, len(info.lrs) + 1)
        self.lr_chart.add(list(done), list(info.lrs))  # a resumed run keeps its past
        for step, scores in info.head_scores:
            self.score_chart.add(step, scores)
            self.latest_scores = scores
        # a decoder's task: its heads can be checked on fresh questions (not an encoder–decoder's pairs)
        self.task_run = info.corpus.startswith("task:") and info.capabilities.causal and not grokking
        self.induction_run = tracking
        self.last_step = len(info.losses)
        if self.last_step:  # a resumed run: its curves continue; its attention snapshots were not saved
            self.timeline_label.setText(
                f"no snapshots saved with the run: new ones from step {self.last_step:,} on"
            )
        self.redraw.soon()  # drawn within the budget: the first steps are not held up
        where = f" · checkpoints in {info.out_dir}" if info.out_dir else ""
        self.look_for.setText(
            f"<b>{info.corpus}</b> · {info.n_params:,} parameters · {info.device}{where}"
            + (f"<br><b>Look for:</b> {info.look_for}" if info.look_for else "")
        )

    def _on_training_updated(self, reports: list[TrainingReport]) -> None:
        if not self.following:
            return
        steps, losses, lr, val_steps, val = [], [], [], [], []
        for r in reports:
            if r.events:
                self.samples.appendPlainText("\n".join(f"[step {r.step}] {e}" for e in r.events))
            if r.step > self.last_step and math.isfinite(r.loss):
                steps.append(r.step)
                losses.append(r.loss)
                lr.append(r.lr)
                self.last_step = r.step
            if r.val_loss is not None:
                val_steps.append(r.step)
                val.append(r.val_loss)
            if r.sample:
                self.samples.appendPlainText(f"── step {r.step} ──\n{r.sample}")
            if r.translations is not None:
                self._show_translations(r.step, r.translations)
            if r.grokking is not None:
                self._show_grokking(r.step, r.grokking)
            if r.induction is not None:
                self._show_induction(r.step, r.induction)
            if r.probe is not None:
                self._add_snapshot(r.step, r.probe)
            if r.head_scores is not None:
                self.score_chart.add(r.step, r.head_scores)
                self.latest_scores = r.head_scores
        self.loss_chart.add(steps, losses, val_steps, val)
        self.lr_chart.add(steps, lr)
        self.redraw.soon()  # drawing happens on the timer, within its budget
        r = reports[-1]
        self.progress.setMaximum(r.max_steps)
        self.progress.setValue(r.step)
        eta = "—" if not math.isfinite(r.eta_s) else _clock(r.eta_s)
        val_text = f" · val {val[-1]:.3f}" if val else ""
        self.stats.setText(
            f"loss {r.loss:.3f}{val_text}{self.scores_text} · {r.tokens_per_s:,.0f} tok/s · ETA {eta}"
            if r.tokens_per_s  # (0 until a step past the warm-up is measured)
            else f"loss {r.loss:.3f}{val_text}{self.scores_text} · measuring the pace…"
        )

    def _show_translations(self, step: int, scores) -> None:
        """An encoder–decoder's validation: its scores in the stats, its first translations below."""
        self.scores_text = f" · tokens {scores.token_accuracy:.0%} · exact {scores.exact:.0%}"
        lines = [
            f"✓ {source} → {out}" if out == target else f"✗ {source} → {out}  (target {target})"
            for source, out, target in scores.examples
        ]
        self.samples.appendPlainText(
            f"── step {step}: held-out translations, {scores.exact:.0%} exact, "
            f"{scores.token_accuracy:.0%} of tokens right ──\n" + "\n".join(lines)
        )

    def _show_grokking(self, step: int, scores) -> None:
        """A modular-addition run's validation: both accuracies in the stats, the charts fed, and
        the step test accuracy first reaches 50% said once."""
        self.scores_text = f" · train {scores.train_accuracy:.0%} · test {scores.test_accuracy:.0%}"
        if self.grok_charts.add(step, scores) is not None:
            self.samples.appendPlainText(
                f"── step {step}: test accuracy crossed 50% ({scores.test_accuracy:.0%}), key "
                f"frequencies {', '.join(map(str, scores.key_frequencies))} ──"
            )

    def _show_induction(self, step: int, measured) -> None:
        """A validation of a run tracking induction heads: the best score and the in-context
        learning in the stats, the charts fed, and the step they formed marked on the loss."""
        self.scores_text = f" · induction {measured.best:.2f} · in-context {measured.icl:+.2f}"
        if self.induction_charts.add(step, measured) is not None:
            heads = ", ".join(f"L{layer}H{head}" for layer, head in measured.heads)
            self.loss_chart.mark(step, "induction heads")
            self.samples.appendPlainText(
                f"── step {step}: induction heads formed — {heads} (best score {measured.best:.2f}); "
                f"in-context learning {measured.icl:+.3f} nats, {measured.icl_heads_out:+.3f} with them "
                f"knocked out, {measured.icl_weakest_out:+.3f} with the weakest head out ──"
            )

    def _drawings(self) -> list[tuple[bool, object, pg.GraphicsView]]:
        """(has news, draw it, the widget it paints in) for each live drawing."""
        charts = [(chart.dirty, chart.redraw, chart) for chart in self.charts]
        return [*charts, (self._snapshot_due, self._draw_newest_snapshot, self.attention_widget)]

    def _draw_newest_snapshot(self) -> None:
        self._snapshot_due = False
        self._show_snapshot(self.timeline.value())

    def _on_request_finished(self, request: int, status: str, message: str) -> None:
        if request == self.check_request and status != "done":
            self.check_label.setText(f"The check did not run: {message or status}")
        if request != self.request:
            return
        if self.scaling_charts.isVisible() and self.scaling_charts.runs:  # every size's run is over
            self.scaling_charts.update_runs(self.scaling_charts.runs, len(self.scaling_charts.runs))
            if self.scaling_charts.law is not None:
                self.samples.appendPlainText(f"fit: {self.scaling_charts.law.said}")
        self.redraw.now()
        self.samples.appendPlainText(f"[{status}] {message}" if message else f"[{status}]")
        if event := event_of(status, self.last_step > 0):
            self.reset(event, message)

    def reset(self, event: str, message: str = "") -> None:
        """REFUSED: no progress, the reason in the status line (until the settings change);
        STOPPED: where the run stopped, in place of "stopping after this step…"; MODEL: nothing
        (the charts are the run that made the model, or the last run, and say so)."""
        if event == REFUSED:
            if self.form.forget_failed_corpus(self.asked_corpus, message):
                message += " (the file is taken off the corpus list)"
            self.progress.setRange(0, self.form.ints["steps"].value())
            self.progress.setValue(0)
            self.refusal = ended_line(event, message, 0, 0)
            self.stats.setText(self.refusal)
        elif event == STOPPED:
            self.stats.setText(ended_line(event, message, self.last_step, self.progress.maximum()))

    # ---- the attention timeline -------------------------------------------------------------
    def _add_snapshot(self, step: int, probe) -> None:
        """A probe's attention on the timeline: an encoder–decoder's cross-attention (the target it
        chose × its source), any other model's own."""
        follow = self.timeline.value() == self.timeline.maximum()  # at the end: stay live
        if probe.cross_attentions is not None:
            self.probe_rows, self.probe_cols = probe.outputs, probe.source.texts
            attentions = probe.cross_attentions
            title = "probe pair cross-attention (target × source)"
        else:
            self.probe_rows = self.probe_cols = probe.tokens.texts
            attentions = probe.attentions
            title = "probe attention: all layers × heads"
        if self.mosaic.titleLabel.text != title:  # (setting it repaints the panel, at every snapshot)
            self.mosaic.setTitle(title)
        self.snapshots.append((step, attentions))
        if len(self.snapshots) > MAX_SNAPSHOTS:  # keep the first, thin the rest evenly
            self.snapshots = self.snapshots[:1] + self.snapshots[2:-1:2] + self.snapshots[-1:]
        self.timeline.blockSignals(True)
        self.timeline.setRange(0, len(self.snapshots) - 1)
        if follow:
            self.timeline.setValue(len(self.snapshots) - 1)
        self.timeline.blockSignals(False)
        if follow:  # drawn by the redraw timer, within its budget
            self._snapshot_due = True
        else:  # the user looks at an older one: only the count changes
            index = self.timeline.value()
            self.timeline_label.setText(
                f"step {self.snapshots[index][0]} ({index + 1}/{len(self.snapshots)})"
            )

    def _on_timeline_value_changed(self, index: int) -> None:
        self._show_snapshot(index)

    def _show_snapshot(self, index: int) -> None:
        if not self.snapshots:
            return
        step, att = self.snapshots[index]
        share = sink_share(att)
        scale = resolve("auto", share)  # a sink forming as the model learns is left out, and said
        self.mosaic.set_attentions(rescaled(att, scale))
        layer = min(self.selected[0], att.shape[0] - 1)
        head = min(self.selected[1], att.shape[1] - 1)
        self.mosaic.select(layer, head)
        self.head_plot.set_matrix(rescaled(att[layer, head], scale), self.probe_cols, self.probe_rows)
        self.head_plot.bar.getAxis("left").setLabel(LABELS[scale])
        self.head_plot.setTitle(f"layer {layer}, head {head} at step {step}{described(scale, share)}")
        self.timeline_label.setText(f"step {step} ({index + 1}/{len(self.snapshots)})")

    def _on_tile_clicked(self, layer: int, head: int) -> None:
        self.show_head(layer, head)

    def show_head(self, layer: int, head: int) -> None:
        """Draw this head large, at the snapshot the timeline is on."""
        self.selected = (layer, head)
        self._show_snapshot(self.timeline.value())

    # ---- state --------------------------------------------------------------------------------
    def _reset(self) -> None:
        self.snapshots.clear()
        self._snapshot_due = False
        self.last_step = 0
        self.timeline.setRange(0, 0)
        self.timeline_label.setText("no snapshot yet")
        self.mosaic.clear_attentions()  # the last run's heads must not sit under the new header
        self.head_plot.clear_matrix()
        self.head_plot.setTitle("")
        self.look_for.setText("")
        self.check_label.hide()
        self.latest_scores = None
        self.scores_text = ""  # an encoder–decoder's newest token accuracy and exact share
        self.score_chart.reset()
        self.lr_chart.reset()
        self.grok_charts.reset()
        self.scaling_charts.reset()
        self.induction_charts.reset()
        self.loss_chart.mark(None)
        self.loss_chart.reset(np.zeros(0, np.float32), np.zeros((0, 2), np.float32))
        self.samples.clear()
        self.refusal = ""
        self.progress.setValue(0)  # the last run's "300 / 300" is not this one's
        self.stats.setText("waiting to start…")
        self.redraw.now()  # empty at once: the run has not started yet

    def _sync(self) -> None:
        """Every control follows the one state (the client's), so none can get stuck."""
        state = self.state
        paused = state == "paused"
        generating = bool(self.client.active(Generate))
        other_run = bool(self.client.active(Train))  # a fine-tune of the Fine-tune tab
        self.train_action.setEnabled(
            state == "idle" and not self.form.message and not generating and not other_run
        )
        self.train_action.setToolTip(
            self.form.message
            or ("A generation is running: stop it first (Esc in the Prompt tab)." if generating else "")
            or ("A fine-tune is running: stop it first (Fine-tune tab)." if other_run else "")
            or "Start a run with these settings (F5)"
        )
        self.pause_action.setEnabled(state in ("running", "paused"))
        self.pause_action.setText("Continue" if paused else "Pause")
        self.pause_action.setIcon(self.icons["play" if paused else "pause"])
        self.pause_action.setToolTip("Continue (F6)" if paused else "Pause after this step (F6)")
        self.step_action.setEnabled(paused)
        self.step_action.setToolTip("One optimizer step while paused (F10)")
        self.stop_action.setEnabled(state in ("running", "paused", "preparing"))
        self.stop_action.setToolTip("Stop after this step and write a checkpoint (Shift+F5)")
        self.resume_button.setEnabled(state == "idle" and not other_run)
        self.save_button.setEnabled(state in ("idle", "paused"))
        self.form.setEnabled(state == "idle")
        checkable = self.task_run and self._copying_heads() is not None
        self.check_button.setEnabled(
            state == "idle" and checkable and not self.client.phase(self.check_request)
        )
        self.check_button.setVisible(self.task_run)
        self.knock_button.setVisible(self.induction_run)
        self.knock_button.setEnabled(bool(self.induction_charts.history))
        worker = self.client.state
        if state == "preparing" and worker.request == self.request and worker.label:
            self.stats.setText(worker.label)
        elif state == "stopping":
            self.stats.setText("stopping after this step…")

    # ---- export ---------------------------------------------------------------------------------
    def _chart_to_export(self):
        special = [c for c in (self.grok_charts, self.scaling_charts) if c.isVisible()]
        return special[0] if special else self.loss_chart

    def export_losses_csv(self, path) -> None:
        """step, training loss, validation loss (empty where not validated), and a run's induction
        measurements where it took them; a modular-addition run's accuracies and progress measures
        at each validation; a sweep's sizes and fit."""
        import csv

        for special in (self.grok_charts, self.scaling_charts):
            if special.isVisible():
                special.export_csv(path)
                return

        steps, losses = self.loss_chart.train.data()
        val = dict(zip(*self.loss_chart.val.data(), strict=True))
        induction = self.induction_charts if self.induction_charts.isVisible() else None  # its columns too
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["step", "train_loss", "val_loss", *(induction.COLUMNS if induction else ())])
            for step, loss in zip(steps, losses, strict=True):
                v = val.get(step)
                measured = induction.row(int(step)) if induction else []
                out.writerow([int(step), f"{loss:.6f}", "" if v is None else f"{v:.6f}", *measured])

    # ---- is the copying head the one doing the job? ----------------------------------------------
    def _copying_heads(self) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """(best, weakest) head by the newest induction scores, None before the first probe."""
        grid = (self.latest_scores or {}).get("induction")
        if grid is None or not np.isfinite(grid).any():
            return None
        best = np.unravel_index(np.nanargmax(grid), grid.shape)
        weakest = np.unravel_index(np.nanargmin(grid), grid.shape)
        return (int(best[0]), int(best[1])), (int(weakest[0]), int(weakest[1]))

    def _on_check_clicked(self) -> None:
        heads = self._copying_heads()
        if heads is None:
            return
        best, weakest = heads
        self.check_label.setText(f"Knocking out L{best[0]}H{best[1]} and L{weakest[0]}H{weakest[1]} in turn…")
        self.check_label.show()
        self.check_request = self.client.send(CheckHeads(((), (best,), (weakest,))))
        self._sync()

    def _on_heads_checked(self, check) -> None:
        if check.request != self.check_request:
            return  # another view's check
        intact, best, weakest = check.accuracy
        (b,), (w,) = check.heads[1], check.heads[2]
        self.check_label.setText(
            f"<b>Exact answers</b> on {check.questions} fresh {check.task} questions: every head in "
            f"<b>{intact:.0%}</b> · L{b[0]}H{b[1]} out (best induction score) <b>{best:.0%}</b> "
            f"({best - intact:+.0%}) · L{w[0]}H{w[1]} out (weakest) <b>{weakest:.0%}</b> "
            f"({weakest - intact:+.0%})"
        )
        self.check_label.show()

    # ---- do the induction heads make the in-context learning? ---------------------------------------
    def _on_knock_clicked(self) -> None:
        """Before the heads formed and at the timeline's step (the newest validation at or before
        it): the in-context learning with every head, the best induction heads out, the weakest out."""
        history = self.induction_charts.history
        if not history:
            return
        formed = self.induction_charts.formed_at
        snapshot = self.snapshots[self.timeline.value()][0] if self.snapshots else history[-1][0]
        after = [h for h in history if h[0] <= snapshot] or history[:1]
        lines = []
        if formed is not None:
            before = [h for h in history if h[0] < formed]
            if before:
                lines.append(_knocked_line(*before[-1], "before the heads formed"))
        lines.append(_knocked_line(*after[-1], "the timeline's step"))
        self.check_label.setText(
            "<b>In-context learning</b> (held-out loss at the context's end minus near its start; "
            "more negative: more learned from the text read so far)<br>" + "<br>".join(lines)
        )
        self.check_label.show()


def _knocked_line(step: int, measured, when: str) -> str:
    heads = ", ".join(f"L{layer}H{head}" for layer, head in measured.heads)
    w = measured.weakest
    return (
        f"step {step:,} ({when}): every head <b>{measured.icl:+.3f}</b> · {heads} out "
        f"<b>{measured.icl_heads_out:+.3f}</b> ({measured.icl_heads_out - measured.icl:+.3f}) · "
        f"L{w[0]}H{w[1]} out (weakest) <b>{measured.icl_weakest_out:+.3f}</b> "
        f"({measured.icl_weakest_out - measured.icl:+.3f})"
    )


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds + 0.5), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
