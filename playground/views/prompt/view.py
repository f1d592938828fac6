"""Prompt view: type, Ctrl+Enter, watch tokens stream as chips tinted by probability."""

from __future__ import annotations

import json
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from models.errors import ModelError
from models.text.pairs import ARROW
from playground.info import ModelInfo
from playground.recipe import recipe_for
from playground.views.prompt.sampling_form import SamplingForm
from playground.views.prompt.token_details import TokenDetails
from playground.views.resets import MODEL
from playground.views.widgets.elided_label import Readout
from playground.views.widgets.example_text import TYPED, fill, offer_example, watch_typing
from playground.views.widgets.figure_export import ExportButton
from playground.views.widgets.save_dialogs import ask_file
from playground.views.widgets.tokens import TokenText, tint, visible
from playground.worker import WorkerClient
from playground.worker.requests import Generate, Train

NO_RUN = "No run yet."


class PromptView(QWidget):
    run_finished = Signal(str)  # prompt + generated text, for the inspection views
    explain_requested = Signal(str, int, int)  # the run's text, its first generated position, the token's
    failed = Signal(str, str)  # a request the view refused (bad settings): message, details
    saved = Signal(str)  # what an export wrote, and where
    noted = Signal(str)  # a word in the status bar (nothing to do: no dialog)

    def __init__(self, client: WorkerClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.info: ModelInfo | None = None
        self.steps: list = []
        self._prob_sum = 0.0
        self.prompt_tokens = None
        self.prompt_text = ""
        self.request = 0  # the id of this view's newest generation
        self.run_settings = None  # the SamplingSettings the newest generation ran with
        self.finish_reason = ""
        self.lead = ""  # what stands between prompt and output: an encoder–decoder's " → "
        self._t0 = 0.0

        self.prompt = QPlainTextEdit(placeholderText="Type a prompt, then Ctrl+Enter")
        watch_typing(self.prompt)  # a new model's example does not replace what the user wrote
        self.prompt.installEventFilter(self)
        self.sampling = SamplingForm()
        self.generate_button = QPushButton("Generate  (Ctrl+Enter)")
        self.generate_button.clicked.connect(self.generate)
        self.stop_button = QPushButton("Stop  (Esc)")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.setEnabled(False)
        self.export_button = QPushButton("Export run JSON…")
        self.export_button.clicked.connect(self.export_dialog)
        self.export_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 1)
        buttons.addWidget(self.stop_button)
        left = QWidget()
        col = QVBoxLayout(left)
        self.prompt_label = QLabel("Prompt")
        col.addWidget(self.prompt_label)
        col.addWidget(self.prompt, 1)
        col.addWidget(self.sampling)
        col.addLayout(buttons)
        col.addWidget(self.export_button)

        self.output = TokenText()
        self.output.tooltip_for = self._tooltip
        self.output.token_clicked.connect(self._on_output_token_clicked)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.hide()
        self.stats = Readout(NO_RUN, lines=2)  # two lines in a narrow column; a new count repaints it alone
        middle = QWidget()
        mid = QVBoxLayout(middle)
        mid.addWidget(self.notes)
        mid.addWidget(self.output, 1)
        mid.addWidget(self.stats)

        self.details = TokenDetails()
        self.details_export = ExportButton(
            "token alternatives",
            lambda: self.details.chart,
            lambda figure: recipe_for(self.client, "prompt", self.recipe_settings(), figure),
            {".csv": ("CSV", self.export_alternatives_csv)},
            lambda: "" if self.output.selected is not None else "Click a generated token first.",
        )
        self.details_export.saved.connect(self.saved)
        self.details_export.failed.connect(self.failed)
        self.explain_button = QPushButton("Which input made it?")
        self.explain_button.setToolTip(
            "Attribute the clicked token to the tokens before it (Attribution tab: input × gradient, "
            "integrated gradients or attention rollout)"
        )
        self.explain_button.setEnabled(False)
        self.explain_button.clicked.connect(self._on_explain_clicked)
        self.details.layout().addWidget(self.explain_button)
        self.details.layout().addWidget(self.details_export)
        self._pending_token: int | None = None  # a recipe's token, selected when its run ends
        self.splitter = QSplitter()
        for w in (left, middle, self.details):
            self.splitter.addWidget(w)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 4)
        self.splitter.setStretchFactor(2, 3)
        QVBoxLayout(self).addWidget(self.splitter)

        # anywhere in the view, whatever has focus (the prompt box handles them itself too)
        for key, slot, what in (
            ("Ctrl+Return", self.generate, "Generate from the prompt"),
            ("Ctrl+Enter", self.generate, "Generate from the prompt"),
            ("Esc", self.stop, "Stop generating"),
        ):
            shortcut = QShortcut(QKeySequence(key), self, slot)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.setWhatsThis(what)  # (the F1 sheet lists it)
        w = client  # the facade relays every answer of the worker
        w.prompt_tokenized.connect(self._on_prompt_tokenized)
        w.tokens_generated.connect(self._on_tokens_generated)
        w.request_finished.connect(self._on_request_finished)
        w.model_loaded.connect(self._on_model_loaded)
        w.changed.connect(self._sync)
        self._sync()

    # ---- actions ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """This view's generation is queued, running or stopping (the client's one truth)."""
        return bool(self.client.phase(self.request))

    def generate(self) -> None:
        if not self.generate_button.isEnabled():
            return  # the button says why (its tooltip); a shortcut must not do what it would not
        if not self.prompt.toPlainText().strip():
            what = "a source to translate" if self.info.capabilities.encoder_decoder else "a prompt"
            self.noted.emit(f"Type {what} first, then Ctrl+Enter.")
            self.prompt.setFocus()
            return
        try:
            settings = self.sampling.settings()
        except ModelError as e:
            self.failed.emit(str(e), "")
            return
        self.prompt_text, self.run_settings = self.prompt.toPlainText(), settings
        self.steps, self.prompt_tokens, self.finish_reason = [], None, ""
        self.lead = (
            ARROW if self.info.capabilities.encoder_decoder else ""
        )  # a translation follows its source
        self._prob_sum = 0.0  # of the steps' probabilities: the stats line stays O(1) a batch
        self.notes.hide()
        self.output.clear_tokens()
        self.output.append_plain(self.prompt_text + self.lead)
        self.details.clear()
        self.explain_button.setEnabled(False)
        self._t0 = time.perf_counter()
        self.request = self.client.send(Generate(self.prompt_text, settings))
        self._sync()
        self._update_stats()

    def stop(self) -> None:
        """Stop this view's own generation; never another request (a training run)."""
        self.client.stop(self.request)

    def generated_text(self) -> str:
        return "".join(s.text for s in self.steps)

    # ---- worker answers -------------------------------------------------------------------
    def reset(self, event: str) -> None:
        """MODEL: the last model's run goes (its text, its stats and notes, the clicked token's
        alternatives and attention: an encoder–decoder's "its attention over the source" must
        not sit beside a decoder). The prompt, the user's own, stays."""
        if event != MODEL or self.running:
            return
        self.steps, self.prompt_tokens, self.finish_reason = [], None, ""
        self.output.clear_tokens()
        self.notes.hide()
        self.details.clear()
        self.explain_button.setEnabled(False)
        self.stats.setText(NO_RUN)
        self._sync()

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.info = info
        self.sampling.model_changed(info.chat)
        caps = info.capabilities
        self.prompt.setPlaceholderText(
            "Type a source to translate, then Ctrl+Enter: the target streams out"
            if caps.encoder_decoder
            else "Type a prompt, then Ctrl+Enter"
            if caps.causal
            else "This is a BERT model: it fills masks (Fill-mask tab)"
        )
        self.prompt_label.setText("Source (encoder–decoder)" if caps.encoder_decoder else "Prompt")
        self._sync()

    def _on_prompt_tokenized(self, tokens) -> None:
        self.prompt_tokens = tokens
        self.notes.setText("\n".join(f"Note: {n}" for n in tokens.notes))
        self.notes.setVisible(bool(tokens.notes))

    def _on_tokens_generated(self, batch: list) -> None:
        if not self.running:
            return  # a late batch from a run this view already reset
        for step in batch:
            self.steps.append(step)
            self._prob_sum += step.prob
            self.output.append_token(step.text, tint(step.prob))
        self._update_stats()

    def _on_request_finished(self, request: int, status: str, _message: str) -> None:
        if request != self.request:
            return
        self.finish_reason = status
        self._sync()
        self._update_stats()
        if self.steps:
            self.run_finished.emit(self.prompt_text + self.lead + self.generated_text())
        if self._pending_token is not None and self._pending_token < len(self.steps):  # a recipe's
            self.output.select(self._pending_token)
            self._on_output_token_clicked(self._pending_token)
        self._pending_token = None

    def _sync(self) -> None:
        """Buttons follow the one state: what runs, and which model is open."""
        running = self.running
        why_not = ""
        if self.info is None:
            why_not = "No model is open yet."
        elif self.info.capabilities.encoder_only:
            why_not = "A BERT model fills masks (Fill-mask tab); open a GPT to generate."
        elif self.client.active(Train):
            why_not = "Training is running: stop it first (the trained model then becomes active)."
        self.generate_button.setEnabled(not running and not why_not)
        self.generate_button.setToolTip(why_not or "Generate from the prompt (Ctrl+Enter)")
        self.stop_button.setEnabled(running and self.client.phase(self.request) != "stopping")
        self.export_button.setEnabled(not running and bool(self.steps))

    def _update_stats(self) -> None:
        n = len(self.steps)
        if not n:
            self.stats.setText("generating…" if self.running else f"No tokens ({self.finish_reason}).")
            return
        rate = n / max(time.perf_counter() - self._t0, 1e-6)
        mean_p = self._prob_sum / n
        if self.running:
            state = "generating…"
        else:
            last = self.steps[-1].finish_reason
            state = f"finished: {self.finish_reason}" + (
                f" ({last})" if last and self.finish_reason == "done" else ""
            )
        self.stats.setText(f"{n} tokens · {rate:.0f} tokens/s · mean p {mean_p:.2f} · {state}")

    # ---- token inspection -----------------------------------------------------------------
    def _tooltip(self, i: int) -> str:
        if not 0 <= i < len(self.steps):
            return ""
        s = self.steps[i]
        return (
            f"“{visible(s.token_text)}”  p = {s.prob:.3f}\nentropy = {s.entropy:.2f} nats\n"
            "click for alternatives and attention"
        )

    def _on_output_token_clicked(self, i: int) -> None:
        if not 0 <= i < len(self.steps):
            return
        s = self.steps[i]
        keys = list(self.prompt_tokens.texts if self.prompt_tokens is not None else ())
        if s.cross_attention is not None:  # a translation: which source tokens it read to choose
            self.details.show_token(
                s.token_text, s.prob, s.entropy, s.top_texts, s.top_probs, s.cross_attention, keys,
                title="its attention over the source (cross, average of heads per layer)",
            )  # fmt: skip
        else:
            keys += [t.token_text for t in self.steps[:i]]
            self.details.show_token(
                s.token_text, s.prob, s.entropy, s.top_texts, s.top_probs, s.attention, keys
            )
        next_token = self.info is not None and self.info.capabilities.next_token  # (not a BERT)
        self.explain_button.setEnabled(next_token and not self.running and self.prompt_tokens is not None)

    def _on_explain_clicked(self) -> None:
        i = self.output.selected
        if i is None or self.prompt_tokens is None or self.running:
            return
        # the tokens explained from the first generated one on: token i is the i-th explained (a
        # translation's are its target's, after the source and the decoder's start)
        first = len(self.prompt_tokens) if self.info.capabilities.causal else 1
        self.explain_requested.emit(self.prompt_text + self.lead + self.generated_text(), first, first + i)

    # ---- recipes: the clicked token's figure made again --------------------------------------
    def recipe_settings(self) -> dict:
        s = self.run_settings
        return {
            "prompt": self.prompt_text,
            "sampling": {"temperature": s.temperature, "top_k": s.top_k, "top_p": s.top_p,
                         "max_tokens": s.max_new_tokens, "seed": s.seed, "chat": s.chat},
            "token": self.output.selected,
        }  # fmt: skip

    def apply_recipe(self, settings: dict) -> None:
        """Run the recipe's prompt with its sampling settings (its seed), then click its token."""
        self.prompt.setPlainText(str(settings.get("prompt", "")))
        self.sampling.apply(dict(settings.get("sampling", {})))
        token = settings.get("token")
        self.generate()
        self._pending_token = int(token) if token is not None and self.running else None

    def export_alternatives_csv(self, path) -> None:
        import csv

        step = self.steps[self.output.selected]
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["rank", "token_id", "token", "probability", "chosen"])
            for rank, (i, text, p) in enumerate(
                zip(step.top_ids, step.top_texts, step.top_probs, strict=True)
            ):
                out.writerow([rank + 1, int(i), text, f"{p:.6f}", int(i) == step.token_id])

    # ---- export and persistence -----------------------------------------------------------
    def run_record(self) -> dict:
        s = self.run_settings  # the run's own, not what the form says now
        return {
            "model": self.info.name if self.info else None,
            "prompt": self.prompt_text,
            "text": self.generated_text(),
            "finish_reason": self.finish_reason,
            "settings": {
                "temperature": s.temperature,
                "top_k": s.top_k,
                "top_p": s.top_p,
                "max_new_tokens": s.max_new_tokens,
                "seed": s.seed,
                "chat": s.chat,
            },
            "notes": list(self.prompt_tokens.notes) if self.prompt_tokens is not None else [],
            "tokens": [
                {
                    "index": t.index,
                    "id": t.token_id,
                    "text": t.text,
                    "token": t.token_text,
                    "prob": t.prob,
                    "entropy": t.entropy,
                    "alternatives": [
                        {"id": int(i), "token": x, "prob": float(p)}
                        for i, x, p in zip(t.top_ids, t.top_texts, t.top_probs, strict=True)
                    ],
                }
                for t in self.steps
            ],
        }

    def export_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.run_record(), indent=1, ensure_ascii=False), encoding="utf-8")

    def export_dialog(self) -> None:
        """Ask where to save the run as JSON, then write it (File ▸ Export run JSON, Ctrl+E)."""
        if self.running:
            self.failed.emit("The generation is still running: stop it or let it finish, then export.", "")
            return
        if not self.steps:
            self.failed.emit("There is no run to export yet: generate first.", "")
            return
        path = ask_file(self, "Export run", "run.json", "JSON", ".json")
        if not path:
            return
        try:
            self.export_json(path)
        except OSError as e:
            self.failed.emit(f"Could not write {path}: {e.strerror or e}.", "")
        else:
            self.saved.emit(f"Saved the run to {path}")

    def show_example(self, text: str) -> str:
        """A new model's first text, in an empty box only; returns what the box holds."""
        return offer_example(self.prompt, text)

    def typed_prompt(self) -> str:
        """What is in the prompt box now (the run's own prompt is `prompt_text`)."""
        return self.prompt.toPlainText().strip()

    def save_state(self, store: QSettings) -> None:
        self.sampling.save(store)
        store.setValue("prompt/text", self.prompt.toPlainText())
        store.setValue("prompt/typed", bool(self.prompt.property(TYPED)))  # the user's, or an example
        store.setValue("prompt/splitter", self.splitter.saveState())

    def restore_state(self, store: QSettings) -> None:
        self.sampling.restore(store)
        saved = store.value("prompt/text")
        typed = str(store.value("prompt/typed", "true")).lower() == "true"
        if saved is None or not typed:  # the app's example, which a model's own may replace
            fill(self.prompt, "To be, or not to be" if saved is None else str(saved))
        else:  # the user's text from the last session
            self.prompt.setPlainText(str(saved))
        if (state := store.value("prompt/splitter")) is not None:
            self.splitter.restoreState(state)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        """Ctrl+Enter in the prompt generates (Enter alone types a newline); Esc stops.

        Handled here as well as by shortcuts because a shortcut needs an active window,
        while a key press reaches the focused editor either way.
        """
        if watched is self.prompt and event.type() == QEvent.Type.KeyPress:
            if (
                event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier
            ):
                self.generate()
                return True
            if event.key() == Qt.Key.Key_Escape and self.running:
                self.stop()
                return True
        return super().eventFilter(watched, event)
