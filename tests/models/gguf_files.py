"""GGUF files written in tests with the `gguf` package's writer, laid out as llama.cpp's converter
lays them out (permuted Llama query/key rows, Gemma norms as 1 + w, GPT-2's projections as [out, in])."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import torch

from tests.models.helpers import TEXT

Q = gguf.GGMLQuantizationType
# where each K-quant block keeps its float16 scales (d, and dmin where it has one): random bytes
# elsewhere are valid quants, random bytes there could be inf
K_SCALES = {Q.Q2_K: (80, 82), Q.Q3_K: (108,), Q.Q4_K: (0, 2), Q.Q5_K: (0, 2), Q.Q6_K: (208,)}
GGUF_ARCH = {name: name for name in ("llama", "qwen2", "qwen3", "gemma2", "phi3", "olmo2", "smollm3", "gpt2")}
GGUF_ARCH["gemma3_text"] = "gemma3"


def byte_level_meta(vocab_size: int) -> dict:
    """A byte-level BPE ("gpt2") vocabulary of `vocab_size` tokens learned from TEXT."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - 1, special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )  # fmt: skip
    hf.train_from_iterator([TEXT], trainer)
    model = json.loads(hf.to_str())["model"]
    tokens = sorted(model["vocab"], key=model["vocab"].get)
    tokens.append("<|im_end|>")
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    types = [3 if t.startswith("<|") else 1 for t in tokens]
    return {"model": "gpt2", "pre": "qwen2", "tokens": tokens, "merges": merges, "types": types,
            "bos": 0, "eos": len(tokens) - 1, "add_bos": False}  # fmt: skip


def sentencepiece_meta(vocab_size: int) -> dict:
    """A SentencePiece ("llama") vocabulary: <unk> <s> </s>, the 256 byte tokens, then pieces of
    TEXT scored by how often they come (no merges listed: they are rebuilt from the scores)."""
    from collections import Counter

    words = ["▁" + w for w in TEXT.replace("\n", " ").split()]
    counts: Counter = Counter()
    for w in words:
        for n in range(1, min(len(w), 6) + 1):
            for i in range(len(w) - n + 1):
                counts[w[i : i + n]] += 1
    chars = sorted({c for w in words for c in w})
    specials = ["<unk>", "<s>", "</s>"]
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    longer = [p for p, _ in counts.most_common() if len(p) > 1]
    pieces = chars + longer[: vocab_size - len(specials) - len(byte_tokens) - len(chars)]
    tokens = specials + byte_tokens + pieces
    scores = [0.0] * (len(specials) + len(byte_tokens)) + [-float(i) for i in range(len(pieces))]
    types = [2, 3, 3] + [6] * 256 + [1] * len(pieces)
    return {"model": "llama", "tokens": tokens, "scores": scores, "types": types, "bos": 1, "eos": 2,
            "unk": 0, "add_bos": True}  # fmt: skip


