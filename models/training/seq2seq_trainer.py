"""Training the encoder–decoder: the Trainer's loop on source → target pairs, teacher-forced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from models.errors import ModelError
from models.inspect.translate import EOS, encode_source, translate
from models.nn import Model
from models.results import TranslationEval
from models.text.pairs import ARROW, Pairs, load_pairs, pair_problem, pair_task, read_pairs
from models.text.tokenizer import Tokenizer
from models.training.batches import pad_rows
from models.training.settings import TrainConfig
from models.training.trainer import Trainer

DATA_FILE = "pairs.tsv"  # a user's pairs, kept with the run so resuming reads nothing else
PAD = "<pad>"
SHOWN = 12  # held-out translations a validation step reports


class Seq2SeqTrainer(Trainer):
    """Batches of (source, [start] + target) → target + </s>; validation adds token accuracy and
    exact greedy translations of the held-out sources. Pause, stop, checkpoints, resume: the Trainer's."""

    data_file = DATA_FILE

    def __init__(
        self,
        config: TrainConfig,
        corpus: Pairs | str | Path,
        out_dir: str | Path | None = None,
        *,
        tokenizer: Tokenizer | None = None,
        model: Model | None = None,
        state: dict[str, Any] | None = None,
    ) -> None:
        if config.arch != "seq2seq":
            raise ModelError("a Seq2SeqTrainer needs arch='seq2seq'")
        self.last_eval: TranslationEval | None = None
        super().__init__(config, corpus, out_dir, tokenizer=tokenizer, model=model, state=state)

    def _setup_data(self, corpus: Pairs | str | Path, tokenizer: Tokenizer | None) -> None:  # type: ignore[override]
        cfg = self.config
        self.corpus = corpus if isinstance(corpus, Pairs) else load_pairs(corpus, seed=cfg.seed)
        texts = [*self.corpus.sources, *self.corpus.targets]
        self.tokenizer = tokenizer or Tokenizer.train(texts, "char", specials=(PAD, EOS))
        self.train_pairs, self.val_pairs = self.corpus.split(cfg.val_fraction, cfg.seed)
        self.train_rows, cut_train = self._encode(self.train_pairs)
        self.val_rows, cut_val = self._encode(self.val_pairs)
        # the probe pair, read teacher-forced: its cross-attention forms as the model learns (a source
        # alone would be read with each step's own translation, and the snapshots would not line up)
        if cfg.probe_text and (problem := pair_problem(cfg.probe_text)):
            raise ModelError(problem)
        self.probe_text = cfg.probe_text or f"{self.val_pairs.sources[0]}{ARROW}{self.val_pairs.targets[0]}"
        self.sample_prompt = ""
        cut = cut_train + cut_val
        self.data_notes = (
            (f"{cut} of {len(self.corpus)} pairs are longer than the context ({cfg.context} tokens) "
             "and were truncated",) if cut else ()
        )  # fmt: skip

    def _encode(self, pairs: Pairs) -> tuple[list[tuple[list[int], list[int]]], int]:
        rows, cut = [], 0
        for source, target in zip(pairs.sources, pairs.targets, strict=True):
            src, src_cut = encode_source(self.tokenizer, source, self.config.context)
            tgt, tgt_cut = encode_source(self.tokenizer, target, self.config.context)
            rows.append((src, tgt))
            cut += src_cut or tgt_cut
        return rows, cut

    def describe_data(self) -> str:
        return f"{len(self.train_rows)} pairs to learn from, {len(self.val_rows)} held out"

    # ---- a step -----------------------------------------------------------------------------------
    def _tensors(self, rows: list[tuple[list[int], list[int]]]):
        pad = self.tokenizer.token_id(PAD) or 0
        start = self.model.config.decoder_start_token_id
        src, mask = pad_rows([s for s, _ in rows], pad, self.device)
        dec, _ = pad_rows([[start, *t[:-1]] for _, t in rows], pad, self.device)  # teacher forcing
        labels, keep = pad_rows([t for _, t in rows], pad, self.device)
        return (src, mask, dec), labels.masked_fill(keep == 0, -100)

    def _batch(self, gen: torch.Generator, data: torch.Tensor | None = None):
        pick = torch.randint(len(self.train_rows), (self.config.batch_size,), generator=gen)
        return self._tensors([self.train_rows[i] for i in pick.tolist()])

    def _loss(self, net: torch.nn.Module, x, y: torch.Tensor) -> torch.Tensor:
        src, mask, dec = x
        logits = self.model(src, dec, attention_mask=mask).logits  # [B, T, vocab]
        return F.cross_entropy(
            logits.flatten(0, 1).float(), y.flatten(), ignore_index=-100,
            label_smoothing=self.config.label_smoothing if self.model.training else 0.0,
        )  # fmt: skip

    # ---- validation ---------------------------------------------------------------------------------
    def evaluate(self, model: torch.nn.Module | None = None) -> float:
        """Teacher-forced loss and token accuracy over every held-out pair, and the share of
        sources whose greedy translation is exact; the scores are kept in `last_eval`."""
        model = self.model if model is None else model
        model.eval()
        total = tokens = right = 0.0
        size = max(self.config.batch_size, 64)
        with torch.inference_mode(), self._autocast():
            for start in range(0, len(self.val_rows), size):
                (src, mask, dec), labels = self._tensors(self.val_rows[start : start + size])
                logits = model(src, dec, attention_mask=mask).logits.float()
                scored = labels != -100
                total += float(F.cross_entropy(logits[scored], labels[scored], reduction="sum"))
                right += float((logits.argmax(-1)[scored] == labels[scored]).sum())
                tokens += float(scored.sum())
        outputs = []
        for start in range(0, len(self.val_pairs), size):
            outputs += translate(model, self.tokenizer, list(self.val_pairs.sources[start : start + size]))
        model.train()
        exact = sum(o == t for o, t in zip(outputs, self.val_pairs.targets, strict=True)) / len(outputs)
        firsts = (self.val_pairs.sources[:SHOWN], outputs[:SHOWN], self.val_pairs.targets[:SHOWN])
        shown = tuple(zip(*firsts, strict=True))
        self.last_eval = TranslationEval(total / tokens, right / tokens, exact, shown)
        return self.last_eval.loss

    def _validation_extras(self) -> dict[str, Any]:
        return {"translations": self.last_eval}

    def sample(self) -> str:
        """One held-out source, its greedy translation and the target."""
        i = (self.step // max(1, self.config.sample_every or 1)) % len(self.val_pairs)
        self.model.eval()
        try:
            out = translate(self.model, self.tokenizer, [self.val_pairs.sources[i]])[0]
        finally:
            self.model.train()
        return f"{self.val_pairs.sources[i]} → {out} (target: {self.val_pairs.targets[i]})"

    # ---- keeping the data with the run ----------------------------------------------------------
    @classmethod
    def _saved_data(cls, folder: Path, saved: dict[str, Any], seed: int) -> Pairs:
        if saved["name"].startswith("task:"):
            return pair_task(saved["name"], int(saved["examples"]), seed)
        if (folder / DATA_FILE).is_file():
            return read_pairs(folder / DATA_FILE)
        raise ModelError(f"{folder}: this checkpoint does not carry its pairs")


def held_out_source(folder: str | Path) -> str:
    """The first held-out source of the run a checkpoint folder was saved by ("" when the folder
    keeps no training state or no pairs): the text to show a trained encoder–decoder with first."""
    from models.training.trainer import load_state

    folder = Path(folder)
    try:
        state = load_state(folder)
        config = TrainConfig.from_dict(state["config"])
        pairs = Seq2SeqTrainer._saved_data(folder, state["corpus"], config.seed)
    except (ModelError, KeyError):
        return ""
    return pairs.split(config.val_fraction, config.seed)[1].sources[0]
