"""The model interface: what every architecture offers the inspection tools, declared and documented once.

Tools (probe, lens, knock-outs, sweeps, generation, fine-tuning) take a `Model` and ask its
`capabilities`, never its class or family name. `NamedParts` writes the interface once for every
family: a family only names where its parts are.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import nn

from models.capabilities import Capabilities
from models.errors import ModelError
from models.nn.attention import KVCache


@runtime_checkable
class Model(Protocol):
    """Every model the app opens, trains and inspects (GPT-2, BERT, the rotary decoders, the
    encoder–decoder). Its `config` is a frozen dataclass with at least `n_layer`, `n_head`,
    `n_kv_head`, `head_size`, `n_embd`, `context`, `vocab_size` and `label` (its family's name, for
    people)."""

    config: Any

    @property
    def capabilities(self) -> Capabilities:
        """What it can do: generate, fill masks, translate, classify… (`models.capabilities`)."""
        ...

    def blocks(self) -> nn.ModuleList:
        """The transformer blocks, first to last (a fine-tune freezes the early ones; an
        encoder–decoder's are its decoder's). Each returns (its output, its attention weights or
        None), so a hook can take one layer's attention as it is made."""
        ...

    def head_projection(self, layer: int) -> nn.Linear:
        """The projection whose input is block `layer`'s heads merged, [B, T, heads × head size]:
        knocking heads out and patching them hook its input (TransformerLens's hook_z)."""
        ...

    def embedding_output(self) -> nn.Module:
        """The module whose output is the embedded input: where the residual stream starts."""
        ...

    def neuron_projection(self, layer: int) -> nn.Linear | None:
        """Block `layer`'s MLP output projection, whose input is its neurons' activations and whose
        output is added to the residual stream as it is (None where a norm stands between: Gemma's
        and OLMo 2's post-norms, BERT's post-norm): a neuron's direct effect on a logit goes
        through it."""
        ...

    def final_norm(self, hidden: torch.Tensor) -> torch.Tensor:
        """A block's residual stream as the output head reads it: through the final norm (a
        post-norm model's blocks end normed, so it is returned as it is)."""
        ...

    def logits_from(self, hidden: torch.Tensor, last: bool) -> torch.Tensor:
        """Logits from a block's residual stream [B, T, C] (the logit lens): through the final
        norm and the output head; `last` says it is the final hidden state, already normed."""
        ...

    def attention_window(self, layer: int) -> int:
        """How many of the latest keys a query of block `layer` sees (its own included): a local
        layer's window (Mistral's, Gemma's local layers); 0 when it sees every earlier key."""
        ...

    def run_from(self, layer: int, hidden: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """Logits [B, T or 1, vocab] from the residual stream entering block `layer` [B, T, C]:
        the blocks from there on, the final norm and the head (a sweep that edits layer `layer`
        starts there instead of from the embeddings). Positions count from 0."""
        ...

    def block_attention(self, layer: int, hidden: torch.Tensor) -> torch.Tensor:
        """Block `layer`'s attention weights [B, heads, T, T] from the residual stream entering it
        [B, T, C] (positions from 0): the attention sublayer alone, not the MLP after it (a long
        text's one layer again, from the stream a probe kept, without running the model)."""
        ...

    def new_cache(self, batch: int = 1, max_len: int | None = None) -> Any:
        """An empty key/value cache for decoding `batch` rows of up to `max_len` tokens (a decoder's;
        an encoder alone has none)."""
        ...


class NamedParts:
    """The interface, written once from the dotted names of a family's parts (a mixin for an
    `nn.Module` with a `config`)."""

    BLOCKS: ClassVar[str]  # the ModuleList of blocks, e.g. "transformer.h"
    HEAD_PROJECTION: ClassVar[str]  # within a block, e.g. "attn.c_proj"
    NEURON_PROJECTION: ClassVar[str] = ""  # within a block, e.g. "mlp.c_proj"; "" where normed after
    EMBEDDING: ClassVar[str]  # the embedded input, e.g. "transformer.drop"
    FINAL_NORM: ClassVar[str]  # the norm before the head; "" when blocks end normed (post-norm BERT)
    OUTPUT_HEAD: ClassVar[str]  # logits from a normed stream, e.g. "lm_head"

    config: Any

    @property
    def capabilities(self) -> Capabilities:
        return self.config.capabilities

    def blocks(self) -> nn.ModuleList:
        return self.get_submodule(self.BLOCKS)

    def head_projection(self, layer: int) -> nn.Linear:
        return self.blocks()[layer].get_submodule(self.HEAD_PROJECTION)

    def embedding_output(self) -> nn.Module:
        return self.get_submodule(self.EMBEDDING)

    def neuron_projection(self, layer: int) -> nn.Linear | None:
        return self.blocks()[layer].get_submodule(self.NEURON_PROJECTION) if self.NEURON_PROJECTION else None

    def attention_window(self, layer: int) -> int:
        return 0  # (a family with local layers says otherwise)

    def final_norm(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.get_submodule(self.FINAL_NORM)(hidden) if self.FINAL_NORM else hidden

    def logits_from(self, hidden: torch.Tensor, last: bool) -> torch.Tensor:
        return self.get_submodule(self.OUTPUT_HEAD)(hidden if last else self.final_norm(hidden))

    def new_cache(self, batch: int = 1, max_len: int | None = None) -> KVCache:
        cfg = self.config
        if not cfg.capabilities.causal:
            raise ModelError(f"a {cfg.label} reads a whole text at once: it keeps no cache")
        p = next(self.parameters())  # the embedding: where and in what type the model runs
        return KVCache(
            cfg.n_layer, batch, cfg.n_kv_head, max_len or cfg.context, cfg.head_size, p.device, p.dtype
        )
