"""Head ablation: knock chosen attention heads out while a block of code runs the model."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch

from models.errors import ModelError
from models.nn.bert import Bert
from models.nn.gpt import GPT

MODES = ("zero", "mean")


@contextmanager
def ablated(model: GPT | Bert, heads: Iterable[tuple[int, int]], mode: str = "zero") -> Iterator[None]:
    """Within the block, each (layer, head) contributes nothing ("zero") or its mean over the
    positions of each forward pass ("mean"). The head's output is changed where the heads are
    merged, just before the layer's output projection, as TransformerLens's hook_z ablations do.
    """
    if mode not in MODES:
        raise ModelError(f"unknown ablation '{mode}' (choose from {', '.join(MODES)})")
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        _check(model, layer, head)
        by_layer.setdefault(int(layer), []).append(int(head))
    handles = [
        _attention(model, layer).c_proj.register_forward_pre_hook(_knock_out(model, chosen, mode))
        for layer, chosen in sorted(by_layer.items())
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _knock_out(model: GPT | Bert, chosen: list[int], mode: str):
    size = model.config.n_embd // model.config.n_head

    def hook(_module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        merged = args[0].clone()  # [B, T, heads × size]
        for head in chosen:
            part = merged[..., head * size : (head + 1) * size]
            if mode == "zero":
                part.zero_()
            else:
                part.copy_(part.mean(dim=1, keepdim=True).expand_as(part))
        return (merged, *args[1:])

    return hook


def _attention(model: GPT | Bert, layer: int):
    return model.transformer.h[layer].attn if model.config.arch == "gpt" else model.layers[layer].attn


def _check(model: GPT | Bert, layer: int, head: int) -> None:
    L, H = model.config.n_layer, model.config.n_head
    if not (0 <= layer < L and 0 <= head < H):
        raise ModelError(f"no head L{layer}H{head}: the model has {L} layers of {H} heads")
