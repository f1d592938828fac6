"""The one worker: owns model, tokenizer and device on its own QThread; serves each request by its type."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Slot

from playground.info import ModelInfo
from playground.worker.jobs import Job, JobRunner
from playground.worker.requests import (
    INSPECT,
    Attribute,
    CheckHeads,
    Compare,
    FillMask,
    FindContexts,
    Generate,
    Inspect,
    KnockOut,
    LayerAttention,
    Load,
    ReadLayers,
    ReadNeurons,
    Request,
    Save,
    SaveAttention,
    SaveGGUF,
    ScalingSweep,
    ScoreHeadTypes,
    SetSteering,
    SetThreads,
    Steer,
    Sweep,
    Train,
    short_name,
)

FALLBACK_MODEL = "builtin:gpt"  # opened when a launch's --model cannot be
EXACT_QUESTIONS = 50  # fresh questions per head check: 2 points per question, a second on a CPU
HANDLERS: dict[type[Request], Callable[..., Job | None]] = {}  # request type -> the method serving it
TRAINING_FLUSH_S = 0.5  # training reports reach the view twice a second (a pause or a step at
# once): the GUI thread's CPU is the trainer's (streamed text keeps the smoother default)


def serves(kind: type[Request]):
    """`@serves(Load)`: this method answers requests of that type: (self, request id, request) ->
    a Job to run in chunks, or None when it is done."""

    def register(method):
        HANDLERS[kind] = method
        return method

    return register


class Worker(JobRunner):
    """Lives on the worker thread. Every request reaches `serve` through one queued signal, with the
    id the client gave it, and ends with exactly one `request_finished` for that id."""

    def __init__(
        self,
        assets: Path | None = None,
        data_dir: Path | None = None,
        device: str | None = None,
        threads: int = 0,
    ) -> None:
        super().__init__()
        self._assets, self._data_dir, self._device_choice = assets, data_dir, device
        self._threads_wanted = threads  # 0: the automatic choice; applied on the worker's thread
        self.threads = 0  # the threads in use (0: not chosen yet)
        self._tuners: dict[str, Any] = {}  # job kind -> its ThreadTuner, while threads are automatic
        self._contexts: dict[tuple, Any] = {}  # (weights' fingerprint, layer, corpus) -> TopContexts
        self._auto = False  # the count is tuned while jobs run (not the user's own)
        self.model: Any = None
        self.tokenizer: Any = None
        self.info: ModelInfo | None = None
        self.training_run: Any = None  # the current or last in-app TrainingRun
        self.last_checkpoint = ""  # folder of the last training checkpoint
        self._probes: dict[str, tuple[int, Request]] = {}  # channel -> its newest waiting probe
        # the model and the stream entering each block of the last text inspected layer by layer
        # (`Probe.pooled`): what `LayerAttention` makes any layer's attention from
        # (and the layer the probe kept whole, until the view asks for it)
        self._streams: tuple[Any, list, dict] | None = None
        self.ablation: tuple[tuple[int, int], ...] = ()  # heads knocked out in every model call
        self.ablation_mode = "zero"
        self.steering: tuple[Any, float, str] | None = None  # (vector, coefficient, positions) added
        # in every model call
        self.base: tuple[Any, Any] | None = None  # (model, tokenizer) before the last fine-tune
        self._folders: dict[str, tuple[Any, Any]] = {}  # folders opened to compare, newest last

    @Slot()
    def close(self) -> None:
        """Worker thread, as it ends: finish the running job so nothing is left open."""
        if self.job is not None:
            self.stop(self.job.request)
            self._end_job("stopped")

    # ---- serving a request -----------------------------------------------------------------
    @Slot(int, object)
    def serve(self, request: int, ask: Request) -> None:
        """Any request, by its type's handler. A probe waits for the space between two chunks of a
        job (the newest per channel: an older one still waiting is superseded)."""
        if not self.threads:  # the first request: torch's pool is this thread's (see playground.threads)
            with self._guard("choosing the threads"):  # (whatever goes wrong, the request is served)
                self._use_threads(self._threads_wanted)
        if ask.between_chunks:
            old = self._probes.get(ask.channel)
            if old is not None:
                self._finish_request(old[0], "stopped", "superseded by a newer probe")
            self._probes[ask.channel] = (request, ask)
            self._schedule()
            return
        handler = HANDLERS[type(ask)]
        self._serve(request, ask.activity, ask.label(), lambda: handler(self, request, ask))

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
    @serves(Load)
    def _load(self, request: int, ask: Load) -> None:
        self._refuse_during("train", "opening another model")
        self._end_job("stopped")
        from models import ModelError  # torch is imported below, off the GUI thread

        source = ask.source
        try:
            model, tok, info = self._open(request, source, ask.precision)
        except ModelError as e:
            if self.model is not None or source == FALLBACK_MODEL:
                raise
            self._report(e, f"opening {source}")
            self._say(f"opening {short_name(FALLBACK_MODEL)}…")
            model, tok, info = self._open(request, FALLBACK_MODEL)
            info = replace(info, note=f"{source} could not be opened ({e}); the built-in GPT opened instead")
        self._release()  # what belonged to the old model can no longer be used
        self._tuners = {}  # (its pace says nothing of the new model's)
        self.model, self.tokenizer, self.info = model, tok, info
        self.model_loaded.emit(info)  # first: views clear what they showed, so none re-reads
        self._forget_ablation()  # the old model's text on the new model when its heads come back

    def _open(self, request: int, source: str, precision: str = "auto"):
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
            precision,
        )

    @serves(Generate)
    def _generate(self, request: int, ask: Generate) -> Job:
        self._refuse_during("train", "generating")
        self._end_job("stopped")
        self._need_model()
        import models

        gen = models.generate(self.model, self.tokenizer, ask.prompt, ask.settings)
        self.prompt_tokenized.emit(gen.prompt)
        # the heads out (and the steering on) when it starts stay so to its end (its cache was
        # computed with them); with neither, the decode loop runs bare
        steps = self._each_intervened(iter(gen)) if self.ablation or self.steering else iter(gen)
        total = ask.settings.max_new_tokens
        return Job("generate", steps, self.tokens_generated.emit, None, gen.cancel, total)

    @serves(Steer)
    def _steer(self, request: int, ask: Steer) -> Job:
        """The prompt continued as the model is, then steered, with one seed: a job of (side, step)."""
        self._refuse_during("train", "generating")
        self._end_job("stopped")
        self._need_model()
        import random
        from dataclasses import replace as with_

        import models
        from models.inspect.steering import make_vector, steered

        vector = ask.vector or make_vector(self.model, self.tokenizer, ask.plus, ask.minus, ask.layer)
        settings = (
            ask.settings
            if ask.settings.seed is not None
            else with_(ask.settings, seed=random.randrange(2**31))
        )
        with steered(self.model, vector, ask.coefficient, ask.positions):  # checked before anything runs
            pass
        self.vector_made.emit(vector)
        runs = [models.generate(self.model, self.tokenizer, ask.prompt, settings) for _ in range(2)]

        def both():
            for side, gen in zip(("plain", "steered"), runs, strict=True):
                steps = iter(gen)
                while True:
                    with (
                        steered(self.model, vector, ask.coefficient, ask.positions)
                        if side == "steered"
                        else nullcontext()
                    ):
                        try:
                            step = next(steps)
                        except StopIteration:
                            break
                    yield side, step

        def cancel() -> None:
            for gen in runs:
                gen.cancel()

        pairs = both() if not self.ablation else self._each_ablated(both(), self.ablation, self.ablation_mode)
        return Job("steer", pairs, self.steering_generated.emit, None, cancel, 2 * settings.max_new_tokens)

    @serves(FillMask)
    def _fill_mask(self, request: int, ask: FillMask) -> None:
        self._need_model()
        import models

        with self._intervened():
            result = models.fill_mask(
                self.model, self.tokenizer, ask.text, k=10, mask_positions=ask.positions, attentions=True
            )
        self.mask_filled.emit(result)

    @serves(ReadLayers)
    def _read_layers(self, request: int, ask: ReadLayers) -> Job:
        """The logit lens as a stoppable job: the text is read at once, then each block of
        positions (the last first) is shown as it is done."""
        self._refuse_during("train", "reading the layers")
        self._end_job("stopped")
        self._need_model()
        from models.inspect.lens import lens_blocks

        with self._intervened():  # the text is read with the heads that are out
            blocks = lens_blocks(self.model, self.tokenizer, ask.text, k=10, token=ask.token or None)
        first = next(blocks)
        units = _per_unit(itertools.chain([first], blocks))
        return Job("lens", units, lambda batch: self.lens_read.emit(batch[-1]), total=len(first.tokens))

    @serves(Attribute)
    def _attribute(self, request: int, ask: Attribute) -> Job:
        """Token attributions as a stoppable job: each chunk of targets is shown as it is done."""
        self._refuse_during("train", "explaining tokens")
        self._end_job("stopped")
        self._need_model()
        import models

        tokens = self.tokenizer.encode_for_decoder(ask.text) if self.model.capabilities.causal else None
        first = min(max(1, ask.first), max(1, len(tokens) - 1)) if tokens is not None else 1
        targets = list(range(first, len(tokens))) if tokens is not None else None
        parts = models.attribute(
            self.model, self.tokenizer, ask.text, ask.method, targets, ask.contrast or None, ask.steps
        )
        if self.ablation or self.steering:  # explained as the model is set, chunk after chunk
            parts = self._each_intervened(parts)
        head = next(parts)  # (a bad request is refused here, before the job starts)
        units = _per_unit(itertools.chain([head], parts))
        return Job("attribute", units, lambda batch: self.attributed.emit(batch[-1]), total=len(head.targets))

    @serves(ScoreHeadTypes)
    def _score_head_types(self, request: int, ask: ScoreHeadTypes) -> None:
        self._refuse_during("train", "scoring heads")
        self._need_model()
        import models

        with self._intervened():  # the heads that are out score as they are: out
            self.head_types_scored.emit(models.head_types(self.model, self.tokenizer, ask.text))

    @serves(ReadNeurons)
    def _read_neurons(self, request: int, ask: ReadNeurons) -> None:
        self._refuse_during("train", "reading neurons")
        self._need_model()
        import models

        with self._intervened():
            position = None if ask.position < 0 else ask.position
            self.neurons_read.emit(models.neuron_effects(self.model, self.tokenizer, ask.text, position))

    @serves(FindContexts)
    def _find_contexts(self, request: int, ask: FindContexts) -> Job | None:
        """Top contexts as a stoppable job; a layer read before over the same corpus is answered at once."""
        self._refuse_during("train", "reading neurons")
        self._need_model()
        key = (self.info.fingerprint if self.info else "", ask.layer, ask.corpus)
        if key in self._contexts:
            self.contexts_found.emit(self._contexts[key])
            return None
        self._end_job("stopped")
        import models
        from models import assets

        path = Path(ask.corpus) if ask.corpus else assets.path(assets.SHAKESPEARE)
        try:
            corpus = path.read_text(encoding="utf-8")[:400_000]
        except (OSError, UnicodeDecodeError) as e:
            raise models.ModelError(f"{path}: the corpus could not be read as UTF-8 text ({e})") from e
        parts = models.top_contexts(self.model, self.tokenizer, corpus, ask.layer)
        first = next(parts)

        def keep(batch):
            result = batch[-1]
            if result.done == result.total:
                self._contexts[key] = result
            self.contexts_found.emit(result)

        return Job("contexts", _per_unit(itertools.chain([first], parts)), keep, total=first.total)

    @serves(KnockOut)
    def _knock_out(self, request: int, ask: KnockOut) -> None:
        """Knock heads out of every later probe, generation, fill and lens."""
        self._need_model()
        import models

        heads = tuple(sorted({(int(layer), int(head)) for layer, head in ask.heads}))
        with models.ablated(self.model, heads, ask.mode):  # checks them: refused before anything changes
            pass
        self.ablation, self.ablation_mode = heads, ask.mode
        self.ablation_changed.emit(heads, ask.mode)

    @serves(SetSteering)
    def _set_steering(self, request: int, ask: SetSteering) -> None:
        """Add a steering vector in every later model call (or take it off: coefficient 0)."""
        self._need_model()
        from models.inspect.steering import make_vector, steered

        if not ask.coefficient:
            self.steering = None
        else:
            vector = ask.vector or make_vector(self.model, self.tokenizer, ask.plus, ask.minus, ask.layer)
            with steered(self.model, vector, ask.coefficient, ask.positions):  # refused before it is kept
                pass
            self.steering = (vector, float(ask.coefficient), ask.positions)
        self.steering_changed.emit(self._steering_said())

    def _steering_said(self) -> str:
        if self.steering is None:
            return ""
        vector, coefficient, positions = self.steering
        where = "" if positions == "all" else f", {positions} tokens only"
        return f"{vector.described} × {coefficient:g}{where}"

    @contextmanager
    def _intervened(self):
        """Every model call inside runs with the heads that are out and the steering that is on."""
        import models

        with ExitStack() as stack:
            if self.ablation:
                stack.enter_context(models.ablated(self.model, self.ablation, self.ablation_mode))
            if self.steering is not None:
                from models.inspect.steering import steered

                stack.enter_context(steered(self.model, *self.steering))
            yield

    def _each_intervened(self, steps):
        """A stream whose every step runs as the model is set now (heads out, steering on)."""
        while True:
            with self._intervened():
                try:
                    item = next(steps)
                except StopIteration:
                    return
            yield item

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
        """A new model: the old one's heads and steering vector mean nothing in it."""
        if self.ablation:
            self.ablation = ()
            self.ablation_changed.emit((), self.ablation_mode)
        if self.steering is not None:
            self.steering = None
            self.steering_changed.emit("")

    @property
    def runs_dir(self) -> Path:
        """Where runs write their checkpoints (Resume… opens here)."""
        from playground.loading import DEFAULT_DATA_DIR

        return (self._data_dir or DEFAULT_DATA_DIR) / "runs"

    @serves(Sweep)
    def _sweep(self, request: int, ask: Sweep) -> Job:
        """Every head knocked out or patched in turn, as a stoppable job that reports each batch."""
        self._refuse_during("train", "sweeping the heads")
        self._end_job("stopped")
        self._need_model()
        import models

        out = () if ask.intact else self.ablation  # the heads already out stay out, unless asked
        with models.ablated(self.model, out, self.ablation_mode) if out else nullcontext():
            if ask.sweep == "ablation":
                sweeps = models.ablation_sweep(self.model, self.tokenizer, ask.text, ask.mode)
            else:
                sweeps = models.patching_sweep(
                    self.model, self.tokenizer, ask.text, ask.corrupted, ask.target, ask.other
                )
        if out:  # in the sweep's own runs too
            sweeps = self._each_ablated(sweeps, out, self.ablation_mode)
        cfg = self.model.config
        return Job(
            "sweep", _per_unit(sweeps), lambda batch: self.heads_swept.emit(batch[-1]), None, None,
            cfg.n_layer * cfg.n_head,
        )  # fmt: skip

    @serves(CheckHeads)
    def _check_heads(self, request: int, ask: CheckHeads) -> None:
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
        for heads in ask.head_sets:
            with models.ablated(self.model, heads, self.ablation_mode):  # the mode the user picked
                accuracy.append(exact_answers(self.model, self.tokenizer, task, n))
        sets = tuple(map(tuple, ask.head_sets))
        self.heads_checked.emit(
            models.HeadCheck(task.name, n, sets, tuple(accuracy), self.ablation_mode, request)
        )

    @serves(Compare)
    def _compare(self, request: int, ask: Compare) -> None:
        self._refuse_during("train", "comparing models")
        import models

        pair_a, pair_b = self._model_for(ask.a), self._model_for(ask.b)
        self.compared.emit(models.compare(pair_a, pair_b, ask.text, ask.names))

    def _model_for(self, source: str) -> tuple[Any, Any]:
        import models

        if source == "active":
            self._need_model()
            return self.model, self.tokenizer
        if source == "base":
            if self.base is None:
                raise models.ModelError("There is no model from before a fine-tune: fine-tune one first.")
            return self.base
        if source not in self._folders:
            self._folders[source] = models.load(source, self._device())
            while len(self._folders) > 2:  # models read to compare are kept, but only the last two
                self._folders.pop(next(iter(self._folders)))
        return self._folders[source]

    @serves(SetThreads)
    def _set_threads(self, request: int, ask: SetThreads) -> None:
        self._use_threads(ask.threads)

    def _use_threads(self, wanted: int) -> None:
        """`wanted` threads from now on; 0: automatic (a user's OMP_NUM_THREADS, or one per core
        tuned while jobs run: fewer while another program keeps the CPU busy)."""
        from playground import threads

        count, why = threads.choose(wanted or None)
        self._threads_wanted = wanted
        self._tuners = {}
        self._auto = why == "automatic"
        self._apply_threads(count, said=True)

    def _apply_threads(self, count: int, said: bool = False) -> None:
        """Compute with `count` threads; the status bar hears of a change (or, `said`, anyway)."""
        from playground import threads

        if count != self.threads or said:
            threads.use(count)
            self.threads = count
            self.threads_changed.emit(count)

    def _job_starting(self, job: Job) -> None:
        if self._auto and job.kind in self._tuners:  # what this kind ran best with, measured anew
            tuner = self._tuners[job.kind]
            tuner.restart()
            self._apply_threads(tuner.current)

    def _chunk_done(self, job: Job, items: int, seconds: float) -> None:
        if not self._auto:
            return
        from playground.threads import ThreadTuner, choose

        if job.kind not in self._tuners:  # this kind's first job: its first chunk is its warm-up
            self._tuners[job.kind] = ThreadTuner(choose()[0])
            self._tuners[job.kind].restart()
        tuner = self._tuners[job.kind]
        tuner.current = self.threads  # (a job of another kind may have changed it)
        better = tuner.record(items, seconds)
        if better is not None:
            self._apply_threads(better)

    @serves(Train)
    def _train(self, request: int, ask: Train) -> Job:
        """Start (or resume) a training run as a chunked job; its model becomes active at the end."""
        self._end_job("stopped")
        from playground.training_session import TrainingRun

        if ask.config is not None and ask.config.device == "auto":
            ask = replace(ask, config=ask.config.replace(device=self._device()))
        active = (self.model, self.tokenizer, self.info.source if self.info else "") if ask.finetune else None
        if ask.finetune is not None and not ask.finetune.scratch:
            self._need_model()
        self.training_run = None  # the last run's data and optimizer go before this one's are made
        run = TrainingRun(ask, self.runs_dir, active)
        self.training_run = run
        self.training_started.emit(run.started)
        trainer = run.trainer
        return Job(
            "train", run.updates, self.training_updated.emit, self._on_training_done, None,
            trainer.config.steps - trainer.step, flush_s=TRAINING_FLUSH_S,
        )  # fmt: skip

    @serves(ScalingSweep)
    def _scaling(self, request: int, ask: ScalingSweep) -> Job:
        """A scaling-law sweep as one job: after each batch of steps, every run so far (copies)."""
        self._end_job("stopped")
        import time
        from dataclasses import replace as copied

        from models.hf.checkpoint import available_memory
        from models.text.corpus import load_corpus
        from models.training.scaling import check_memory, run_configs, sweep

        configs = [
            c.replace(device=self._device()) for c in run_configs(list(ask.sizes), ask.tokens, ask.seed)
        ]
        corpus = load_corpus(ask.corpus, seed=ask.seed)
        check_memory(configs, len(set(corpus.text)) + 1, available_memory())
        out = (
            Path(ask.out_dir) if ask.out_dir else self.runs_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-scaling"
        )
        runs: list = []

        def steps():
            for run, _report in sweep(configs, corpus, out):
                if not runs or runs[-1] is not run:
                    runs.append(run)
                    if "scaling" in self._tuners:  # the last size's pace says nothing of this one's
                        self._tuners["scaling"].restart(forget=True)
                yield run

        def emit(_batch) -> None:  # (copies: the newest run's curve grows on this thread)
            self.scaling_updated.emit([copied(r, curve=list(r.curve)) for r in runs])

        total = sum(c.steps for c in configs)
        return Job("scaling", steps(), emit, None, None, total, flush_s=TRAINING_FLUSH_S)

    def _on_training_done(self, reason: str) -> tuple[str, str]:
        run = self.training_run
        if reason == "unstarted":  # stopped before its first step: nothing to keep or show
            run.discard()
            self.training_run = None
            return "stopped", ""
        try:
            status, message, last = run.finish(reason)
        except Exception as e:  # noqa: BLE001 — the view must hear that the run ended, whatever broke
            return "failed", self._report(e, "ending the training run")
        finally:
            run.close()
            run.trainer.release()  # its optimizer's moments: twice the model, of no use now
        if last:
            self.training_updated.emit(last)
        if run.trainer.save_error and status != "failed":  # a failed run reports it below
            self.errored.emit(f"Training stopped, but {run.trainer.save_error}", "")
        self.last_checkpoint = str(run.trainer.last_checkpoint or "")
        if status == "failed":
            if reason != "failed":  # an exception was reported already
                self.errored.emit(message, "")
        elif not run.started.scratch:  # the trained model is now the one to prompt and inspect
            self._activate_trained(run)
        if self.training_run is run and run.trainer.model is not self.model:
            self.training_run = None  # a failed run or a from-scratch twin: its model goes
        return ("done" if status == "finished" else status), message

    def _activate_trained(self, run: Any) -> None:
        """The run's model becomes the active one; the GUI's presenter names it from these facts."""
        from playground.info import model_info

        trainer = run.trainer
        finetune = run.request.finetune
        if finetune is not None:  # the model it started from is kept, to compare before and after
            self.base = (self.model, self.tokenizer)
        from models.nn import layout

        # laid out for decoding, as a loaded model is (a further run lays it out for training again)
        self.model, self.tokenizer = layout.for_decoding(trainer.model.eval()), trainer.tokenizer
        caps = self.model.capabilities
        task = trainer.corpus.task if caps.causal and finetune is None else None  # a decoder's task
        info = model_info(
            self.model, "", self.last_checkpoint, trainer.device.type, task=getattr(task, "name", ""),
            folder=self.last_checkpoint,
        )  # fmt: skip
        self.info = replace(
            info,
            trained_on=trainer.corpus.name,
            finetuned=trainer.config.task if finetune is not None else "",
            # an encoder–decoder shows a held-out source first (as `held_out_source` reads a folder's)
            example=trainer.objective.val_pairs.sources[0] if caps.encoder_decoder else "",
        )
        self._tuners = {}  # (the old model's pace says nothing of the new one's)
        self._streams = None  # (the old model's text)
        self.model_loaded.emit(self.info)
        self._forget_ablation()  # (after: see `_load`)

    @serves(Save)
    def _save(self, request: int, ask: Save) -> None:
        """Write the active model; a training run's (live, or just ended: its last checkpoint when
        that is of the model as it is) keeps its training state if the run kept one."""
        run = self.training_run
        live = self.job is not None and self.job.kind == "train"
        if run is not None and (live or run.trainer.model is self.model):
            run.trainer.save(ask.folder)
        else:
            self._need_model()
            import models

            models.save(self.model, self.tokenizer, ask.folder)
        self.model_saved.emit(ask.folder)

    @serves(SaveGGUF)
    def _save_gguf(self, request: int, ask: SaveGGUF) -> None:
        """Write the active model as a GGUF file (llama.cpp, LM Studio and Ollama run it)."""
        self._refuse_during("train", "saving as GGUF")
        self._need_model()
        import models

        models.save_gguf(self.model, self.tokenizer, ask.path, ask.type, self.info.name if self.info else "")
        self.model_saved.emit(ask.path)

    def _refuse_during(self, kind: str, doing: str) -> None:
        """A request that cannot share the worker with a running job of `kind` is refused."""
        running = self.job.kind if self.job is not None else ""
        if running == kind or (kind == "train" and running == "scaling"):  # (a sweep trains too)
            from models import ModelError

            raise ModelError(
                f"Training is running: stop it before {doing} (the trained model then becomes active)."
            )

    def _release(self) -> None:
        """Another model opens: what belonged to the old one can no longer be used (the model before
        its fine-tune, the models read to compare, the last run's data and optimizer)."""
        self.base = None
        self._folders.clear()
        self.training_run = None
        self._streams = None

    def _between_chunks(self) -> None:  # probes are served between chunks of a job
        while self._probes:
            channel = next(iter(self._probes))
            request, ask = self._probes.pop(channel)
            self._set_activity("probing", 0, ask.label())
            try:
                answer = self._probe(ask) if isinstance(ask, Inspect) else self._layer_attention(ask)
            except Exception as e:  # noqa: BLE001 — answered to the view that asked; the worker keeps serving
                message, details = self._explain(e, "inspecting")
                if details:  # a fault, not the text: said aloud too, with its traceback
                    self.errored.emit(message, details)
                self._set_activity()
                self._finish_request(request, "failed", message)
                continue
            getattr(self, ask.answer).emit(request, answer)
            self._set_activity()
            self._finish_request(request, "done")

    def _probe(self, ask: Inspect):
        import models

        run = self.training_run
        if ask.training and self.job is not None and self.job.kind == "train":
            # the model as it is now, mid-run (between two of its steps, on this same thread)
            from models.training.objectives import evaluated

            with evaluated(run.trainer.model) as model:
                return models.probe(model, run.trainer.tokenizer, ask.text, k=10)
        self._need_model()
        pooler = None
        # the attention view's text (its channel alone: another view's probe keeps every head, and
        # leaves the streams the attention view reads its layers from); an encoder–decoder's is short
        if ask.attentions and ask.channel == INSPECT and not self.model.capabilities.encoder_decoder:
            from playground.overview import OverviewPooler

            pooler = OverviewPooler(ask.text, ask.scale, ask.layer)
            self._streams = None  # (the last long text's: let them go before this pass)
        with self._intervened():
            probe = models.probe(
                self.model, self.tokenizer, ask.text, k=10, attentions=ask.attentions, each_layer=pooler
            )
        if pooler is not None and pooler.streams:  # a long text on a big model: read layer by layer
            self._streams = (self.model, pooler.streams, {ask.layer: pooler.kept})
            probe = replace(probe, pooled=pooler.result())
        if self.ablation or self.steering:  # what the heads out and the steering change, token by token
            from models.inspect.analysis import target_prob

            intact = target_prob(self.model, self.tokenizer, ask.text)
            heads, mode = self.ablation, self.ablation_mode
            probe = replace(probe, knocked_out=heads, knock_mode=mode, intact_prob=intact,
                            steering=self._steering_said())  # fmt: skip
        return probe

    def _layer_attention(self, ask: LayerAttention):
        """(layer, its attention [heads, T, T]) of the last text inspected layer by layer."""
        import models

        model, streams = self._kept_streams()
        if not 0 <= ask.layer < len(streams):
            raise models.ModelError(f"there is no layer {ask.layer} (the model has {len(streams)})")
        kept = self._streams[2].pop(ask.layer, None)  # the layer the probe kept: the view holds it now
        return ask.layer, kept if kept is not None else models.layer_attention(
            model, ask.layer, streams[ask.layer]
        )

    @serves(SaveAttention)
    def _save_attention(self, request: int, ask: SaveAttention) -> None:
        """Every layer's attention into one .npy file, a layer in memory at a time."""
        import numpy as np

        import models
        from models.hf.atomic import write_file

        model, streams = self._kept_streams()

        def write(tmp) -> None:
            first = models.layer_attention(model, 0, streams[0])
            out = np.lib.format.open_memmap(tmp, "w+", np.float16, (len(streams), *first.shape))
            for layer in range(len(streams)):
                self.progress_changed.emit(layer, len(streams))
                out[layer] = first if layer == 0 else models.layer_attention(model, layer, streams[layer])
            out.flush()
            del out  # (closed before the file is renamed into place)

        write_file(Path(ask.path), write)

    def _kept_streams(self) -> tuple[Any, list]:
        """The model and streams of the last text inspected layer by layer, while still its own."""
        model, streams, _ = self._streams if self._streams is not None else (None, [], {})
        if model is None or model is not self.model:
            from models import ModelError

            raise ModelError("this text's attention is no longer kept: inspect it again")
        return model, streams

    # ---- helpers -----------------------------------------------------------------------------
    def _device(self) -> str:
        from models.device import pick_device  # the engine's one device choice

        return pick_device(self._device_choice or "auto").type

    def _need_model(self) -> None:
        if self.model is None:
            from models import ModelError

            raise ModelError("No model is loaded yet.")


def _per_unit(results):
    """Each partial result (a sweep, a lens) once per unit it has done (a head, a position), so a
    job's progress counts those, not batches."""
    done = 0
    for result in results:
        for _ in range(result.done - done):
            yield result
        done = result.done
