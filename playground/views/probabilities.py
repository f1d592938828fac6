"""Probability view: for any text, how likely each token was where it stands, entropy, perplexity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from playground import theme
from playground.info import ModelInfo
from playground.recipe import recipe_for
from playground.views.resets import MODEL
from playground.views.widgets.example_text import fill, offer_example, watch_typing
from playground.views.widgets.figure_export import ExportButton
from playground.views.widgets.heatmap import TokenAxis
from playground.views.widgets.tokens import TokenText, tint, visible
from playground.views.widgets.topk_chart import TopKChart
from playground.worker import WorkerClient
from playground.worker.requests import INSPECT, SCORES, Inspect


@dataclass(frozen=True)
class Scores:
    """A probe's predictions aligned with the tokens they score: entry i is about token i.

    A GPT predicts token i at position i - 1, so its arrays shift by one (token 0 has no
    score) and the prediction after the last token is kept apart as `after`. An encoder–decoder's
    tokens are what each position chose (the target, then </s>), scored where they stand.
    """

    prob: np.ndarray  # float [T]: p(token i), NaN where unscored
    entropy: np.ndarray  # float [T]: entropy of the prediction of token i, NaN where none
    top_texts: tuple  # [T] of tuple[str]
    top_probs: tuple  # [T] of float arrays
    after: tuple | None  # GPT: (top_texts, top_probs, entropy) of what comes after the text
    intact: np.ndarray | None = None  # float [T]: p(token i) with no head knocked out, if some are
    texts: tuple[str, ...] = ()  # the tokens scored: the text's own, or an encoder–decoder's target
    offsets: np.ndarray | None = None  # their character spans in the probed text

    @classmethod
    def of(cls, probe) -> Scores:
        intact = probe.intact_prob
        texts, offsets = probe.tokens.texts, probe.tokens.offsets
        caps = probe.capabilities
        if caps.encoder_decoder:  # position i chose token i + 1 (the last chose </s>)
            end = offsets[-1:, 1:].repeat(2, axis=1)
            texts, offsets = probe.outputs, np.vstack([offsets[1:], end])
        if not caps.causal:
            return cls(
                probe.target_prob, probe.entropy, probe.top_texts, tuple(probe.top_probs), None, intact,
                texts, offsets,
            )  # fmt: skip
        nan = np.full(1, np.nan, np.float32)
        return cls(
            np.concatenate([nan, probe.target_prob[:-1]]),
            np.concatenate([nan, probe.entropy[:-1]]),
            ((), *probe.top_texts[:-1]),
            (np.zeros(0, np.float32), *probe.top_probs[:-1]),
            (probe.top_texts[-1], probe.top_probs[-1], float(probe.entropy[-1])),
            None if intact is None else np.concatenate([nan, intact[:-1]]),
            texts,
            offsets,
        )


class ProbabilityView(QWidget):
    saved = Signal(str)
    failed = Signal(str, str)

    def __init__(self, client: WorkerClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.probe = None
        self.scores: Scores | None = None
        self._drawn = True  # False while a probe that arrived hidden waits to be drawn
        self.text = QLineEdit(placeholderText="Text to score (Enter) — a run's text lands here")
        watch_typing(self.text)  # a new model's example does not replace what the user typed
        self.text.returnPressed.connect(self._on_text_return_pressed)
        inspect = QPushButton("Score")
        inspect.clicked.connect(self._on_text_return_pressed)
        self.export_button = ExportButton(
            "token probabilities",
            lambda: self.plots,
            lambda figure: recipe_for(self.client, "probabilities", {"text": self.scored_text()}, figure),
            {".csv": ("CSV", self.export_csv)},
            lambda: (
                "" if self.probe is not None else "There is nothing scored to export yet: score a text first."
            ),
        )
        self.export_button.saved.connect(self.saved)
        self.export_button.failed.connect(self.failed)
        top = QHBoxLayout()
        top.addWidget(self.text, 1)
        top.addWidget(inspect)
        top.addWidget(self.export_button)
        self.summary = QLabel("Score a text to see how surprised the model is by each token.")
        self.summary.setWordWrap(True)

        self.tokens = TokenText()
        self.tokens.tooltip_for = self._tooltip
        self.tokens.token_clicked.connect(self._on_tokens_token_clicked)
        self.chart = TopKChart("what the model expected")

        self.plots = pg.GraphicsLayoutWidget()
        self.axis = TokenAxis("bottom")
        self.prob_plot = self.plots.addPlot(row=0, col=0, title="probability of each token where it stands")
        self.entropy_plot = self.plots.addPlot(
            row=1,
            col=0,
            title="entropy of the prediction of each token (nats)",
            axisItems={"bottom": self.axis},
        )
        self.prob_plot.setXLink(self.entropy_plot)
        self.prob_plot.hideAxis("bottom")
        self.prob_plot.setYRange(0, 1, padding=0.02)
        for plot in (self.prob_plot, self.entropy_plot):
            plot.setMouseEnabled(y=False)
            plot.hideButtons()
            plot.getAxis("left").setWidth(40)
        self.prob_bars = pg.BarGraphItem(x0=[], width=[], height=[], y0=0, brushes=[])
        self.prob_plot.addItem(self.prob_bars)
        # with heads knocked out: the intact model's probability of each token, as an outline
        self.intact_bars = pg.BarGraphItem(x0=[], width=[], height=[], y0=0, brush=None, pen=_outline_pen())
        self.prob_plot.addItem(self.intact_bars)
        self.entropy_curve = self.entropy_plot.plot(pen=pg.mkPen(theme.accent(), width=2), stepMode="center")
        theme.apply_plot_palette(self.plots)

        split = QSplitter()
        split.addWidget(self.tokens)
        split.addWidget(self.chart)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        vertical = QSplitter()
        vertical.setOrientation(pg.QtCore.Qt.Orientation.Vertical)
        vertical.addWidget(split)
        vertical.addWidget(self.plots)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(vertical, 1)
        client.probed.connect(self._on_probed)
        client.request_finished.connect(self._on_request_finished)

    def set_text(self, text: str) -> None:
        """Put another view's text in the box (its probe arrives with the attention view's): the
        app's, not typed here, so a new model's example may replace it."""
        fill(self.text, text)

    def show_example(self, text: str) -> None:
        """A new model's first text, unless the user typed one of their own here."""
        offer_example(self.text, text)

    def score(self, text: str) -> None:
        """Score `text` on its own probe, without attentions (a finished run's text)."""
        self.text.setText(text)
        # a probe for this view alone: no attentions (a run's come from its steps)
        self.client.send(Inspect(text, SCORES, attentions=False))

    def reset(self, event: str) -> None:
        """MODEL: the last model's scores go, with what this one can score said instead."""
        if event == MODEL and self.client.info is not None:
            self.clear(scores_first(self.client.info))

    def clear(self, why: str) -> None:
        """Empty the view, saying why (a model that cannot score: the old result would lie)."""
        self.probe = self.scores = None
        self._drawn = True
        self.tokens.clear_tokens()
        self.chart.clear_bars("what the model expected")
        self.prob_bars.setOpts(x0=[], width=[], height=[], brushes=[])
        self.intact_bars.setOpts(x0=[], width=[], height=[])
        self.entropy_curve.setData([], [])
        self.axis.set_labels([])
        self.summary.setText(why)

    def _on_text_return_pressed(self) -> None:
        if self.text.text().strip():
            self.client.send(Inspect(self.text.text(), INSPECT))  # (the attention view shows it too)

    def _mine(self, request: int) -> bool:
        """The newest probe of the text both views show, or of this view's own scores."""
        return request in (self.client.newest_probe(INSPECT), self.client.newest_probe(SCORES))

    def _on_probed(self, request: int, probe) -> None:
        if self._mine(request):
            self.set_probe(probe)

    def _on_request_finished(self, request: int, status: str, message: str) -> None:
        if status == "failed" and self._mine(request):
            self.summary.setText(f"Could not score this text: {message}")

    def set_probe(self, probe) -> None:
        self.probe, self.scores = probe, Scores.of(probe)
        self._drawn = False
        if self.isVisible():  # a hidden view draws when it is shown: a run's end stays smooth
            self._draw()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if not self._drawn and self.probe is not None:
            self._draw()

    def _draw(self) -> None:
        self._drawn = True
        probe = self.probe
        texts, p, h = self.scores.texts, self.scores.prob, self.scores.entropy
        self.tokens.set_tokens(
            texts, [tint(x) if np.isfinite(x) else None for x in p], offsets=self.scores.offsets
        )
        n = len(texts)
        finite = np.nan_to_num(p, nan=0.0)
        self.prob_bars.setOpts(  # bar i stands over token i: the probability of that very token
            x0=np.arange(n) + 0.1,
            width=np.full(n, 0.8),
            height=finite,
            brushes=[pg.mkBrush(tint(x)) for x in finite],
        )
        intact = self.scores.intact
        if intact is None:
            self.intact_bars.setOpts(x0=[], width=[], height=[])
            self.prob_plot.setTitle("probability of each token where it stands")
        else:
            self.intact_bars.setOpts(
                x0=np.arange(n) + 0.1, width=np.full(n, 0.8), height=np.nan_to_num(intact)
            )
            self.prob_plot.setTitle(
                "probability of each token where it stands (outline: the model as it is, every head in, "
                "nothing added)"
            )
        h = np.nan_to_num(h, nan=0.0)
        self.entropy_curve.setData(np.arange(n + 1), h)
        self.entropy_plot.setYRange(0, max(float(h.max()) if n else 1.0, 0.1) * 1.08, padding=0)
        self.axis.set_labels(texts)
        self.entropy_plot.setXRange(0, max(n, 1), padding=0)
        scored = int(np.isfinite(p).sum())
        caps = probe.capabilities
        how = (
            "given the tokens before it (the first token has none)"
            if caps.causal
            else "given the source and the target before it"
            if caps.encoder_decoder
            else "itself, unmasked"
        )
        after = self.scores.after
        next_text = (
            f" · after the text: {after[2]:.2f} nats, likely “{visible(after[0][0])}”"
            if after is not None and len(after[0])
            else ""
        )
        self.summary.setText(
            _intervention_line(probe)
            + f"perplexity {probe.perplexity:.2f} over {scored} scored tokens · mean entropy "
            f"{float(np.nanmean(self.scores.entropy)) if scored else float('nan'):.2f} nats{next_text}"
            f"\ntint and bars = probability of each token {how} (green likely, red surprising)"
            + "".join(f"\nNote: {note}" for note in probe.tokens.notes)
        )
        if after is not None:  # start on what the model expects after the text
            self.chart.set_alternatives(after[0], after[1], title="after the text")
        elif n:
            self.tokens.select(n - 1)
            self._on_tokens_token_clicked(n - 1)

    # ---- export and recipes -----------------------------------------------------------------------
    def export_csv(self, path) -> None:
        """One row per token: its text, probability where it stands, and the entropy before it."""
        import csv

        sc = self.scores
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["position", "token", "probability", "entropy_nats"])
            for i, token in enumerate(sc.texts):
                out.writerow([i, token, f"{sc.prob[i]:.6f}", f"{sc.entropy[i]:.6f}"])

    def apply_recipe(self, settings: dict) -> None:
        self.score(str(settings.get("text", "")))

    def _tooltip(self, i: int) -> str:
        pr, sc = self.probe, self.scores
        if pr is None or sc is None or not 0 <= i < len(pr.tokens):
            return ""
        token = visible(sc.texts[i])
        if not np.isfinite(sc.prob[i]):
            return f"“{token}”: not scored (a GPT scores a token from the ones before it)"
        change = ""
        if sc.intact is not None and np.isfinite(sc.intact[i]):
            change = f" (the model as it is: {sc.intact[i]:.3f}, {sc.prob[i] - sc.intact[i]:+.3f})"
        lines = [f"p(“{token}”) = {sc.prob[i]:.3f}{change}", f"entropy {sc.entropy[i]:.2f} nats"]
        if len(sc.top_texts[i]):
            lines.append(f"expected “{visible(sc.top_texts[i][0])}” ({sc.top_probs[i][0]:.2f})")
        return "\n".join(lines)

    def _on_tokens_token_clicked(self, i: int) -> None:
        pr, sc = self.probe, self.scores
        if pr is None or sc is None or not 0 <= i < len(pr.tokens):
            return
        token = sc.texts[i]
        if not len(sc.top_texts[i]):
            self.chart.clear_bars(f"“{visible(token)}”: nothing before it to predict from")
            return
        self.chart.set_alternatives(
            sc.top_texts[i], sc.top_probs[i], chosen=token, title=f"expected at “{visible(token)}”"
        )


