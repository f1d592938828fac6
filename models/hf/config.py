"""Our model configurations to and from Hugging Face `config.json` dictionaries."""

from __future__ import annotations

from typing import Any

from models.errors import ModelError
from models.nn import BertConfig, DecoderConfig, GPTConfig, ModelConfig, Seq2SeqConfig
from models.nn.decoder import FAMILIES

SUPPORTED = ("gpt2", "bert", *FAMILIES, "marian")  # the model_type values this engine opens
CLASSES = {
    "llama": "LlamaForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
    "mistral": "MistralForCausalLM",
    "gpt_neox": "GPTNeoXForCausalLM",
}


def config_to_hf(cfg: ModelConfig) -> dict[str, Any]:
    """The `config.json` that `transformers` reads for this model."""
    if isinstance(cfg, DecoderConfig):
        return _decoder_to_hf(cfg)
    if isinstance(cfg, Seq2SeqConfig):
        return _marian_to_hf(cfg)
    return _gpt_to_hf(cfg) if isinstance(cfg, GPTConfig) else _bert_to_hf(cfg)


def config_from_hf(d: dict[str, Any]) -> ModelConfig:
    """Read a Hugging Face config dict; refuse model types we do not implement."""
    kind = d.get("model_type")
    if kind == "gpt2":
        return _gpt_from_hf(d)
    if kind == "bert":
        return _bert_from_hf(d)
    if kind in FAMILIES:
        return _decoder_from_hf(kind, d)
    if kind == "marian":
        return _marian_from_hf(d)
    supported = ", ".join(f"'{k}'" for k in SUPPORTED)
    raise ModelError(f"config.json: model_type '{kind}' is not supported (supported: {supported})")


