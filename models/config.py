"""Model configurations (frozen dataclasses) and their mapping to Hugging Face `config.json`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.errors import ModelError


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

    arch = "gpt"

    def __post_init__(self) -> None:
        _check_shape(self.n_embd, self.n_head, self.n_layer, self.n_positions, self.vocab_size)
        _check_rate(self.dropout)

    @property
    def context(self) -> int:
        return self.n_positions

    def to_hf(self) -> dict[str, Any]:
        return {
            "model_type": "gpt2",
            "architectures": ["GPT2LMHeadModel"],
            "vocab_size": self.vocab_size,
            "n_positions": self.n_positions,
            "n_ctx": self.n_positions,
            "n_embd": self.n_embd,
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_inner": None,
            "activation_function": "gelu_new",
            "resid_pdrop": self.dropout,
            "embd_pdrop": self.dropout,
            "attn_pdrop": self.dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "tie_word_embeddings": True,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
        }

    @classmethod
    def from_hf(cls, d: dict[str, Any]) -> GPTConfig:
        n_embd = int(d.get("n_embd", 768))
        if d.get("n_inner") not in (None, 4 * n_embd):
            raise ModelError(f"config.json: n_inner={d['n_inner']} is not 4 × n_embd; unsupported")
        act = d.get("activation_function", "gelu_new")
        if act not in ("gelu_new", "gelu_pytorch_tanh"):
            raise ModelError(f"config.json: activation_function '{act}' is not GPT-2's tanh GELU")
        return cls(
            vocab_size=int(d.get("vocab_size", 50257)),
            n_positions=int(d.get("n_positions", d.get("n_ctx", 1024))),
            n_embd=n_embd,
            n_layer=int(d.get("n_layer", 12)),
            n_head=int(d.get("n_head", 12)),
            dropout=float(d.get("resid_pdrop", 0.1)),
            layer_norm_epsilon=float(d.get("layer_norm_epsilon", 1e-5)),
            bos_token_id=_opt_int(d.get("bos_token_id")),
            eos_token_id=_opt_int(d.get("eos_token_id")),
        )


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

    arch = "bert"

    def __post_init__(self) -> None:
        _check_shape(
            self.hidden_size,
            self.num_attention_heads,
            self.num_hidden_layers,
            self.max_position_embeddings,
            self.vocab_size,
        )
        _check_rate(self.dropout)

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

    def to_hf(self) -> dict[str, Any]:
        return {
            "model_type": "bert",
            "architectures": ["BertForMaskedLM"],
            "vocab_size": self.vocab_size,
            "max_position_embeddings": self.max_position_embeddings,
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "intermediate_size": self.intermediate_size,
            "type_vocab_size": self.type_vocab_size,
            "hidden_act": "gelu",
            "hidden_dropout_prob": self.dropout,
            "attention_probs_dropout_prob": self.dropout,
            "layer_norm_eps": self.layer_norm_eps,
            "pad_token_id": self.pad_token_id,
            "position_embedding_type": "absolute",
            "tie_word_embeddings": True,
        }

    @classmethod
    def from_hf(cls, d: dict[str, Any]) -> BertConfig:
        act = d.get("hidden_act", "gelu")
        if act != "gelu":
            raise ModelError(f"config.json: hidden_act '{act}' is not supported (BERT uses 'gelu')")
        if d.get("position_embedding_type", "absolute") != "absolute":
            raise ModelError("config.json: only absolute position embeddings are supported")
        return cls(
            vocab_size=int(d.get("vocab_size", 30522)),
            max_position_embeddings=int(d.get("max_position_embeddings", 512)),
            hidden_size=int(d.get("hidden_size", 768)),
            num_hidden_layers=int(d.get("num_hidden_layers", 12)),
            num_attention_heads=int(d.get("num_attention_heads", 12)),
            intermediate_size=int(d.get("intermediate_size", 3072)),
            type_vocab_size=int(d.get("type_vocab_size", 2)),
            dropout=float(d.get("hidden_dropout_prob", 0.1)),
            layer_norm_eps=float(d.get("layer_norm_eps", 1e-12)),
            pad_token_id=int(d.get("pad_token_id") or 0),
        )


ModelConfig = GPTConfig | BertConfig


def config_from_hf(d: dict[str, Any]) -> ModelConfig:
    """Read a Hugging Face config dict; refuse model types we do not implement."""
    kind = d.get("model_type")
    if kind == "gpt2":
        return GPTConfig.from_hf(d)
    if kind in ("bert",):
        return BertConfig.from_hf(d)
    raise ModelError(f"config.json: model_type '{kind}' is not supported (supported: 'gpt2', 'bert')")


def _check_shape(width: int, heads: int, layers: int, context: int, vocab: int) -> None:
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


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate < 1.0:
        raise ModelError(f"dropout must be in [0, 1) (got {rate})")


def _opt_int(v: Any) -> int | None:
    if isinstance(v, list):  # some configs list several ids; the first is the main one
        v = v[0] if v else None
    return None if v is None else int(v)
