"""Grokking: (a + b) mod p learned from a fraction of the pairs, full-batch, with strong weight decay;
every validation scores all pairs and Nanda et al. 2023's progress measures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from models.errors import ModelError
from models.nn import Model
from models.results import GrokkingEval
from models.text.modadd import LOOK_FOR, ModularData, modadd_tokenizer
from models.text.tokenizer import Tokenizer
from models.training.objectives.base import Objective, evaluated
from models.training.objectives.text import new_gpt
from models.training.settings import TrainConfig

KEY_FREQUENCIES = 5  # how many of the embedding's strongest frequencies the progress measures keep


class ModularAddition(Objective):
    """Each sequence is "a+b=" and the loss is the answer's at "=" (the only token that is not
    given). A batch is every training pair when the batch size allows it (full batch, as the
    papers train), else a random draw of them."""

    data_file = "modadd.json"  # (never written: the pairs are made again from the settings)
    look_for = LOOK_FOR

    def __init__(self, config: TrainConfig, data: Any, tokenizer: Tokenizer | None) -> None:
        super().__init__(config, data, tokenizer)
        self.data = data if isinstance(data, ModularData) else ModularData(
            config.modulus, config.train_fraction, config.seed
        )  # fmt: skip
        p = self.data.modulus
        self.tokenizer = tokenizer or modadd_tokenizer(p)
        if self.tokenizer.token_id("=") is None or self.tokenizer.token_id(str(p - 1)) is None:
            raise ModelError(f"this tokenizer has no token for each residue mod {p} and for '+' and '='")
        if config.context < 5:
            raise ModelError(f"a+b=c is 5 tokens: the context must be at least 5 (got {config.context})")
        digits = [self.tokenizer.token_id(str(r)) for r in range(p)]
        self.residue_ids = torch.tensor(digits)  # token id of each residue
        pairs = torch.from_numpy(self.data.pairs)
        plus, equals = self.tokenizer.token_id("+"), self.tokenizer.token_id("=")
        column = torch.full((len(pairs), 1), 0, dtype=torch.long)
        self.inputs = torch.cat(  # [p², 4]: a + b =
            [self.residue_ids[pairs[:, :1]], column + plus, self.residue_ids[pairs[:, 1:]], column + equals],
            1,
        )
        self.answers = torch.from_numpy(self.data.answers)  # [p²]: the residue c
        self.train = torch.from_numpy(self.data.train_mask)
        held = self.data.held_out()
        self.probe_text = config.probe_text or self.data.line(held)
        self.sample_prompt = self.data.line(held).split("=")[0] + "="

    def describe(self) -> str:
        n = int(self.train.sum())
        total = len(self.train)
        return f"{n} of {total} pairs mod {self.data.modulus} to learn from, {total - n} held out"

    def model(self, given: Model | None, resuming: bool = False) -> Model:
        return given if given is not None else new_gpt(self.config, self.tokenizer)

    # ---- a step -------------------------------------------------------------------------------
    def batch(self, gen: torch.Generator, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.train.nonzero()[:, 0]
        if self.config.batch_size < len(rows):
            rows = rows[torch.randperm(len(rows), generator=gen)[: self.config.batch_size]]
        return self.inputs[rows].to(device), self.answers[rows].to(device)

    def loss(self, net: torch.nn.Module, model: Model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self._answer_logits(net(x).logits[:, -1]), y)

    def _answer_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """The logits of the residues alone (the answer is one of them), [N, p]."""
        return logits[:, self.residue_ids.to(logits.device)].float()

    # ---- what a validation step measures ------------------------------------------------------
    def evaluate(self, model: Model, device: torch.device, autocast) -> tuple[float, dict[str, Any]]:
        """Loss and accuracy on the training and the held-out pairs, and the progress measures."""
        with evaluated(model), torch.inference_mode(), autocast:
            logits = self._answer_logits(model(self.inputs.to(device)).logits[:, -1]).cpu()
            spectrum = embedding_spectrum(model, self.residue_ids.to(device))
            norm = float(torch.sqrt(sum((w.float() ** 2).sum() for w in model.parameters())))
        y, train = self.answers, self.train
        losses = F.cross_entropy(logits, y, reduction="none")
        right = (logits.argmax(-1) == y).float()
        keys = tuple(int(k) + 1 for k in np.argsort(spectrum)[::-1][:KEY_FREQUENCIES])
        restricted, excluded = key_frequency_logits(logits, self.data.modulus, keys)
        scores = GrokkingEval(
            train_loss=float(losses[train].mean()),
            train_accuracy=float(right[train].mean()),
            test_loss=float(losses[~train].mean()),
            test_accuracy=float(right[~train].mean()),
            weight_norm=norm,
            spectrum=spectrum,
            key_frequencies=keys,
            restricted_loss=float(F.cross_entropy(restricted, y)),
            excluded_loss=float(F.cross_entropy(excluded[train], y[train])),
        )
        return scores.test_loss, {"grokking": scores}

    def sample(self, model: Model, step: int) -> str:
        """A held-out pair (a different one each time) and the model's answer."""
        i = self.data.held_out(step // max(1, self.config.sample_every or 1))
        device = next(model.parameters()).device
        with evaluated(model), torch.inference_mode():
            logits = self._answer_logits(model(self.inputs[i : i + 1].to(device)).logits[:, -1])
        guess, true = int(logits.argmax()), int(self.answers[i])
        line = self.data.line(i)
        question = line.split("=")[0] + "="
        return f"{question}{guess} " + ("✓" if guess == true else f"✗ (it is {true})") + " (held out)"

    @classmethod
    def saved_data(cls, folder: Path, saved: dict[str, Any], seed: int) -> ModularData:
        return None  # made again from the checkpoint's settings (modulus, fraction, seed)


def embedding_spectrum(model: Model, residues: torch.Tensor) -> np.ndarray:
    """The share of the residues' embeddings' power at each frequency 1 … (p - 1) / 2 of a Fourier
    transform over the residues (frequencies k and p - k together; frequency 0, the mean, left
    out: the position added to every residue alike lands there)."""
    captured = []
    handle = model.embedding_output().register_forward_hook(lambda _m, _a, out: captured.append(out))
    try:
        model(residues[:, None])  # each residue alone at the first position
    finally:
        handle.remove()
    table = captured[0][:, 0].detach().float().cpu()  # [p, width]
    power = torch.fft.rfft(table, dim=0).abs().pow(2).sum(-1)[1:]  # [(p - 1) / 2]
    return (power / power.sum()).numpy().astype(np.float32)


def key_frequency_logits(
    logits: torch.Tensor, p: int, keys: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The logits of every pair [p², p] kept to, and with out, the directions cos(w(a + b − c)) and
    sin(w(a + b − c)) of the key frequencies w = 2πk/p (Nanda et al.'s restricted and excluded
    logits; these directions over all (a, b, c) are orthogonal, so the projection is a sum)."""
    a = torch.arange(p).repeat_interleave(p)[:, None]
    b = torch.arange(p).repeat(p)[:, None]
    c = torch.arange(p)[None]
    kept = torch.zeros_like(logits)
    for k in keys:
        angle = 2 * torch.pi * k * (a + b - c) / p
        for u in (torch.cos(angle), torch.sin(angle)):
            kept += (logits * u).sum() / (u * u).sum() * u
    return kept, logits - kept
