"""What the views show of a next-token distribution: top-k with texts, and entropy."""

from __future__ import annotations

import numpy as np
import torch

from models.tokenizer import Tokenizer


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Entropy in nats over the last dimension (0 log 0 counts as 0)."""
    return -(probs * torch.log(probs.clamp_min(1e-30))).sum(-1)


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
    p, i = torch.topk(probs, k, dim=-1)
    ids = i.cpu().numpy()
    texts = [tuple(tokenizer.token_text(t) for t in row) for row in ids.reshape(-1, k)]
    return ids, p.float().cpu().numpy(), texts
