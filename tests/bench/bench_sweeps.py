"""Head sweeps: every head knocked out in turn, and every head patched, batched vs one head at a time.

    python tests/bench/bench_sweeps.py [--repeats 3] [--tokens 64]

A GPT-2-shaped 6-layer, 6-head, width-384 model with GPT-2's vocabulary (random weights) over 64
tokens. The reference is the same sweep run one head at a time with `models.ablated` and
`models.patched`, in the same run; both must give the same numbers.
"""

from __future__ import annotations

import argparse
import statistics
import time

import checkout  # noqa: F401  (the repository on sys.path, as from any folder)
import numpy as np
import torch

import models  # noqa: E402
from models.inspect import sweeps  # noqa: E402
from models.results import TokenizedText  # noqa: E402

LAYERS, HEADS, WIDTH, VOCAB = 6, 6, 384, 50257


def tokens(ids: np.ndarray) -> TokenizedText:
    return TokenizedText(ids, tuple(str(i) for i in ids), np.zeros((len(ids), 2), np.int64))


def one_at_a_time_ablation(model, ids: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        base = float(sweeps._losses(model, ids)[0])
        out = np.zeros((LAYERS, HEADS), np.float32)
        for layer in range(LAYERS):
            for head in range(HEADS):
                with models.ablated(model, [(layer, head)]):
                    out[layer, head] = float(sweeps._losses(model, ids)[0]) - base
    return out


def one_at_a_time_patching(model, clean: torch.Tensor, corrupted: torch.Tensor, target: int, other: int):
    with torch.inference_mode():
        lc = model(clean, last_only=True).logits[0, -1]
        lx = model(corrupted, last_only=True).logits[0, -1]
        ld_clean, ld_corrupted = float(lc[target] - lc[other]), float(lx[target] - lx[other])
        out = np.zeros((LAYERS, HEADS), np.float32)
        for layer in range(LAYERS):
            for head in range(HEADS):
                with models.patched(model, clean, [(layer, head)]):
                    lp = model(corrupted, last_only=True).logits[0, -1]
                out[layer, head] = (float(lp[target] - lp[other]) - ld_corrupted) / (ld_clean - ld_corrupted)
    return out


def timed(fn, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=64)
    args = ap.parse_args()
    torch.manual_seed(0)
    cfg = models.GPTConfig(vocab_size=VOCAB, n_positions=1024, n_embd=WIDTH, n_layer=LAYERS, n_head=HEADS)
    model = models.GPT(cfg).eval()
    rng = np.random.default_rng(0)
    clean_ids = rng.integers(0, VOCAB, args.tokens)
    corrupted_ids = clean_ids.copy()
    corrupted_ids[args.tokens // 2 :] = rng.integers(0, VOCAB, args.tokens - args.tokens // 2)
    clean, corrupted = torch.tensor(clean_ids[None]), torch.tensor(corrupted_ids[None])
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; model {LAYERS}x{HEADS}x{WIDTH}, "
        f"vocab {VOCAB}, {args.tokens} tokens, {LAYERS * HEADS} heads; median of {args.repeats}"
    )

    def batched_ablation():
        return list(sweeps.ablation_sweep_ids(model, tokens(clean_ids)))[-1]

    def batched_patching():
        sweep = sweeps.patching_sweep_ids(model, tokens(clean_ids), tokens(corrupted_ids), args.tokens - 1)
        return list(sweep)[-1]

    batched_ablation()  # warm up
    t_ab, ab = timed(batched_ablation, args.repeats)
    t_ab1, ab1 = timed(lambda: one_at_a_time_ablation(model, clean), args.repeats)
    np.testing.assert_allclose(ab.values, ab1, atol=1e-3)
    print(f"ablation sweep (zero, loss change): batched {t_ab:.2f} s vs one head at a time {t_ab1:.2f} s: "
          f"{t_ab1 / t_ab:.2f}x (target <= 3 s, faster than one at a time)")  # fmt: skip
    t_pa, pa = timed(batched_patching, args.repeats)
    t_pa1, pa1 = timed(
        lambda: one_at_a_time_patching(model, clean, corrupted, int(pa.target), int(pa.other)), args.repeats
    )
    np.testing.assert_allclose(pa.values, pa1, atol=1e-3)
    print(f"patching sweep (logit difference restored): batched {t_pa:.2f} s vs one head at a time "
          f"{t_pa1:.2f} s: {t_pa1 / t_pa:.2f}x (target <= 3 s, faster than one at a time)")  # fmt: skip


if __name__ == "__main__":
    main()
