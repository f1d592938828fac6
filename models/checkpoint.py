"""Checkpoint folders: Hugging Face `config.json` + `model.safetensors` + `tokenizer.json`, both ways."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from models.atomic import Writer, recover, write_folder
from models.bert import Bert
from models.config import ModelConfig, config_from_hf
from models.errors import ModelError
from models.gpt import GPT
from models.tokenizer import Tokenizer

Model = GPT | Bert

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
_TIED = ("lm_head.weight", "head.decoder.weight")
# Hugging Face keys we do not use: buffers, the pooler, next-sentence head, tied copies.
_IGNORED = re.compile(
    r"(\.attn\.(masked_)?bias$|^lm_head\.weight$|position_ids$|^pooler\.|^cls\.seq_relationship|"
    r"^cls\.predictions\.decoder\.)"
)


# ---- loading ------------------------------------------------------------------------------
def load(path: str | Path, device: str | torch.device = "cpu") -> tuple[Model, Tokenizer]:
    """Open a checkpoint folder (ours or a Hugging Face GPT-2/BERT one) from a local path.

    Everything is checked before a model is returned, so a failure leaves nothing half-loaded.
    """
    folder = Path(path)
    recover(folder)  # a save that died mid-swap left the old folder aside: put it back
    if not folder.is_dir():
        raise ModelError(f"{folder}: not a folder")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelError(f"{folder}: config.json is missing")
    try:
        hf_config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{config_path}: not valid JSON ({e})") from e
    config = config_from_hf(hf_config)
    weights = _read_weights(folder)
    tokenizer = Tokenizer.load(folder)
    if config.arch == "gpt":
        state = _gpt_from_hf(weights)
    else:
        state = _bert_from_hf(weights)
        if not any(k.startswith("head.") for k in state):
            config = replace(config, has_mlm_head=False)  # encoder only: inspect, no fill-mask
    model = GPT(config) if config.arch == "gpt" else Bert(config)
    _check_state(model, state, folder)
    model.load_state_dict(state, strict=False)  # tied weights are absent from `state` on purpose
    if tokenizer.vocab_size > config.vocab_size:
        raise ModelError(
            f"{folder}: the tokenizer has {tokenizer.vocab_size} tokens but the model only "
            f"{config.vocab_size}"
        )
    return model.to(device).eval(), tokenizer


def _read_weights(folder: Path) -> dict[str, torch.Tensor]:
    st, bin_ = folder / "model.safetensors", folder / "pytorch_model.bin"
    if st.is_file():
        try:
            return load_file(str(st))
        except (SafetensorError, OSError, ValueError) as e:
            raise ModelError(f"{st}: corrupt or truncated safetensors file ({e})") from e
    if bin_.is_file():
        try:
            # weights_only: a pickle that needs arbitrary code is refused, never executed
            return torch.load(str(bin_), map_location="cpu", weights_only=True)
        except Exception as e:
            raise ModelError(
                f"{bin_}: refused — this pickle is not plain weights (loading it would run "
                f"code) or it is corrupt. Details: {str(e).splitlines()[0]}"
            ) from e
    raise ModelError(f"{folder}: no weights found (expected model.safetensors or pytorch_model.bin)")


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


def _check_state(model: nn.Module, state: dict[str, torch.Tensor], folder: Path) -> None:
    expected = {k: v for k, v in model.state_dict().items() if k not in _TIED}
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ModelError(
            f"{folder}: weights are missing tensor '{missing[0]}'"
            + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
        )
    for name, ref in expected.items():
        if tuple(state[name].shape) != tuple(ref.shape):
            raise ModelError(
                f"{folder}: tensor '{name}' has shape {tuple(state[name].shape)}, "
                f"but config.json implies {tuple(ref.shape)}"
            )


# ---- saving -------------------------------------------------------------------------------
def save(
    model: Model,
    tokenizer: Tokenizer,
    path: str | Path,
    extra_files: dict[str, Writer] | None = None,
) -> Path:
    """Write a folder that `transformers` and this app both open, atomically as a whole.

    `extra_files` maps a file name to a function that writes it to a given path. Any failure
    (disk full, permissions, a library error) is a ModelError and leaves the old folder as it was.
    """
    cfg = model.config
    state = _gpt_to_hf(model) if cfg.arch == "gpt" else _bert_to_hf(model)
    hf_config = cfg.to_hf()
    files: dict[str, Writer] = {
        "model.safetensors": lambda p: save_file(state, str(p), metadata={"format": "pt"}),
        "config.json": lambda p: p.write_text(json.dumps(hf_config, indent=2)),
        "tokenizer.json": lambda p: tokenizer.hf.save(str(p)),
        "tokenizer_config.json": lambda p: p.write_text(
            json.dumps(_tokenizer_config(cfg, tokenizer), indent=2)
        ),
    }
    return write_folder(Path(path), files | (extra_files or {}), replaces=REPLACED_FILES)


# Files of an older checkpoint in the same folder that the new one supersedes: never carried over.
REPLACED_FILES = (
    "training_state.pt",
    "train_config.json",
    "pytorch_model.bin",
    "model.safetensors.index.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
)


def _gpt_to_hf(model: GPT) -> dict[str, torch.Tensor]:
    out = {}
    for name, t in model.state_dict().items():
        if name in _TIED:
            continue  # transformers re-ties it on load
        t = t.detach().cpu()
        out[name] = (t.t() if _CONV1D.search(name) else t).contiguous()
    return out


def _bert_to_hf(model: Bert) -> dict[str, torch.Tensor]:
    out = {}
    for name, t in model.state_dict().items():
        if name in _TIED:
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


def _tokenizer_config(cfg: ModelConfig, tokenizer: Tokenizer) -> dict:
    base = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": cfg.context}
    if cfg.arch == "bert":
        return base | {
            "unk_token": "[UNK]",
            "pad_token": "[PAD]",
            "cls_token": "[CLS]",
            "sep_token": "[SEP]",
            "mask_token": "[MASK]",
        }
    if tokenizer.eos_id is not None:
        return base | {"eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>"}
    return base
