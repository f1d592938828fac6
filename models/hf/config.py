"""Our model configurations to and from Hugging Face `config.json` dictionaries."""

from __future__ import annotations

from typing import Any

from models.errors import ModelError
from models.hf.decoder_config import decoder_from_hf, decoder_to_hf, opt_int
from models.nn import BertConfig, DecoderConfig, GPTConfig, ModelConfig, Seq2SeqConfig
from models.nn.decoder import FAMILIES

SUPPORTED = ("gpt2", "bert", *FAMILIES, "marian")  # the model_type values this engine opens


def label_of(model_type: str) -> str:
    """A supported model_type's family name for people ("" for others)."""
    return {"gpt2": "GPT", "bert": "BERT", "marian": "Marian", **FAMILIES}.get(model_type, "")


def config_to_hf(cfg: ModelConfig) -> dict[str, Any]:
    """The `config.json` that `transformers` reads for this model."""
    if isinstance(cfg, DecoderConfig):
        return decoder_to_hf(cfg)
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
        return decoder_from_hf(kind, d)
    if kind == "marian":
        return _marian_from_hf(d)
    supported = ", ".join(f"'{k}'" for k in SUPPORTED)
    raise ModelError(f"config.json: model_type '{kind}' is not supported (supported: {supported})")


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
        bos_token_id=opt_int(d.get("bos_token_id")),
        eos_token_id=opt_int(d.get("eos_token_id")),
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
    values["eos_token_id"] = opt_int(values["eos_token_id"]) or 0
    values["pad_token_id"] = int(values["pad_token_id"] or 0)
    return Seq2SeqConfig(**values, activation=str(d.get("activation_function", "gelu")))
