"""The trainer: one loop for every objective, a Qt-free iterator of TrainingReport; resumable, seeded."""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import tempfile
import threading
from collections.abc import Iterator, Sized
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from models.device import autocast_dtype, pick_device
from models.errors import ModelError
from models.hf import checkpoint
from models.hf.atomic import Writer, copy_folder, link_or_copy
from models.inspect.analysis import probe
from models.inspect.head_scores import probe_scores
from models.nn import Model, layout
from models.nn.quantized import refuse_quantized
from models.results import Baseline, TrainingReport
from models.text.corpus import BUILTIN_CORPORA
from models.text.tokenizer import Tokenizer
from models.training.objectives import evaluated, objective_for
from models.training.optimizer import freeze_early_blocks, lr_factor, make_optimizer
from models.training.progress import Pace
from models.training.run_state import (
    CONFIG_FILE,
    FORMAT,
    STATE_FILE,
    RunRandom,
    baseline_from,
    load_state,
    plain_baseline,
)
from models.training.settings import TrainConfig

EXPLODE_WINDOW = 10  # steps whose median loss decides that a run diverged


class Trainer:
    """Iterate to train: one TrainingReport per step, and one on stop or failure.

    What is learned (the next token, masked tokens, labels, pairs) is the settings' objective
    (`models.training.objectives`); the loop, checkpoints, resuming and reports are this one's.
    stop() may be called from any thread and takes effect between two steps; advance() runs
    exactly one step for callers that drive the loop themselves (the app's worker, in chunks).
    """

    def __init__(
        self,
        config: TrainConfig,
        data: Any,
        out_dir: str | Path | None = None,
        *,
        tokenizer: Tokenizer | None = None,
        model: Model | None = None,
        state: dict[str, Any] | None = None,
    ) -> None:
        self.config = cfg = config
        self.device = pick_device(cfg.device)
        self.amp_dtype = autocast_dtype(self.device, cfg.precision)
        self.distributed = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if self.distributed else 0
        self.world = dist.get_world_size() if self.distributed else 1
        # bad data is refused before any folder is made
        self.objective = objective_for(cfg, data)(cfg, data, tokenizer)
        self.corpus, self.tokenizer = self.objective.data, self.objective.tokenizer
        self.probe_text = self.objective.probe_text
        self.out_dir = Path(out_dir) if out_dir is not None and self.rank == 0 else None
        if self.out_dir is not None:
            _check_writable(self.out_dir)

        if model is not None:
            refuse_quantized(model, "Training")
        # the seed fixes the initial weights and everything after
        self.random = RunRandom(cfg.seed, self.device)
        with self.random.active():
            built = self.objective.model(model, resuming=state is not None)
        self.model = layout.for_training(built.to(self.device).train())  # (a loaded model's is for decoding)
        frozen = freeze_early_blocks(self.model, cfg.trainable_blocks)
        self._net: torch.nn.Module = self.model
        if self.distributed:  # one replica per process; DDP averages the gradients
            ids = [self.device.index] if self.device.type == "cuda" else None
            self._net = DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = make_optimizer(self.model, cfg, self.device)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: lr_factor(s, cfg))
        self._gen = torch.Generator().manual_seed(cfg.seed + self.rank)  # batches

        self.step = 0
        self.losses: list[float] = []  # train loss of every step
        self.lrs: list[float] = []  # learning rate of every step (a resume may change the schedule)
        self.val_losses: list[tuple[int, float]] = []  # (step, validation loss)
        # (step, {pattern: [layers][heads]}) of every probe: a resumed run's charts keep their past
        self.head_score_history: list[tuple[int, dict[str, list]]] = []
        self._elapsed = 0.0  # seconds spent in steps, across resumes; pauses do not count
        self.pace = Pace()  # steps a second lately: the reports' tokens/s and ETA
        self.status = "running"
        self.last_checkpoint: Path | None = None
        self.released = False  # the run has ended and freed its optimizer state (see `release`)
        self._checkpoint_step = -1  # the step the last checkpoint was written at
        self.save_error = ""  # why the last checkpoint could not be written, if it could not
        self._stop = threading.Event()
        self._notes: tuple[str, ...] = (*self.objective.notes, *frozen)  # messages for the next report
        self.before: Baseline | None = None  # a fine-tune's base model, measured before step 1
        if state is not None:
            self._restore(state)

    # ---- resuming -----------------------------------------------------------------------------
    @classmethod
    def from_checkpoint(
        cls, folder: str | Path, out_dir: str | Path | None = None, corpus: Any = None, **changes: Any
    ) -> Trainer:
        """Continue a run saved with its training state (a language model, a classifier or an
        encoder–decoder: its settings say which); `changes` edit settings (e.g. steps).

        Without changes the run continues the same loss curve as if it had never stopped.
        """
        folder = Path(folder)
        state = load_state(folder)
        config = TrainConfig.from_dict(state["config"]).replace(**changes)
        model, tokenizer = checkpoint.load(folder)
        if corpus is None:
            kind = objective_for(config, state["corpus"]["name"])
            corpus = kind.saved_data(folder, state["corpus"], config.seed) or state["corpus"]["name"]
        out = folder if out_dir is None else out_dir
        return cls(config, corpus, out, tokenizer=tokenizer, model=model, state=state)

    def _restore(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])
        self.losses = [float(x) for x in state["losses"]]
        # a checkpoint from before the history was kept: rebuild it from the settings it ran with
        ran = TrainConfig.from_dict(state["config"])
        saved_lrs = state.get("lrs") or [ran.lr * lr_factor(i, ran) for i in range(self.step)]
        self.lrs = [float(x) for x in saved_lrs]
        self.val_losses = [(int(s), float(v)) for s, v in state["val_losses"]]
        self.head_score_history = [(int(s), dict(v)) for s, v in state.get("head_scores", [])]
        self._elapsed = float(state["elapsed_s"])
        self.before = baseline_from(state.get("before"))
        self._gen.set_state(state["rng"]["batches"])
        self.random.state = {"torch": state["rng"]["torch"], "cuda": state["rng"].get("cuda")}
        if state["corpus"]["sha256"] != self.corpus.sha256:
            self._notes = (
                f"the corpus {self.corpus.name} differs from the one this run "
                "started with; the loss curve will not continue exactly",
            )
        if self.step >= self.config.steps:
            self.status = "finished"

    # ---- control, from any thread -------------------------------------------------------------
    def stop(self) -> None:
        """Finish the current step, write a checkpoint and end the iteration."""
        self._stop.set()

    @property
    def elapsed_s(self) -> float:
        """Seconds spent training, across resumes; pauses do not count."""
        return self._elapsed

    @property
    def done(self) -> bool:
        return self.status in ("finished", "stopped", "failed")

    def describe_data(self) -> str:
        return self.objective.describe()

    # ---- the loop -----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[TrainingReport]:
        while not self.done:
            if self._stop.is_set():
                yield self._finish_stop()
                return
            yield self.advance()

    def advance(self) -> TrainingReport:
        """One optimizer step, plus whatever is due on it (validation, sample, probe, checkpoint)."""
        if self.done:
            raise ModelError(f"the run is {self.status}; start a new one or resume a checkpoint")
        cfg = self.config
        extras: dict[str, Any] = {}
        if cfg.base_model and self.before is None and self.rank == 0:
            extras["before"] = self.before = self.objective.baseline(self.model, self.evaluate)
        t0 = self.pace.clock()
        lr = self.optimizer.param_groups[0]["lr"]
        x, y = self.objective.batch(self._gen, self.device)
        try:
            with self.random.active(), self._autocast():  # (dropout draws from the run's own state)
                loss = self.objective.loss(self._net, self.model, x, y)
        except torch.OutOfMemoryError:
            return self._out_of_memory()
        value = loss.detach().float()
        if self.distributed:  # every rank must agree on the value and on a NaN stop
            dist.all_reduce(value, op=dist.ReduceOp.AVG)
        value = float(value)
        if not math.isfinite(value):
            return self._fail(
                f"the loss became {value} at step {self.step + 1} (learning rate "
                f"{lr:.3g}); lower the learning rate or check the corpus"
            )
        try:
            with self.random.active():
                loss.backward()
        except torch.OutOfMemoryError:
            return self._out_of_memory()
        exploded = self._exploded(value)
        if exploded:
            self.optimizer.zero_grad(set_to_none=True)
            return self._fail(exploded)
        if cfg.grad_clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            if not torch.isfinite(norm):
                self.optimizer.zero_grad(set_to_none=True)
                return self._fail(
                    f"the gradients became {float(norm)} at step {self.step + 1} "
                    f"(learning rate {lr:.3g}); lower the learning rate"
                )
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1
        self.losses.append(value)
        self.lrs.append(lr)

        last = self.step >= cfg.steps
        events: list[str] = list(self._notes)
        self._notes = ()
        if self.rank == 0:
            if _due(self.step, cfg.eval_every, last):
                extras["val_loss"], scores = self.objective.evaluate(
                    self.model, self.device, self._autocast()
                )
                extras.update(scores)
                self.val_losses.append((self.step, extras["val_loss"]))
            if cfg.sample_every and _due(self.step, cfg.sample_every, last):
                extras["sample"] = self.objective.sample(self.model, self.step)
            if cfg.probe_every and _due(self.step, cfg.probe_every, last):
                extras["probe"] = self.probe()
                extras["head_scores"] = probe_scores(extras["probe"])
                plain = {k: v.tolist() for k, v in extras["head_scores"].items()}
                self.head_score_history.append((self.step, plain))
        status = "finished" if last else "running"
        # a periodic checkpoint only of a sane model: a diverging run keeps the last good one
        periodic = _due(self.step, cfg.checkpoint_every, False) and value <= self._explode_limit()
        if self.out_dir is not None and (last or periodic):
            try:
                extras["checkpoint"] = str(self.save(final=last))
            except ModelError as e:
                status = "failed"
                self.save_error = (
                    f"stopped: could not write the checkpoint — {e}. The model is "
                    "still in memory; free space or choose another folder and save"
                )
                events.append(self.save_error)
        self.status = status
        if last and status == "finished":
            events.append(f"finished: {self.step} steps")
        # the pace is wall-clock: the time between steps (a GUI's event loop, a caller's own work)
        # is part of what a step costs; a long gap is a pause, and pauses do not count
        self._elapsed += self.pace.step(t0, self.objective.tokens(x) * self.world)
        return self._report(loss=value, lr=lr, events=tuple(events), status=status, **extras)

    # ---- pieces of a step ---------------------------------------------------------------------
    def _explode_limit(self) -> float:
        """A loss this far above the run's first one means it is diverging, not learning."""
        start = self.losses[0] if self.losses else math.inf
        return max(2.0 * start, start + 3.0)

    def _exploded(self, value: float) -> str:
        """Why the run is diverging (most of the last steps far above the first loss), or ""."""
        recent = [*self.losses[-(EXPLODE_WINDOW - 1) :], value]
        if len(recent) < EXPLODE_WINDOW or statistics.median(recent) <= self._explode_limit():
            return ""
        lr = self.optimizer.param_groups[0]["lr"]
        return (
            f"the loss exploded from {self.losses[0]:.3g} to {value:.3g} by step {self.step + 1} "
            f"(learning rate {lr:.3g}); lower the learning rate or add warmup"
        )

    def _autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def evaluate(self, model: torch.nn.Module | None = None) -> float:
        """The held-out loss (the objective's, on the same batches every time). `model` (default:
        the one being trained) may be any module the objective can score, e.g. a reference model
        a benchmark compares on the very same batches."""
        model = self.model if model is None else model
        return self.objective.evaluate(model, self.device, self._autocast())[0]

    def probe(self):
        """Attention and predictions of the fixed probe text (models.inspect.analysis.probe)."""
        with evaluated(self.model):
            return probe(self.model, self.tokenizer, self.probe_text)

    # ---- checkpoints --------------------------------------------------------------------------
    def save(self, folder: str | Path | None = None, final: bool = False) -> Path:
        """Write a checkpoint folder (model, tokenizer, training state), atomically as a whole.

        A final folder without training state drops an older state file and corpus copy.
        """
        target = Path(folder) if folder is not None else self.out_dir
        if target is None:
            raise ModelError("no output folder was given for the checkpoint")
        extra = {CONFIG_FILE: lambda p: p.write_text(_json(self.config.to_dict()))}
        if self.released:  # the optimizer's state is gone: the last checkpoint holds it whole
            if self.last_checkpoint is not None and self._checkpoint_step == self.step:
                if Path(target).resolve() != Path(self.last_checkpoint).resolve():
                    copy_folder(self.last_checkpoint, target)
                return target
            # its last checkpoint is older (or none was written): the model as it is, no state
            checkpoint.save(self.model, self.tokenizer, target, extra_files=extra)
            return target
        keep_state = self.config.keep_training_state or not final
        if keep_state:
            state = self.training_state()
            extra[STATE_FILE] = lambda p: torch.save(state, p)
            if self.corpus.task is None and self.corpus.name not in BUILTIN_CORPORA:
                extra[self.objective.data_file] = self._corpus_writer(
                    target
                )  # built-in ones are made by name
        checkpoint.save(self.model, self.tokenizer, target, extra_files=extra)
        self.last_checkpoint, self._checkpoint_step = target, self.step
        return target

    def _corpus_writer(self, target: Path) -> Writer:
        """A user's corpus is written once per folder; later checkpoints link the same file."""
        stored = target / self.objective.data_file
        try:
            unchanged = hashlib.sha256(stored.read_bytes()).hexdigest() == self.corpus.sha256
        except OSError:
            unchanged = False
        if unchanged:
            return lambda p: link_or_copy(stored, p)
        return lambda p: p.write_text(self.corpus.text, encoding="utf-8")

    def release(self) -> None:
        """The run has ended: free what only its steps need, the optimizer's moments (twice the
        model's size). The model stays; a later `save` copies the last checkpoint, which holds
        the whole state, when it is of the model as it is (else it writes the model alone)."""
        self.optimizer.state.clear()
        self.released = True

    def training_state(self) -> dict[str, Any]:
        """Only tensors and plain values, so it loads with torch.load(weights_only=True)."""
        return {
            "format": FORMAT,
            "step": self.step,
            "config": self.config.to_dict(),
            # labelled examples and pairs also keep their count: a built-in task is made again by it
            "corpus": {"name": self.corpus.name, "sha256": self.corpus.sha256}
            | ({"examples": len(self.corpus)} if isinstance(self.corpus, Sized) else {}),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": {
                "torch": self.random.state["torch"],
                "batches": self._gen.get_state(),
                "cuda": self.random.state["cuda"],
            },  # fmt: skip
            "losses": list(self.losses),
            "lrs": list(self.lrs),
            "val_losses": [list(v) for v in self.val_losses],
            "head_scores": [[s, v] for s, v in self.head_score_history],
            "elapsed_s": self._elapsed,
            "before": plain_baseline(self.before),
        }

    # ---- endings and reports ------------------------------------------------------------------
    def _finish_stop(self) -> TrainingReport:
        events = [f"stopped at step {self.step}"]
        path = None
        if self.out_dir is not None:
            try:
                path = str(self.save())
                events.append(f"checkpoint written to {path}; resume it to continue")
            except ModelError as e:
                self.save_error = f"could not write the checkpoint — {e}"
                events.append(self.save_error)
        self.status = "stopped"
        return self._report(events=tuple(events), status="stopped", checkpoint=path)

    def _out_of_memory(self) -> TrainingReport:
        self.optimizer.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        cfg = self.config
        return self._fail(
            f"out of memory on {self.device} (batch {cfg.batch_size}, context "
            f"{cfg.context}); try a smaller batch size or context"
        )

    def _fail(self, message: str) -> TrainingReport:
        kept = (
            f"the last good checkpoint is kept in {self.last_checkpoint}"
            if self.last_checkpoint
            else "no checkpoint had been written yet"
        )
        self.status = "failed"
        return self._report(events=(f"stopped: {message}; {kept}",), status="failed", loss=float("nan"))

    def _report(self, **fields: Any) -> TrainingReport:
        fields.setdefault("loss", self.losses[-1] if self.losses else float("nan"))
        fields.setdefault("lr", self.optimizer.param_groups[0]["lr"])
        return TrainingReport(
            step=self.step,
            max_steps=self.config.steps,
            tokens_per_s=self.pace.tokens_per_s,
            elapsed_s=self._elapsed,
            eta_s=self.pace.eta(self.config.steps - self.step),
            **fields,
        )


def _due(step: int, every: int, last: bool) -> bool:
    return last or (every > 0 and step % every == 0)


def _check_writable(folder: Path) -> None:
    """Fail before training, not after it, when the output folder cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise ModelError(f"{folder}: the output folder cannot be written ({e.strerror or e})") from e


def _json(d: dict[str, Any]) -> str:
    return json.dumps(d, indent=2)
