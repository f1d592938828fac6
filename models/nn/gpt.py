"""GPT: a decoder that is GPT-2 exactly (pre-LayerNorm, learned positions, tanh GELU, tied embeddings)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.capabilities import Capabilities
from models.nn.attention import (
    KVCache,
    ModelOutput,
    SelfAttention,
    check_rate,
    check_shape,
    context_positions,
    run_stack,
)
from models.nn.interface import NamedParts
from models.nn.linear import Linear


@dataclass(frozen=True)
class GPTConfig:
    """A GPT-2 shaped decoder."""

    vocab_size: int = 65  # tokens in the tokenizer
    n_positions: int = 256  # context length: size of the learned position table
    n_embd: int = 128  # width of the residual stream
    n_layer: int = 4  # transformer blocks
    n_head: int = 4  # attention heads per block; must divide n_embd
    dropout: float = 0.0  # one rate for embeddings, attention and residuals (GPT-2 uses 0.1)
    layer_norm_epsilon: float = 1e-5  # GPT-2's LayerNorm epsilon
    bos_token_id: int | None = None  # token that starts a text, if the tokenizer has one
    eos_token_id: int | None = None  # token that ends a text; generation stops on it

    label = "GPT"  # the family's name, for people
    capabilities = Capabilities(causal=True)

    def __post_init__(self) -> None:
        check_shape(self.n_embd, self.n_head, self.n_layer, self.n_positions, self.vocab_size)
        check_rate(self.dropout)

    @property
    def context(self) -> int:
        return self.n_positions

    @property
    def n_kv_head(self) -> int:
        return self.n_head

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.c_fc = Linear(cfg.n_embd, 4 * cfg.n_embd)
        self.c_proj = Linear(4 * cfg.n_embd, cfg.n_embd)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.attn = SelfAttention(cfg.n_embd, cfg.n_head, cfg.dropout, causal=True)
        self.resid_dropout = nn.Dropout(cfg.dropout)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor, cache: KVCache | None, layer: int, need_weights: bool):
        a, probs = self.attn(self.ln_1(x), cache, layer, need_weights=need_weights)
        x = x + self.resid_dropout(a)
        x = x + self.mlp(self.ln_2(x))
        return x, probs


class GPT(NamedParts, nn.Module):
    """Module names are GPT-2's, so checkpoints map one to one (Conv1D weights are transposed)."""

    BLOCKS, HEAD_PROJECTION, EMBEDDING = "transformer.h", "attn.c_proj", "transformer.drop"
    NEURON_PROJECTION = "mlp.c_proj"
    FINAL_NORM, OUTPUT_HEAD = "transformer.ln_f", "lm_head"

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.config = cfg
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(cfg.vocab_size, cfg.n_embd),
                wpe=nn.Embedding(cfg.n_positions, cfg.n_embd),
                drop=nn.Dropout(cfg.dropout),
                h=nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer)),
                ln_f=nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon),
            )
        )
        self.lm_head = Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied, as in GPT-2
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # GPT-2: scale residual projections by depth
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def tie_weights(self) -> None:
        """The output head is the token embedding (again, after loading replaced either)."""
        self.lm_head.weight = self.transformer.wte.weight

    def block_attention(self, layer: int, hidden: torch.Tensor) -> torch.Tensor:
        block = self.transformer.h[layer]
        return block.attn(block.ln_1(hidden), None, layer, need_weights=True)[1]

    def run_from(self, layer: int, hidden: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        x = hidden
        for i in range(layer, self.config.n_layer):
            x, _ = self.transformer.h[i](x, None, i, False)
        return self.lm_head(self.transformer.ln_f(x[:, -1:] if last_only else x))

    def forward(
        self,
        input_ids: torch.Tensor,
        cache: KVCache | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        last_only: bool = False,
    ) -> ModelOutput:
        pos = context_positions(cache, input_ids.shape[1], self.config.n_positions, input_ids.device)
        tr = self.transformer
        x = tr.drop(tr.wte(input_ids) + tr.wpe(pos))  # [B, T, C]
        return run_stack(
            x, tr.h, lambda block, x, i: block(x, cache, i, output_attentions), tr.ln_f, self.lm_head,
            cache, output_attentions, output_hidden_states, last_only,
        )  # fmt: skip