def write_gguf(
    model,
    path: Path,
    tokenizer: dict,
    qtype=Q.F32,
    raw_k=None,
    chat_template: str = "",
    extra=None,
    rope_theta: float | None = None,
) -> Path:
    """`model` (a `transformers` …ForCausalLM) as llama.cpp's converter writes it. Matrices are
    stored as `qtype` (quantized by `gguf`), or with `raw_k` (a K-quant type) as random valid
    blocks of that type; vectors (norms, biases) stay float32."""
    cfg = model.config
    family = cfg.model_type
    arch = GGUF_ARCH[family]
    layers = cfg.num_hidden_layers if family != "gpt2" else cfg.n_layer
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name("tiny test model")
    writer.add_block_count(layers)
    if family == "gpt2":
        writer.add_context_length(cfg.n_positions)
        writer.add_embedding_length(cfg.n_embd)
        writer.add_feed_forward_length(4 * cfg.n_embd)
        writer.add_head_count(cfg.n_head)
        writer.add_layer_norm_eps(cfg.layer_norm_epsilon)
    else:
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        rope = cfg.rope_parameters.get("full_attention", cfg.rope_parameters)
        writer.add_context_length(cfg.max_position_embeddings)
        writer.add_embedding_length(cfg.hidden_size)
        writer.add_feed_forward_length(cfg.intermediate_size)
        writer.add_head_count(cfg.num_attention_heads)
        writer.add_head_count_kv(cfg.num_key_value_heads)
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
        writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
        writer.add_rope_freq_base(rope_theta or rope["rope_theta"])
        writer.add_rope_dimension_count(int(head_dim * rope.get("partial_rotary_factor", 1.0)))
        if getattr(cfg, "sliding_window", None):
            writer.add_sliding_window(cfg.sliding_window)
        if getattr(cfg, "attn_logit_softcapping", None):
            writer.add_attn_logit_softcapping(cfg.attn_logit_softcapping)
        if getattr(cfg, "final_logit_softcapping", None):
            writer.add_final_logit_softcapping(cfg.final_logit_softcapping)
    _write_tokenizer(writer, tokenizer, chat_template)
    names = gguf.get_tensor_name_map(next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch), layers)
    rng = np.random.default_rng(0)
    for hf_name, t in model.state_dict().items():
        if hf_name.endswith((".attn.bias", ".attn.masked_bias")) or "rotary" in hf_name:
            continue
        if hf_name == "lm_head.weight" and cfg.tie_word_embeddings:
            continue  # the output is the embedding: llama.cpp writes no output.weight
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        assert name is not None, hf_name
        data = t.detach().float().numpy().copy()
        if arch in ("llama", "smollm3") and (".q_proj." in hf_name or ".k_proj." in hf_name):
            heads = cfg.num_attention_heads if ".q_proj." in hf_name else cfg.num_key_value_heads
            data = (
                data.reshape(heads, 2, data.shape[0] // heads // 2, *data.shape[1:])
                .swapaxes(1, 2)
                .reshape(data.shape)
            )
        if arch.startswith("gemma") and name.endswith("norm.weight"):
            data = data + 1.0
        if arch == "gpt2" and hf_name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight")):
            data = data.T.copy()
        if data.ndim == 2 and raw_k is not None:
            block, size = gguf.GGML_QUANT_SIZES[raw_k]
            blocks = rng.integers(0, 256, size=(data.size // block, size), dtype=np.uint8)
            for offset in K_SCALES[raw_k]:  # a small positive float16 scale in every block
                blocks[:, offset : offset + 2] = np.frombuffer(np.float16(0.002).tobytes(), np.uint8)
            writer.add_tensor(name, blocks.reshape(data.shape[0], -1), raw_dtype=raw_k)
        elif data.ndim == 2 and qtype not in (Q.F32, Q.F16):
            writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
        elif data.ndim == 2 and qtype == Q.F16:
            writer.add_tensor(name, data.astype(np.float16))
        else:
            writer.add_tensor(name, data.astype(np.float32))
    for name, data in (extra or {}).items():  # e.g. Llama 3's rope_freqs.weight
        writer.add_tensor(name, np.asarray(data, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _write_tokenizer(writer, tok: dict, chat_template: str) -> None:
    writer.add_tokenizer_model(tok["model"])
    if "pre" in tok:
        writer.add_tokenizer_pre(tok["pre"])
    writer.add_token_list(tok["tokens"])
    writer.add_token_types(tok["types"])
    if "scores" in tok:
        writer.add_token_scores(tok["scores"])
    if "merges" in tok:
        writer.add_token_merges(tok["merges"])
    writer.add_bos_token_id(tok["bos"])
    writer.add_eos_token_id(tok["eos"])
    writer.add_pad_token_id(tok["bos"])
    if "unk" in tok:
        writer.add_unk_token_id(tok["unk"])
    writer.add_add_bos_token(tok["add_bos"])
    if chat_template:
        writer.add_chat_template(chat_template)


def theirs_from(path: Path):
    """`transformers` reading the same file."""
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, attn_implementation="eager", dtype=torch.float32
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    return model.eval(), tokenizer
