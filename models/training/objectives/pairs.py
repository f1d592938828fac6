"""Training the encoder–decoder on source → target pairs, teacher-forced; greedy translations as its score."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from models.errors import ModelError
from models.inspect.translate import EOS, encode_source, translate
from models.nn import Model
from models.nn.seq2seq import Seq2Seq, Seq2SeqConfig
from models.results import TranslationEval
from models.text.pairs import ARROW, Pairs, load_pairs, pair_problem, pair_task, read_pairs
from models.text.tokenizer import Tokenizer
from models.training.batches import pad_rows
from models.training.objectives.base import Objective, evaluated
from models.training.run_state import load_state
from models.training.settings import TrainConfig

DATA_FILE = "pairs.tsv"  # a user's pairs, kept with the run so resuming reads nothing else
PAD = "<pad>"
SHOWN = 12  # held-out translations a validation step reports


class Translation(Objective):
    """Batches of (source, [start] + target) → target + </s>, teacher-forced; validation adds token
    accuracy and the share of held-out sources whose greedy translation is exact."""

    data_file = DATA_FILE

    def __init__(self, config: TrainConfig, data: Pairs | str | Path, tokenizer: Tokenizer | None) -> None:
        super().__init__(config, data, tokenizer)
        self.data = pairs = data if isinstance(data, Pairs) else load_pairs(data, seed=config.seed)
        self.tokenizer = tokenizer or Tokenizer.train(
            [*pairs.sources, *pairs.targets], "char", specials=(PAD, EOS)
        )
        self.train_pairs, self.val_pairs = pairs.split(config.val_fraction, config.seed)
        self.train_rows, cut_train = self._encode(self.train_pairs)
        self.val_rows, cut_val = self._encode(self.val_pairs)
        # the probe pair, read teacher-forced: its cross-attention forms as the model learns (a source
        # alone would be read with each step's own translation, and the snapshots would not line up)
        if config.probe_text and (problem := pair_problem(config.probe_text)):
            raise ModelError(problem)
        self.probe_text = (
            config.probe_text or f"{self.val_pairs.sources[0]}{ARROW}{self.val_pairs.targets[0]}"
        )
        self.sample_prompt = ""
        cut = cut_train + cut_val
        self.notes = (
            (f"{cut} of {len(pairs)} pairs are longer than the context ({config.context} tokens) "
             "and were truncated",) if cut else ()
        )  # fmt: skip
        self.last_eval: TranslationEval | None = None

    def _encode(self, pairs: Pairs) -> tuple[list[tuple[list[int], list[int]]], int]:
        rows, cut = [], 0
        for source, target in zip(pairs.sources, pairs.targets, strict=True):
            src, src_cut = encode_source(self.tokenizer, source, self.config.context)
            tgt, tgt_cut = encode_source(self.tokenizer, target, self.config.context)
            rows.append((src, tgt))
            cut += src_cut or tgt_cut
        return rows, cut

    def describe(self) -> str:
        return f"{len(self.train_rows)} pairs to learn from, {len(self.val_rows)} held out"

    def model(self, given: Model | None, resuming: bool = False) -> Model:
        cfg, tok = self.config, self.tokenizer
        pad = tok.token_id(PAD) or 0
        model = given or Seq2Seq(
            Seq2SeqConfig(
                vocab_size=tok.vocab_size, d_model=cfg.n_embd, encoder_layers=cfg.n_layer,
                decoder_layers=cfg.n_layer, encoder_attention_heads=cfg.n_head,
                decoder_attention_heads=cfg.n_head, encoder_ffn_dim=4 * cfg.n_embd,
                decoder_ffn_dim=4 * cfg.n_embd, max_position_embeddings=cfg.context, activation="relu",
                dropout=cfg.dropout, pad_token_id=pad, decoder_start_token_id=pad,
                eos_token_id=tok.token_id(EOS) or 0,
            )
        )  # fmt: skip
        self.start = model.config.decoder_start_token_id  # what the decoder reads first
        return model

    # ---- a step -----------------------------------------------------------------------------------
    def tensors(self, rows: list[tuple[list[int], list[int]]], start: int, device: torch.device):
        """(source, its mask, the decoder's inputs), and the targets (-100 where padded)."""
        pad = self.tokenizer.token_id(PAD) or 0
        src, mask = pad_rows([s for s, _ in rows], pad, device)
        dec, _ = pad_rows([[start, *t[:-1]] for _, t in rows], pad, device)  # teacher forcing
        labels, keep = pad_rows([t for _, t in rows], pad, device)
        return (src, mask, dec), labels.masked_fill(keep == 0, -100)

    def batch(self, gen: torch.Generator, device: torch.device):
        pick = torch.randint(len(self.train_rows), (self.config.batch_size,), generator=gen)
        return self.tensors([self.train_rows[i] for i in pick.tolist()], self.start, device)

    def tokens(self, x) -> int:
        src, _, dec = x
        return int(src.numel() + dec.numel())  # the encoder's and the decoder's

    def loss(self, net: torch.nn.Module, model: Model, x, y: torch.Tensor) -> torch.Tensor:
        src, mask, dec = x
        logits = model(src, dec, attention_mask=mask).logits  # [B, T, vocab]
        return F.cross_entropy(
            logits.flatten(0, 1).float(), y.flatten(), ignore_index=-100,
            label_smoothing=self.config.label_smoothing if model.training else 0.0,
        )  # fmt: skip

    # ---- validation ---------------------------------------------------------------------------------
    def evaluate(self, model: Model, device: torch.device, autocast) -> tuple[float, dict[str, Any]]:
        """Teacher-forced loss and token accuracy over every held-out pair, and the share of
        sources whose greedy translation is exact; the scores are kept in `last_eval`."""
        total = tokens = right = 0.0
        size = max(self.config.batch_size, 64)
        start = model.config.decoder_start_token_id
        with evaluated(model):
            with torch.inference_mode(), autocast:
                for first in range(0, len(self.val_rows), size):
                    (src, mask, dec), labels = self.tensors(
                        self.val_rows[first : first + size], start, device
                    )
                    logits = model(src, dec, attention_mask=mask).logits.float()
                    scored = labels != -100
                    total += float(F.cross_entropy(logits[scored], labels[scored], reduction="sum"))
                    right += float((logits.argmax(-1)[scored] == labels[scored]).sum())
                    tokens += float(scored.sum())
            outputs = []
            for first in range(0, len(self.val_pairs), size):
                outputs += translate(
                    model, self.tokenizer, list(self.val_pairs.sources[first : first + size])
                )
        exact = sum(o == t for o, t in zip(outputs, self.val_pairs.targets, strict=True)) / len(outputs)
        firsts = (self.val_pairs.sources[:SHOWN], outputs[:SHOWN], self.val_pairs.targets[:SHOWN])
        shown = tuple(zip(*firsts, strict=True))
        self.last_eval = TranslationEval(total / tokens, right / tokens, exact, shown)
        return self.last_eval.loss, {"translations": self.last_eval}

    def sample(self, model: Model, step: int) -> str:
        """One held-out source, its greedy translation and the target."""
        i = (step // max(1, self.config.sample_every or 1)) % len(self.val_pairs)
        with evaluated(model):
            out = translate(model, self.tokenizer, [self.val_pairs.sources[i]])[0]
        return f"{self.val_pairs.sources[i]} → {out} (target: {self.val_pairs.targets[i]})"

    # ---- keeping the data with the run ----------------------------------------------------------
    @classmethod
    def saved_data(cls, folder: Path, saved: dict[str, Any], seed: int) -> Pairs:
        if saved["name"].startswith("task:"):
            return pair_task(saved["name"], int(saved["examples"]), seed)
        if (folder / DATA_FILE).is_file():
            return read_pairs(folder / DATA_FILE)
        raise ModelError(f"{folder}: this checkpoint does not carry its pairs")


def held_out_source(folder: str | Path) -> str:
    """The first held-out source of the run a checkpoint folder was saved by ("" when the folder
    keeps no training state or no pairs): the text to show a trained encoder–decoder with first."""
    folder = Path(folder)
    try:
        state = load_state(folder)
        config = TrainConfig.from_dict(state["config"])
        pairs = Translation.saved_data(folder, state["corpus"], config.seed)
    except (ModelError, KeyError):
        return ""
    return pairs.split(config.val_fraction, config.seed)[1].sources[0]
