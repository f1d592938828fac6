"""The original Transformer, encoder and decoder: `transformers`' MarianMTModel exactly (static sinusoidal
positions, embeddings scaled by √d_model, post-LayerNorm, a shared tied embedding, a final logits bias)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.capabilities import Capabilities
from models.errors import ModelError
from models.inspect.positions import sinusoidal
from models.nn.attention import KVCache, check_rate, check_shape

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "silu": F.silu, "swish": F.silu}


@dataclass(frozen=True)
class Seq2SeqConfig:
    """An encoder–decoder translator (Marian's settings and names)."""

    vocab_size: int = 1000  # one vocabulary for source and target (shared embedding)
    d_model: int = 128  # width of both residual streams
    encoder_layers: int = 2
    decoder_layers: int = 2
    encoder_attention_heads: int = 4
    decoder_attention_heads: int = 4
    encoder_ffn_dim: int = 512
    decoder_ffn_dim: int = 512
    max_position_embeddings: int = 128  # rows of the sinusoidal table: the longest source or target
    activation: str = "relu"  # the article's ReLU; Marian's checkpoints use "swish" (SiLU), "gelu" too
    dropout: float = 0.0  # on embeddings and residual branches
    attention_dropout: float = 0.0  # on attention weights
    activation_dropout: float = 0.0  # after the feed-forward activation
    scale_embedding: bool = True  # multiply token embeddings by √d_model, as the article does
    pad_token_id: int = 0
    eos_token_id: int = 0
    decoder_start_token_id: int = 0  # the first decoder input (Marian starts from the pad token)

    label = "encoder–decoder"  # the family's name, for people
    capabilities = Capabilities(encoder_decoder=True)

    def __post_init__(self) -> None:
        for heads, layers in (
            (self.encoder_attention_heads, self.encoder_layers),
            (self.decoder_attention_heads, self.decoder_layers),
        ):
            check_shape(self.d_model, heads, layers, self.max_position_embeddings, self.vocab_size)
        for rate in (self.dropout, self.attention_dropout, self.activation_dropout):
            check_rate(rate)
        if self.activation not in ACTIVATIONS:
            raise ModelError(f"activation '{self.activation}' is not supported ({', '.join(ACTIVATIONS)})")

    @property
    def context(self) -> int:
        return self.max_position_embeddings

    @property
    def n_layer(self) -> int:
        return self.decoder_layers

    @property
    def n_head(self) -> int:
        return self.decoder_attention_heads

    @property
    def n_embd(self) -> int:
        return self.d_model

    @property
    def n_kv_head(self) -> int:
        return self.decoder_attention_heads

    @property
    def head_size(self) -> int:
        return self.d_model // self.decoder_attention_heads


def sinusoidal_table(positions: int, dim: int) -> torch.Tensor:
    """[positions, dim]: the article's PE(pos, 2i) = sin(pos / 10000^(2i/d)) and PE(pos, 2i+1) = cos(…),
    laid out as Marian lays it out: every sine first, then every cosine (not interleaved)."""
    return torch.from_numpy(sinusoidal(positions, dim, "marian")).float()


@dataclass
class Seq2SeqOutput:
    logits: torch.Tensor | None  # [B, T, vocab] ([B, 1, vocab]: the last position; None: head=False)
    encoder_attentions: tuple[torch.Tensor, ...] | None = None  # per layer [B, heads, S, S]
    decoder_attentions: tuple[torch.Tensor, ...] | None = None  # per layer [B, heads, T, T'] (causal)
    cross_attentions: tuple[torch.Tensor, ...] | None = None  # per layer [B, heads, T, S]
    encoder_hidden: torch.Tensor | None = None  # [B, S, C]: what the decoder reads
    decoder_hidden: torch.Tensor | None = None  # [B, T, C]: the decoder's last layer (head=False)


class Seq2SeqCache:
    """The decoder's own keys and values (written in place), and each layer's keys and values of
    the source, computed once from the encoder's output."""

    def __init__(self, cfg: Seq2SeqConfig, batch: int, max_len: int, device, dtype) -> None:
        heads = cfg.decoder_attention_heads
        self.self_kv = KVCache(cfg.decoder_layers, batch, heads, max_len, cfg.d_model // heads, device, dtype)
        self.cross_kv: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * cfg.decoder_layers

    @property
    def length(self) -> int:
        return self.self_kv.length


class Attention(nn.Module):
    """Multi-head attention with Marian's separate projections: self-attention (causal or not) or,
    given `memory`, cross-attention to it. SDPA unless the weights are wanted."""

    def __init__(self, width: int, heads: int, dropout: float, causal: bool = False) -> None:
        super().__init__()
        self.heads, self.dropout, self.causal = heads, dropout, causal
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        return x.view(B, T, self.heads, C // self.heads).transpose(1, 2)  # [B, H, T, D]

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        key_keep: torch.Tensor | None = None,  # [B, S] 1 = a real key, 0 = padding
        cache: Seq2SeqCache | None = None,
        layer: int = 0,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T, C = x.shape
        q = self._split(self.q_proj(x))
        past = 0
        if memory is not None:  # cross-attention: the source's keys and values, once per run
            kv = cache.cross_kv[layer] if cache is not None else None
            if kv is None:
                kv = (self._split(self.k_proj(memory)), self._split(self.v_proj(memory)))
                if cache is not None:
                    cache.cross_kv[layer] = kv
            k, v = kv
        else:
            k, v = self._split(self.k_proj(x)), self._split(self.v_proj(x))
            if cache is not None:
                past = cache.self_kv.length
                k, v = cache.self_kv.update(layer, k, v)  # [B, H, S, D] with S = past + T
        mask = None
        if self.causal and T > 1:  # query i (absolute position past + i) sees keys up to it
            rows = torch.arange(T, device=x.device)[:, None] + past
            mask = torch.arange(k.shape[2], device=x.device)[None, :] <= rows  # [T, S]
        if key_keep is not None:
            keep = key_keep.bool()[:, None, None, :]  # [B, 1, 1, S]
            mask = keep if mask is None else mask & keep
        p_drop = self.dropout if self.training else 0.0
        if need_weights:
            scores = (q @ k.transpose(-2, -1)).float() / math.sqrt(C // self.heads)  # [B, H, T, S]
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            probs = torch.softmax(scores, dim=-1)
            y = F.dropout(probs, p_drop, self.training).to(v.dtype) @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p_drop)
            probs = None
        return self.out_proj(y.transpose(1, 2).reshape(B, T, C)), probs


class Layer(nn.Module):
    """The feed-forward half every layer has (Marian's names: fc1, fc2, final_layer_norm)."""

    def __init__(self, cfg: Seq2SeqConfig, hidden: int) -> None:
        super().__init__()
        C = cfg.d_model
        self.fc1 = nn.Linear(C, hidden)
        self.fc2 = nn.Linear(hidden, C)
        self.final_layer_norm = nn.LayerNorm(C)
        self.act = ACTIVATIONS[cfg.activation]
        self.act_drop = nn.Dropout(cfg.activation_dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc2(self.act_drop(self.act(self.fc1(x))))
        return self.final_layer_norm(x + self.drop(y))  # post-LayerNorm, as the article draws it


class EncoderLayer(Layer):
    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__(cfg, cfg.encoder_ffn_dim)
        self.self_attn = Attention(cfg.d_model, cfg.encoder_attention_heads, cfg.attention_dropout)
        self.self_attn_layer_norm = nn.LayerNorm(cfg.d_model)

    def forward(self, x, keep, need_weights):
        a, probs = self.self_attn(x, key_keep=keep, need_weights=need_weights)
        x = self.self_attn_layer_norm(x + self.drop(a))
        return self.feed_forward(x), probs


class DecoderLayer(Layer):
    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__(cfg, cfg.decoder_ffn_dim)
        C, H = cfg.d_model, cfg.decoder_attention_heads
        self.self_attn = Attention(C, H, cfg.attention_dropout, causal=True)
        self.self_attn_layer_norm = nn.LayerNorm(C)
        self.encoder_attn = Attention(C, H, cfg.attention_dropout)
        self.encoder_attn_layer_norm = nn.LayerNorm(C)

    def forward(self, x, memory, memory_keep, keep, cache, layer, need_weights):
        a, self_probs = self.self_attn(x, key_keep=keep, cache=cache, layer=layer, need_weights=need_weights)
        x = self.self_attn_layer_norm(x + self.drop(a))
        a, cross_probs = self.encoder_attn(
            x, memory, memory_keep, cache=cache, layer=layer, need_weights=need_weights
        )
        x = self.encoder_attn_layer_norm(x + self.drop(a))
        return self.feed_forward(x), self_probs, cross_probs


class Stack(nn.Module):
    """One side's layers and its (computed, never stored) sinusoidal table."""

    def __init__(self, cfg: Seq2SeqConfig, layer: type[nn.Module], count: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layer(cfg) for _ in range(count))
        self.register_buffer(
            "positions", sinusoidal_table(cfg.max_position_embeddings, cfg.d_model), persistent=False
        )


class Body(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.shared = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=cfg.pad_token_id)
        self.encoder = Stack(cfg, EncoderLayer, cfg.encoder_layers)
        self.decoder = Stack(cfg, DecoderLayer, cfg.decoder_layers)


class Seq2Seq(nn.Module):
    """Encoder, decoder and the tied output head with Marian's final logits bias."""

    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = cfg
        self.model = Body(cfg)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.register_buffer("final_logits_bias", torch.zeros(1, cfg.vocab_size))
        self.drop = nn.Dropout(cfg.dropout)
        self.embed_scale = math.sqrt(cfg.d_model) if cfg.scale_embedding else 1.0
        self.apply(self._init_weights)
        self.tie_weights()

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def tie_weights(self) -> None:
        """One embedding for source, target and the output head (again, after loading replaced one)."""
        self.lm_head.weight = self.model.shared.weight

    # ---- the model interface (models.nn.interface.Model): the decoder's side ------------------
    @property
    def capabilities(self) -> Capabilities:
        return self.config.capabilities

    def blocks(self) -> nn.ModuleList:
        return self.model.decoder.layers

    def head_projection(self, layer: int) -> nn.Linear:
        return self.model.decoder.layers[layer].self_attn.out_proj

    def embedding_output(self) -> nn.Module:
        return self.drop  # (the source's embedding passes it too)

    def attention_window(self, layer: int) -> int:
        return 0

    def neuron_projection(self, layer: int) -> nn.Linear | None:
        return None  # (neurons are read in one stack of a decoder alone)

    def final_norm(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden  # post-norm: every layer ends normed

    def block_attention(self, layer: int, hidden: torch.Tensor) -> torch.Tensor:
        raise ModelError("an encoder–decoder's probe keeps every attention: its texts are short")

    def run_from(self, layer: int, hidden: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        raise ModelError("an encoder–decoder's decoder reads its source at every layer: run it whole")

    def logits_from(self, hidden: torch.Tensor, last: bool) -> torch.Tensor:
        return self.lm_head(hidden) + self.final_logits_bias

    def _embed(self, ids: torch.Tensor, table: torch.Tensor, start: int = 0) -> torch.Tensor:
        T = ids.shape[1]
        if start + T > table.shape[0]:
            raise ModelError(f"sequence of {start + T} tokens exceeds the context ({table.shape[0]})")
        x = self.model.shared(ids) * self.embed_scale + table[start : start + T]
        return self.drop(x)  # [B, T, C]

    def encode(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None]:
        """The source read by the encoder [B, S, C], and its self-attentions if asked."""
        x = self._embed(input_ids, self.model.encoder.positions)
        attentions = []
        for layer in self.model.encoder.layers:
            x, probs = layer(x, attention_mask, output_attentions)
            attentions.append(probs)
        return x, tuple(attentions) if output_attentions else None

    def decode(
        self,
        decoder_input_ids: torch.Tensor,
        memory: torch.Tensor,
        memory_mask: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        cache: Seq2SeqCache | None = None,
        output_attentions: bool = False,
        last_only: bool = False,
        head: bool = True,
    ) -> Seq2SeqOutput:
        """Target logits given the encoder's output; with a cache, only the new target tokens.
        head=False: the last layer's hidden states instead, for a caller that needs the logits of a
        few positions only (a batch × positions × vocabulary tensor is what it avoids)."""
        past = cache.length if cache is not None else 0
        x = self._embed(decoder_input_ids, self.model.decoder.positions, past)
        self_att, cross_att = [], []
        for i, layer in enumerate(self.model.decoder.layers):
            x, s, c = layer(x, memory, memory_mask, decoder_attention_mask, cache, i, output_attentions)
            self_att.append(s)
            cross_att.append(c)
        if cache is not None:
            cache.self_kv.length += x.shape[1]
        if last_only:
            x = x[:, -1:]
        logits = self.logits_from(x, last_only) if head else None  # [B, T, vocab]
        return Seq2SeqOutput(
            logits,
            decoder_attentions=tuple(self_att) if output_attentions else None,
            cross_attentions=tuple(cross_att) if output_attentions else None,
            encoder_hidden=memory,
            decoder_hidden=None if head else x,
        )

    def forward(
        self,
        input_ids: torch.Tensor,
        decoder_input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> Seq2SeqOutput:
        """Teacher forcing: the source through the encoder, the whole target through the decoder."""
        memory, enc_att = self.encode(input_ids, attention_mask, output_attentions)
        out = self.decode(
            decoder_input_ids,
            memory,
            attention_mask,
            decoder_attention_mask,
            output_attentions=output_attentions,
        )
        out.encoder_attentions = enc_att
        return out

    def new_cache(self, batch: int = 1, max_len: int | None = None) -> Seq2SeqCache:
        p = self.model.shared.weight
        return Seq2SeqCache(
            self.config, batch, max_len or self.config.max_position_embeddings, p.device, p.dtype
        )
