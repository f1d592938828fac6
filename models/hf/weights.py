"""Weight names: Hugging Face's GPT-2 and BERT tensors to ours and back (the one key table)."""

from __future__ import annotations

import re

import torch

from models.nn import GPT, Bert, Model

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
]
# Output projections tied to the input embeddings: never stored, re-tied on load.
TIED = ("lm_head.weight", "head.decoder.weight")
# Hugging Face keys we do not use: buffers, the pooler, next-sentence head, tied copies.
_IGNORED = re.compile(
    r"(\.attn\.(masked_)?bias$|^lm_head\.weight$|position_ids$|^pooler\.|^cls\.seq_relationship|"
    r"^cls\.predictions\.decoder\.)"
)


def state_from_hf(arch: str, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A Hugging Face state dict as ours (tied output weights absent: they are re-tied)."""
    return _gpt_from_hf(weights) if arch == "gpt" else _bert_from_hf(weights)


def state_to_hf(model: Model) -> dict[str, torch.Tensor]:
    """Our model's weights under Hugging Face's names, on the CPU, contiguous, tied copies left out."""
    return _gpt_to_hf(model) if model.config.arch == "gpt" else _bert_to_hf(model)


def _gpt_from_hf(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    state = {}
    for key, t in weights.items():
        if _IGNORED.search(key):
            continue
        name = key if key.startswith("transformer.") else f"transformer.{key}"
        state[name] = t.t() if _CONV1D.search(name) else t
    return state


def _bert_from_hf(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for key, t in weights.items():
        key = key.removeprefix("bert.").replace("LayerNorm.gamma", "LayerNorm.weight")
        key = key.replace("LayerNorm.beta", "LayerNorm.bias")
        if _IGNORED.search(key):
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
            return hf if hf.startswith("cls.") else f"bert.{hf}"
    raise AssertionError(f"no Hugging Face name for {name}")
