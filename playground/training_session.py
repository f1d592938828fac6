"""Training inside the app, on the worker thread: builds the Trainer, follows its reports, ends the run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.capabilities import Capabilities
from models.results import TrainingReport
from models.training.settings import TrainConfig
from playground.worker.requests import Train


@dataclass(frozen=True)
class TrainingStarted:
    """Sent once before the first step: what the view needs to lay itself out."""

    config: TrainConfig
    capabilities: Capabilities  # of the model it trains
    corpus: str
    look_for: str  # the task's "what to look for" sentence, or ""
    probe_text: str
    out_dir: str
    device: str
    n_params: int
    losses: np.ndarray  # float32 [steps so far]: the curve a resumed run continues
    val_losses: np.ndarray  # float32 [n, 2]: (step, loss)
    lrs: np.ndarray  # float32 [steps so far]: the learning rate of each step
    head_scores: tuple[tuple[int, dict[str, np.ndarray]], ...] = ()  # (step, pattern -> [L, H])
    labels: tuple[str, ...] = ()  # a classifier's classes
    finetune: bool = False  # asked for by the Fine-tune tab (which draws it), not the Training tab
    scratch: bool = False  # a from-scratch twin of a fine-tune, run for comparison
    data: str = ""  # what it learns from, described ("200 labelled examples…", "12,345 tokens")


def build_trainer(request: Train, runs_dir: Path, active: tuple[Any, Any, str] | None = None):
    """Make (or resume) the Trainer a request describes; may take seconds (tokenizer training).

    A fine-tune needs `active`: (model, tokenizer, its source). It trains a copy, so the model
    stays as it was (to compare against) until the run ends.
    """
    from models.training.trainer import Trainer

    if request.finetune is not None:
        return _finetuner(request, runs_dir, active)
    if request.resume_from:
        changes = {"steps": request.steps} if request.steps else {}
        return Trainer.from_checkpoint(request.resume_from, request.out_dir or None, **changes)
    if request.config is None:
        raise ValueError("a new run needs its settings")
    out = Path(request.out_dir) if request.out_dir else runs_dir / _run_name(request)
    return Trainer(request.config, request.corpus, out)


def _finetuner(request: Train, runs_dir: Path, active: tuple[Any, Any, str] | None):
    import copy

    from models.errors import ModelError
    from models.text.corpus import load_corpus
    from models.text.labelled import load_labelled
    from models.training.finetune import finetune_config, finetuner

    if active is None or active[0] is None:
        raise ModelError("Open a model first: fine-tuning starts from the active model.")
    ask = request.finetune
    model, tokenizer, source = active
    if ask.scratch:  # same architecture and tokenizer, weights drawn afresh by the run's seed
        import torch

        with torch.random.fork_rng(devices=[]):  # (the global generator is left as it was)
            torch.manual_seed(int(ask.settings.get("seed", 1337)))
            model = type(model)(model.config)
    else:
        model = copy.deepcopy(model)
    # a 16-bit model (a GPU opens bf16 folders as they are) learns in float32: AdamW's small
    # updates would round away in 16 bits
    model = model.float()
    seed = int(ask.settings.get("seed", 1337))
    if ask.task == "classify":
        data = load_labelled(ask.data, ask.text_column, ask.label_column, seed=seed)
    else:
        data = load_corpus(ask.data, seed=seed)
    base = "random weights" if ask.scratch else source
    config = finetune_config(model, ask.task, base_model=base, **ask.settings)
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{'scratch' if ask.scratch else 'finetune'}-{ask.task}"
    out = Path(request.out_dir) if request.out_dir else runs_dir / name
    return finetuner(model, tokenizer, data, config, out)


def started(trainer: Any, finetune: bool = False, scratch: bool = False) -> TrainingStarted:
    from models.text.pairs import PAIR_TASKS
    from models.text.tasks import TASKS

    cfg, caps = trainer.config, trainer.model.capabilities
    tasks = PAIR_TASKS if caps.encoder_decoder else TASKS  # ("reverse" is both: a GPT's and a pair task)
    task = tasks.get(trainer.corpus.name.removeprefix("task:"))
    return TrainingStarted(
        config=cfg,
        capabilities=caps,
        corpus=trainer.corpus.name,
        look_for=task.look_for if task else getattr(trainer.objective, "look_for", ""),
        probe_text=trainer.probe_text,
        out_dir=str(trainer.out_dir or ""),
        device=trainer.device.type.upper(),
        n_params=sum(p.numel() for p in trainer.model.parameters()),
        losses=np.asarray(trainer.losses, np.float32),
        val_losses=np.asarray(trainer.val_losses, np.float32).reshape(-1, 2),
        lrs=np.asarray(trainer.lrs, np.float32),
        head_scores=tuple(
            (step, {k: np.asarray(v, np.float32) for k, v in scores.items()})
            for step, scores in trainer.head_score_history
        ),
        labels=tuple(getattr(trainer.model.config, "labels", ())),
        finetune=finetune,
        scratch=scratch,
        data=trainer.describe_data(),
    )


def _run_name(request: Train) -> str:
    corpus = Path(request.corpus.replace("task:", "task-")).stem or "corpus"
    arch = request.config.arch if request.config else "run"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{arch}-{corpus}"


class TrainingRun:
    """One in-app run on the worker thread: the Trainer, its stream of updates, and its ending."""

    def __init__(self, request: Train, runs_dir: Path, active: tuple[Any, Any, str] | None = None) -> None:
        self.request = request
        self.trainer = build_trainer(request, runs_dir, active)
        ask = request.finetune
        self.started = started(self.trainer, ask is not None, ask is not None and ask.scratch)
        self.last_report: TrainingReport | None = None
        self.updates = self._updates()
        self.save_on_stop = True  # False when the user closes the window and discards the run

    def finish(self, reason: str) -> tuple[str, str, list[TrainingReport]]:
        """(status, message, last updates) once the worker ends the job for `reason`."""
        trainer, last = self.trainer, []
        if reason == "stopped" and not trainer.done:
            if not self.save_on_stop:
                trainer.out_dir = None  # no final checkpoint: the user chose to discard
            trainer.stop()
            last = list(self.updates)  # the trainer's stop report, with the checkpoint it wrote
        if reason == "failed":
            return "failed", "training failed (see the error message)", last
        if trainer.status == "failed":
            events = self.last_report.events if self.last_report else ()
            return "failed", events[-1] if events else f"the run failed at step {trainer.step}", last
        if trainer.status == "finished":
            where = f"; saved in {trainer.last_checkpoint}" if trainer.last_checkpoint else ""
            return "finished", f"finished {trainer.step} steps{where}", last
        events = self.last_report.events if self.last_report else ()
        return "stopped", "; ".join(events) or f"stopped at step {trainer.step}", last

    def discard(self) -> None:
        """A run stopped before its first step leaves no empty folder behind."""
        self.close()
        out = self.trainer.out_dir
        try:
            if out is not None and out.is_dir() and not any(out.iterdir()):
                out.rmdir()
        except OSError:
            pass  # an empty folder left behind is harmless; the request must still end

    def close(self) -> None:
        """The run has ended: drop its report stream (which refers back to the run), so the
        run's memory goes with the last reference, not at some later full collection."""
        self.updates.close()
        self.updates = iter(())

    def _updates(self) -> Iterator[TrainingReport]:
        for report in self.trainer:
            self.last_report = report
            yield report
