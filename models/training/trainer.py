"""The trainer: a Qt-free iterator of TrainingReport, pausable, resumable and reproducible."""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Sized
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from models.device import autocast_dtype, pick_device
from models.errors import ModelError
from models.hf import checkpoint
from models.hf.atomic import Writer, link_or_copy
from models.inspect.analysis import fill_mask, probe
from models.inspect.generation import generate
from models.inspect.head_scores import probe_scores
from models.nn import BertConfig, GPTConfig, Model
from models.nn.bert import Bert
from models.nn.gpt import GPT
from models.results import Baseline, TrainingReport
from models.text.corpus import BUILTIN_CORPORA, Corpus, check_size, load_corpus, read_text
from models.text.tokenizer import Tokenizer
from models.training.batches import Masker, encode_ids, gpt_batch
from models.training.settings import TrainConfig

STATE_FILE = "training_state.pt"
EXPLODE_WINDOW = 10  # steps whose median loss decides that a run diverged
CONFIG_FILE = "train_config.json"
PAUSE_GAP_S = 1.0  # a longer wait between two steps is a pause, not part of the step rate
CORPUS_FILE = "corpus.txt"  # a user's corpus, kept with the run so resuming reads nothing else
_FORMAT = 1


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW decaying 2-D weights only (matrices, embeddings), never biases or LayerNorm gains.

    The fused kernel when torch has one for the device: on this 2-core CPU one optimizer step of
    a 0.8 M-parameter model took 0.42 ms fused vs 1.26 ms with the default (foreach) path.
    """
    params = [p for p in model.parameters() if p.requires_grad]  # tied weights appear once
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    kwargs: dict[str, Any] = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    try:
        return torch.optim.AdamW(groups, fused=True, **kwargs)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device or dtype
        return torch.optim.AdamW(groups, **kwargs)


def freeze_early_blocks(model: Model, trainable: int) -> tuple[str, ...]:
    """Train only the last `trainable` blocks and what follows them (final norm, heads); 0 = all.

    Everything before the first trained block (embeddings, earlier blocks) is frozen, so a tied
    output head stays as it was too. Returns a note for the run's first report.
    """
    for p in model.parameters():
        p.requires_grad_(True)
    blocks = model.blocks()
    if trainable <= 0 or trainable >= len(blocks):
        return ()
    first = next(blocks[len(blocks) - trainable].parameters())
    for p in model.parameters():  # parameters come in forward order: embeddings, blocks, heads
        if p is first:
            break
        p.requires_grad_(False)
    total = sum(p.numel() for p in model.parameters())
    kept = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return (
        f"training the last {trainable} of {len(blocks)} blocks: {kept / 1e6:.2f} M of "
        f"{total / 1e6:.2f} M parameters",
    )


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warmup to 1, then cosine decay to min_lr / lr at the last step (as nanoGPT)."""
    if step < cfg.warmup_steps:
        return (step + 1) / (cfg.warmup_steps + 1)
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.min_lr / cfg.lr
    return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (1.0 - floor)


