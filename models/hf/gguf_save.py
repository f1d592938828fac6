"""Writing a model as a GGUF file (F32, F16, BF16 or Q8_0) that llama.cpp, LM Studio and Ollama run.

Tensors are laid out as llama.cpp's converter lays them out (what models.hf.gguf_file undoes), the
metadata under llama.cpp's keys, the tokenizer as `tokenizer.ggml.*`. The file is written whole
through a temporary file: a failure leaves the old one as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from models.errors import ModelError
from models.hf.atomic import write_file
from models.hf.gguf_file import ARCHITECTURES, PERMUTED, permute
from models.hf.weights import state_to_hf
from models.nn import GPT, Decoder, Model
from models.nn.quantized import refuse_quantized
from models.text.gguf_tokenizer import CONTROL, SPLITS, UNUSED
from models.text.tokenizer import Tokenizer

TYPES = ("F32", "F16", "BF16", "Q8_0")
_ARCH = {family: arch for arch, family in ARCHITECTURES.items()}
_CONV1D = (".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight")
_FILE_TYPE = {"F32": 0, "F16": 1, "Q8_0": 7, "BF16": 32}  # llama.cpp's general.file_type


def save_gguf(
    model: Model, tokenizer: Tokenizer, path: str | Path, kind: str = "F16", name: str = ""
) -> Path:
    """Write `model` to `path` with its matrices stored as `kind` (norms and biases in float32)."""
    import gguf

    if kind not in TYPES:
        raise ModelError(f"GGUF type must be one of {', '.join(TYPES)} (got '{kind}')")
    refuse_quantized(model, "Saving")
    family = getattr(model.config, "family", "gpt2" if isinstance(model, GPT) else "")
    if not isinstance(model, GPT | Decoder) or family not in _ARCH:
        raise ModelError(
            f"a {model.config.label} cannot be saved as GGUF: llama.cpp runs decoders "
            f"({', '.join(ARCHITECTURES)}); save it as a folder"
        )
    arch = _ARCH[family]
    token_meta = _tokenizer_meta(tokenizer, model.config.vocab_size)
    target = Path(path)

    def write(tmp: Path) -> None:
        writer = gguf.GGUFWriter(str(tmp), arch)
        writer.add_name(name or target.stem)
        writer.add_file_type(_FILE_TYPE[kind])
        _add_shape(writer, model)
        _add_tokenizer(writer, tokenizer, token_meta)
        names = gguf.get_tensor_name_map(
            next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch), model.config.n_layer
        )
        for hf, t in state_to_hf(model).items():
            gguf_name = names.get_name(hf, try_suffixes=(".weight", ".bias"))
            if gguf_name is None:
                raise ModelError(f"no GGUF name for tensor '{hf}'")
            data = _laid_out(model, arch, hf, gguf_name, t.float())
            _add_tensor(writer, gguf_name, data, kind)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()

    write_file(target, write)
    return target


def _laid_out(model: Model, arch: str, hf: str, name: str, t: torch.Tensor) -> np.ndarray:
    """One tensor as llama.cpp's converter writes it."""
    cfg = model.config
    if arch in PERMUTED and (".self_attn.q_proj." in hf or ".self_attn.k_proj." in hf):
        t = permute(t, cfg.num_attention_heads if ".q_proj." in hf else cfg.num_key_value_heads)
    if arch.startswith("gemma") and name.endswith("norm.weight"):
        t = t + 1.0
    if arch == "gpt2" and hf.endswith(_CONV1D):
        t = t.t()
    return np.ascontiguousarray(t.numpy(), dtype=np.float32)


def _add_tensor(writer, name: str, data: np.ndarray, kind: str) -> None:
    import gguf

    Q = gguf.GGMLQuantizationType
    block = gguf.GGML_QUANT_SIZES[Q.Q8_0][0]
    if data.ndim != 2 or kind == "F32":  # norms and biases stay float32, as llama.cpp keeps them
        writer.add_tensor(name, data)
    elif kind == "F16":
        writer.add_tensor(name, data.astype(np.float16))
    elif kind == "Q8_0" and data.shape[-1] % block:  # rows Q8_0 cannot split into blocks
        writer.add_tensor(name, data.astype(np.float16), raw_dtype=Q.F16)
    else:
        qtype = Q.BF16 if kind == "BF16" else Q.Q8_0
        writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)


def _add_shape(writer, model: Model) -> None:
    cfg = model.config
    writer.add_block_count(cfg.n_layer)
    writer.add_context_length(cfg.context)
    writer.add_embedding_length(cfg.n_embd)
    writer.add_head_count(cfg.n_head)
    writer.add_vocab_size(cfg.vocab_size)
    if isinstance(model, GPT):
        writer.add_feed_forward_length(4 * cfg.n_embd)
        writer.add_layer_norm_eps(cfg.layer_norm_epsilon)
        return
    if cfg.rope_scaling and dict(cfg.rope_scaling).get("rope_type") != "linear":
        raise ModelError(
            f"rotary scaling '{dict(cfg.rope_scaling).get('rope_type')}' cannot be saved as GGUF yet"
        )
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_key_length(cfg.head_size)
    writer.add_value_length(cfg.head_size)
    writer.add_layer_norm_rms_eps(cfg.norm_eps)
    writer.add_rope_freq_base(cfg.rope_theta)
    writer.add_rope_dimension_count(int(cfg.head_size * cfg.rotary_fraction))
    if cfg.rope_scaling:
        writer.add_rope_scaling_type(__import__("gguf").RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(dict(cfg.rope_scaling)["factor"]))
    if cfg.sliding_window:
        writer.add_sliding_window(cfg.sliding_window)
        if cfg.local_layers:
            writer.add_sliding_window_pattern([cfg.windowed(i) for i in range(cfg.n_layer)])
    if cfg.local_rope_theta:
        writer.add_rope_freq_base_swa(cfg.local_rope_theta)
    if cfg.attn_softcap:
        writer.add_attn_logit_softcapping(cfg.attn_softcap)
    if cfg.final_softcap:
        writer.add_final_logit_softcapping(cfg.final_softcap)


