"""The one worker: owns model, tokenizer and device on its own QThread; its slots are the requests."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Slot

from playground.info import ModelInfo
from playground.worker.jobs import Job, JobRunner

FALLBACK_MODEL = "builtin:gpt"  # opened when a launch's --model cannot be
EXACT_QUESTIONS = 50  # fresh questions per head check: 2 points per question, a second on a CPU
LIVE_PROBE = "live:"  # probe tags with this prefix read the model a run is training, while it trains
TRAINING_FLUSH_S = 0.2  # training reports reach the view 5 times a second: the GUI thread's CPU
# is the trainer's (streamed text keeps the smoother default)


class Worker(JobRunner):
    """Lives on the worker thread. Requests are slots reached through queued signals; each carries
    the id the client gave it, and each ends with exactly one `request_finished` for that id."""

    def __init__(
        self, assets: Path | None = None, data_dir: Path | None = None, device: str | None = None
    ) -> None:
        super().__init__()
        self._assets, self._data_dir, self._device_choice = assets, data_dir, device
        self.model: Any = None
        self.tokenizer: Any = None
        self.info: ModelInfo | None = None
        self.training_run: Any = None  # the current or last in-app TrainingRun
        self.last_checkpoint = ""  # folder of the last training checkpoint
        self._probes: dict[str, tuple[str, bool]] = {}  # tag -> newest (text, attentions?)
        self.ablation: tuple[tuple[int, int], ...] = ()  # heads knocked out in every model call
        self.ablation_mode = "zero"
        self.base: tuple[Any, Any, str] | None = None  # (model, tokenizer, name) before the last fine-tune
        self._folders: dict[str, tuple[Any, Any]] = {}  # folders opened to compare, newest last

    @Slot()
    def close(self) -> None:
        """Worker thread, as it ends: finish the running job so nothing is left open."""
        if self.job is not None:
            self.stop(self.job.request)
            self._end_job("stopped")

    # ---- serving a request -----------------------------------------------------------------
    def _serve(self, request: int, activity: str, label: str, work: Callable[[], Job | None]) -> None:
        """Run one request: refused if stopped before it began; ended once, however it ends."""
        if self.is_cancelled(request):
            self._finish_request(request, "stopped", "Stopped before it started.")
            return
        self._set_activity(activity, request, label)
        try:
            job = work()
        except Exception as e:  # noqa: BLE001 — refused or broken: say so, keep serving
            message = self._report(e, label.rstrip("…"))
            self._set_activity()
            self._finish_request(request, "failed", message)
            return
        if job is None:
            self._set_activity()
            self._finish_request(request, "done")
        elif self.is_cancelled(request):  # stopped while it was being prepared
            self._set_activity()
            if job.finish is not None:
                with self._guard("ending the training run"):  # whatever breaks, the request ends
                    job.finish("unstarted")
            self._finish_request(request, "stopped", "Stopped before the first step.")
        else:
            job.request = request
            self._end_job("stopped")  # (the request's work ended any older job already)
            with self._lock:  # the job's state replaces the request's in one step: no idle between
                self._activity = ("", 0, "")
                self.start_job(job)

    # ---- requests ----------------------------------------------------------------------------
    @Slot(int, str)
    def load(self, request: int, source: str) -> None:
        """Open a folder or "builtin:gpt"/"builtin:bert"; on failure the old model stays.

        With no model yet (a bad --model at launch), the built-in GPT opens instead, and says why.
        """
        self._serve(request, "loading", f"opening {_short(source)}…", lambda: self._load(request, source))

    def _load(self, request: int, source: str) -> None:
        self._refuse_during("train", "opening another model")
        self._end_job("stopped")
        from models import ModelError  # torch is imported below, off the GUI thread

        try:
            model, tok, info = self._open(request, source)
        except ModelError as e:
            if self.model is not None or source == FALLBACK_MODEL:
                raise
            self._report(e, f"opening {source}")
            self._say(f"opening {_short(FALLBACK_MODEL)}…")
            model, tok, info = self._open(request, FALLBACK_MODEL)
            info = replace(info, note=f"{source} could not be opened ({e}); the built-in GPT opened instead")
        self.model, self.tokenizer, self.info = model, tok, info
        self.base = None  # the model before a fine-tune goes with the fine-tuned one
        self.model_loaded.emit(info)  # first: views clear what they showed, so none re-reads
        self._forget_ablation()  # the old model's text on the new model when its heads come back

    def _open(self, request: int, source: str):
        if "torch" not in sys.modules:  # seconds on a warm disk, a minute on a cold one
            self._say("loading PyTorch…")
        from playground import loading

        return loading.open_model(
            source,
            self._device(),
            self._assets,
            self._data_dir,
            lambda: self.is_cancelled(request),
            self._say,
        )

    @Slot(int, str, object)
    def generate(self, request: int, prompt: str, settings: Any) -> None:
        self._serve(request, "generating", "generating…", lambda: self._generation(prompt, settings))

    def _generation(self, prompt: str, settings: Any) -> Job:
        self._refuse_during("train", "generating")
        self._end_job("stopped")
        self._need_model()
        import models

        gen = models.generate(self.model, self.tokenizer, prompt, settings)
        self.prompt_tokenized.emit(gen.prompt)
        # the heads out when it starts stay out to its end (its cache was computed without them);
        # with none out, the decode loop runs bare
        steps = (
            self._each_ablated(iter(gen), self.ablation, self.ablation_mode) if self.ablation else iter(gen)
        )
        return Job("generate", steps, self.tokens_generated.emit, None, gen.cancel, settings.max_new_tokens)

    @Slot(str, str, bool)
    def probe(self, tag: str, text: str, attentions: bool = True) -> None:
        """Served between chunks, newest text per tag wins: typing fast queues one probe, not fifty.
        Without `attentions` the probe only scores (its attentions are empty)."""
        self._probes[tag] = (text, attentions)
        self._schedule()

    @Slot(int, str, object)
    def fill_mask(self, request: int, text: str, positions: Any) -> None:
        self._serve(request, "filling", "filling masks…", lambda: self._fill_mask(text, positions))

    def _fill_mask(self, text: str, positions: Any) -> None:
        self._need_model()
        import models

        with self._ablated():
            result = models.fill_mask(
                self.model, self.tokenizer, text, k=10, mask_positions=tuple(positions), attentions=True
            )
        self.mask_filled.emit(result)

    @Slot(int, str, str)
    def logit_lens(self, request: int, text: str, token: str) -> None:
        """Every layer's prediction over `text` (following `token`, if one is given)."""
        self._serve(request, "probing", "reading the layers…", lambda: self._logit_lens(text, token))

    def _logit_lens(self, text: str, token: str) -> None:
        self._need_model()
        import models

        with self._ablated():
            lens = models.logit_lens(self.model, self.tokenizer, text, k=10, token=token or None)
        self.lens_read.emit(lens)

    @Slot(int, object, str)
    def set_ablation(self, request: int, heads: Any, mode: str) -> None:
        """Knock `heads` ((layer, head) pairs) out of every later probe, generation, fill and lens."""
        self._serve(request, "probing", "knocking heads out…", lambda: self._set_ablation(heads, mode))

    def _set_ablation(self, heads: Any, mode: str) -> None:
        self._need_model()
        import models

        heads = tuple(sorted({(int(layer), int(head)) for layer, head in heads}))
        with models.ablated(self.model, heads, mode):  # checks them: refused before anything changes
            pass
        self.ablation, self.ablation_mode = heads, mode
        self.ablation_changed.emit(heads, mode)

    def _ablated(self):
        if not self.ablation:
            return nullcontext()
        import models

        return models.ablated(self.model, self.ablation, self.ablation_mode)

    def _each_ablated(self, steps, heads, mode: str):
        """A stream whose every step runs with `heads` out (it is advanced a chunk at a time)."""
        import models

        while True:
            with models.ablated(self.model, heads, mode):
                try:
                    item = next(steps)
                except StopIteration:
                    return
            yield item

    def _forget_ablation(self) -> None:
        """A new model: the old one's heads mean nothing in it."""
        if self.ablation:
            self.ablation = ()
            self.ablation_changed.emit((), self.ablation_mode)

    @Slot(int, object)
    def sweep(self, request: int, ask: Any) -> None:
        """Every head knocked out or patched in turn, as a stoppable job that reports each batch."""
        self._serve(request, "probing", "sweeping the heads…", lambda: self._sweep(ask))

    def _sweep(self, ask: Any) -> Job:
        self._refuse_during("train", "sweeping the heads")
        self._end_job("stopped")
        self._need_model()
        import models

        with self._ablated():  # the heads already out stay out, in the sweep's own runs too
            if ask.kind == "ablation":
                sweeps = models.ablation_sweep(self.model, self.tokenizer, ask.text, ask.mode)
            else:
                sweeps = models.patching_sweep(
                    self.model, self.tokenizer, ask.text, ask.corrupted, ask.target, ask.other
                )
        if self.ablation:
            sweeps = self._each_ablated(sweeps, self.ablation, self.ablation_mode)
        cfg = self.model.config
        return Job(
            "sweep", _per_head(sweeps), lambda batch: self.heads_swept.emit(batch[-1]), None, None,
            cfg.n_layer * cfg.n_head,
        )  # fmt: skip

    @Slot(int, object)
    def check_heads(self, request: int, head_sets: Any) -> None:
        """Exact answers on fresh questions of the task the active model was trained on, with each
        set of heads knocked out (exactly those: the heads knocked out elsewhere are back in)."""
        self._serve(
            request, "probing", "answering fresh questions…", lambda: self._check_heads(request, head_sets)
        )

    def _check_heads(self, request: int, head_sets: Any) -> None:
        self._refuse_during("train", "checking heads")
        self._need_model()
        import models
        from models.inspect.exact import exact_answers

        run = self.training_run
        task = run.trainer.corpus.task if run is not None and run.trainer.model is self.model else None
        if not hasattr(task, "make"):  # none, or a labelled task (a classifier answers no questions)
            raise models.ModelError(
                "Exact answers need the model of a run on a built-in task (train one in the Training tab)."
            )
        n = EXACT_QUESTIONS
        accuracy = []
        for heads in head_sets:
            with models.ablated(self.model, heads, self.ablation_mode):  # the mode the user picked
                accuracy.append(exact_answers(self.model, self.tokenizer, task, n))
        sets = tuple(map(tuple, head_sets))
        self.heads_checked.emit(
            models.HeadCheck(task.name, n, sets, tuple(accuracy), self.ablation_mode, request)
        )

    @Slot(int, str, str, str)
    def compare(self, request: int, a: str, b: str, text: str) -> None:
        """Two models on one text: "active", "base" (before the last fine-tune) or a folder each."""
        self._serve(request, "probing", "comparing the two models…", lambda: self._compare(a, b, text))

    def _compare(self, a: str, b: str, text: str) -> None:
        self._refuse_during("train", "comparing models")
        import models

        pair_a, name_a = self._model_for(a)
        pair_b, name_b = self._model_for(b)
        self.compared.emit(models.compare(pair_a, pair_b, text, (name_a, name_b)))

    def _model_for(self, source: str) -> tuple[tuple[Any, Any], str]:
        import models

        if source == "active":
            self._need_model()
            return (self.model, self.tokenizer), self.info.name if self.info else "active model"
        if source == "base":
            if self.base is None:
                raise models.ModelError("There is no model from before a fine-tune: fine-tune one first.")
            return self.base[:2], self.base[2]
        if source not in self._folders:
            self._folders[source] = models.load(source, self._device())
            while len(self._folders) > 2:  # models read to compare are kept, but only the last two
                self._folders.pop(next(iter(self._folders)))
        return self._folders[source], Path(source).name

    @Slot(int)
    def scan_cache(self, request: int) -> None:
        """The models in the local Hugging Face cache, and whether each opens here (offline)."""
        self._serve(request, "probing", "reading the Hugging Face cache…", self._scan_cache)

    def _scan_cache(self) -> None:
        from models.hf.hub_cache import cache_dir, scan

        folder = cache_dir()
        self.cache_scanned.emit(str(folder), scan(folder))

    @Slot(int, object)
    def train(self, request: int, train_request: Any) -> None:
        """Start (or resume) a training run as a chunked job; its model becomes active at the end."""
        label = (
            "preparing the data and the model's copy…"
            if train_request.finetune
            else "preparing the corpus and tokenizer…"
        )
        self._serve(request, "preparing", label, lambda: self._training(train_request))

    def _training(self, request: Any) -> Job:
        self._end_job("stopped")
        from playground.loading import DEFAULT_DATA_DIR
        from playground.training_session import TrainingRun

        if request.config is not None and request.config.device == "auto":
            request = replace(request, config=request.config.replace(device=self._device()))
        active = (
            (self.model, self.tokenizer, self.info.source if self.info else "") if request.finetune else None
        )
        if request.finetune is not None and not request.finetune.scratch:
            self._need_model()
        run = TrainingRun(request, (self._data_dir or DEFAULT_DATA_DIR) / "runs", active)
        self.training_run = run
        self.training_started.emit(run.started)
        trainer = run.trainer
        return Job(
            "train", run.updates, self.training_updated.emit, self._on_training_done, None,
            trainer.config.steps - trainer.step, flush_s=TRAINING_FLUSH_S,
        )  # fmt: skip

    def _on_training_done(self, reason: str) -> tuple[str, str]:
        run = self.training_run
        if reason == "unstarted":  # stopped before its first step: nothing to keep or show
            run.discard()
            return "stopped", ""
        try:
            status, message, last = run.finish(reason)
        except Exception as e:  # noqa: BLE001 — the view must hear that the run ended, whatever broke
            return "failed", self._report(e, "ending the training run")
        finally:
            run.close()
        if last:
            self.training_updated.emit(last)
        if run.trainer.save_error and status != "failed":  # a failed run reports it below
            self.errored.emit(f"Training stopped, but {run.trainer.save_error}", "")
        self.last_checkpoint = str(run.trainer.last_checkpoint or "")
        if status == "failed":
            if reason != "failed":  # an exception was reported already
                self.errored.emit(message, "")
        elif not run.started.scratch:  # the trained model is now the one to prompt and inspect
            from playground.info import model_info

            trainer = run.trainer
            fine_tuned = run.request.finetune is not None
            if fine_tuned:  # the model it started from is kept, to compare before and after
                self.base = (self.model, self.tokenizer, self.info.name if self.info else "base model")
            self.model, self.tokenizer = trainer.model.eval(), trainer.tokenizer
            if fine_tuned:
                kind = "classifier" if trainer.config.task == "classify" else "fine-tuned"
                name = f"{self.base[2]}, {kind} ({Path(trainer.corpus.name).name})"
                hint, task = "", ""
            elif trainer.model.capabilities.encoder_decoder:  # a pair task is known by its name
                from models.text.pairs import PAIR_TASKS

                name = f"trained encoder–decoder ({trainer.corpus.name})"
                pair_task = PAIR_TASKS.get(trainer.corpus.task or "")
                hint = f"type a source to translate; look for {pair_task.look_for}" if pair_task else ""
                task = ""  # (exact answers with heads out are a decoder's)
                example = trainer.objective.val_pairs.sources[
                    0
                ]  # (as `held_out_source` reads it from its folder)
            else:
                name = f"trained {trainer.model.config.label} ({trainer.corpus.name})"
                corpus_task = trainer.corpus.task
                hint = f"prompt it with {corpus_task.prompt_hint}" if corpus_task is not None else ""
                task = corpus_task.name if corpus_task else ""
            self.info = model_info(self.model, name, self.last_checkpoint, trainer.device.type, hint, task)
            if fine_tuned:
                self.info = replace(self.info, base=self.base[2])
            if trainer.model.capabilities.encoder_decoder:
                self.info = replace(self.info, example=example)
            self.model_loaded.emit(self.info)
            self._forget_ablation()  # (after: see `_load`)
        return ("done" if status == "finished" else status), message

    @Slot(int, str)
    def save_model(self, request: int, folder: str) -> None:
        """Write the active model; a training run (live or just ended) keeps its training state."""
        self._serve(request, "saving", "saving…", lambda: self._save(folder))

    def _save(self, folder: str) -> None:
        run = self.training_run
        live = self.job is not None and self.job.kind == "train"
        if run is not None and (live or run.trainer.model is self.model):
            run.trainer.save(folder)
        else:
            self._need_model()
            import models

            models.save(self.model, self.tokenizer, folder)
        self.model_saved.emit(folder)

    def _refuse_during(self, kind: str, doing: str) -> None:
        """A request that cannot share the worker with a running job of `kind` is refused."""
        if self.job is not None and self.job.kind == kind:
            from models import ModelError

            raise ModelError(
                f"Training is running: stop it before {doing} (the trained model then becomes active)."
            )

    def _between_chunks(self) -> None:  # probes are served between chunks of a job
        while self._probes:
            tag = next(iter(self._probes))
            text, attentions = self._probes.pop(tag)
            self._set_activity("probing", 0, "inspecting…")
            with self._guard("inspecting"):
                run = self.training_run
                if tag.startswith(LIVE_PROBE) and self.job is not None and self.job.kind == "train":
                    self._probe_training_model(tag, text, run.trainer)
                    continue
                self._need_model()
                import models

                with self._ablated():
                    probe = models.probe(self.model, self.tokenizer, text, k=10, attentions=attentions)
                if self.ablation:  # what the knocked-out heads change, token by token
                    from models.inspect.analysis import target_prob

                    intact = target_prob(self.model, self.tokenizer, text)
                    probe = replace(
                        probe, knocked_out=self.ablation, knock_mode=self.ablation_mode, intact_prob=intact
                    )
                self.probed.emit(tag, probe)
            self._set_activity()

    def _probe_training_model(self, tag: str, text: str, trainer: Any) -> None:
        """The model as it is now, mid-run (between two of its steps, on this same thread)."""
        import models

        model = trainer.model.eval()
        try:
            self.probed.emit(tag, models.probe(model, trainer.tokenizer, text, k=10))
        finally:
            model.train()
        self._set_activity()

    # ---- helpers -----------------------------------------------------------------------------
    def _device(self) -> str:
        from models.device import pick_device  # the engine's one device choice

        return pick_device(self._device_choice or "auto").type

    def _need_model(self) -> None:
        if self.model is None:
            from models import ModelError

            raise ModelError("No model is loaded yet.")


def _per_head(sweeps):
    """The sweep once per head it has computed, so a job's progress counts heads, not batches."""
    done = 0
    for sweep in sweeps:
        for _ in range(sweep.done - done):
            yield sweep
        done = sweep.done


def _short(source: str) -> str:
    return source.split(":", 1)[1].upper() if source.startswith("builtin:") else Path(source).name
