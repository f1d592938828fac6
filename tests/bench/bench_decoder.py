"""A Llama-family decoder at SmolLM2-135M's shape (random weights): generation and loading vs transformers.

    python tests/bench/bench_decoder.py [--new-tokens 128]

30 layers, width 576, 9 query heads sharing 3 key/value heads, vocabulary 49152, tied head, stored as
bf16 safetensors as the real model is. Greedy generation of 128 tokens after a 64-token prompt, ours
vs `transformers` `generate` (the same tokens are checked); then the time and peak memory (max RSS
of a fresh process above what it held after its imports) to open the folder, ours vs `from_pretrained`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

import checkout  # noqa: F401  (the repository on sys.path, as from any folder)
import torch
import transformers

import models  # noqa: E402
from models import assets  # noqa: E402
from models.text.tokenizer import Tokenizer  # noqa: E402

SHAPE = dict(
    vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
    num_key_value_heads=3, max_position_embeddings=2048, rope_theta=100000.0, tie_word_embeddings=True,
    bos_token_id=None, eos_token_id=None,
)  # fmt: skip
PROMPT = 64

LOAD = """
import sys, time

def status(field):  # kB -> MiB, from the kernel's view of this process
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024

import torch
if sys.argv[1] == "ours":
    import models
else:
    import transformers
before = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")  # the peak (VmHWM) restarts from here: imports excluded
t0 = time.perf_counter()
if sys.argv[1] == "ours":
    model, _ = models.load(sys.argv[2])
elif sys.argv[2].endswith(".gguf"):  # transformers reads a GGUF file from its folder
    from pathlib import Path
    path = Path(sys.argv[2])
    model = transformers.AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, dtype=torch.float32
    )
else:
    model = transformers.AutoModelForCausalLM.from_pretrained(sys.argv[2], dtype=torch.float32)
took = time.perf_counter() - t0
print(took, status("VmHWM") - before)
"""


def load_in_fresh_process(who: str, folder) -> tuple[float, float]:
    """(seconds, peak MiB above the imports) of opening `folder` (or a .gguf file) in a fresh
    process: "ours" with `models.load`, else `transformers`' from_pretrained, as float32."""
    out = subprocess.run([sys.executable, "-c", LOAD, who, str(folder)], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    took, rss = out.stdout.split()[-2:]
    return float(took), float(rss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--new-tokens", type=int, default=128)
    args = ap.parse_args()
    torch.manual_seed(0)
    theirs = transformers.LlamaForCausalLM(transformers.LlamaConfig(**SHAPE)).eval()
    text = assets.path(assets.SHAKESPEARE).read_text(encoding="utf-8")
    tok = Tokenizer.train([text[:200_000]], "bpe", vocab_size=2000)
    with tempfile.TemporaryDirectory() as folder:
        theirs.to(torch.bfloat16).save_pretrained(folder)
        tok.save(folder)
        theirs.float()
        ours, tok = models.load(folder)
        ids = tok.encode(text[5000:6000], special_tokens=False).ids[:PROMPT]
        prompt = tok.decode(ids)
        n_params = sum(p.numel() for p in ours.parameters())
        print(
            f"torch {torch.__version__}, {torch.get_num_threads()} threads; {n_params / 1e6:.0f}M parameters"
        )

        def run_ours():
            gen = models.generate(ours, tok, prompt, max_new_tokens=args.new_tokens, temperature=0)
            return [s.token_id for s in gen]

        def run_theirs():
            with torch.inference_mode():
                out = theirs.generate(
                    torch.tensor([list(ids)]), max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                    do_sample=False, pad_token_id=0,
                )  # fmt: skip
            return out[0, len(ids) :].tolist()

        run_ours(), run_theirs()  # warm up
        t0 = time.perf_counter()
        a = run_ours()
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        b = run_theirs()
        t_theirs = time.perf_counter() - t0
        same = (
            "identical tokens"
            if a == b
            else f"tokens differ from position {next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)}"  # noqa: E501
        )
        n = args.new_tokens
        print(f"greedy generation, {PROMPT}-token prompt + {n}: ours {n / t_ours:.1f} tok/s vs transformers "
              f"{n / t_theirs:.1f} tok/s: {t_theirs / t_ours:.2f}x ({same}; target >= 1.0x)")  # fmt: skip
        (t_a, m_a), (t_b, m_b) = (
            load_in_fresh_process("ours", folder),
            load_in_fresh_process("theirs", folder),
        )
        print(f"open the bf16 folder as float32 (fresh process): ours {t_a:.2f} s, peak +{m_a:.0f} MiB vs "
              f"from_pretrained {t_b:.2f} s, +{m_b:.0f} MiB: time {t_a / t_b:.2f}x, memory {m_a / m_b:.2f}x "
              f"(target <= 1.0x both)")  # fmt: skip


if __name__ == "__main__":
    main()