def _tokenizer_meta(tokenizer: Tokenizer, vocab_size: int) -> dict:
    """tokenizer.ggml.* for a byte-level BPE, a SentencePiece-style BPE (byte fallback) or a
    character vocabulary (written as byte-level BPE without merges: each character is one byte)."""
    spec = json.loads(tokenizer.hf.to_str())
    model = spec["model"]
    added = {t["id"]: t for t in spec.get("added_tokens", [])}
    vocab = dict(model.get("vocab") or {})
    vocab |= {t["content"]: i for i, t in added.items()}
    # llama.cpp wants a token for every row of the embedding: rows past the vocabulary are unused
    tokens = [f"<|unused{i}|>" for i in range(max(vocab_size, len(vocab)))]
    for token, i in vocab.items():
        tokens[i] = token
    types = [
        CONTROL if i in added and added[i].get("special") else 1 if i < len(vocab) else UNUSED
        for i in range(len(tokens))
    ]
    if model["type"] == "WordLevel":  # characters: each must be one byte to be a byte-level token
        alphabet = _byte_spelling()
        spelled = []
        for i, token in enumerate(tokens):
            data = token.encode("utf-8")
            if types[i] in (CONTROL, UNUSED) or token == model.get("unk_token"):
                types[i] = CONTROL if types[i] != UNUSED else UNUSED
                spelled.append(token)
            elif len(data) == 1:
                spelled.append(alphabet[data[0]])
            else:
                raise ModelError(
                    f"the character '{token}' is more than one byte: a character vocabulary saves as "
                    "GGUF only when every character is one byte (ASCII)"
                )
        return {"model": "gpt2", "pre": "default", "tokens": spelled, "types": types, "merges": []}
    if model["type"] != "BPE":
        raise ModelError(f"a {model['type']} tokenizer cannot be saved as GGUF (BPE and characters can)")
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or []]
    if model.get("byte_fallback"):  # SentencePiece-style: ▁ for spaces, <0x..> for bytes
        for i, t in enumerate(tokens):
            if len(t) == 6 and t.startswith("<0x") and t.endswith(">"):
                types[i] = 6  # llama.cpp's BYTE
        return {"model": "llama", "tokens": tokens, "types": types, "merges": merges,
                "scores": [-float(i) for i in range(len(tokens))]}  # fmt: skip
    return {
        "model": "gpt2",
        "pre": _pre(spec.get("pre_tokenizer")),
        "tokens": tokens,
        "types": types,
        "merges": merges,
    }


def _byte_spelling() -> dict[int, str]:
    """GPT-2's printable spelling of each byte (what a byte-level BPE's tokens are written in)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    spelled = {b: chr(b) for b in printable}
    for n, b in enumerate(b for b in range(256) if b not in spelled):
        spelled[b] = chr(256 + n)
    return spelled


def _pre(pre_tokenizer: dict | None) -> str:
    """The `tokenizer.ggml.pre` name of a byte-level tokenizer's split (GPT-2's when none matches)."""
    text = json.dumps(pre_tokenizer or {})
    for name, regex in SPLITS.items():
        if json.dumps(regex)[1:-1] in text:
            return name
    return "gpt-2"


def _add_tokenizer(writer, tokenizer: Tokenizer, meta: dict) -> None:
    writer.add_tokenizer_model(meta["model"])
    if "pre" in meta:
        writer.add_tokenizer_pre(meta["pre"])
    writer.add_token_list(meta["tokens"])
    writer.add_token_types(meta["types"])
    if "scores" in meta:
        writer.add_token_scores(meta["scores"])
    if meta["merges"]:
        writer.add_token_merges(meta["merges"])
    ids = {name: tokenizer.token_id(text) for name, text in tokenizer.special_texts.items()}
    if tokenizer.bos_prefix is not None:
        ids["bos_token"] = tokenizer.bos_prefix
    if ids.get("bos_token") is not None:
        writer.add_bos_token_id(ids["bos_token"])
    eos = ids.get("eos_token") if ids.get("eos_token") is not None else tokenizer.eos_id
    if eos is not None:
        writer.add_eos_token_id(eos)
    if ids.get("unk_token") is not None or tokenizer.unk_id is not None:
        writer.add_unk_token_id(
            ids.get("unk_token") if ids.get("unk_token") is not None else tokenizer.unk_id
        )
    if ids.get("pad_token") is not None:
        writer.add_pad_token_id(ids["pad_token"])
    writer.add_add_bos_token(tokenizer.bos_prefix is not None)
    if tokenizer.chat_template:
        writer.add_chat_template(tokenizer.chat_template)
