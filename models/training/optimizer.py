"""The optimizer of a run: AdamW with decay on 2-D weights, warmup then cosine decay, frozen early blocks."""

from __future__ import annotations

import math
from typing import Any

import torch

from models.nn import Model
from models.training.settings import TrainConfig


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
