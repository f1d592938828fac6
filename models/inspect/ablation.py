"""Head edits: knock attention heads out, or patch them from another run, while a block runs the model.

Every edit acts where a layer's heads are merged, just before its output projection, as
TransformerLens's hook_z edits do. A batched edit gives each batch row its own heads, so a sweep
over every head is one forward pass per batch instead of one per head.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from models.errors import ModelError, refuse_encoder_decoder
from models.nn import Model

MODES = ("zero", "mean")


@dataclass(frozen=True)
class HeadEdit:
    """What one layer's chosen heads become: `rows` [B or 1, heads] bool picks the heads (per batch
    row, or one row for all); `source` is "zero", "mean" (over each row's positions) or a tensor
    [1, T, heads, head size] of the same heads from another run (patching)."""

    rows: torch.Tensor
    source: str | torch.Tensor


@contextmanager
def ablated(model: Model, heads: Iterable[tuple[int, int]], mode: str = "zero") -> Iterator[None]:
    """Within the block, each (layer, head) contributes nothing ("zero") or its mean over the
    positions of each forward pass ("mean")."""
    if mode not in MODES:
        raise ModelError(f"unknown ablation '{mode}' (choose from {', '.join(MODES)})")
    with edited(model, {layer: HeadEdit(rows, mode) for layer, rows in head_rows(model, [heads]).items()}):
        yield


@contextmanager
def edited(model: Model, edits: Mapping[int, HeadEdit]) -> Iterator[None]:
    """Within the block, each layer's heads change as `edits` says."""
    handles = [model.head_projection(layer).register_forward_pre_hook(_hook(model, edit))
               for layer, edit in sorted(edits.items())]  # fmt: skip
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def head_rows(model: Model, per_row: list[Iterable[tuple[int, int]]]) -> dict[int, torch.Tensor]:
    """layer -> bool [len(per_row), heads]: which heads each batch row edits (checked first)."""
    refuse_encoder_decoder(model, "Knocking heads out")
    L, H = model.config.n_layer, model.config.n_head
    rows: dict[int, torch.Tensor] = {}
    for row, heads in enumerate(per_row):
        for layer, head in heads:
            if not (0 <= layer < L and 0 <= head < H):
                raise ModelError(f"no head L{layer}H{head}: the model has {L} layers of {H} heads")
            mask = rows.setdefault(int(layer), torch.zeros(len(per_row), H, dtype=torch.bool))
            mask[row, head] = True
    device = next(model.parameters()).device
    return {layer: mask.to(device) for layer, mask in rows.items()}


def _hook(model: Model, edit: HeadEdit):
    H = model.config.n_head

    def hook(_module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        merged = args[0]  # [B, T, heads × size]
        B, T, C = merged.shape
        z = merged.view(B, T, H, C // H)
        if isinstance(edit.source, torch.Tensor):
            new = edit.source.to(z.dtype).expand_as(z)
        elif edit.source == "zero":
            new = z.new_zeros(())
        else:
            new = z.mean(dim=1, keepdim=True).expand_as(z)
        chosen = edit.rows[:, None, :, None]  # [B or 1, 1, heads, 1]
        return (torch.where(chosen, new, z).reshape(B, T, C), *args[1:])

    return hook
