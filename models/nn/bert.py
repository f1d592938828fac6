"""BERT: an encoder that is `BertForMaskedLM` exactly (post-LayerNorm, token types, tied MLM head)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.capabilities import Capabilities
from models.errors import ModelError
from models.nn.attention import ModelOutput, SelfAttention, check_rate, check_shape
from models.nn.interface import NamedParts
from models.nn.linear import Linear


@dataclass(frozen=True)
class BertConfig:
    """A BERT encoder with its masked-LM head."""

    vocab_size: int = 1000  # tokens in the tokenizer
    max_position_embeddings: int = 128  # context length: size of the learned position table
    hidden_size: int = 128  # width of the residual stream
    num_hidden_layers: int = 4  # transformer blocks
    num_attention_heads: int = 4  # heads per block; must divide hidden_size
    intermediate_size: int = 512  # width of the feed-forward layer (BERT uses 4 × hidden)
    type_vocab_size: int = 2  # segment (token type) embeddings
    dropout: float = 0.0  # one rate for embeddings, attention and residuals (BERT uses 0.1)
    layer_norm_eps: float = 1e-12  # BERT's LayerNorm epsilon
    pad_token_id: int = 0  # padding token, masked out of attention
    has_mlm_head: bool = True  # False for encoder-only checkpoints: fill-mask is unavailable
    labels: tuple[str, ...] = ()  # a sequence classifier's class names (pooler + classifier head)

    label = "BERT"  # the family's name, for people

    def __post_init__(self) -> None:
        check_shape(
            self.hidden_size,
            self.num_attention_heads,
            self.num_hidden_layers,
            self.max_position_embeddings,
            self.vocab_size,
        )
        check_rate(self.dropout)
        if len(self.labels) == 1:
            raise ModelError("a classifier needs at least two labels (got one)")

    @property
    def context(self) -> int:
        return self.max_position_embeddings

    @property
    def n_layer(self) -> int:
        return self.num_hidden_layers

    @property
    def n_head(self) -> int:
        return self.num_attention_heads

    @property
    def n_embd(self) -> int:
        return self.hidden_size

    @property
    def n_kv_head(self) -> int:
        return self.num_attention_heads

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(masked_lm=self.has_mlm_head, classifier=bool(self.labels))


class Embeddings(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.tok = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.pos = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.ln = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, ids: torch.Tensor, type_ids: torch.Tensor | None) -> torch.Tensor:
        T = ids.shape[1]
        pos = torch.arange(T, device=ids.device)  # [T]
        types = torch.zeros_like(ids) if type_ids is None else type_ids
        return self.drop(self.ln(self.tok(ids) + self.pos(pos) + self.token_type(types)))  # [B, T, C]


class Layer(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.attn = SelfAttention(cfg.hidden_size, cfg.num_attention_heads, cfg.dropout, causal=False)
        self.attn_ln = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.ffn_up = Linear(cfg.hidden_size, cfg.intermediate_size)
        self.ffn_down = Linear(cfg.intermediate_size, cfg.hidden_size)
        self.ffn_ln = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None, need_weights: bool):
        a, probs = self.attn(x, key_keep=keep, need_weights=need_weights)
        x = self.attn_ln(x + self.drop(a))  # post-LayerNorm, as in BERT
        x = self.ffn_ln(x + self.drop(self.ffn_down(F.gelu(self.ffn_up(x)))))
        return x, probs


class MLMHead(nn.Module):
    def __init__(self, cfg: BertConfig, embedding: nn.Embedding) -> None:
        super().__init__()
        self.dense = Linear(cfg.hidden_size, cfg.hidden_size)
        self.ln = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.decoder = Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.decoder.weight = embedding.weight  # tied to the input embeddings
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))  # the head's own output bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.ln(F.gelu(self.dense(x)))) + self.bias


class Pooler(nn.Module):
    """BERT's pooler: the [CLS] position through a dense layer and tanh."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(cfg.hidden_size, cfg.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(x[:, 0]))  # [B, C]


class Bert(NamedParts, nn.Module):
    BLOCKS, HEAD_PROJECTION, EMBEDDING = "layers", "attn.c_proj", "embeddings"
    FINAL_NORM, OUTPUT_HEAD = "", "head"  # post-norm: a layer's output is what the MLM head reads

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.config = cfg
        self.embeddings = Embeddings(cfg)
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg.num_hidden_layers))
        self.head = MLMHead(cfg, self.embeddings.tok) if cfg.has_mlm_head else None
        if cfg.labels:  # BertForSequenceClassification's pooler, dropout and classifier
            self.pooler = Pooler(cfg)
            self.classifier_drop = nn.Dropout(cfg.dropout)
            self.classifier = Linear(cfg.hidden_size, len(cfg.labels))
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def tie_weights(self) -> None:
        """The masked-LM decoder is the token embedding (again, after loading replaced either)."""
        if self.head is not None:
            self.head.decoder.weight = self.embeddings.tok.weight

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,  # [B, T], 1 = real token, 0 = padding
        token_type_ids: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        last_only: bool = False,
    ) -> ModelOutput:
        """Masked-LM logits [B, T, vocab] (`last_only`: the last position's, [B, 1, vocab], as a
        decoder's); an encoder-only model (no MLM head) gives its last hidden states [B, T, C]
        instead."""
        x, attentions, hidden = self._encode(input_ids, attention_mask, token_type_ids, output_attentions)
        return ModelOutput(
            self.head(x[:, -1:] if last_only else x) if self.head is not None else x,
            tuple(attentions) if output_attentions else None,
            tuple(hidden) if output_hidden_states else None,
        )

    def block_attention(self, layer: int, hidden: torch.Tensor) -> torch.Tensor:
        return self.layers[layer].attn(hidden, key_keep=None, need_weights=True)[1]  # (post-norm)

    def run_from(self, layer: int, hidden: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        x = hidden
        for block in self.layers[layer:]:
            x, _ = block(x, None, False)
        return self.head(x[:, -1:] if last_only else x)

    def classify(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> ModelOutput:
        """Class logits [B, labels] from the [CLS] position (BertForSequenceClassification)."""
        if not self.config.labels:
            raise ModelError("this BERT has no classification head: fine-tune it for classification first")
        x, attentions, _ = self._encode(input_ids, attention_mask, token_type_ids, output_attentions)
        logits = self.classifier(self.classifier_drop(self.pooler(x)))  # [B, labels]
        return ModelOutput(logits, tuple(attentions) if output_attentions else None, None)

    def _encode(self, input_ids, attention_mask, token_type_ids, output_attentions):
        if input_ids.shape[1] > self.config.max_position_embeddings:
            raise ModelError(
                f"sequence of {input_ids.shape[1]} tokens exceeds the context "
                f"({self.config.max_position_embeddings})"
            )
        x = self.embeddings(input_ids, token_type_ids)
        attentions, hidden = [], [x]
        for layer in self.layers:
            x, probs = layer(x, attention_mask, output_attentions)
            attentions.append(probs)
            hidden.append(x)
        return x, attentions, hidden
