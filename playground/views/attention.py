"""Attention view: every layer × head as a mosaic, one head large with token axes, exports."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from playground import theme
from playground.overview import build_mosaic, mosaic_in
from playground.recipe import recipe_for
from playground.views.resets import MODEL
from playground.views.widgets.attention_scale import LABELS, SCALES, described, rescaled, resolve, sink_share
from playground.views.widgets.background import Background
from playground.views.widgets.elided_label import ElidedLabel
from playground.views.widgets.example_text import offer_example, watch_typing
from playground.views.widgets.figure_export import LATER, ExportButton
from playground.views.widgets.heatmap import HeatmapPlot, colorbar
from playground.views.widgets.mosaic import AttentionMosaic
from playground.views.widgets.tokens import visible
from playground.worker import WorkerClient
from playground.worker.requests import (
    INSPECT,
    CheckHeads,
    Generate,
    Inspect,
    KnockOut,
    LayerAttention,
    SaveAttention,
)

OVERVIEW_TITLE = "all layers × heads"
POOL_AWAY = 4_000_000  # attention values beyond which the overview is pooled off the GUI thread
FOLLOW_MS = 200  # while text streams, the view redraws the growing run at most 5 times a second
EMPTY_NOTE = "Generate or inspect a text to see its attention."
# an encoder–decoder's three kinds of attention: kind -> (what the kind box says, query axis, key axis)
PAIR_KINDS = {
    "cross": ("cross: target × source", "target (each row: the token it chose)", "source"),
    "decoder": ("decoder self (causal)", "query (target)", "key (target)"),
    "encoder": ("encoder self", "query (source)", "key (source)"),
}


class AttentionView(QWidget):
    """Shows the attentions of the last inspected text (the prompt, a run, a fill-mask input)."""

    inspect_requested = Signal(str)  # the user asked to inspect this text
    selection_changed = Signal(int, int)  # layer, head (-1 = average)
    saved = Signal(str)  # what an export wrote, and where
    failed = Signal(str, str)  # an export that could not be written: message, details

    def __init__(self, client: WorkerClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.rows: tuple[str, ...] = ()  # the shown kind's query tokens
        self.cols: tuple[str, ...] = ()  # and its key tokens (the same but for cross-attention)
        self.attentions = np.zeros((0, 0, 0, 0), np.float32)
        # a long text on a big model: its probe's overview, and the one layer here whole
        # (`layer_weights`: (layer, [heads, T, T])); any other layer is asked of the worker
        self.pooled = None
        self.layer_weights: tuple[int, np.ndarray] | None = None
        # an encoder–decoder's kinds: key -> (query tokens, key tokens, [layers, heads, Q, K])
        self.kinds: dict[str, tuple[tuple[str, ...], tuple[str, ...], np.ndarray]] = {}
        self.layer, self.head, self.average = 0, 0, False
        self.scale = "linear"  # how the shown attention is coloured (the scale box, resolved)
        self._notes: tuple[str, ...] = ()
        self._drawn = True  # False while attentions that arrived hidden wait to be drawn
        self._pending_selection: tuple[int, int, bool] | None = None  # a recipe's, until its probe
        self.background = Background("drawing the attention", self)  # a big model's overview is
        self.background.failed.connect(self.failed)  # pooled off the GUI thread

        self.knocked: tuple[tuple[int, int], ...] = ()  # as the worker last said
        self.chosen: set[tuple[int, int]] = set()  # what K knocks out: the selected head, or more

        top = self._build_top()
        self._build_overview()
        self._build_head()
        controls = self._build_controls()

        self.splitter = QSplitter()
        self.splitter.addWidget(self.overview_widget)
        self.splitter.addWidget(self.head_widget)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(controls)
        layout.addWidget(self.readout)
        self.note = QLabel(EMPTY_NOTE)  # what is shown is not all there is (truncation), or nothing yet
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        client.probed.connect(self._on_probed)
        client.layer_attention_read.connect(self._on_layer_attention_read)
        client.request_finished.connect(self._on_request_finished)
        client.ablation_changed.connect(self._on_ablation_changed)
        client.steering_changed.connect(self._on_steering_changed)
        client.heads_checked.connect(self._on_heads_checked)
        self.save_request, self.save_path = 0, Path()  # every head of a long text, being written
        self.layer_request = (0, -1)  # (request, layer): the last layer of a long text asked for
        self.check_request = 0  # on a model trained on a built-in task: exact answers, heads out
        self.check_line = ""
        # a generation's attention, grown from its steps as they stream (nothing is run again)
        self.run_tokens = None  # the prompt's TokenizedText of the run being followed
        self.run_steps: list = []
        self.run_rows = None  # its attention, grown a row per token (GrowingAttention)
        self._follow_timer = QTimer(self, singleShot=True, interval=FOLLOW_MS)
        self._follow_timer.timeout.connect(self._follow_run)
        client.prompt_tokenized.connect(self._on_prompt_tokenized)
        client.tokens_generated.connect(self._on_tokens_generated)
        self._show_knocked()

    # ---- building the panels ------------------------------------------------------------------
    def _build_top(self) -> QHBoxLayout:
        """The text to inspect, and (an encoder–decoder's) which kind of attention."""
        self.text = QLineEdit(placeholderText="Text to inspect (Enter) — a run's text lands here")
        watch_typing(self.text)  # a new model's example does not replace what the user typed
        self.text.returnPressed.connect(self._on_text_return_pressed)
        inspect = QPushButton("Inspect")
        inspect.clicked.connect(self._on_text_return_pressed)
        self.kind_box = QComboBox()
        for kind, (title, _, _) in PAIR_KINDS.items():
            self.kind_box.addItem(title, kind)
        self.kind_box.setToolTip(
            "An encoder–decoder attends three ways: the target over the source (cross),\n"
            "the target over itself (causal), and the source over itself (encoder)"
        )
        self.kind_box.currentIndexChanged.connect(self._on_kind_box_changed)
        self.kind_box.hide()  # only an encoder–decoder has more than one kind
        top = QHBoxLayout()
        top.addWidget(self.text, 1)
        top.addWidget(self.kind_box)
        top.addWidget(inspect)
        return top

    def _build_overview(self) -> None:
        """Every layer × head, as one mosaic the keyboard walks."""
        self.overview_widget = pg.GraphicsLayoutWidget()
        self.overview_widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.overview_widget.setToolTip(
            "Click a head; arrow keys move, A averages the layer.\n"
            "Shift+click chooses more heads, L the whole layer; K knocks the chosen heads out."
        )
        self.overview = AttentionMosaic()
        self.overview.setTitle(OVERVIEW_TITLE)
        self.overview_widget.addItem(self.overview)
        self.overview.tile_clicked.connect(self._on_tile_clicked)
        self.overview.tile_toggled.connect(self._on_tile_toggled)
        self.overview_widget.installEventFilter(self)

    def _build_head(self) -> None:
        """One head large, with its colour bar and the hover readout."""
        self.head_widget = pg.GraphicsLayoutWidget()
        self.head_plot = HeatmapPlot()
        self.head_plot.setLabel("left", "query")
        self.head_plot.setLabel("bottom", "key")
        self.head_widget.addItem(self.head_plot)
        self.bar = colorbar(self.head_plot)
        self.head_plot.hovered.connect(self._on_head_plot_hovered)
        for w in (self.overview_widget, self.head_widget):
            theme.apply_plot_palette(w)

    def _build_controls(self) -> QHBoxLayout:
        """Layer, head, average; knocking heads out; the exports."""
        self.layer_box, self.head_box = QSpinBox(prefix="layer "), QSpinBox(prefix="head ")
        self.layer_box.valueChanged.connect(self._on_layer_box_value_changed)
        self.head_box.valueChanged.connect(self._on_head_box_value_changed)
        self.average_box = QCheckBox("average of heads")
        self.average_box.toggled.connect(self._on_average_box_toggled)
        self.scale_box = QComboBox()
        for key, title in SCALES.items():
            self.scale_box.addItem(title, key)
        self.scale_box.setToolTip(
            "How attention is coloured. Real models park most attention on the first token (a sink):\n"
            "automatic then leaves it out and shares each row among the other tokens; square root,\n"
            "log and each-row-to-its-max show the rest too. The colour bar says which is in use."
        )
        self.scale_box.currentIndexChanged.connect(self._on_scale_box_changed)
        self.readout = ElidedLabel("hover the large heatmap: query → key: weight")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_head = ExportButton(
            "attention head",
            lambda: self.head_widget,
            lambda figure: recipe_for(self.client, "attention", self.recipe_settings(), figure),
            {
                ".csv": ("CSV of the shown heatmap", self.export_csv),
                ".npy": ("NumPy array of every head", self.export_npy),
            },
            self._nothing_to_export,
        )
        self.export_overview = ExportButton(
            "attention overview",
            lambda: self.overview_widget,
            lambda figure: recipe_for(self.client, "attention", self.recipe_settings(), figure),
            {".npy": ("NumPy, every head", self.export_npy)},
            self._nothing_to_export,
        )
        self.export_overview.setText("Export overview")
        exports = QHBoxLayout()
        for button in (self.export_overview, self.export_head):
            button.saved.connect(self.saved)
            button.failed.connect(self.failed)
            exports.addWidget(button)
        self.knock_button = QPushButton("Knock out (K)")
        self.knock_button.setToolTip(
            "Knock the chosen heads out of every view (probabilities, generation, lens, sweeps),\n"
            "or put them back if they are all out. Choose heads: click one, Shift+click more,\n"
            "L for the whole layer."
        )
        self.knock_button.clicked.connect(self.toggle_knock_out)
        self.layer_button = QPushButton("Whole layer (L)")
        self.layer_button.setToolTip("Choose every head of the selected layer")
        self.layer_button.clicked.connect(self.choose_layer)
        self.mode_box = QComboBox()
        self.mode_box.addItem("zeroed", "zero")
        self.mode_box.addItem("mean over positions", "mean")
        self.mode_box.setToolTip("What a knocked-out head's output becomes")
        self.mode_box.currentIndexChanged.connect(self._on_mode_box_changed)
        self.restore_button = QPushButton("Restore all heads")
        self.restore_button.clicked.connect(self._on_restore_clicked)
        self.knocked_label = ElidedLabel()
        knock = (self.layer_button, self.knock_button, self.mode_box, self.restore_button)
        self.knock_controls = knock
        controls = QHBoxLayout()
        for w in (self.layer_box, self.head_box, self.average_box, self.scale_box, *knock):
            controls.addWidget(w)
        controls.addWidget(self.knocked_label)
        controls.addStretch(1)
        controls.addLayout(exports)
        return controls

    # ---- data in --------------------------------------------------------------------------
    def set_attentions(
        self,
        tokens,
        attentions: np.ndarray,
        text: str | None = None,
        notes: tuple[str, ...] = (),
        pooled=None,
    ) -> None:
        """tokens: display texts [T]; attentions: float32 [layers, heads, T, T]; notes: e.g. truncation;
        pooled: a long text's `PooledAttention` (then `attentions` is [0, 0, T, T])."""
        self.kinds = {}
        self.kind_box.hide()
        self.pooled, self.layer_weights = pooled, None  # (a pooled text's layers come on request)
        self._show_kind(tuple(tokens), tuple(tokens), attentions, text, notes)

    def set_pair(self, source, inputs, outputs, encoder, decoder, cross, text=None, notes=()) -> None:
        """An encoder–decoder's attention, three kinds (the kind box picks one): source tokens [S],
        the decoder's inputs [T] and what each chose [T]; encoder [L, H, S, S], decoder [L', H', T, T],
        cross [L', H', T, S]."""
        source, inputs, outputs = tuple(source), tuple(inputs), tuple(outputs)
        self.kinds = {
            "cross": (outputs, source, cross),
            "decoder": (inputs, inputs, decoder),
            "encoder": (source, source, encoder),
        }
        self.kind_box.show()
        rows, cols, att = self.kinds[self.kind_box.currentData()]
        self.pooled = self.layer_weights = None
        self._show_kind(rows, cols, att, text, notes)

    @property
    def heads_shape(self) -> tuple[int, int]:
        """(layers, heads) of what is shown; (0, 0) for nothing."""
        if self.pooled is not None:
            return self.pooled.layers, self.pooled.heads
        return self.attentions.shape[:2]

    @property
    def has_attention(self) -> bool:
        return self.pooled is not None or bool(self.attentions.size)

    def _sink_share(self) -> float:
        return self.pooled.sink_share if self.pooled is not None else sink_share(self.attentions)

    def _show_kind(self, rows, cols, attentions: np.ndarray, text: str | None, notes) -> None:
        self.rows, self.cols = rows, cols
        self.attentions = attentions
        if text is not None and text != self.text.text():
            self.text.setText(text)
        _, query, key = PAIR_KINDS[self.kind_box.currentData()] if self.kinds else ("", "query", "key")
        self.head_plot.setLabel("left", query)
        self.head_plot.setLabel("bottom", key)
        L, H = self.heads_shape
        self.layer_box.setRange(0, L - 1)
        self.head_box.setRange(0, H - 1)
        self.layer, self.head = min(self.layer, L - 1), min(self.head, H - 1)
        self._notes = tuple(notes)
        self._drawn = False
        if self.isVisible():  # a hidden view draws when it is shown: a run's end stays smooth
            self._draw()

    def _draw(self) -> None:
        self._drawn = True
        self.scale = scale = resolve(self.scale_box.currentData(), self._sink_share())
        self.bar.getAxis("left").setLabel(LABELS[scale])
        if self.pooled is not None:  # pooled by the worker as its probe went (or to pool again)
            self.background.cancel()
            mosaic = mosaic_in(self.pooled, scale)
            if mosaic is not None:
                self.overview.set_mosaic(*mosaic, *self.heads_shape)
                self.overview.setTitle(OVERVIEW_TITLE)
            else:  # these colours were not pooled: the text is read again, pooled in them
                self.client.send(Inspect(self.pooled.text, INSPECT, scale=scale, layer=self.layer))
                self.overview.setTitle(f"{OVERVIEW_TITLE} · pooling in these colours…")
        elif self.attentions.size > POOL_AWAY:  # a big model: pool its heads on a pool thread
            attentions = self.attentions
            pooled = lambda: build_mosaic(attentions, scale=scale)  # noqa: E731
            self.background.run(pooled, self._on_pooled)
        else:
            self.background.cancel()
            self.overview.set_attentions(rescaled(self.attentions, scale))
        self._draw_rest()

    def _on_pooled(self, pooled) -> None:
        self.overview.set_mosaic(*pooled, *self.heads_shape)
        self._show_knocked()
        self.overview.select(self.layer, None if self.average else self.head)

    def _draw_rest(self) -> None:
        for w in self.knock_controls:  # heads are knocked out of decoders and encoders, not both
            w.setVisible(not self.kinds)
        L, H = self.heads_shape
        if not self.chosen or any(layer >= L or head >= H for layer, head in self.chosen):
            self._choose_selected()  # a first text, or a model of another shape
        self._show_knocked()
        self.note.setText("\n".join(f"Note: {n}" for n in self._notes))
        self.note.setVisible(bool(self._notes))
        self._show_selected()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._follow_timer.isActive() or (self.run_steps and self.following):
            self._follow_run()
        elif not self._drawn and self.has_attention:
            self._draw()

    # ---- following a generation -------------------------------------------------------------
    @property
    def following(self) -> bool:
        """A run streams: the view shows it growing, its newest token's row at the bottom."""
        return self.run_tokens is not None

    def _on_prompt_tokenized(self, tokens) -> None:
        from models.inspect.run_attention import GrowingAttention

        asked = [r for r in self.client.outstanding.values() if isinstance(r, Generate)]
        new_tokens = asked[-1].settings.max_new_tokens if asked else 0  # its buffer, made once
        context = self.client.info.context if self.client.info is not None else 0
        self.run_tokens, self.run_steps = tokens, []
        self.run_rows = GrowingAttention(new_tokens, context)

    def _on_tokens_generated(self, batch: list) -> None:
        if not self.following:
            return
        self.run_steps.extend(batch)
        self.run_rows.add(batch)  # each new token's row, now: a redraw copies nothing
        if self.isVisible() and not self._follow_timer.isActive():
            self._follow_timer.start()  # hidden, it catches up when shown

    def _follow_run(self) -> None:
        self._follow_timer.stop()
        steps, tokens = list(self.run_steps), self.run_tokens
        if not self.isVisible():
            return
        if self._show_translation(steps, tokens):
            return
        self._show_grown(steps, tokens, complete=False)

    def finish_run(self, text: str) -> bool:
        """The run ended: show its whole text's attention from its own steps (True), or, when it
        does not hold it all (stopped, or the context slid), inspect the text afresh (False)."""
        self._follow_timer.stop()
        steps, tokens, rows = self.run_steps, self.run_tokens, self.run_rows
        self.run_tokens, self.run_steps, self.run_rows = None, [], None
        if tokens is not None and self._show_translation(steps, tokens, text):
            return True
        if rows is None or not rows.complete:
            self.inspect(text)
            return False
        self._show_grown(steps, tokens, complete=True, text=text, rows=rows)
        return True

    def _show_translation(self, steps, source, text: str | None = None) -> bool:
        """An encoder–decoder's run, from its steps: its three kinds of attention (True), or False.
        A big one is put together on a pool thread (it is rebuilt as the run streams)."""
        from models.inspect.run_attention import translation_attention
        from models.text.pairs import START

        if not steps or steps[0].prompt_attention is None or steps[0].cross_attention is None:
            return False
        chosen = tuple(s.token_text for s in steps)

        def show(parts) -> None:
            if parts is not None:
                self.set_pair(source.texts, (START, *chosen[:-1]), chosen, *parts, text, source.notes)

        L, H, S = steps[0].cross_attention.shape[0], steps[0].cross_attention.shape[1], len(source.texts)
        N = len(steps)
        if L * H * N * (N + S) > POOL_AWAY:
            self.background.run(lambda: translation_attention(steps), show)
        else:
            show(translation_attention(steps))
        return True

    def _show_grown(self, steps, tokens, complete: bool, text: str | None = None, rows=None) -> None:
        """The run's attention as grown so far (its rows were added as tokens came)."""
        grown = rows if rows is not None else self.run_rows
        full = grown.matrix() if grown is not None else None
        if full is None:
            return
        T = full.shape[-1]
        texts = (*tokens.texts, *(s.token_text for s in steps))[:T]
        self.set_attentions(texts, full, text, tokens.notes)
        if not complete:
            self.readout.setText(
                f"following the run: the newest row is “{visible(texts[-1])}” (query {T - 1}) attending"
            )

    def reset(self, event: str) -> None:
        """MODEL: nothing of the last model's heads is shown."""
        if event == MODEL:
            self.clear()

    def clear(self) -> None:
        """Nothing shown (a new model: the old one's heads say nothing about it)."""
        self.rows, self.cols, self.attentions = (), (), np.zeros((0, 0, 0, 0), np.float32)
        self.pooled = self.layer_weights = None
        self.kinds = {}
        self.kind_box.hide()
        self.background.cancel()
        self.chosen = set()
        self._drawn = True
        self.overview.clear_attentions()
        self.head_plot.clear_matrix()
        self.head_plot.setTitle("")
        self.note.setText(EMPTY_NOTE)
        self.note.show()

    def save_state(self, store) -> None:
        store.setValue("attention/splitter", self.splitter.saveState())

    def restore_state(self, store) -> None:
        if (splitter := store.value("attention/splitter")) is not None:
            self.splitter.restoreState(splitter)

    def inspect(self, text: str) -> None:
        self.text.setText(text)
        self._send_inspect(text)

    def _send_inspect(self, text: str) -> None:
        """A probe of `text`; a long one on a big model keeps the overview in the chosen colours
        and the selected layer whole."""
        pending = self._pending_selection  # (a recipe's layer, once its probe is in)
        layer = pending[0] if pending is not None else self.layer
        self.client.send(Inspect(text, INSPECT, scale=self.scale_box.currentData(), layer=layer))

    def shown(self) -> None:
        """The tab opened with nothing drawn: the text in the box is inspected (no extra click)."""
        text = self.text.text()
        asking = self.client.newest_probe(INSPECT) in self.client.outstanding
        if text.strip() and not self.has_attention and not asking:
            self.inspect(text)

    def show_example(self, text: str) -> None:
        """A new model's first text: inspected, unless the user typed one of their own here."""
        self.inspect(offer_example(self.text, text))

    def show_head(self, layer: int, head: int) -> None:
        """One head, large (not the layer's average)."""
        self.average_box.setChecked(False)
        self.select(layer, head)

    def _on_probed(self, request: int, probe) -> None:
        if request != self.client.newest_probe(INSPECT):  # (the probability view may have asked)
            return
        if probe.cross_attentions is not None:
            self.set_pair(
                probe.source.texts, probe.tokens.texts, probe.outputs, probe.encoder_attentions,
                probe.attentions, probe.cross_attentions, notes=probe.tokens.notes,
            )  # fmt: skip
        else:
            self.set_attentions(
                probe.tokens.texts, probe.attentions, notes=probe.tokens.notes, pooled=probe.pooled
            )
        if self._pending_selection is not None:  # a recipe's head
            layer, head, average = self._pending_selection
            self._pending_selection = None
            self.average_box.setChecked(average)
            self.select(layer, head)

    # ---- selection ------------------------------------------------------------------------
    def select(self, layer: int, head: int | None = None) -> None:
        L, H = self.heads_shape
        if not L:
            return
        self.layer = int(np.clip(layer, 0, L - 1))
        if head is not None:
            self.head = int(np.clip(head, 0, H - 1))
        self._choose_selected()
        self._show_selected()

    def _choose_selected(self) -> None:
        """A plain selection chooses that head alone for K; the layer's average, the whole layer."""
        heads = range(self.heads_shape[1]) if self.average else (self.head,)
        self.chosen = {(self.layer, h) for h in heads}
        self._show_knocked()

    def shown_matrix(self) -> np.ndarray | None:
        """The [queries, keys] matrix in the large plot: one head, or the layer's average over heads
        (None while a long text's layer is being read)."""
        if self.pooled is not None:
            if self.layer_weights is None or self.layer_weights[0] != self.layer:
                return None
            layer = self.layer_weights[1]
        else:
            layer = self.attentions[self.layer]
        return layer.mean(axis=0, dtype=np.float32) if self.average else layer[self.head]

    def _show_selected(self) -> None:
        if not self.has_attention:
            return
        for box, value in ((self.layer_box, self.layer), (self.head_box, self.head)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        self.head_box.setEnabled(not self.average)
        self.overview.select(self.layer, None if self.average else self.head)
        what = "average of heads" if self.average else f"head {self.head}"
        scale = described(self.scale, self._sink_share())
        title = f"layer {self.layer}{self._window()}, {what}{self._kv_group()}{scale}"
        matrix = self.shown_matrix()
        if matrix is None:  # a long text's layer: asked of the worker (once), drawn when it comes
            asked, layer = self.layer_request
            if layer != self.layer or asked not in self.client.outstanding:
                self.layer_request = (self.client.send(LayerAttention(self.layer)), self.layer)
            self.head_plot.clear_matrix()
            title = f"{title} · reading this layer…"
        else:
            self.head_plot.set_matrix(rescaled(matrix, self.scale), self.cols, self.rows)
        self.head_plot.setTitle(title)
        self.selection_changed.emit(self.layer, -1 if self.average else self.head)

    def _on_layer_attention_read(self, _request: int, answer) -> None:
        layer, weights = answer  # (read from the streams of the text shown: a newer text's probe
        if self.pooled is None or layer != self.layer:  # comes before any layer read from it)
            return  # (a layer walked past: the one shown keeps its weights)
        self.layer_weights = (layer, weights)  # (the one layer kept: walking layers holds no more)
        self._show_selected()

    def _window(self) -> str:
        """A local layer's window (its queries see only the latest keys): why its map is a band."""
        info = self.client.info
        window = info.windows[self.layer] if info is not None and self.layer < len(info.windows) else 0
        return f" (local: each token sees the last {window})" if window else ""

    def _kv_group(self) -> str:
        """For grouped-query models: which query heads read the same key/value head as this one."""
        info = self.client.info
        if self.average or info is None or not info.capabilities.grouped_kv:
            return ""
        group = info.n_head // info.n_kv_head
        kv = self.head // group
        return f" · key/value head {kv}, shared by heads {kv * group}–{kv * group + group - 1}"

    # ---- knocking heads out ------------------------------------------------------------------
    def toggle_knock_out(self) -> None:
        """Knock the chosen heads out of every view, or put them back if all are out already."""
        if not self.has_attention or not self.chosen or self.kinds:  # (not an encoder–decoder's)
            return
        knocked = set(self.knocked)
        chosen = knocked - self.chosen if self.chosen <= knocked else knocked | self.chosen
        self.client.send(KnockOut(tuple(sorted(chosen)), self.mode_box.currentData()))

    def choose_layer(self) -> None:
        """Choose every head of the selected layer."""
        if self.has_attention:
            self.chosen = {(self.layer, h) for h in range(self.heads_shape[1])}
            self._show_knocked()

    def _on_restore_clicked(self) -> None:
        self.client.send(KnockOut((), self.mode_box.currentData()))

    def _on_mode_box_changed(self, _index: int) -> None:
        if self.knocked:  # the same heads, replaced the other way
            self.client.send(KnockOut(self.knocked, self.mode_box.currentData()))

    def _on_ablation_changed(self, heads, mode: str) -> None:
        self.knocked = tuple(heads)
        index = self.mode_box.findData(mode)
        if index >= 0 and index != self.mode_box.currentIndex():
            self.mode_box.blockSignals(True)  # the worker's word, not a new request
            self.mode_box.setCurrentIndex(index)
            self.mode_box.blockSignals(False)
        self.check_line = ""
        self._show_knocked()
        if self.text.text().strip():  # every view recomputes with the heads that are out
            self._send_inspect(self.text.text())
        info = self.client.info
        if heads and info is not None and info.task:  # a task model: do the answers survive?
            self.check_request = self.client.send(CheckHeads(((), tuple(heads))))

    def _on_steering_changed(self, _said: str) -> None:
        self._show_knocked()
        if self.text.text().strip():  # every view recomputes as the model is steered now
            self._send_inspect(self.text.text())

    def _on_heads_checked(self, check) -> None:
        if check.request != self.check_request or tuple(check.heads[-1]) != self.knocked:
            return
        intact, knocked = check.accuracy
        self.check_line = (
            f" · exact answers on {check.questions} fresh {check.task} questions: "
            f"{intact:.0%} → {knocked:.0%} ({knocked - intact:+.0%})"
        )
        self._show_knocked()

    def _show_knocked(self) -> None:
        self.overview.mark_knocked_out(self.knocked)
        self.overview.mark_chosen(self.chosen if len(self.chosen) > 1 else ())
        self.restore_button.setEnabled(bool(self.knocked))
        n = len(self.chosen)
        verb = "Restore" if self.chosen and self.chosen <= set(self.knocked) else "Knock out"
        self.knock_button.setText(f"{verb} {n} heads (K)" if n > 1 else f"{verb} (K)")
        self.knock_button.setEnabled(bool(n))
        names = ", ".join(f"L{layer}H{head}" for layer, head in self.knocked)
        how = "zeroed" if self.mode_box.currentData() == "zero" else "mean over positions"
        said = [f"knocked out ({how}): {names}{self.check_line}"] if names else []
        if self.client.steering:
            said.append(f"steered by {self.client.steering}")
        self.knocked_label.setText(" · ".join(said))

    def _on_tile_clicked(self, layer: int, head: int) -> None:
        self.average = False
        self.average_box.setChecked(False)
        self.select(layer, head)

    def _on_tile_toggled(self, layer: int, head: int) -> None:
        """Shift+click: add the head to the chosen ones, or take it out; it becomes the shown one."""
        chosen = self.chosen ^ {(layer, head)}
        self._on_tile_clicked(layer, head)
        self.chosen = chosen or {(self.layer, self.head)}
        self._show_knocked()

    def _on_layer_box_value_changed(self, value: int) -> None:
        self.select(value)

    def _on_head_box_value_changed(self, value: int) -> None:
        self.select(self.layer, value)

    def _on_kind_box_changed(self, _index: int) -> None:
        if self.kinds:
            rows, cols, att = self.kinds[self.kind_box.currentData()]
            self._show_kind(rows, cols, att, None, self._notes)

    def _on_scale_box_changed(self, _index: int) -> None:
        if self.has_attention:
            self._draw()

    def _on_average_box_toggled(self, on: bool) -> None:
        self.average = on
        self._choose_selected()
        self._show_selected()

    KEYS = (  # what the overview's own keys and clicks do (the F1 sheet lists them)
        ("← → ↑ ↓", "Walk the overview: heads left and right, layers up and down"),
        ("A", "Average the layer's heads, or show one head"),
        ("K", "Knock the chosen heads out of every view, or put them back"),
        ("L", "Choose the whole layer"),
        ("Click", "Show a head"),
        ("Shift+click", "Choose one more head (or take it out of the choice)"),
    )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        """Arrow keys walk the overview (left/right heads, up/down layers); A averages."""
        if watched is self.overview_widget and event.type() == QEvent.Type.KeyPress:
            moves = {
                Qt.Key.Key_Left: (0, -1),
                Qt.Key.Key_Right: (0, 1),
                Qt.Key.Key_Up: (-1, 0),
                Qt.Key.Key_Down: (1, 0),
            }
            if event.key() in moves:
                dl, dh = moves[event.key()]
                self.select(self.layer + dl, self.head + dh)
                return True
            if event.key() == Qt.Key.Key_A:
                self.average_box.toggle()
                return True
            if event.key() == Qt.Key.Key_K:
                self.toggle_knock_out()
                return True
            if event.key() == Qt.Key.Key_L:
                self.choose_layer()
                return True
        return super().eventFilter(watched, event)

    def _on_head_plot_hovered(self, row: int, col: int, _shown: float) -> None:
        if not (0 <= row < len(self.rows) and 0 <= col < len(self.cols)):
            return
        matrix = self.shown_matrix()
        if matrix is None:
            return
        value = float(matrix[row, col])  # the attention itself, whatever the colours
        q, k = visible(self.rows[row]), visible(self.cols[col])
        if self.kinds and self.kind_box.currentData() == "cross":
            self.readout.setText(f"choosing “{q}” ({row}) → source “{k}” ({col}): {value:.2f}")
            return
        self.readout.setText(f"query “{q}” ({row}) → key “{k}” ({col}): {value:.2f}")

    def _on_text_return_pressed(self) -> None:
        text = self.text.text()
        if text.strip():
            self.inspect_requested.emit(text)
            self._send_inspect(text)

    def _on_request_finished(self, request: int, status: str, message: str) -> None:
        if request == self.save_request:  # every head of a long text, written by the worker
            self.save_request = 0
            if status == "done":
                L, H, T = *self.heads_shape, len(self.rows)
                self.saved.emit(
                    f"Saved every head's attention ({L}×{H}×{T}×{T}, float16) to {self.save_path}"
                )
            else:
                self.failed.emit(f"Could not write {self.save_path}: {message}", "")
        if request == self.layer_request[0] and status != "done" and self.pooled is not None:
            if self.layer_request[1] == self.layer and self.shown_matrix() is None:
                said = message or "stopped"
                self.head_plot.setTitle(f"layer {self.layer}: could not read this layer: {said}")
        if status == "failed" and request == self.client.newest_probe(INSPECT):
            self.note.setText(f"Could not inspect this text: {message}")  # the last picture stays
            self.note.show()

    # ---- export ---------------------------------------------------------------------------
    def export_png(self, path: str | Path) -> bool:
        return self.head_widget.grab().save(str(path))

    def export_npy(self, path: str | Path):
        """The whole [layers, heads, T, T] tensor; a long text's (not kept here) is written by the
        worker a layer at a time, and said when done."""
        if self.pooled is None:
            np.save(path, self.attentions)
            return None
        self.save_request, self.save_path = self.client.send(SaveAttention(str(path))), Path(path)
        return LATER

    def export_csv(self, path: str | Path) -> None:
        """The shown matrix, with the query tokens as rows and key tokens as columns."""
        matrix = self.shown_matrix()
        if matrix is None:
            raise OSError("this layer is still being read: export it once it is drawn")
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["query \\ key", *self.cols])
            for tok, row in zip(self.rows, matrix, strict=True):
                out.writerow([tok, *(f"{v:.6f}" for v in row)])

    def _nothing_to_export(self) -> str:
        return (
            ""
            if self.has_attention
            else "There is no attention to export yet: generate or inspect a text first."
        )

    def export_png_dialog(self) -> None:
        """Ask where to save the shown heatmap as PNG, then write it (File ▸ Export attention PNG)."""
        self.export_head.ask(".png")

    # ---- recipes ----------------------------------------------------------------------------------
    def recipe_settings(self) -> dict:
        return {
            "text": self.text.text(), "layer": self.layer, "head": self.head, "average": self.average,
            "kind": self.kind_box.currentData() if self.kinds else "", "scale": self.scale_box.currentData(),
        }  # fmt: skip

    def apply_recipe(self, settings: dict) -> None:
        """Inspect the recipe's text, then select its head (or layer average) when it arrives."""
        self._pending_selection = (
            int(settings.get("layer", 0)),
            int(settings.get("head", 0)),
            bool(settings.get("average", False)),
        )
        self.scale_box.blockSignals(True)  # (the recipe's text is read in its colours below)
        self.scale_box.setCurrentIndex(max(0, self.scale_box.findData(str(settings.get("scale", "auto")))))
        self.scale_box.blockSignals(False)
        index = self.kind_box.findData(str(settings.get("kind", "")))
        if index >= 0:  # an encoder–decoder's kind of attention
            self.kind_box.setCurrentIndex(index)
        self.inspect(str(settings.get("text", "")))