def _decoder_from_hf(family: str, d: dict[str, Any]) -> DecoderConfig:
    """Llama-family and GPT-NeoX configs, old style (rope_theta, rope_scaling, rotary_pct) or
    transformers 5's (rope_parameters)."""
    rope = _rope_kind(dict(d.get("rope_parameters") or {}))
    legacy = _rope_kind(dict(d.get("rope_scaling") or {}))
    # transformers 5's rope_parameters, unless it only says "default" where the old key says more
    source = rope if rope.get("rope_type", "default") != "default" else legacy
    scaling = {k: v for k, v in source.items() if k not in ("rope_theta", "partial_rotary_factor")}
    if scaling.get("rope_type", "default") == "default":
        scaling = {}
    heads = int(d.get("num_attention_heads", 32))
    hidden = int(d.get("hidden_size", 4096))
    common = dict(
        family=family,
        vocab_size=int(d.get("vocab_size", 32000)),
        hidden_size=hidden,
        intermediate_size=int(d.get("intermediate_size", 4 * hidden)),
        num_hidden_layers=int(d.get("num_hidden_layers", 32)),
        num_attention_heads=heads,
        max_position_embeddings=int(d.get("max_position_embeddings", 2048)),
        rope_theta=float(rope.get("rope_theta", d.get("rope_theta", d.get("rotary_emb_base", 10000.0)))),
        rope_scaling=tuple(sorted((str(k), v) for k, v in scaling.items() if v is not None)),
        tie_word_embeddings=bool(d.get("tie_word_embeddings", False)),
        hidden_act=str(d.get("hidden_act", "gelu" if family == "gpt_neox" else "silu")),
        bos_token_id=_opt_int(d.get("bos_token_id")),
        eos_token_id=_opt_int(d.get("eos_token_id")),
        stop_token_ids=tuple(int(i) for i in _ids(d.get("eos_token_id"))),
    )
    if family == "gpt_neox":
        bias = bool(d.get("attention_bias", True))
        fraction = rope.get(
            "partial_rotary_factor", d.get("partial_rotary_factor", d.get("rotary_pct", 0.25))
        )
        return DecoderConfig(
            **common, num_key_value_heads=heads, norm_eps=float(d.get("layer_norm_eps", 1e-5)),
            rotary_fraction=float(fraction), qkv_bias=bias, o_bias=bias, mlp_bias=True, layer_norm=True,
            gated_mlp=False, parallel_residual=bool(d.get("use_parallel_residual", True)),
        )  # fmt: skip
    if d.get("use_sliding_window"):
        raise ModelError(f"config.json: {family} with use_sliding_window is not supported")
    window = d.get("sliding_window", 4096) if family == "mistral" else None  # MistralConfig's default
    attention_bias = bool(d.get("attention_bias", False))
    return DecoderConfig(
        **common,
        num_key_value_heads=int(d.get("num_key_value_heads") or heads),
        head_dim=int(d.get("head_dim") or (128 if family == "qwen3" else hidden // heads)),
        norm_eps=float(d.get("rms_norm_eps", 1e-6)),
        qkv_bias=True if family == "qwen2" else attention_bias,
        o_bias=False if family in ("qwen2", "mistral") else attention_bias,
        mlp_bias=bool(d.get("mlp_bias", False)),
        qk_norm=family == "qwen3",
        sliding_window=int(window or 0),
    )


def _decoder_to_hf(cfg: DecoderConfig) -> dict[str, Any]:
    """Both spellings of the rotary settings: transformers 5's rope_parameters and the older keys."""
    scaling = dict(cfg.rope_scaling)  # read with its kind under "rope_type"
    rope = {"rope_type": "default", **scaling, "rope_theta": cfg.rope_theta}
    d: dict[str, Any] = {
        "model_type": cfg.family,
        "architectures": [CLASSES[cfg.family]],
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "max_position_embeddings": cfg.max_position_embeddings,
        "rope_theta": cfg.rope_theta,
        "rope_scaling": scaling or None,
        "rope_parameters": rope,
        "tie_word_embeddings": cfg.tie_word_embeddings,
        "hidden_act": cfg.hidden_act,
        "bos_token_id": cfg.bos_token_id,
        "eos_token_id": list(cfg.stop_token_ids) if len(cfg.stop_token_ids) > 1 else cfg.eos_token_id,
    }
    if cfg.family == "gpt_neox":
        rope["partial_rotary_factor"] = cfg.rotary_fraction
        return d | {
            "rotary_pct": cfg.rotary_fraction, "rotary_emb_base": cfg.rope_theta,
            "layer_norm_eps": cfg.norm_eps, "use_parallel_residual": cfg.parallel_residual,
            "attention_bias": cfg.qkv_bias,
        }  # fmt: skip
    d |= {
        "num_key_value_heads": cfg.num_key_value_heads,
        "head_dim": cfg.head_size,
        "rms_norm_eps": cfg.norm_eps,
        "attention_bias": cfg.o_bias if cfg.family == "llama" else cfg.qkv_bias and cfg.family != "qwen2",
        "mlp_bias": cfg.mlp_bias,
    }
    if cfg.family == "mistral":
        d["sliding_window"] = cfg.sliding_window or None
    if cfg.family in ("qwen2", "qwen3"):
        d |= {"use_sliding_window": False, "sliding_window": None}
    return d


def _gpt_to_hf(cfg: GPTConfig) -> dict[str, Any]:
    return {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "vocab_size": cfg.vocab_size,
        "n_positions": cfg.n_positions,
        "n_ctx": cfg.n_positions,
        "n_embd": cfg.n_embd,
        "n_layer": cfg.n_layer,
        "n_head": cfg.n_head,
        "n_inner": None,
        "activation_function": "gelu_new",
        "resid_pdrop": cfg.dropout,
        "embd_pdrop": cfg.dropout,
        "attn_pdrop": cfg.dropout,
        "layer_norm_epsilon": cfg.layer_norm_epsilon,
        "tie_word_embeddings": True,
        "bos_token_id": cfg.bos_token_id,
        "eos_token_id": cfg.eos_token_id,
    }


def _gpt_from_hf(d: dict[str, Any]) -> GPTConfig:
    n_embd = int(d.get("n_embd", 768))
    if d.get("n_inner") not in (None, 4 * n_embd):
        raise ModelError(f"config.json: n_inner={d['n_inner']} is not 4 × n_embd; unsupported")
    act = d.get("activation_function", "gelu_new")
    if act not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ModelError(f"config.json: activation_function '{act}' is not GPT-2's tanh GELU")
    return GPTConfig(
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


def _bert_to_hf(cfg: BertConfig) -> dict[str, Any]:
    if cfg.labels:  # the head decides which class transformers builds
        kind = "BertForSequenceClassification"
    else:
        kind = "BertForMaskedLM" if cfg.has_mlm_head else "BertModel"
    labels = {
        "id2label": {str(i): name for i, name in enumerate(cfg.labels)},
        "label2id": {name: i for i, name in enumerate(cfg.labels)},
        "problem_type": "single_label_classification",
    }
    return (labels if cfg.labels else {}) | {
        "model_type": "bert",
        "architectures": [kind],
        "vocab_size": cfg.vocab_size,
        "max_position_embeddings": cfg.max_position_embeddings,
        "hidden_size": cfg.hidden_size,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "intermediate_size": cfg.intermediate_size,
        "type_vocab_size": cfg.type_vocab_size,
        "hidden_act": "gelu",
        "hidden_dropout_prob": cfg.dropout,
        "attention_probs_dropout_prob": cfg.dropout,
        "layer_norm_eps": cfg.layer_norm_eps,
        "pad_token_id": cfg.pad_token_id,
        "position_embedding_type": "absolute",
        "tie_word_embeddings": True,
    }


def _bert_from_hf(d: dict[str, Any]) -> BertConfig:
    act = d.get("hidden_act", "gelu")
    if act != "gelu":
        raise ModelError(f"config.json: hidden_act '{act}' is not supported (BERT uses 'gelu')")
    if d.get("position_embedding_type", "absolute") != "absolute":
        raise ModelError("config.json: only absolute position embeddings are supported")
    return BertConfig(
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
        labels=_labels(d),
    )


def _labels(d: dict[str, Any]) -> tuple[str, ...]:
    """A sequence classifier's class names in id order (none for other BERTs: every config carries
    a default id2label, so only the architecture says there is a classifier)."""
    if not any("SequenceClassification" in a for a in d.get("architectures") or []):
        return ()
    kind = d.get("problem_type") or "single_label_classification"
    if int(d.get("num_labels") or len(d.get("id2label") or {}) or 2) == 1:
        kind = "regression"  # one output: a score, not classes
    if kind != "single_label_classification":
        raise ModelError(
            f"config.json: a {kind} sequence classifier is not supported (only single-label classification)"
        )
    names = {int(k): str(v) for k, v in (d.get("id2label") or {}).items()}
    count = max(len(names), int(d.get("num_labels") or 0), 2)
    return tuple(names.get(i, f"LABEL_{i}") for i in range(count))


_MARIAN_FIELDS = (
    "vocab_size", "d_model", "encoder_layers", "decoder_layers", "encoder_attention_heads",
    "decoder_attention_heads", "encoder_ffn_dim", "decoder_ffn_dim", "max_position_embeddings", "dropout",
    "attention_dropout", "activation_dropout", "scale_embedding", "pad_token_id", "eos_token_id",
    "decoder_start_token_id",
)  # fmt: skip


def _marian_to_hf(cfg: Seq2SeqConfig) -> dict[str, Any]:
    return {"model_type": "marian", "architectures": ["MarianMTModel"]} | {
        k: getattr(cfg, k) for k in _MARIAN_FIELDS
    } | {
        "activation_function": cfg.activation,
        "decoder_vocab_size": cfg.vocab_size,
        "share_encoder_decoder_embeddings": True,
        "tie_word_embeddings": True,
        "forced_eos_token_id": cfg.eos_token_id,
        "is_encoder_decoder": True,
    }  # fmt: skip


def _marian_from_hf(d: dict[str, Any]) -> Seq2SeqConfig:
    """Marian's config; one shared vocabulary (the usual case) is supported, two are refused."""
    if not d.get("share_encoder_decoder_embeddings", True) or d.get("decoder_vocab_size") not in (
        None, d.get("vocab_size"),
    ):  # fmt: skip
        raise ModelError(
            "config.json: a Marian model with separate source and target vocabularies is not supported"
        )
    defaults = Seq2SeqConfig()
    values = {k: d.get(k, getattr(defaults, k)) for k in _MARIAN_FIELDS}
    values["eos_token_id"] = _opt_int(values["eos_token_id"]) or 0
    values["pad_token_id"] = int(values["pad_token_id"] or 0)
    return Seq2SeqConfig(**values, activation=str(d.get("activation_function", "gelu")))


def _rope_kind(params: dict[str, Any]) -> dict[str, Any]:
    """Old configs name the scaling kind "type", newer ones "rope_type": keep one, "rope_type"."""
    if "type" in params:
        kind = params.pop("type")
        params.setdefault("rope_type", kind)
    return params


def _ids(v: Any) -> list:
    return [x for x in (v if isinstance(v, list) else [v]) if x is not None]


def _opt_int(v: Any) -> int | None:
    if isinstance(v, list):  # some configs list several ids; the first is the main one
        v = v[0] if v else None
    return None if v is None else int(v)
