"""Multi-head self-attention shared by GPT and BERT, with a preallocated KV cache for decoding."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.errors import ModelError
from models.nn.linear import Linear


@dataclass
class ModelOutput:
    logits: torch.Tensor  # [B, T, vocab] (or [B, 1, vocab] when only the last position is asked)
    attentions: tuple[torch.Tensor, ...] | None = None  # per layer [B, heads, T, S]
    hidden_states: tuple[torch.Tensor, ...] | None = None  # embeddings, then after each block


class KVCache:
    """Keys and values of every layer, written in place so decoding never concatenates."""

    def __init__(
        self,
        n_layer: int,
        batch: int,
        n_head: int,
        max_len: int,
        head_dim: int,
        device: torch.device | str,
        dtype: torch.dtype,
    ) -> None:
        shape = (n_layer, batch, n_head, max_len, head_dim)
        self.k = torch.empty(shape, device=device, dtype=dtype)
        self.v = torch.empty(shape, device=device, dtype=dtype)
        self.length = 0  # positions filled; the model advances it after the last layer

    @property
    def max_len(self) -> int:
        return self.k.shape[3]

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store this layer's new keys/values; return all keys/values so far ([B, H, S, D])."""
        start, end = self.length, self.length + k.shape[2]
        self.k[layer, :, :, start:end] = k
        self.v[layer, :, :, start:end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]


class SelfAttention(nn.Module):
    """Fused-QKV attention. SDPA on the fast path; explicit softmax only when weights are wanted."""

    def __init__(self, width: int, n_head: int, dropout: float, causal: bool) -> None:
        super().__init__()
        self.n_head = n_head
        self.causal = causal
        self.dropout = dropout
        self.c_attn = Linear(width, 3 * width)  # query, key, value in one matmul
        self.c_proj = Linear(width, width)

    def forward(
        self,
        x: torch.Tensor,
        cache: KVCache | None = None,
        layer: int = 0,
        key_keep: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T, C = x.shape
        H = self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, H, C // H).transpose(1, 2)  # [B, H, T, D]
        k = k.view(B, T, H, C // H).transpose(1, 2)  # [B, H, T, D]
        v = v.view(B, T, H, C // H).transpose(1, 2)  # [B, H, T, D]
        past = 0
        if cache is not None:
            past = cache.length
            k, v = cache.update(layer, k, v)  # [B, H, S, D] with S = past + T
        mask = self._mask(T, past, key_keep, x.device)  # bool [.., T, S], True = may attend
        p_drop = self.dropout if self.training else 0.0
        if not need_weights:
            is_causal = self.causal and past == 0 and T > 1 and key_keep is None
            y = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=None if is_causal else mask,
                dropout_p=p_drop,
                is_causal=is_causal,
            )
            probs = None
        else:
            # (the scale on the queries, T × D numbers, not on the T × S scores)
            scores = ((q * (1.0 / math.sqrt(C // H))) @ k.transpose(-2, -1)).float()  # [B, H, T, S]
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            probs = torch.softmax(scores, dim=-1)
            y = F.dropout(probs, p_drop, self.training).to(v.dtype) @ v  # [B, H, T, D]
        y = y.transpose(1, 2).reshape(B, T, C)  # [B, T, C]
        return self.c_proj(y), probs

    def _mask(
        self, T: int, past: int, key_keep: torch.Tensor | None, device: torch.device
    ) -> torch.Tensor | None:
        mask = None
        if self.causal and T > 1:
            # query i (absolute position past + i) sees keys 0 .. past + i
            rows = torch.arange(T, device=device)[:, None] + past
            mask = torch.arange(past + T, device=device)[None, :] <= rows  # [T, S]
        if key_keep is not None:
            keep = key_keep.bool()[:, None, None, :]  # [B, 1, 1, S]
            mask = keep if mask is None else mask & keep
        return mask


def context_positions(cache: KVCache | None, T: int, context: int, device) -> torch.Tensor:
    """Positions of T new tokens after those in the cache [T]; refuses a sequence past the context."""
    past = cache.length if cache is not None else 0
    limit = cache.max_len if cache is not None else context
    if past + T > min(limit, context):
        raise ModelError(f"sequence of {past + T} tokens exceeds the context ({limit})")
    return torch.arange(past, past + T, device=device)


def run_stack(
    x: torch.Tensor,
    blocks: nn.ModuleList,
    call,
    final_norm: nn.Module,
    head: nn.Module,
    cache: KVCache | None,
    output_attentions: bool,
    output_hidden_states: bool,
    last_only: bool,
) -> ModelOutput:
    """A decoder's stack after its embeddings: each block by `call(block, x, layer)` -> (x, probs),
    the final norm, the output head; the cache advances past the new tokens."""
    attentions, hidden = [], [x]
    for i, block in enumerate(blocks):
        x, probs = call(block, x, i)
        attentions.append(probs)
        hidden.append(x)
    x = final_norm(x)
    hidden[-1] = x  # as in transformers: the last hidden state is after the final norm
    if cache is not None:
        cache.length += x.shape[1]
    logits = head(x[:, -1:] if last_only else x)  # [B, T or 1, vocab]
    return ModelOutput(
        logits,
        tuple(attentions) if output_attentions else None,
        tuple(hidden) if output_hidden_states else None,
    )


def check_shape(width: int, heads: int, layers: int, context: int, vocab: int) -> None:
    for name, value in (
        ("width", width),
        ("heads", heads),
        ("layers", layers),
        ("context", context),
        ("vocab size", vocab),
    ):
        if int(value) < 1:
            raise ModelError(f"{name} must be at least 1 (got {value})")
    if width % heads:
        raise ModelError(f"heads ({heads}) must divide the width ({width})")


def check_rate(rate: float) -> None:
    if not 0.0 <= rate < 1.0:
        raise ModelError(f"dropout must be in [0, 1) (got {rate})")