class Trainer:
    """Iterate to train: one TrainingReport per step (and one on pause, stop or failure).

    pause(), resume(), step_once() and stop() may be called from any thread; they take effect
    between two steps. advance() runs exactly one step for callers that drive the loop
    themselves (e.g. a worker that trains in chunks).
    """

    data_file = CORPUS_FILE  # where a user's data is kept with the run, so resuming needs nothing else

    def __init__(
        self,
        config: TrainConfig,
        corpus: Corpus | str | Path,
        out_dir: str | Path | None = None,
        *,
        tokenizer: Tokenizer | None = None,
        model: GPT | Bert | None = None,
        state: dict[str, Any] | None = None,
    ) -> None:
        self.config = cfg = config
        self.device = pick_device(cfg.device)
        self.amp_dtype = autocast_dtype(self.device, cfg.precision)
        self.distributed = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if self.distributed else 0
        self.world = dist.get_world_size() if self.distributed else 1
        self._setup_data(corpus, tokenizer)  # bad data is refused before any folder is made
        self.out_dir = Path(out_dir) if out_dir is not None and self.rank == 0 else None
        if self.out_dir is not None:
            _check_writable(self.out_dir)

        # model and optimizer; the seed fixes the initial weights and everything after
        torch.manual_seed(cfg.seed)
        self.model = self._setup_model(model).to(self.device).train()
        frozen = freeze_early_blocks(self.model, cfg.trainable_blocks)
        self._net: torch.nn.Module = self.model
        if self.distributed:  # one replica per process; DDP averages the gradients
            ids = [self.device.index] if self.device.type == "cuda" else None
            self._net = DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = make_optimizer(self.model, cfg, self.device)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: lr_factor(s, cfg))
        self._gen = torch.Generator().manual_seed(cfg.seed + self.rank)
        self._masker = (
            Masker(self.tokenizer, self.model.config.vocab_size, cfg.mask_prob)
            if cfg.arch == "bert" and cfg.task == "lm"
            else None
        )

        self.step = 0
        self.losses: list[float] = []  # train loss of every step
        self.lrs: list[float] = []  # learning rate of every step (a resume may change the schedule)
        self.val_losses: list[tuple[int, float]] = []  # (step, validation loss)
        # (step, {pattern: [layers][heads]}) of every probe: a resumed run's charts keep their past
        self.head_score_history: list[tuple[int, dict[str, list]]] = []
        self._elapsed = 0.0  # seconds spent in steps, across resumes; pauses do not count
        self._session = (0, 0.0)  # (steps, wall seconds) in this process, for the ETA
        self._last_end: float | None = None  # when the previous step ended (wall clock)
        self._tok_rate = 0.0
        self.status = "running"
        self.last_checkpoint: Path | None = None
        self.save_error = ""  # why the last checkpoint could not be written, if it could not
        self._cond = threading.Condition()
        self._paused = self._stop = False
        self._single = 0  # steps allowed while paused
        self._notes: tuple[str, ...] = (*self.data_notes, *frozen)  # messages for the next report
        self.before: Baseline | None = None  # a fine-tune's base model, measured before step 1
        if state is not None:
            self._restore(state)

    # ---- building and resuming --------------------------------------------------------------
    def _setup_data(self, corpus: Corpus | str | Path, tokenizer: Tokenizer | None) -> None:
        """The corpus, its tokenizer, token ids of both splits, the probe text and sample prompt."""
        cfg = self.config
        self.corpus = corpus if isinstance(corpus, Corpus) else load_corpus(corpus, seed=cfg.seed)
        # tokens: the tokenizer is learned on the whole corpus (as nanoGPT's vocabulary)
        self.tokenizer = tokenizer or Tokenizer.train(
            self.corpus.text.splitlines(keepends=True), cfg.tokenizer, cfg.vocab_size
        )
        train_text, val_text = self.corpus.split(cfg.val_fraction)
        self.train_ids = encode_ids(self.tokenizer, train_text)
        self.val_ids = encode_ids(self.tokenizer, val_text)
        check_size(self.corpus.name, len(self.train_ids), len(self.val_ids), cfg.context, cfg.val_fraction)
        self.probe_text = cfg.probe_text or self.corpus.probe_text(cfg.val_fraction)
        self.sample_prompt = self.corpus.sample_prompt(cfg.val_fraction)
        self.data_notes: tuple[str, ...] = ()  # said in the first report

    def describe_data(self) -> str:
        return f"{len(self.train_ids)} training tokens"

    def _setup_model(self, model: Model | None) -> Model:
        return model or self._new_model()

    def _new_model(self) -> GPT | Bert:
        cfg, tok = self.config, self.tokenizer
        if cfg.arch == "seq2seq":
            from models.nn.seq2seq import Seq2Seq, Seq2SeqConfig

            pad = tok.token_id("<pad>") or 0
            return Seq2Seq(
                Seq2SeqConfig(
                    vocab_size=tok.vocab_size, d_model=cfg.n_embd, encoder_layers=cfg.n_layer,
                    decoder_layers=cfg.n_layer, encoder_attention_heads=cfg.n_head,
                    decoder_attention_heads=cfg.n_head, encoder_ffn_dim=4 * cfg.n_embd,
                    decoder_ffn_dim=4 * cfg.n_embd, max_position_embeddings=cfg.context, activation="relu",
                    dropout=cfg.dropout, pad_token_id=pad, decoder_start_token_id=pad,
                    eos_token_id=tok.token_id("</s>") or 0,
                )
            )  # fmt: skip
        if cfg.arch == "gpt":
            return GPT(
                GPTConfig(
                    vocab_size=tok.vocab_size,
                    n_positions=cfg.context,
                    n_embd=cfg.n_embd,
                    n_layer=cfg.n_layer,
                    n_head=cfg.n_head,
                    dropout=cfg.dropout,
                    bos_token_id=tok.eos_id,
                    eos_token_id=tok.eos_id,
                )
            )
        return Bert(
            BertConfig(
                vocab_size=tok.vocab_size,
                max_position_embeddings=cfg.context,
                hidden_size=cfg.n_embd,
                num_hidden_layers=cfg.n_layer,
                num_attention_heads=cfg.n_head,
                intermediate_size=4 * cfg.n_embd,
                dropout=cfg.dropout,
                pad_token_id=tok.token_id("[PAD]") or 0,
            )
        )

    @classmethod
    def from_checkpoint(
        cls,
        folder: str | Path,
        out_dir: str | Path | None = None,
        corpus: Corpus | str | Path | None = None,
        **changes: Any,
    ) -> Trainer:
        """Continue a run saved with its training state; `changes` edit settings (e.g. steps).

        Without changes the run continues the same loss curve as if it had never stopped.
        """
        folder = Path(folder)
        state = load_state(folder)
        config = TrainConfig.from_dict(state["config"]).replace(**changes)
        model, tokenizer = checkpoint.load(folder)
        if corpus is None:
            corpus = cls._saved_data(folder, state["corpus"], config.seed)
        return cls(
            config,
            corpus,
            folder if out_dir is None else out_dir,
            tokenizer=tokenizer,
            model=model,
            state=state,
        )

    @classmethod
    def _saved_data(cls, folder: Path, saved: dict[str, Any], seed: int) -> Any:
        """The data a run was saved with, from the checkpoint alone (or a built-in one by name)."""
        return _saved_corpus(folder, saved["name"], seed)

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
        self.before = _baseline_from(state.get("before"))
        self._gen.set_state(state["rng"]["batches"])
        torch.set_rng_state(state["rng"]["torch"])
        if self.device.type == "cuda" and state["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        if state["corpus"]["sha256"] != self.corpus.sha256:
            self._notes = (
                f"the corpus {self.corpus.name} differs from the one this run "
                "started with; the loss curve will not continue exactly",
            )
        if self.step >= self.config.steps:
            self.status = "finished"

    # ---- control, from any thread -------------------------------------------------------------
    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def step_once(self) -> None:
        """While paused: run one more step, then stay paused."""
        with self._cond:
            self._paused = True
            self._single += 1
            self._cond.notify_all()

    def stop(self) -> None:
        """Finish the current step, write a checkpoint and end the iteration."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    @property
    def elapsed_s(self) -> float:
        """Seconds spent training, across resumes; pauses do not count."""
        return self._elapsed

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def done(self) -> bool:
        return self.status in ("finished", "stopped", "failed")

    # ---- the loop -----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[TrainingReport]:
        announced = False  # one "paused" report per pause, then wait quietly
        while not self.done:
            action = self._next_action(announced)
            if action == "stop":
                yield self._finish_stop()
                return
            if action == "announce":
                announced = True
                yield self._report(events=("paused",), status="paused")
            elif action == "step":
                announced = False
                yield self.advance()

    def _next_action(self, announced: bool) -> str:
        with self._cond:
            if self._stop:  # stop wins over pause, so a paused run can be stopped
                return "stop"
            if self._paused and not self._single:
                if not announced:
                    return "announce"
                self._cond.wait(timeout=0.5)  # woken by resume, step_once or stop
                return "wait"
            if self._single:
                self._single -= 1
            return "step"

    def advance(self) -> TrainingReport:
        """One optimizer step, plus whatever is due on it (validation, sample, probe, checkpoint)."""
        if self.done:
            raise ModelError(f"the run is {self.status}; start a new one or resume a checkpoint")
        cfg = self.config
        extras: dict[str, Any] = {}
        if cfg.base_model and self.before is None and self.rank == 0:
            extras["before"] = self.before = self.measure_base()
        t0 = time.perf_counter()
        lr = self.optimizer.param_groups[0]["lr"]
        x, y = self._batch(self._gen)
        try:
            with self._autocast():
                loss = self._loss(self._net, x, y)
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
                extras["val_loss"] = self.evaluate()
                extras.update(self._validation_extras())
                self.val_losses.append((self.step, extras["val_loss"]))
            if cfg.sample_every and _due(self.step, cfg.sample_every, last):
                extras["sample"] = self.sample()
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
        end = time.perf_counter()
        dt = end - t0
        self._elapsed += dt
        # rates are wall-clock: the time between steps (a GUI's event loop, a caller's own work)
        # is part of what a step costs; a long gap is a pause, and pauses do not count
        gap = t0 - self._last_end if self._last_end is not None else 0.0
        wall = dt + (gap if gap < PAUSE_GAP_S else 0.0)
        self._last_end = end
        n, s = self._session
        self._session = (n + 1, s + wall)
        rate = cfg.batch_size * cfg.context * self.world / max(wall, 1e-9)
        self._tok_rate = rate if self._tok_rate == 0 else 0.9 * self._tok_rate + 0.1 * rate
        return self._report(loss=value, lr=lr, events=tuple(events), status=status, **extras)

    # ---- pieces of a step ---------------------------------------------------------------------
    def _batch(self, gen: torch.Generator, data: torch.Tensor | None = None):
        cfg = self.config
        data = self.train_ids if data is None else data
        if self._masker is not None:
            x, y = self._masker.batch(data, cfg.batch_size, cfg.context, gen)
        else:
            x, y = gpt_batch(data, cfg.batch_size, cfg.context, gen)
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def _validation_extras(self) -> dict[str, Any]:
        """What a validation step reports besides the loss (a classifier adds its scores)."""
        return {}

    def measure_base(self) -> Baseline:
        """The model before fine-tuning: validation loss, and a sample from the run's prompt
        and seed (the run's samples use the same, so the two read side by side)."""
        return Baseline(val_loss=self.evaluate(), sample=self.sample() if self.config.arch == "gpt" else None)

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

    def _loss(self, net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = net(x).logits  # [B, T, vocab]
        return F.cross_entropy(logits.flatten(0, 1).float(), y.flatten(), ignore_index=-100)

    def _autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def evaluate(self, model: torch.nn.Module | None = None) -> float:
        """Mean loss on the same held-out batches every time, so the curve is comparable.

        `model` (default: the one being trained) may be any module whose output has `.logits`,
        e.g. a reference model a benchmark compares on the very same batches.
        """
        model = self.model if model is None else model
        gen = torch.Generator().manual_seed(self.config.seed + 10_000)
        model.eval()
        total = 0.0
        with torch.inference_mode(), self._autocast():
            for _ in range(self.config.eval_batches):
                x, y = self._batch(gen, self.val_ids)
                total += float(self._loss(model, x, y))
        model.train()
        return total / self.config.eval_batches

    def sample(self) -> str:
        """A generated continuation (GPT) or a fill-mask line for the probe text (BERT)."""
        self.model.eval()
        try:
            if self.config.arch == "gpt":
                steps = generate(
                    self.model,
                    self.tokenizer,
                    self.sample_prompt,
                    max_new_tokens=self.config.sample_tokens,
                    temperature=0.8,
                    seed=self.config.seed,
                    alternatives=1,
                )
                return self.sample_prompt + "".join(s.text for s in steps)
            return self._fill_mask_line()
        finally:
            self.model.train()

    def _fill_mask_line(self) -> str:
        tokens = self.tokenizer.encode(self.probe_text)
        inner = min(len(tokens), self.config.context) - 2
        if inner < 1:
            return ""
        texts = tokens.texts[: inner + 2]
        # mask a whole word near the middle (a "##" piece is a poor question), else the middle
        words = [i for i in range(1, inner + 1) if texts[i].isalpha() and not texts[i + 1].startswith("##")]
        position = min(words or [1 + inner // 2], key=lambda i: abs(i - (1 + inner // 2)))
        result = fill_mask(self.model, self.tokenizer, self.probe_text, k=3, mask_positions=[position])
        fill = result.fills[0]
        shown = " ".join(result.tokens.texts[1 : inner + 1])
        guesses = ", ".join(f"{t} {p:.2f}" for t, p in zip(fill.top_texts, fill.top_probs, strict=True))
        return f"{shown} → {guesses} (was '{texts[position]}')"

    def probe(self):
        """Attention and predictions of the fixed probe text (models.inspect.analysis.probe)."""
        self.model.eval()
        try:
            return probe(self.model, self.tokenizer, self.probe_text)
        finally:
            self.model.train()

    # ---- checkpoints --------------------------------------------------------------------------
    def save(self, folder: str | Path | None = None, final: bool = False) -> Path:
        """Write a checkpoint folder (model, tokenizer, training state), atomically as a whole.

        A final folder without training state drops an older state file and corpus copy.
        """
        target = Path(folder) if folder is not None else self.out_dir
        if target is None:
            raise ModelError("no output folder was given for the checkpoint")
        keep_state = self.config.keep_training_state or not final
        extra = {CONFIG_FILE: lambda p: p.write_text(_json(self.config.to_dict()))}
        if keep_state:
            state = self.training_state()
            extra[STATE_FILE] = lambda p: torch.save(state, p)
            if self.corpus.task is None and self.corpus.name not in BUILTIN_CORPORA:
                extra[self.data_file] = self._corpus_writer(target)  # built-in ones are made by name
        checkpoint.save(self.model, self.tokenizer, target, extra_files=extra)
        self.last_checkpoint = target
        return target

    def _corpus_writer(self, target: Path) -> Writer:
        """A user's corpus is written once per folder; later checkpoints link the same file."""
        stored = target / self.data_file
        try:
            unchanged = hashlib.sha256(stored.read_bytes()).hexdigest() == self.corpus.sha256
        except OSError:
            unchanged = False
        if unchanged:
            return lambda p: link_or_copy(stored, p)
        return lambda p: p.write_text(self.corpus.text, encoding="utf-8")

    def training_state(self) -> dict[str, Any]:
        """Only tensors and plain values, so it loads with torch.load(weights_only=True)."""
        cuda = torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None
        return {
            "format": _FORMAT,
            "step": self.step,
            "config": self.config.to_dict(),
            # labelled examples and pairs also keep their count: a built-in task is made again by it
            "corpus": {"name": self.corpus.name, "sha256": self.corpus.sha256}
            | ({"examples": len(self.corpus)} if isinstance(self.corpus, Sized) else {}),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "batches": self._gen.get_state(), "cuda": cuda},
            "losses": list(self.losses),
            "lrs": list(self.lrs),
            "val_losses": [list(v) for v in self.val_losses],
            "head_scores": [[s, v] for s, v in self.head_score_history],
            "elapsed_s": self._elapsed,
            "before": _plain_baseline(self.before),
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
        n, s = self._session
        eta = (self.config.steps - self.step) * (s / n) if n else float("nan")
        fields.setdefault("loss", self.losses[-1] if self.losses else float("nan"))
        fields.setdefault("lr", self.optimizer.param_groups[0]["lr"])
        return TrainingReport(
            step=self.step,
            max_steps=self.config.steps,
            tokens_per_s=self._tok_rate,
            elapsed_s=self._elapsed,
            eta_s=eta,
            **fields,
        )


def load_state(folder: str | Path) -> dict[str, Any]:
    """The training state of a checkpoint folder; plain tensors and values only."""
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        raise ModelError(
            f"{folder}: no {STATE_FILE} — this checkpoint was saved without its "
            "training state, so it cannot be resumed (it can still be opened)"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelError(
            f"{path}: refused or corrupt training state "
            f"({str(e).splitlines()[0] if str(e) else type(e).__name__})"
        ) from e
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise ModelError(f"{path}: not a training state this version understands")
    return state


def _saved_corpus(folder: Path, name: str, seed: int) -> Corpus:
    """The corpus a run was saved with, from the checkpoint alone (or a built-in one by name)."""
    if (folder / CORPUS_FILE).is_file():
        return Corpus(name, read_text(folder / CORPUS_FILE))
    if name.startswith("task:") or name in BUILTIN_CORPORA:
        return load_corpus(name, seed=seed)
    raise ModelError(
        f"{folder}: this checkpoint does not carry its corpus ({name}); name the corpus to resume"
    )


def _plain_baseline(before: Baseline | None) -> dict[str, Any] | None:
    """A fine-tune's baseline as plain values, so a resumed run keeps it (and does not measure
    the half-trained model as "before"). A classifier's keeps its scores, not its examples."""
    if before is None:
        return None
    d: dict[str, Any] = {"val_loss": before.val_loss, "sample": before.sample}
    if before.classes is not None:
        c = before.classes
        d["classes"] = {"labels": list(c.labels), "accuracy": c.accuracy, "loss": c.loss,
                        "confusion": c.confusion.tolist()}  # fmt: skip
    return d


def _baseline_from(d: dict[str, Any] | None) -> Baseline | None:
    if not d:
        return None
    classes = None
    if d.get("classes"):
        import numpy as np

        from models.results import ClassEval

        c, empty = d["classes"], np.zeros(0, np.int64)
        classes = ClassEval(
            tuple(c["labels"]), float(c["accuracy"]), float(c["loss"]), np.asarray(c["confusion"], np.int64),
            (), empty, empty, np.zeros(0, np.float32),
        )  # fmt: skip
    return Baseline(val_loss=float(d["val_loss"]), sample=d.get("sample"), classes=classes)


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


def make_trainer(config: TrainConfig, corpus: Any, out_dir: str | Path | None = None) -> Trainer:
    """The trainer a run's settings need: the encoder–decoder's for arch "seq2seq", else this one."""
    if config.arch == "seq2seq":
        from models.training.seq2seq_trainer import Seq2SeqTrainer

        return Seq2SeqTrainer(config, corpus, out_dir)
    return Trainer(config, corpus, out_dir)


def resume_trainer(folder: str | Path, out_dir: str | Path | None = None, corpus: Any = None, **changes: Any):
    """Continue a saved run with the trainer it was made by (language model, classifier or
    encoder–decoder), read from its training state."""
    config = load_state(folder)["config"]
    if config.get("arch") == "seq2seq":
        from models.training.seq2seq_trainer import Seq2SeqTrainer as cls
    elif config.get("task") == "classify":
        from models.training.classify import ClassifierTrainer as cls
    else:
        cls = Trainer
    return cls.from_checkpoint(folder, out_dir=out_dir, corpus=corpus, **changes)
