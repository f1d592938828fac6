"""Opening GGUF files at SmolLM2-135M's shape (random weights): ours vs transformers, and vs a folder.

    python tests/bench/bench_gguf.py [--types F16 Q8_0 Q4_0]

The model of bench_decoder.py (30 layers, width 576, 9 query heads on 3 key/value heads, vocabulary
49,152, tied head) written as llama.cpp lays out a GGUF (the `gguf` writer; query/key rows permuted)
in each type, with a byte-level vocabulary of 49,152 tokens and 48k merges as the real file has.
Each is opened as float32 in a fresh process, by `models.load` and by `transformers`
(`from_pretrained(gguf_file=…)`): seconds and peak memory above the imports; the same weights as a
bf16 safetensors folder are the third column. The `gguf` reader's own time (parsing the metadata:
the vocabulary is most of it) is shown apart.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import checkout  # noqa: F401  (the repository on sys.path, as from any folder)
import gguf
import numpy as np
import torch
import transformers
from bench_decoder import SHAPE, load_in_fresh_process

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.models.gguf_files import write_gguf  # noqa: E402


def vocabulary(size: int) -> dict:
    """A byte-level vocabulary of `size` tokens: the 256 byte tokens, then merged pairs of them."""
    alphabet = sorted(set(__import__("tokenizers").pre_tokenizers.ByteLevel.alphabet()))
    tokens, merges = list(alphabet), []
    for a in alphabet:
        for b in alphabet:
            if len(tokens) >= size - 1:
                break
            tokens.append(a + b)
            merges.append(f"{a} {b}")
    tokens.append("<|endoftext|>")
    return {"model": "gpt2", "pre": "smollm", "tokens": tokens, "merges": merges,
            "types": [1] * (len(tokens) - 1) + [3], "bos": len(tokens) - 1, "eos": len(tokens) - 1,
            "add_bos": False}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--types", nargs="+", default=["F16", "Q8_0", "Q4_0"])
    args = ap.parse_args()
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**SHAPE)).eval()
    meta = vocabulary(SHAPE["vocab_size"])
    from importlib.metadata import version

    n = sum(p.numel() for p in model.parameters())
    print(
        f"torch {torch.__version__}, gguf {version('gguf')}; {n / 1e6:.0f}M parameters, "
        f"{len(meta['merges'])} merges"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "folder"
        model.to(torch.bfloat16).save_pretrained(folder)
        model.float()
        from models.text.gguf_tokenizer import gguf_tokenizer

        fields = {"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": meta["tokens"],
                  "tokenizer.ggml.merges": meta["merges"], "tokenizer.ggml.pre": "smollm"}  # fmt: skip
        gguf_tokenizer(fields, "llama", "bench").save(folder)  # the same vocabulary in the folder
        t_folder, m_folder = load_in_fresh_process("ours", folder)
        print(f"bf16 safetensors folder, ours: {t_folder:.2f} s, +{m_folder:.0f} MiB")
        for kind in args.types:
            path = write_gguf(
                model, Path(tmp) / f"smol-{kind}.gguf", meta, qtype=getattr(gguf.GGMLQuantizationType, kind)
            )
            t0 = time.perf_counter()
            gguf.GGUFReader(str(path))
            reader = time.perf_counter() - t0
            (t_a, m_a), (t_b, m_b) = (
                load_in_fresh_process("ours", path),
                load_in_fresh_process("theirs", path),
            )
            size = path.stat().st_size / 2**20
            print(f"{kind:5s} {size:6.0f} MiB file: ours {t_a:.2f} s, +{m_a:.0f} MiB (the gguf reader alone "
                  f"{reader:.2f} s) vs transformers {t_b:.2f} s, +{m_b:.0f} MiB: time {t_a / t_b:.2f}x, "
                  f"memory {m_a / m_b:.2f}x; vs the folder {t_a / t_folder:.2f}x")  # fmt: skip
            path.unlink()


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
