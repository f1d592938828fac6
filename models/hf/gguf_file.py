"""GGUF files (llama.cpp's format, as LM Studio and Ollama keep models): read with the `gguf` package.

A file becomes what a Hugging Face folder gives: a `config.json` dictionary, weights under
`transformers`' names and layouts (dequantised by `gguf`), and the tokenizer its metadata
describes. llama.cpp's converter changed a few tensors on the way in (permuted Llama query/key rows,
Gemma norms stored as 1 + w, GPT-2's transposed projections): each is undone here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.errors import ModelError
from models.text.gguf_tokenizer import gguf_tokenizer
from models.text.tokenizer import Tokenizer

# GGUF's general.architecture -> the Hugging Face model_type it opens as
ARCHITECTURES = {
    "llama": "llama",  # Llama 2 and 3, TinyLlama, SmolLM2, Mistral
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "gemma2": "gemma2",
    "gemma3": "gemma3_text",
    "phi3": "phi3",
    "olmo2": "olmo2",
    "smollm3": "smollm3",
    "gpt2": "gpt2",
}
PERMUTED = ("llama", "smollm3")  # llama.cpp's converter permutes these families' query/key rows
GEMMA_LOCAL_THETA = 10_000.0  # llama.cpp's fixed base for Gemma 3's local layers
_CONV1D = (".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight")


class GGUF:
    """An opened GGUF file: its metadata and tensors (memory-mapped: nothing is read until asked)."""

    def __init__(self, path: str | Path) -> None:
        import gguf

        self.path = Path(path)
        try:
            self.reader = gguf.GGUFReader(str(self.path))
        except Exception as e:  # the reader raises ValueError, KeyError, struct errors… on bad bytes
            if "GGMLQuantizationType" in str(e):  # a type id newer than this gguf package
                raise ModelError(
                    f"{self.path}: a tensor is stored in a type the gguf package does not know ({e}); "
                    "a newer gguf (pip install -U gguf) may read it"
                ) from e
            raise ModelError(f"{self.path}: not a readable GGUF file: truncated or corrupt ({e})") from e
        self.meta = {
            name: field.contents()
            for name, field in self.reader.fields.items()
            if not name.startswith("GGUF.")
        }
        self.tensors = {t.name: t for t in self.reader.tensors}
        self.architecture = str(self.meta.get("general.architecture", ""))
        if self.architecture not in ARCHITECTURES:
            raise ModelError(
                f"{self.path}: architecture '{self.architecture}' is not supported "
                f"(supported: {', '.join(ARCHITECTURES)})"
            )

    @property
    def family(self) -> str:
        return ARCHITECTURES[self.architecture]

    def quantization(self) -> str:
        """The type most of the weights are stored in (Q4_K, Q8_0, F16…)."""
        counts: dict[str, int] = {}
        for t in self.tensors.values():
            counts[t.tensor_type.name] = counts.get(t.tensor_type.name, 0) + int(t.n_elements)
        return max(counts, key=counts.get) if counts else ""

    def parameters(self) -> int:
        return sum(int(t.n_elements) for t in self.tensors.values())

    def needed_bytes(self, dtype: torch.dtype) -> int:
        """Memory to open it in `dtype`: every tensor dequantised, plus the float32 arrays that
        dequantising the largest one makes on the way (three, as gguf's numpy code does: Qwen2.5-0.5B
        in Q4_0 peaked 0.7 GiB above its float32 weights, its embedding being 0.5 GiB)."""
        width = torch.empty((), dtype=dtype).element_size()
        sizes = [int(t.n_elements) for t in self.tensors.values()]
        return sum(sizes) * width + max(sizes, default=0) * 4 * 3

    def tokenizer(self) -> Tokenizer:
        return gguf_tokenizer(self.meta, self.architecture, str(self.path))

    # ---- the config --------------------------------------------------------------------------
    def hf_config(self) -> dict[str, Any]:
        """The `config.json` dictionary this file's metadata describes."""
        a, m = self.architecture, self.meta

        def get(key: str, default: Any = None) -> Any:
            return m.get(f"{a}.{key}", default)

        embedding = self.tensors.get("token_embd.weight")
        if embedding is None:
            raise ModelError(f"{self.path}: the file has no token embedding (token_embd.weight)")
        vocab = int(embedding.shape[1]) if len(embedding.shape) > 1 else int(embedding.shape[0])
        ids = {
            f"{k}_token_id": m.get(f"tokenizer.ggml.{g}_token_id")
            for k, g in (("bos", "bos"), ("eos", "eos"), ("pad", "padding"))
        }
        heads, hidden = int(get("attention.head_count", 0)), int(get("embedding_length", 0))
        if not heads or not hidden or not get("block_count"):
            raise ModelError(f"{self.path}: the metadata lacks the model's shape ({a}.embedding_length, …)")
        if self.family == "gpt2":
            return ids | {
                "model_type": "gpt2", "vocab_size": vocab, "n_embd": hidden,
                "n_layer": int(get("block_count")), "n_head": heads,
                "n_positions": int(get("context_length", 1024)),
                "layer_norm_epsilon": float(get("attention.layer_norm_epsilon", 1e-5)),
            }  # fmt: skip
        head_dim = int(get("attention.key_length") or hidden // heads)
        d = ids | {
            "model_type": self.family,
            "vocab_size": vocab,
            "hidden_size": hidden,
            "intermediate_size": int(get("feed_forward_length")),
            "num_hidden_layers": int(get("block_count")),
            "num_attention_heads": heads,
            "num_key_value_heads": int(get("attention.head_count_kv") or heads),
            "head_dim": head_dim,
            "max_position_embeddings": int(get("context_length", 2048)),
            "rms_norm_eps": float(get("attention.layer_norm_rms_epsilon", 1e-6)),
            "rope_theta": float(get("rope.freq_base", 10_000.0)),
            "tie_word_embeddings": "output.weight" not in self.tensors,
            "attention_bias": "blk.0.attn_q.bias" in self.tensors,
        }
        dims = get("rope.dimension_count")
        if dims and int(dims) != head_dim:
            d["partial_rotary_factor"] = int(dims) / head_dim
        d["rope_scaling"] = self._rope_scaling(get, head_dim)
        window = get("attention.sliding_window")
        if self.family in ("gemma2", "gemma3_text"):
            d |= {
                "sliding_window": int(window or 4096),
                "query_pre_attn_scalar": head_dim,  # llama.cpp's 1 / √head_dim
                "attn_logit_softcapping": get("attn_logit_softcapping"),
                "final_logit_softcapping": get("final_logit_softcapping"),
            }
            pattern = get("attention.sliding_window_pattern")  # newer files: every n-th, or per layer
            if isinstance(pattern, list):
                d["layer_types"] = ["sliding_attention" if p else "full_attention" for p in pattern]
            elif pattern:
                d["sliding_window_pattern"] = int(pattern)
            if self.family == "gemma3_text":
                d["rope_local_base_freq"] = float(get("rope.freq_base_swa", GEMMA_LOCAL_THETA))
        elif self.family == "phi3":
            d["sliding_window"] = int(window) if window else None
        return d

    def _rope_scaling(self, get, head_dim: int) -> dict[str, Any] | None:
        kind = get("rope.scaling.type")
        if "rope_freqs.weight" in self.tensors:  # Llama 3's factors, stored as a tensor
            return self._llama3_scaling(get, head_dim)
        if kind in (None, "none"):
            return None
        if kind == "linear":
            return {"rope_type": "linear", "factor": float(get("rope.scaling.factor", 1.0))}
        raise ModelError(f"{self.path}: rotary scaling '{kind}' is not supported (linear, Llama 3's)")

    def _llama3_scaling(self, get, head_dim: int) -> dict[str, Any]:
        """Llama 3.1/3.2's scaling, recognised from the per-frequency factors the file stores."""
        from models.nn.decoder import _scaled

        factors = torch.from_numpy(self._array("rope_freqs.weight")).float().flatten()
        dims = int(get("rope.dimension_count") or head_dim)
        theta = float(get("rope.freq_base", 10_000.0))
        inv_freq = 1.0 / (theta ** (torch.arange(0, dims, 2, dtype=torch.float32) / dims))
        for original in (8192, 4096, 2048, 16384, 32768):
            scaling = {
                "rope_type": "llama3", "factor": float(factors.max()), "low_freq_factor": 1.0,
                "high_freq_factor": 4.0, "original_max_position_embeddings": original,
            }  # fmt: skip
            if torch.allclose(inv_freq / factors, _scaled(inv_freq, scaling), rtol=1e-4, atol=0):
                return scaling
        raise ModelError(f"{self.path}: its rotary frequency factors (rope_freqs) are not Llama 3's")

    # ---- the weights -------------------------------------------------------------------------
    def names(self, hf_names: list[str]) -> dict[str, str]:
        """GGUF's name of each of `transformers`' names (its map for this architecture); a
        ModelError naming the first tensor the file lacks (a tied output head may be absent)."""
        import gguf

        arch = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == self.architecture)
        blocks = int(self.meta.get(f"{self.architecture}.block_count", 0))
        names = gguf.get_tensor_name_map(arch, blocks)
        theirs = {}
        for hf in hf_names:
            name = names.get_name(hf, try_suffixes=(".weight", ".bias"))
            if name is not None:
                theirs[name] = hf
        missing = [hf for g, hf in theirs.items() if g not in self.tensors and hf != "lm_head.weight"]
        if missing:
            raise ModelError(f"{self.path}: the file lacks tensor '{missing[0]}' ({len(missing)} missing)")
        return theirs

    def check(self) -> None:
        """Everything but the weights' values: the config, the tokenizer's kind, every tensor there."""
        from models.hf.config import config_from_hf
        from models.hf.weights import state_to_hf_names
        from models.nn import build

        config = config_from_hf(self.hf_config())
        with torch.device("meta"):
            self.names(state_to_hf_names(build(config)))

    def hf_weights(self, hf_names: list[str], dtype: torch.dtype) -> dict[str, torch.Tensor]:
        """The tensors under `transformers`' names (those in `hf_names`), in `dtype`."""
        theirs = self.names(hf_names)
        weights = {}
        for name, hf in theirs.items():
            if name in self.tensors:
                weights[hf] = self._converted(name, hf).to(dtype)
        return weights

    def _array(self, name: str) -> np.ndarray:
        import gguf

        t = self.tensors[name]
        try:
            return gguf.quants.dequantize(t.data, t.tensor_type)
        except NotImplementedError as e:
            raise ModelError(
                f"{self.path}: tensor '{name}' has type {t.tensor_type.name}, which cannot be read"
            ) from e

    def _converted(self, name: str, hf: str) -> torch.Tensor:
        """One tensor as `transformers` stores it."""
        array = np.ascontiguousarray(self._array(name), dtype=np.float32)
        if not array.flags.writeable:  # a float32 tensor is a view of the read-only mapped file:
            array = array.copy()  # the model owns its weights (training writes them)
        t = torch.from_numpy(array)
        cfg = self.meta
        if self.architecture in PERMUTED and (".self_attn.q_proj." in hf or ".self_attn.k_proj." in hf):
            heads = int(cfg[f"{self.architecture}.attention.head_count"])
            if ".k_proj." in hf:
                heads = int(cfg.get(f"{self.architecture}.attention.head_count_kv") or heads)
            t = _unpermute(t, heads)
        if self.architecture.startswith("gemma") and name.endswith("norm.weight"):
            t = t - 1.0  # llama.cpp stores Gemma's norms as 1 + w
        if self.architecture == "gpt2" and hf.endswith(_CONV1D):
            t = t.t()  # GPT-2's Conv1D layout
        return t


def _unpermute(w: torch.Tensor, heads: int) -> torch.Tensor:
    """Undo llama.cpp's interleaving of each head's rotary halves in query/key rows."""
    half = w.shape[0] // heads // 2
    return w.reshape(heads, half, 2, *w.shape[1:]).transpose(1, 2).reshape(w.shape)


def permute(w: torch.Tensor, heads: int) -> torch.Tensor:
    """llama.cpp's interleaving (what `_unpermute` undoes), for writing a file."""
    half = w.shape[0] // heads // 2
    return w.reshape(heads, 2, half, *w.shape[1:]).transpose(1, 2).reshape(w.shape)


def is_gguf(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".gguf" or _magic(Path(path))


def _magic(path: Path) -> bool:
    """Ollama's blobs have no extension: a file starting with b"GGUF" is one."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"GGUF"
    except OSError:
        return False
