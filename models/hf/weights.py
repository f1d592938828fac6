"""Weight names: Hugging Face's GPT-2, BERT, Llama-family, GPT-NeoX and Phi-3 tensors to ours and back."""

from __future__ import annotations

import re

import torch

from models.nn import (
    GPT,
    Bert,
    Decoder,
    DecoderConfig,
    GPTConfig,
    Model,
    ModelConfig,
    Seq2Seq,
    Seq2SeqConfig,
)

# GPT-2 stores these as Conv1D ([in, out]); we use nn.Linear ([out, in]).
_CONV1D = re.compile(r"\.(c_attn|c_proj|c_fc)\.weight$")

# BERT: Hugging Face name (after dropping "bert.") -> ours. q/k/v are fused into c_attn below.
_BERT_KEYS = [
    (r"embeddings\.word_embeddings\.", "embeddings.tok."),
    (r"embeddings\.position_embeddings\.", "embeddings.pos."),
    (r"embeddings\.token_type_embeddings\.", "embeddings.token_type."),
    (r"embeddings\.LayerNorm\.", "embeddings.ln."),
    (r"encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.", r"layers.\1.attn.\2."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"layers.\1.attn.c_proj."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", r"layers.\1.attn_ln."),
    (r"encoder\.layer\.(\d+)\.intermediate\.dense\.", r"layers.\1.ffn_up."),
    (r"encoder\.layer\.(\d+)\.output\.dense\.", r"layers.\1.ffn_down."),
    (r"encoder\.layer\.(\d+)\.output\.LayerNorm\.", r"layers.\1.ffn_ln."),
    (r"cls\.predictions\.transform\.dense\.", "head.dense."),
    (r"cls\.predictions\.transform\.LayerNorm\.", "head.ln."),
    (r"cls\.predictions\.bias$", "head.bias"),
    (r"pooler\.dense\.", "pooler.dense."),  # kept only by a classifier (the MLM model has none)
    (r"classifier\.", "classifier."),
]
# Output projections tied to the input embeddings: never stored, re-tied on load.
TIED = ("lm_head.weight", "head.decoder.weight")
# Hugging Face keys we do not use: buffers, the pooler, next-sentence head, tied copies.
_IGNORED = re.compile(
    r"(\.attn\.(masked_)?bias$|^lm_head\.weight$|position_ids$|^cls\.seq_relationship|"
    r"^cls\.predictions\.decoder\.)"
)


# GPT-NeoX name -> ours (Llama's); its fused query_key_value is split below
_NEOX_KEYS = [
    (r"gpt_neox\.embed_in\.", "model.embed_tokens."),
    (r"gpt_neox\.layers\.(\d+)\.attention\.dense\.", r"model.layers.\1.self_attn.o_proj."),
    (r"gpt_neox\.layers\.(\d+)\.mlp\.dense_h_to_4h\.", r"model.layers.\1.mlp.up_proj."),
    (r"gpt_neox\.layers\.(\d+)\.mlp\.dense_4h_to_h\.", r"model.layers.\1.mlp.down_proj."),
    (r"gpt_neox\.layers\.(\d+)\.(input_layernorm|post_attention_layernorm)\.", r"model.layers.\1.\2."),
    (r"gpt_neox\.final_layer_norm\.", "model.norm."),
    (r"embed_out\.", "lm_head."),
]
# buffers some checkpoints carry: rotary tables and old attention masks (we compute them)
_DECODER_IGNORED = re.compile(r"(rotary_emb\.inv_freq$|\.attention\.(masked_)?bias$)")


def state_from_hf(config: ModelConfig, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A Hugging Face state dict as ours (tied output weights absent: they are re-tied)."""
    if isinstance(config, DecoderConfig):
        return _decoder_from_hf(config, weights)
    if isinstance(config, Seq2SeqConfig):
        return _marian_from_hf(config, weights)
    return _gpt_from_hf(weights) if isinstance(config, GPTConfig) else _bert_from_hf(config, weights)


def state_to_hf(model: Model) -> dict[str, torch.Tensor]:
    """Our model's weights under Hugging Face's names, on the CPU, contiguous, tied copies left out."""
    if isinstance(model, Decoder):
        return _decoder_to_hf(model)
    if isinstance(model, Seq2Seq):  # Marian's names are ours; the tied head is left out
        return {
            k: t.detach().cpu().contiguous() for k, t in model.state_dict().items() if k != "lm_head.weight"
        }
    return _gpt_to_hf(model) if isinstance(model, GPT) else _bert_to_hf(model)


def state_to_hf_names(model: Model) -> list[str]:
    """The Hugging Face names of a GPT-2's or a Llama-named decoder's tensors, from its module
    names alone (a model on the meta device will do): Phi-3's fused projections by their own."""
    names = list(model.state_dict())
    if isinstance(model, Decoder) and model.config.family == "phi3":
        fused = {f".{fused.split('.')[0]}.{parts[0]}.": f".{fused}." for fused, parts in _PHI3_FUSED.items()}
        names = [
            next((n.replace(k, v) for k, v in fused.items() if k in n), n)
            for n in names
            if not _phi3_part(n) or any(k in n for k in fused)
        ]
    return names


# Marian keys that are copies of the shared embedding or the computed sinusoidal tables
_MARIAN_IGNORED = re.compile(
    r"^(lm_head\.weight|model\.(en|de)coder\.(embed_tokens|embed_positions)\.weight)$"
)


def _marian_from_hf(cfg: Seq2SeqConfig, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    state = {k: t for k, t in weights.items() if not _MARIAN_IGNORED.match(k)}
    if "model.shared.weight" not in state and "model.encoder.embed_tokens.weight" in weights:
        state["model.shared.weight"] = weights["model.encoder.embed_tokens.weight"]  # an older layout
    state.setdefault("final_logits_bias", torch.zeros(1, cfg.vocab_size))  # a zero bias may go unsaved
    return state


# Phi-3's fused projections: (its name, ours in row order)
_PHI3_FUSED = {
    "self_attn.qkv_proj": ("q_proj", "k_proj", "v_proj"),
    "mlp.gate_up_proj": ("gate_proj", "up_proj"),
}


def _phi3_sizes(cfg: DecoderConfig, fused: str) -> list[int]:
    """Rows of each part of a Phi-3 fused projection: queries, keys, values; or gate, up."""
    if fused == "mlp.gate_up_proj":
        return [cfg.intermediate_size] * 2
    D = cfg.head_size
    return [cfg.num_attention_heads * D, cfg.num_key_value_heads * D, cfg.num_key_value_heads * D]


def _decoder_from_hf(cfg: DecoderConfig, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for key, t in weights.items():
        if _DECODER_IGNORED.search(key) or (cfg.tie_word_embeddings and key == "lm_head.weight"):
            continue
        m = re.match(r"(model\.layers\.\d+)\.(self_attn\.qkv_proj|mlp\.gate_up_proj)\.weight$", key)
        if cfg.family == "phi3" and m:  # rows are the parts one after another
            parent = m[2].split(".")[0]
            for part, rows in zip(_PHI3_FUSED[m[2]], t.split(_phi3_sizes(cfg, m[2])), strict=True):
                state[f"{m[1]}.{parent}.{part}.weight"] = rows
            continue
        if cfg.family != "gpt_neox":
            state[key] = t  # Llama's, Qwen's, Mistral's, Gemma's, OLMo's and SmolLM3's names are ours
            continue
        m = re.match(r"gpt_neox\.layers\.(\d+)\.attention\.query_key_value\.(weight|bias)$", key)
        if m:  # rows are [head, (query, key, value), size]: split into three projections
            H, D = cfg.num_attention_heads, cfg.head_size
            parts = t.reshape(H, 3, D, *t.shape[1:])
            for i, name in enumerate(("q_proj", "k_proj", "v_proj")):
                state[f"model.layers.{m[1]}.self_attn.{name}.{m[2]}"] = parts[:, i].reshape(
                    H * D, *t.shape[1:]
                )
            continue
        for pattern, ours in _NEOX_KEYS:
            if re.match(pattern, key):
                state[re.sub(pattern, ours, key)] = t
                break
    return state


def _decoder_to_hf(model: Decoder) -> dict[str, torch.Tensor]:
    cfg = model.config
    out: dict[str, torch.Tensor] = {}
    for name, t in model.state_dict().items():
        t = t.detach().cpu()
        if cfg.tie_word_embeddings and name == "lm_head.weight":
            continue  # transformers re-ties it on load
        if cfg.family == "phi3" and _phi3_part(name):
            fused, parts = _phi3_part(name)
            if name.endswith(f".{parts[0]}.weight"):  # fused again when its first part comes by
                prefix = name.rsplit(".", 3)[0]
                parent = fused.split(".")[0]
                rows = [model.state_dict()[f"{prefix}.{parent}.{p}.weight"].detach().cpu() for p in parts]
                out[f"{prefix}.{fused}.weight"] = torch.cat(rows).contiguous()
            continue
        if cfg.family != "gpt_neox":
            out[name] = t.contiguous()
            continue
        m = re.match(r"model\.layers\.(\d+)\.self_attn\.q_proj\.(weight|bias)$", name)
        if m:  # fuse query, key and value back, head by head
            parts = [
                model.state_dict()[name.replace("q_proj", p)].detach().cpu()
                for p in ("q_proj", "k_proj", "v_proj")
            ]
            H, D = cfg.num_attention_heads, cfg.head_size
            fused = torch.stack([p.reshape(H, D, *p.shape[1:]) for p in parts], dim=1)
            out[f"gpt_neox.layers.{m[1]}.attention.query_key_value.{m[2]}"] = fused.reshape(
                3 * H * D, *t.shape[1:]
            ).contiguous()
            continue
        if ".self_attn.k_proj." in name or ".self_attn.v_proj." in name:
            continue
        for theirs, ours in _NEOX_KEYS:
            pattern = (
                re.escape(ours)
                .replace(r"\\1", r"(\d+)")
                .replace(r"\\2", "(input_layernorm|post_attention_layernorm)")
            )
            m = re.match(pattern, name)
            if m:
                template = theirs.replace(r"(\d+)", r"\1").replace(
                    "(input_layernorm|post_attention_layernorm)", r"\2"
                )
                out[m.expand(template.replace("\\.", ".")) + name[m.end() :]] = t.contiguous()
                break
        else:
            raise AssertionError(f"no GPT-NeoX name for {name}")
    return out


def _phi3_part(name: str) -> tuple[str, tuple[str, ...]] | None:
    """The Phi-3 fused projection our weight `name` is part of, and that projection's parts."""
    for fused, parts in _PHI3_FUSED.items():
        parent = fused.split(".")[0]
        if any(name.endswith(f".{parent}.{p}.weight") for p in parts):
            return fused, parts
    return None


def _gpt_from_hf(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    state = {}
    for key, t in weights.items():
        if _IGNORED.search(key):
            continue
        name = key if key.startswith("transformer.") else f"transformer.{key}"
        state[name] = t.t() if _CONV1D.search(name) else t
    return state


def _bert_from_hf(config: ModelConfig, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for key, t in weights.items():
        key = key.removeprefix("bert.").replace("LayerNorm.gamma", "LayerNorm.weight")
        key = key.replace("LayerNorm.beta", "LayerNorm.bias")
        if _IGNORED.search(key) or (key.startswith("pooler.") and not config.labels):
            continue
        for pattern, ours in _BERT_KEYS:
            if re.match(pattern, key):
                state[re.sub(pattern, ours, key)] = t
                break
    # fuse query, key, value into one projection, the layout SelfAttention uses
    for name in [k for k in state if ".attn.query." in k]:
        parts = [
            state.pop(name.replace("query", p))
            for p in ("query", "key", "value")
            if name.replace("query", p) in state
        ]
        if len(parts) == 3:
            state[name.replace("query", "c_attn")] = torch.cat(parts, dim=0)
    return state


def _gpt_to_hf(model: GPT) -> dict[str, torch.Tensor]:
    out = {}
    for name, t in model.state_dict().items():
        if name in TIED:
            continue  # transformers re-ties it on load
        t = t.detach().cpu()
        out[name] = (t.t() if _CONV1D.search(name) else t).contiguous()
    return out


def _bert_to_hf(model: Bert) -> dict[str, torch.Tensor]:
    out = {}
    for name, t in model.state_dict().items():
        if name in TIED:
            continue  # transformers re-ties it on load
        t = t.detach().cpu()
        if ".attn.c_attn." in name:  # split the fused projection back into query, key, value
            for part, chunk in zip(("query", "key", "value"), t.chunk(3, dim=0), strict=True):
                out[_bert_hf_name(name.replace("c_attn", part))] = chunk.contiguous()
        else:
            out[_bert_hf_name(name)] = t.contiguous()
    return out


def _bert_hf_name(name: str) -> str:
    """Our BERT name -> Hugging Face's, by running the key table backwards."""
    for theirs, ours in _BERT_KEYS:
        pattern = re.escape(ours).replace(r"\\1", r"(\d+)").replace(r"\\2", "(query|key|value)")
        m = re.match(pattern, name)
        if m:
            template = theirs.replace(r"(\d+)", r"\1").replace("(query|key|value)", r"\2")
            hf = m.expand(template.replace("\\.", ".").rstrip("$")) + name[m.end() :]
            return hf if hf.startswith(("cls.", "classifier.")) else f"bert.{hf}"
    raise AssertionError(f"no Hugging Face name for {name}")
