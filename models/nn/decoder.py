"""Rotary decoders: Llama, Qwen2/3, Mistral, GPT-NeoX, Gemma 2/3, Phi-3, OLMo 2 and SmolLM3 as one
decoder with a few switches.

Each family is exactly its `transformers` class (…ForCausalLM): rotary positions (with Llama 3's
and linear `rope_scaling`), grouped-query attention, RMSNorm or LayerNorm, SwiGLU or GELU, tied
or untied output head, and the switches below. Module names follow Llama's (and Gemma's and
OLMo's for their extra norms), so those folders map one to one; GPT-NeoX's and Phi-3's fused
projections are split on load and fused again on save.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.capabilities import Capabilities
from models.errors import ModelError
from models.nn.attention import KVCache, ModelOutput, check_shape, context_positions, run_stack
from models.nn.interface import NamedParts
from models.nn.linear import Linear

# the families by their `model_type`, and their names for people
FAMILIES = {
    "llama": "Llama",
    "qwen2": "Qwen2",
    "qwen3": "Qwen3",
    "mistral": "Mistral",
    "gpt_neox": "GPT-NeoX",
    "gemma2": "Gemma 2",
    "gemma3_text": "Gemma 3",
    "phi3": "Phi-3",
    "olmo2": "OLMo 2",
    "smollm3": "SmolLM3",
}
NORM_LAYOUTS = ("pre", "sandwich", "post")


@dataclass(frozen=True)
class DecoderConfig:
    """A rotary decoder. `family` names the `transformers` class it is; the switches say how it
    differs from Llama."""

    family: str = "llama"
    vocab_size: int = 32000
    hidden_size: int = 512  # width of the residual stream
    intermediate_size: int = 1376  # width of the feed-forward layer
    num_hidden_layers: int = 4
    num_attention_heads: int = 8  # query heads
    num_key_value_heads: int = 8  # key/value heads: fewer than query heads = grouped-query attention
    head_dim: int = 0  # 0: hidden_size // num_attention_heads (Qwen3 and Mistral may set their own)
    max_position_embeddings: int = 2048
    norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: tuple[
        tuple[str, float | str], ...
    ] = ()  # e.g. (("rope_type", "llama3"), ("factor", 8.0), …)
    rotary_fraction: float = 1.0  # share of each head's dimensions that rotate (GPT-NeoX: 0.25)
    tie_word_embeddings: bool = False
    qkv_bias: bool = False  # biases on the query, key and value projections (Qwen2: yes)
    o_bias: bool = False  # bias on the output projection (GPT-NeoX, Llama's attention_bias)
    mlp_bias: bool = False
    qk_norm: bool = False  # RMSNorm on each head's queries and keys (Qwen3, Gemma 3)
    qk_norm_full: bool = False  # … over all heads' queries (and keys) at once instead (OLMo 2)
    norm_plus_one: bool = False  # RMSNorm scales by (1 + weight): Gemma stores offsets from one
    # norms before attention and MLP ("pre": Llama), before and after ("sandwich": Gemma), after ("post")
    norms: str = "pre"
    embed_scale: bool = False  # embeddings × √width (Gemma)
    attn_scalar: float = 0.0  # scores × attn_scalar^-½ (Gemma's query_pre_attn_scalar); 0: the head size
    attn_softcap: float = 0.0  # scores = cap · tanh(scores / cap) (Gemma 2); 0: none
    final_softcap: float = 0.0  # the same on the logits (Gemma 2)
    local_layers: tuple[int, ...] = ()  # the layers the sliding window applies to; (): every layer
    local_rope_theta: float = 0.0  # the local layers' own rotary base, unscaled (Gemma 3); 0: the same
    nope_layers: tuple[int, ...] = ()  # layers without rotary positions (SmolLM3)
    layer_norm: bool = False  # LayerNorm with bias instead of RMSNorm (GPT-NeoX)
    gated_mlp: bool = True  # SwiGLU (down(act(gate) * up)); False: down(act(up)) (GPT-NeoX)
    hidden_act: str = "silu"
    parallel_residual: bool = False  # attention and MLP both read the block's input (GPT-NeoX)
    sliding_window: int = 0  # keys further back than this are not seen (Mistral); 0 = none
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    pad_token_id: int | None = None
    stop_token_ids: tuple[int, ...] = ()  # every token that ends a reply (Llama 3's <|eot_id|>…)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ModelError(f"unknown decoder family '{self.family}' (supported: {', '.join(FAMILIES)})")
        check_shape(
            self.head_size * self.num_attention_heads, self.num_attention_heads, self.num_hidden_layers,
            self.max_position_embeddings, self.vocab_size,
        )  # fmt: skip
        if self.num_attention_heads % self.num_key_value_heads:
            raise ModelError(
                f"key/value heads ({self.num_key_value_heads}) must divide the query heads "
                f"({self.num_attention_heads})"
            )
        if self.norms not in NORM_LAYOUTS:
            raise ModelError(f"norm layout '{self.norms}' is not one of {', '.join(NORM_LAYOUTS)}")
        if self.hidden_act not in ACTIVATIONS:
            raise ModelError(f"activation '{self.hidden_act}' is not supported ({', '.join(ACTIVATIONS)})")

    @property
    def head_size(self) -> int:
        return self.head_dim or self.hidden_size // self.num_attention_heads

    @property
    def label(self) -> str:
        return FAMILIES[self.family]

    def windowed(self, layer: int) -> bool:
        """Whether `layer` sees only the last `sliding_window` keys."""
        return self.sliding_window > 0 and (not self.local_layers or layer in self.local_layers)

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            causal=True,
            grouped_kv=self.num_key_value_heads < self.num_attention_heads,
            local_window=self.sliding_window > 0,
        )

    @property
    def n_kv_head(self) -> int:
        return self.num_key_value_heads

    # the names the rest of the engine reads (GPT-2's)
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
    def n_positions(self) -> int:
        return self.max_position_embeddings

    @property
    def context(self) -> int:
        return self.max_position_embeddings


ACTIVATIONS = {
    "silu": F.silu,
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
}


class RMSNorm(nn.Module):
    """x / rms(x) × weight, computed in float32 as `transformers` does; `plus_one`: × (1 + weight),
    in float32 before the cast back (Gemma's order)."""

    def __init__(self, size: int, eps: float, plus_one: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(size) if plus_one else torch.ones(size))
        self.eps, self.plus_one = eps, plus_one

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        if self.plus_one:
            return (x * (1.0 + self.weight.float())).to(dtype)
        return self.weight * x.to(dtype)


def _norm(cfg: DecoderConfig, size: int) -> nn.Module:
    if cfg.layer_norm:
        return nn.LayerNorm(size, eps=cfg.norm_eps)
    return RMSNorm(size, cfg.norm_eps, cfg.norm_plus_one)


def _softcap(x: torch.Tensor, cap: float) -> torch.Tensor:
    return torch.tanh(x / cap) * cap if cap else x


class ScaledEmbedding(nn.Embedding):
    """Token embeddings × a constant (Gemma's √width), rounded to the weights' type as Gemma does."""

    def __init__(self, vocab: int, width: int, scale: float) -> None:
        super().__init__(vocab, width)
        self.scale = scale

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = super().forward(ids)
        return x if self.scale == 1.0 else x * torch.tensor(self.scale, dtype=x.dtype)


class SoftCappedLinear(Linear):
    """An output head whose logits are soft-capped, cap · tanh(logits / cap) (Gemma 2); `cap` goes
    with it when it is quantized (models.nn.quantized)."""

    def __init__(self, width: int, vocab: int, cap: float) -> None:
        super().__init__(width, vocab, bias=False)
        self.cap = cap

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _softcap(super().forward(x), self.cap)


class Rotary(nn.Module):
    """cos/sin tables of rotary position embeddings (non-interleaved halves, as `transformers`);
    `local`: the local layers' tables (their own base, unscaled) where the config gives them one."""

    def __init__(self, cfg: DecoderConfig, local: bool = False) -> None:
        super().__init__()
        self.dims = int(cfg.head_size * cfg.rotary_fraction)
        theta, scaling = (cfg.local_rope_theta, {}) if local else (cfg.rope_theta, dict(cfg.rope_scaling))
        inv_freq = 1.0 / (theta ** (torch.arange(0, self.dims, 2, dtype=torch.float32) / self.dims))
        self.register_buffer("inv_freq", _scaled(inv_freq, scaling), persistent=False)

    def forward(self, positions: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """(cos, signed sin) [T, dims]: the sin's first half negated, as `_rotate` takes it."""
        freqs = positions.float()[:, None] * self.inv_freq.float()[None, :]  # [T, dims / 2]
        angles = torch.cat((freqs, freqs), dim=-1)  # [T, dims]
        sin = angles.sin()
        half = sin.shape[-1] // 2
        return angles.cos().to(dtype), torch.cat((-sin[:, :half], sin[:, half:]), dim=-1).to(dtype)


def _scaled(inv_freq: torch.Tensor, scaling: dict) -> torch.Tensor:
    """The `rope_scaling` variants small models' configs use: linear and Llama 3's."""
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind == "default":
        return inv_freq
    if kind == "linear":
        return inv_freq / float(scaling["factor"])
    if kind == "llama3":
        factor, low, high = (float(scaling[k]) for k in ("factor", "low_freq_factor", "high_freq_factor"))
        old = float(scaling["original_max_position_embeddings"])
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > old / low, inv_freq / factor, inv_freq)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= old / high) & (wavelen <= old / low)
        return torch.where(medium, smoothed, scaled)
    raise ModelError(f"rope_scaling type '{kind}' is not supported (default, linear, llama3)")


