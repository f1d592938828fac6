"""Choosing the next token, and what the views show of its distribution (top-k, entropy).

Tensors are used through their methods only, so importing this module (the GUI does, for
SamplingSettings) does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from models.errors import ModelError

if TYPE_CHECKING:
    import torch

    from models.text.tokenizer import Tokenizer


@dataclass(frozen=True)
class SamplingSettings:
    max_new_tokens: int = 200
    temperature: float = 0.8  # 0 means greedy
    top_k: int = 0  # sample among the k most likely tokens; 0 = all
    top_p: float = 1.0  # nucleus: the smallest set whose probability reaches p; 1 = all
    seed: int | None = None  # same seed, same text; None = a fresh draw each time
    stop: tuple[str, ...] = ()  # generation ends once the output contains one of these
    alternatives: int = 10  # how many top alternatives each step reports
    attention: bool = False  # report each step's attention row for every layer and head
    chat: bool = False  # wrap the prompt in the model's chat template (instruct models)

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ModelError(f"max new tokens must be at least 1 (got {self.max_new_tokens})")
        if self.temperature < 0:
            raise ModelError(f"temperature must be 0 (greedy) or more (got {self.temperature})")
        if self.top_k < 0:
            raise ModelError(f"top-k must be 0 (off) or more (got {self.top_k})")
        if not 0.0 < self.top_p <= 1.0:
            raise ModelError(f"top-p must be in (0, 1] (got {self.top_p})")
        if self.alternatives < 0:
            raise ModelError(f"alternatives must be 0 or more (got {self.alternatives})")


def choose(
    logits: torch.Tensor, s: SamplingSettings, gen: torch.Generator | None
) -> tuple[int, torch.Tensor]:
    """Pick the next token from [vocab] logits; return it and the distribution the views show."""
    if s.temperature == 0:
        return int(logits.argmax()), logits.softmax(-1)
    scaled = logits / s.temperature
    shown = scaled.softmax(-1)
    if s.top_k:
        kth = scaled.topk(min(s.top_k, scaled.numel())).values[-1]
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    if s.top_p < 1.0:
        sorted_logits, order = scaled.sort(descending=True)
        probs = sorted_logits.softmax(-1)
        drop = probs.cumsum(-1) - probs >= s.top_p  # keep the token that crosses p
        scaled = scaled.scatter(0, order[drop], float("-inf"))
    token = scaled.softmax(-1).multinomial(1, generator=gen)
    return int(token), shown


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Entropy in nats over the last dimension (0 log 0 counts as 0)."""
    return -(probs * probs.clamp_min(1e-30).log()).sum(-1)


def top_k(probs: torch.Tensor, k: int, tokenizer: Tokenizer):
    """Top-k ids (int64), probabilities (float32) and texts along the last dimension."""
    k = min(k, probs.shape[-1])
    if k == 0:
        rows = probs.shape[:-1].numel()
        return (
            np.zeros((*probs.shape[:-1], 0), np.int64),
            np.zeros((*probs.shape[:-1], 0), np.float32),
            [()] * max(rows, 1),
        )
    p, i = probs.topk(k, dim=-1)
    ids = i.cpu().numpy()
    texts = [tuple(tokenizer.token_text(t) for t in row) for row in ids.reshape(-1, k)]
    return ids, p.float().cpu().numpy(), texts