def _intervention_line(probe) -> str:
    """What the knocked-out heads and the steering vector change in this text, or "" when the
    model ran as it is."""
    if probe.intact_prob is None:
        return ""
    said = ""
    if probe.knocked_out:
        heads = ", ".join(f"L{layer}H{head}" for layer, head in probe.knocked_out)
        how = "zeroed" if probe.knock_mode == "zero" else "mean over positions"
        said = f"With {heads} knocked out ({how})"
    if probe.steering:
        said = f"{said} and steered" if said else "Steered"
        said += f" by {probe.steering}"
    before, after = probe.intact_loss, probe.loss
    return (
        f"{said}: loss {before:.3f} → {after:.3f} nats per token "
        f"({after - before:+.3f}), perplexity {np.exp(before):.2f} → {np.exp(after):.2f}\n"
    )


def _outline_pen():
    pen = pg.mkPen(theme.palette().color(QPalette.ColorRole.Text), width=1.5)
    pen.setCosmetic(True)
    return pen


def scores_first(info: ModelInfo) -> str:
    """What the probabilities view says until something is scored."""
    caps = info.capabilities
    if caps.encoder_decoder:
        return (
            "An encoder–decoder scores a target given its source: translate in the Prompt tab, "
            "or type “source -> target” above and press Enter."
        )
    if caps.encoder_only:
        return "A BERT scores each token itself, unmasked: type a text above and press Enter."
    return f"Scoring with {info.name}…"