def _rotate(x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
    """Rotate the first cos.shape[-1] dimensions of x [B, H, T, D]; the rest pass through.

    `transformers`' x·cos + cat(-x₂, x₁)·sin, as x·cos + roll(x)·(-sin₁, sin₂): the same numbers
    in four operations where the halves took eight (74 -> 26 µs a call, two per layer and token)."""
    dims = cos.shape[-1]
    if dims == x.shape[-1]:
        return x * cos + x.roll(dims // 2, dims=-1) * signed_sin
    turn = x[..., :dims]
    return torch.cat((turn * cos + turn.roll(dims // 2, dims=-1) * signed_sin, x[..., dims:]), dim=-1)


class Attention(nn.Module):
    """Grouped-query attention with rotary positions. Query heads h·G … h·G+G-1 share key/value
    head h (G = query heads per key/value head). Attentions come back for every query head."""

    def __init__(self, cfg: DecoderConfig, layer: int) -> None:
        super().__init__()
        H, KV, D, C = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_size, cfg.hidden_size
        self.heads, self.kv_heads, self.size = H, KV, D
        self.window = cfg.sliding_window if cfg.windowed(layer) else 0
        self.scale = (cfg.attn_scalar or D) ** -0.5
        self.softcap = cfg.attn_softcap
        self.rotary = None if layer in cfg.nope_layers else int(self.window > 0 and cfg.local_rope_theta > 0)
        self.q_proj = Linear(C, H * D, bias=cfg.qkv_bias)
        self.k_proj = Linear(C, KV * D, bias=cfg.qkv_bias)
        self.v_proj = Linear(C, KV * D, bias=cfg.qkv_bias)
        self.o_proj = Linear(H * D, C, bias=cfg.o_bias)
        self.full_qk_norm = cfg.qk_norm_full
        q_size, k_size = (H * D, KV * D) if cfg.qk_norm_full else (D, D)
        normed = cfg.qk_norm or cfg.qk_norm_full
        self.q_norm = RMSNorm(q_size, cfg.norm_eps, cfg.norm_plus_one) if normed else None
        self.k_norm = RMSNorm(k_size, cfg.norm_eps, cfg.norm_plus_one) if normed else None

    def forward(self, x, rotary, cache: KVCache | None, layer: int, need_weights: bool):
        B, T, _ = x.shape
        q, k = self.q_proj(x), self.k_proj(x)
        if self.full_qk_norm:  # OLMo 2: before the heads are split
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.view(B, T, self.heads, self.size), k.view(B, T, self.kv_heads, self.size)
        v = self.v_proj(x).view(B, T, self.kv_heads, self.size).transpose(1, 2)
        if self.q_norm is not None and not self.full_qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)  # [B, h, T, D]
        if self.rotary is not None:  # SmolLM3's position-free layers have none
            cos, sin = rotary[self.rotary]
            q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
        past = 0
        if cache is not None:
            past = cache.length
            k, v = cache.update(layer, k, v)  # [B, KV, S, D]
        groups = self.heads // self.kv_heads
        mask = self._mask(T, past, x.device)
        if not need_weights and not self.softcap:  # SDPA reads each group's key/value head itself
            plain = mask is None or (self.window == 0 and past == 0)
            gqa = {"enable_gqa": True} if groups > 1 else {}
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=None if plain else mask, is_causal=plain and T > 1, scale=self.scale,
                **gqa,
            )  # fmt: skip
            probs = None
        else:
            if groups > 1:  # every query head reads its group's key/value head
                k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
            # the scale goes on the queries (T × D numbers), not on the scores (T × T: at 2,048
            # tokens a pass over every head's scores per layer cost a probe 1.1 s)
            scores = _softcap(((q * self.scale) @ k.transpose(-2, -1)).float(), self.softcap)
            if mask is not None:
                scores.masked_fill_(~mask, float("-inf"))
            probs = torch.softmax(scores, dim=-1)
            y = probs.to(v.dtype) @ v
            probs = probs if need_weights else None
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.heads * self.size)), probs

    def _mask(self, T: int, past: int, device) -> torch.Tensor | None:
        """bool [T, S], True = may attend: causal, and within the sliding window if there is one."""
        if T == 1 and (not self.window or past < self.window):
            return None
        rows = torch.arange(T, device=device)[:, None] + past
        cols = torch.arange(past + T, device=device)[None, :]
        mask = cols <= rows
        if self.window:
            mask &= cols > rows - self.window
        return mask


class MLP(nn.Module):
    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        C, I = cfg.hidden_size, cfg.intermediate_size  # noqa: E741 (the paper's letter)
        self.gate_proj = Linear(C, I, bias=cfg.mlp_bias) if cfg.gated_mlp else None
        self.up_proj = Linear(C, I, bias=cfg.mlp_bias)
        self.down_proj = Linear(I, C, bias=cfg.mlp_bias)
        self.act = ACTIVATIONS[cfg.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate_proj is None:
            return self.down_proj(self.act(self.up_proj(x)))
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    """Attention then MLP, each added to the residual stream, with the config's norm layout. Norms
    keep `transformers`' names: in the "pre" layout `post_attention_layernorm` is the MLP's input
    norm (Llama's name); in the others it norms the attention's output."""

    def __init__(self, cfg: DecoderConfig, layer: int) -> None:
        super().__init__()
        C, self.layout = cfg.hidden_size, cfg.norms
        if cfg.norms != "post":
            self.input_layernorm = _norm(cfg, C)
        self.self_attn = Attention(cfg, layer)
        self.post_attention_layernorm = _norm(cfg, C)
        if cfg.norms == "sandwich":
            self.pre_feedforward_layernorm = _norm(cfg, C)
        if cfg.norms != "pre":
            self.post_feedforward_layernorm = _norm(cfg, C)
        self.mlp = MLP(cfg)
        self.parallel = cfg.parallel_residual

    def forward(self, x, rotary, cache, layer: int, need_weights: bool):
        attn_in = x if self.layout == "post" else self.input_layernorm(x)
        a, probs = self.self_attn(attn_in, rotary, cache, layer, need_weights)
        if self.layout == "pre":
            if self.parallel:  # both read the block's input
                return x + a + self.mlp(self.post_attention_layernorm(x)), probs
            x = x + a
            return x + self.mlp(self.post_attention_layernorm(x)), probs
        x = x + self.post_attention_layernorm(a)
        m = self.mlp(self.pre_feedforward_layernorm(x) if self.layout == "sandwich" else x)
        return x + self.post_feedforward_layernorm(m), probs


class Body(nn.Module):
    """Llama's `model.`: embeddings, blocks, final norm (named so the weights map one to one)."""

    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        scale = math.sqrt(cfg.hidden_size) if cfg.embed_scale else 1.0
        self.embed_tokens = ScaledEmbedding(cfg.vocab_size, cfg.hidden_size, scale)
        self.layers = nn.ModuleList(Block(cfg, i) for i in range(cfg.num_hidden_layers))
        self.norm = _norm(cfg, cfg.hidden_size)
        self.rotary = Rotary(cfg)
        self.local_rotary = Rotary(cfg, local=True) if cfg.local_rope_theta else None

    def tables(self, positions: torch.Tensor, dtype: torch.dtype) -> tuple:
        """(global, local) cos/sin tables for these positions; an attention layer picks its own."""
        tables = self.rotary(positions, dtype)
        return tables, self.local_rotary(positions, dtype) if self.local_rotary is not None else tables


class Decoder(NamedParts, nn.Module):
    BLOCKS, HEAD_PROJECTION, EMBEDDING = "model.layers", "self_attn.o_proj", "model.embed_tokens"
    FINAL_NORM, OUTPUT_HEAD = "model.norm", "lm_head"

    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.config = cfg
        self.model = Body(cfg)
        self.lm_head = SoftCappedLinear(cfg.hidden_size, cfg.vocab_size, cfg.final_softcap)
        self.tie_weights()

    def neuron_projection(self, layer: int) -> nn.Linear | None:
        if self.config.norms != "pre":  # the MLP's output is normed before it joins the stream
            return None
        return self.model.layers[layer].mlp.down_proj

    def attention_window(self, layer: int) -> int:
        return self.config.sliding_window if self.config.windowed(layer) else 0

    def tie_weights(self) -> None:
        """A tied output head is the token embedding (again, after loading replaced either)."""
        if self.config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def block_attention(self, layer: int, hidden: torch.Tensor) -> torch.Tensor:
        body, block = self.model, self.model.layers[layer]
        rotary = body.tables(torch.arange(hidden.shape[1], device=hidden.device), hidden.dtype)
        x = hidden if block.layout == "post" else block.input_layernorm(hidden)
        return block.self_attn(x, rotary, None, layer, True)[1]

    def run_from(self, layer: int, hidden: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        body, x = self.model, hidden
        rotary = body.tables(torch.arange(x.shape[1], device=x.device), x.dtype)
        for i in range(layer, self.config.num_hidden_layers):
            x, _ = body.layers[i](x, rotary, None, i, False)
        return self.lm_head(body.norm(x[:, -1:] if last_only else x))

    def forward(
        self,
        input_ids: torch.Tensor,
        cache: KVCache | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        last_only: bool = False,
    ) -> ModelOutput:
        pos = context_positions(
            cache, input_ids.shape[1], self.config.max_position_embeddings, input_ids.device
        )
        body = self.model
        x = body.embed_tokens(input_ids)  # [B, T, C]
        rotary = body.tables(pos, x.dtype)
        return run_stack(
            x, body.layers, lambda block, x, i: block(x, rotary, cache, i, output_attentions), body.norm,
            self.lm_head, cache, output_attentions, output_hidden_states, last_only,
        )  # fmt: skip
