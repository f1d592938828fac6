"""`--screenshot`: open a model, run the prompt to completion, render the window to a PNG, exit."""

from __future__ import annotations

import sys
import tempfile

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from playground.info import ModelInfo
from playground.main_window import MainWindow
from playground.worker.requests import EXAMPLE, SCORES

TIMEOUT_MS = 360_000  # (the induction preset's run takes about four minutes)
SPECIAL_RUNS = {"grokking": "grok", "scaling": "scaling", "induction": "induction"}  # view -> preset


class Screenshot(QObject):
    """Drives the window through one run; quits the app with 0 once the PNG is written."""

    def __init__(self, window: MainWindow, path: str, prompt: str | None, view: str | None):
        super().__init__(window)
        self.window, self.path, self.prompt, self.view = window, path, prompt, view
        self.caps = None  # the open model's capabilities
        w = window.client
        w.model_loaded.connect(self._on_model_loaded)
        w.errored.connect(self._on_errored)
        w.probed.connect(self._on_probed)
        w.mask_filled.connect(self._on_mask_filled)
        w.request_finished.connect(self._on_request_finished)
        self._loaded = False
        self._scratch: tempfile.TemporaryDirectory | None = None
        QTimer.singleShot(TIMEOUT_MS, self._on_timed_out)

    def _on_model_loaded(self, info: ModelInfo) -> None:
        if self._loaded:
            return
        self._loaded, self.caps = True, info.capabilities
        print(f"model: {info.summary}" + (f" ({info.note})" if info.note else ""), flush=True)
        win = self.window
        if self.view == "training":
            self._train()
        elif self.view in SPECIAL_RUNS:
            self._special_run()
        elif self.view == "steering":
            self._steer()
        elif self.view == "positions":  # no model needed: the article's table
            self._shoot("positions")
        elif self.view in ("finetune", "compare"):
            self._finetune()
        elif info.capabilities.next_token:  # a prompt, or an encoder–decoder's source
            if self.prompt:
                win.prompt_view.prompt.setPlainText(self.prompt)
            win.prompt_view.sampling.seed.setValue(1)  # the same picture every time
            win.prompt_view.generate()
        elif self.prompt:
            win.fill_mask_view.text.setText(self.prompt)
            win.fill_mask_view.positions.clear()
            win.fill_mask_view.fill()

    def _on_probed(self, request: int, _probe) -> None:
        # the run's scores arrive after generation finished (its attention came from its steps)
        if (
            request == self.window.client.newest_probe(SCORES)
            and self.caps.next_token
            and self.view != "training"
            and not self.window.prompt_view.running
            and self.window.prompt_view.steps
        ):
            view = self.window.prompt_view
            pick = max(range(len(view.steps)), key=lambda i: view.steps[i].entropy)
            view.output.select(pick)
            view.output.token_clicked.emit(pick)
            att = self.window.attention_view
            if att.attentions.size:  # show the sharpest head: the one whose rows peak highest
                peaks = att.attentions.max(axis=-1).mean(axis=-1)  # [layers, heads]
                att.select(*np.unravel_index(int(peaks.argmax()), peaks.shape))
            if self.view == "heads":  # the worked patching example, swept over every head
                self.window.client.heads_swept.connect(self._on_heads_swept)
                heads = self.window.heads_view
                heads.kind.setCurrentIndex(heads.kind.findData("patching"))
                heads.run()
                return
            if self.view == "neurons":  # the run's last token's neurons, the top one's corpus contexts
                self.window.client.contexts_found.connect(self._on_contexts_found)
                self.window.neurons_view.set_text(view.prompt_text + view.generated_text())
                self.window.show_view("neurons")
                return
            if self.view == "head-types":  # every head scored on the run's text
                self.window.client.head_types_scored.connect(self._on_head_types_scored)
                types = self.window.head_types_view
                types.set_text(view.prompt_text + view.generated_text())
                self.window.show_view("head-types")
                types.score()
                return
            if self.view == "attribution":  # the run explained; its least certain token's inputs tinted
                self.window.client.attributed.connect(self._on_attributed)
                view.explain_button.click()  # "Which input made it?" on the picked token
                return
            if self.view == "lens":  # the prompt's layers (a whole run has too many cells to label)
                self.window.client.lens_read.connect(self._on_lens_read)
                self.window.lens_view.set_text(self.prompt or view.prompt_text)
                self.window.lens_view.read()
                return
            self._shoot(self.view or "prompt")

    def _on_contexts_found(self, contexts) -> None:
        if contexts.done == contexts.total:
            QTimer.singleShot(0, lambda: self._shoot("neurons"))

    def _on_head_types_scored(self, types) -> None:
        view = self.window.head_types_view
        view.on.setCurrentIndex(view.on.findData("text"))
        QTimer.singleShot(0, lambda: self._shoot("head-types"))

    def _on_attributed(self, result) -> None:
        if result.done == len(result.targets):
            QTimer.singleShot(0, lambda: self._shoot("attribution"))  # after the view drew it

    def _on_lens_read(self, _lens) -> None:
        self._shoot("lens")

    def _on_heads_swept(self, sweep) -> None:
        if sweep.complete:
            self._shoot("heads")

    def _train(self) -> None:
        """The demo run: the copy task, whose copying head forms within a few hundred steps (with an
        encoder–decoder open: the reverse pairs, whose cross-attention turns into an anti-diagonal)."""
        import models

        view = self.window.training_view
        if self.caps.encoder_decoder:
            view.form.corpus.setCurrentIndex(view.form.corpus.findData("pairs:reverse"))
            view.form.preset.setCurrentIndex(view.form.preset.findData("seq2seq"))
            view.form.apply(
                models.preset("seq2seq", steps=300, batch_size=32, probe_every=20, eval_every=100,
                              sample_every=0, checkpoint_every=0)
            )  # fmt: skip
            self.window.show_view("training")
            self._scratch = tempfile.TemporaryDirectory(prefix="playground-screenshot-")
            view.start(out_dir=self._scratch.name)
            return
        view.form.corpus.setCurrentIndex(view.form.corpus.findData("task:copy"))
        view.form.apply(
            models.preset(
                "task",
                steps=300,
                context=32,
                n_layer=2,
                n_head=2,
                probe_every=20,
                eval_every=50,
                sample_every=100,
            )
        )
        view.form.probe_text.setText(self.prompt or "qwertyui=qwertyui")
        self.window.show_view("training")
        # a demo, not the user's run: its checkpoints go to a folder removed at exit
        self._scratch = tempfile.TemporaryDirectory(prefix="playground-screenshot-")
        view.start(out_dir=self._scratch.name)

    def _special_run(self) -> None:
        """The grok preset's run (shown once test accuracy has stayed above 95% a while), or the
        scaling preset's sweep as it comes."""
        view = self.window.training_view
        preset = SPECIAL_RUNS[self.view]
        view.form.preset.setCurrentIndex(view.form.preset.findData(preset))
        view.form.preset.activated.emit(view.form.preset.currentIndex())  # (its corpus with it)
        if preset == "grok":
            view.form.ints["steps"].setValue(1500)
        elif preset == "scaling":  # (within the screenshot's time limit)
            view.form.tokens.setText("500k")
        self.window.show_view("training")
        self._scratch = tempfile.TemporaryDirectory(prefix="playground-screenshot-")
        view.start(out_dir=self._scratch.name)

    def _finetune(self) -> None:
        """The demo fine-tune: the built-in BERT on the word-order task (and, for the Fine-tune
        tab, its from-scratch twin); then an example's attention, or the before/after comparison."""
        view = self.window.finetune_view
        form = view.form
        form.task.setCurrentIndex(form.task.findData("classify"))
        form.data.setCurrentIndex(form.data.findData("task:word-order"))
        form.ints["steps"].setValue(150 if self.view == "finetune" else 60)
        form.scratch.setChecked(self.view == "finetune")
        self.window.client.probed.connect(self._on_example_probed)
        self.window.client.compared.connect(self._on_compared)
        self.window.show_view("finetune")
        self._scratch = tempfile.TemporaryDirectory(prefix="playground-screenshot-")
        view.start(out_dir=f"{self._scratch.name}/finetune")

    def _on_example_probed(self, request: int, _probe) -> None:
        if self.view == "finetune" and request == self.window.client.newest_probe(EXAMPLE):
            self._shoot("finetune")

    def _on_compared(self, _result) -> None:
        if self.view == "compare":
            self._shoot("compare")

    def _steer(self) -> None:
        """ROMEO's lines minus JULIET's (the corpus's first 30 of each) at the middle layer, and
        another speech's end continued both ways: who speaks next changes."""
        from models import assets

        lines = {"ROMEO:": [], "JULIET:": []}
        speaker = ""
        for line in assets.path(assets.SHAKESPEARE).read_text(encoding="utf-8").splitlines():
            if line.endswith(":") and line.isupper():
                speaker = line
            elif line and speaker in lines and len(lines[speaker]) < 30:
                lines[speaker].append(line)
        view = self.window.steering_view
        self.window.show_view("steering")
        view.plus.setPlainText("\n".join(lines["ROMEO:"]))
        view.minus.setPlainText("\n".join(lines["JULIET:"]))
        view.layer.setValue(view.layer.maximum() - 1)
        view.coefficient.setValue(3.0)
        speech = (
            "MENENIUS:\nWhy, masters, my good friends, mine honest neighbours,\nWill you undo yourselves?\n\n"
        )
        view.prompt.setText(self.prompt or speech)
        view.max_tokens.setValue(160)
        view.generate()

    def _on_request_finished(self, request: int, _status: str, _message: str) -> None:
        if self.view == "steering" and request == self.window.steering_view.request:
            self._shoot("steering")
            return
        tuning = self.window.finetune_view
        if self.view in ("finetune", "compare") and request == tuning.request and not tuning.twin_pending:
            if self.view == "compare":
                self.window.show_view("compare")
                self.window.compare_view.compare_before_after()
                return
            scores = tuning.examples.scores
            wrong = (
                [i for i in range(len(scores.texts)) if scores.true[i] != scores.predicted[i]]
                if scores
                else []
            )
            tuning.show_example(wrong[0] if wrong else 0)
            return
        view = self.window.training_view
        if self.view == "training" and request == view.request:
            if view.check_button.isEnabled():  # is the copying head the one doing the job?
                view.check_button.click()
            else:
                best = view.score_chart.best.get("anti-diagonal")  # an encoder–decoder's reversing head
                if best is not None:
                    view.show_head(*best)
                self._shoot("training")
        elif self.view == "training" and request == view.check_request:
            self._shoot("training")
        elif self.view == "induction" and request == view.request:
            view.knock_button.click()  # before and after the heads formed, with them knocked out
            heads = view.induction_charts.history[-1][1].heads if view.induction_charts.history else ()
            if heads:
                view.show_head(*heads[0])
            self._shoot("training")
        elif self.view in SPECIAL_RUNS and request == view.request:
            self._shoot("training")

    def _on_mask_filled(self, _result) -> None:
        if self.caps.encoder_only and self.view not in ("training", "finetune", "compare"):
            self._shoot(self.view or "fill-mask")

    def _shoot(self, view: str) -> None:
        self.window.show_view(view)
        QTimer.singleShot(400, self._on_render_ready)  # let layouts and plots settle

    def _on_render_ready(self) -> None:
        QApplication.processEvents()
        ok = self.window.grab().save(self.path)
        if self._scratch is not None:
            self._scratch.cleanup()
        print(f"screenshot {'written to' if ok else 'FAILED:'} {self.path}")
        QApplication.exit(0 if ok else 1)

    def _on_errored(self, message: str, _details: str) -> None:
        print(f"playground: {message}", file=sys.stderr)
        if not self._loaded:
            QApplication.exit(1)

    def _on_timed_out(self) -> None:
        print("playground: screenshot timed out", file=sys.stderr)
        QApplication.exit(2)
