"""Training speed and quality: our GPT vs transformers' GPT2LMHeadModel, and nanoGPT's CPU recipe.

    python tests/bench/bench_training.py throughput [--rounds 5]   # ratio, MFU, AdamW, bf16
    python tests/bench/bench_training.py quality                    # 2000 steps, val loss <= 1.88

throughput: tokens/s of a full training step (forward, backward, clip, AdamW) for both models at
the same config, batch and weights, interleaved in one run; MFU against a 245 GFLOP/s fp32 peak;
fused vs default AdamW; bf16 autocast vs fp32 on CPU. quality: the nanoGPT recipe through our
Trainer (char-level, 4 layers, 4 heads, width 128, context 64, batch 12, lr 1e-3 -> 1e-4).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import models  # noqa: E402
from models.presets import TrainConfig, preset  # noqa: E402
from models.training import Trainer, make_optimizer  # noqa: E402

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "data" / "tinyshakespeare.txt"
PEAK_FLOPS = 245e9  # fp32 peak of this CPU, as measured for the project
SHAPES = {  # name: (layers, heads, width, context, batch, vocab)
    "nanogpt-cpu": (4, 4, 128, 64, 12, 65),
    "gpt-6x256": (6, 8, 256, 128, 8, 2000),
}


def flops_per_token(model: torch.nn.Module, layers: int, width: int, context: int) -> float:
    """nanoGPT's estimate: 6 per parameter (forward + backward) plus attention's 12·L·C·T."""
    n = sum(p.numel() for p in model.parameters()) - context * width  # minus position table
    return 6 * n + 12 * layers * width * context


def step_fn(model, optimizer, x, y, amp: bool):
    def step() -> None:
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if amp else nullcontext()
        with ctx:
            logits = model(x).logits
        loss = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def timed(step, n: int | None = None) -> float:
    """Seconds per call; without n, as many calls as fit in about a second."""
    t = time.perf_counter()
    step()  # warm-up outside the clock
    n = n or max(3, int(1.0 / (time.perf_counter() - t)))
    t = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t) / n


def throughput(rounds: int) -> None:
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    for name, (L, H, C, T, B, V) in SHAPES.items():
        hf_cfg = transformers.GPT2Config(
            n_layer=L,
            n_head=H,
            n_embd=C,
            n_positions=T,
            vocab_size=V,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            bos_token_id=None,
            eos_token_id=None,
        )
        torch.manual_seed(0)
        hf = transformers.GPT2LMHeadModel(hf_cfg).train()
        with tempfile.TemporaryDirectory() as d:  # the very same weights in our model
            hf.save_pretrained(d)
            models.Tokenizer.train(["abc"], "char").save(d)
            ours, _ = models.load(d)
        ours.train()
        cfg = TrainConfig()
        x = torch.randint(V, (B, T))
        y = torch.randint(V, (B, T))
        tokens = B * T
        runs = {
            "ours": step_fn(ours, make_optimizer(ours, cfg, torch.device("cpu")), x, y, False),
            "transformers": step_fn(hf, make_optimizer(hf, cfg, torch.device("cpu")), x, y, False),
            "ours bf16": step_fn(ours, make_optimizer(ours, cfg, torch.device("cpu")), x, y, True),
        }
        unfused = torch.optim.AdamW(ours.parameters(), lr=1e-3)
        runs["ours, default AdamW"] = step_fn(ours, unfused, x, y, False)
        times: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(rounds):  # interleaved, so load from other processes hits all alike
            for k, fn in runs.items():
                times[k].append(timed(fn))
        best = {k: statistics.median(v) for k, v in times.items()}
        fpt = flops_per_token(ours, L, C, T)
        print(
            f"\n{name}: {L} layers, {H} heads, width {C}, context {T}, batch {B}, vocab {V}, "
            f"{sum(p.numel() for p in ours.parameters()) / 1e6:.2f}M parameters"
        )
        for k, s in best.items():
            print(
                f"  {k:22s} {tokens / s:10,.0f} tokens/s  {s * 1e3:7.2f} ms/step  "
                f"MFU {fpt * tokens / s / PEAK_FLOPS:5.1%}"
            )
        print(f"  ratio ours / transformers: {best['transformers'] / best['ours']:.2f}x")
        print(
            f"  fused / default AdamW (whole step): {best['ours, default AdamW'] / best['ours']:.2f}x faster"
        )
        print(f"  bf16 autocast / fp32 on CPU: {best['ours'] / best['ours bf16']:.2f}x speed")
        opt_f = make_optimizer(ours, cfg, torch.device("cpu"))
        for p in ours.parameters():
            p.grad = torch.randn_like(p)
        t_f = timed(opt_f.step, 50)
        t_u = timed(unfused.step, 50)
        print(
            f"  optimizer step alone: fused {t_f * 1e3:.2f} ms, default {t_u * 1e3:.2f} ms ({t_u / t_f:.1f}x)"
        )


def quality(steps: int, precision: str, seed: int) -> None:
    cfg = preset(
        "shakespeare",
        steps=steps,
        warmup_steps=100,
        eval_every=500,
        eval_batches=200,
        sample_every=0,
        probe_every=0,
        checkpoint_every=0,
        device="cpu",
        precision=precision,
        seed=seed,
    )
    t = time.perf_counter()
    trainer = Trainer(cfg, CORPUS)
    setup = time.perf_counter() - t
    for r in trainer:
        if r.val_loss is not None:
            print(
                f"  step {r.step:5d}  train {r.loss:.4f}  val {r.val_loss:.4f}  "
                f"{r.elapsed_s:6.1f} s  {r.tokens_per_s:,.0f} tok/s",
                flush=True,
            )
    wall = time.perf_counter() - t
    val = trainer.val_losses[-1][1]
    verdict = "PASS" if val <= 1.88 else "FAIL"
    print(
        f"nanoGPT CPU recipe ({precision}, seed {seed}): val loss {val:.4f} "
        f"(target <= 1.88: {verdict}), "
        f"wall {wall:.0f} s (setup {setup:.1f} s, training {trainer.elapsed_s:.0f} s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", choices=["throughput", "quality"])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--seed", type=int, default=1337, help="nanoGPT's seed")
    args = ap.parse_args()
    if args.part == "throughput":
        throughput(args.rounds)
    else:
        quality(args.steps, args.precision, args.seed)


if __name__ == "__main__":
    main()
