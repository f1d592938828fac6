"""Training speed and quality: our GPT vs transformers' GPT2LMHeadModel, and nanoGPT's CPU recipe.

    python tests/bench/bench_training.py throughput [--rounds 5]   # ratio, MFU, AdamW, bf16
    python tests/bench/bench_training.py quality [--seeds 1337 1 2] # 2000 steps, val loss <= 1.88

throughput: tokens/s of a full training step (forward, backward, clip, AdamW) for both models at
the same config, batch and weights, interleaved in one run; MFU against a 245 GFLOP/s fp32 peak;
fused vs default AdamW; bf16 autocast vs fp32 on CPU. quality: the nanoGPT recipe through our
Trainer (char-level, 4 layers, 4 heads, width 128, context 64, batch 12, lr 1e-3 -> 1e-4), and
the same recipe as nanoGPT runs it on transformers' GPT-2 as the reference, both scored on the
same 200 validation batches.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import nullcontext

import checkout  # noqa: F401  (the repository on sys.path, as from any folder)
import torch
import torch.nn.functional as F
import transformers

import models  # noqa: E402
from models import assets
from models.training.batches import gpt_batch  # noqa: E402
from models.training.optimizer import lr_factor, make_optimizer  # noqa: E402
from models.training.settings import TrainConfig, preset  # noqa: E402
from models.training.trainer import Trainer  # noqa: E402

CORPUS = assets.path(assets.SHAKESPEARE)  # shipped in the repository and the wheel
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


def gpt2(layers: int, heads: int, width: int, context: int, vocab: int, activation: str = "gelu_new"):
    """A randomly initialised transformers GPT-2 without dropout, in training mode."""
    config = transformers.GPT2Config(
        n_layer=layers,
        n_head=heads,
        n_embd=width,
        n_positions=context,
        vocab_size=vocab,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        activation_function=activation,
        bos_token_id=None,
        eos_token_id=None,
    )
    return transformers.GPT2LMHeadModel(config).train()


def throughput(rounds: int) -> None:
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    for name, (L, H, C, T, B, V) in SHAPES.items():
        torch.manual_seed(0)
        hf = gpt2(L, H, C, T, V)
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


def nanogpt_reference(trainer: Trainer, seed: int) -> torch.nn.Module:
    """The recipe as nanoGPT's train.py runs it, on an independent model: transformers' GPT-2 made
    nanoGPT's (bias=False: every bias zero and frozen; exact GELU), a plain loop, the same schedule."""
    cfg = trainer.config
    torch.manual_seed(seed)
    model = gpt2(cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.context, trainer.tokenizer.vocab_size, "gelu")
    for name, p in model.named_parameters():
        if name.endswith(".bias"):
            p.data.zero_()
            p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(  # nanoGPT's groups; the default (foreach) kernel, as on its CPU path
        [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ],
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
    )
    gen = torch.Generator().manual_seed(seed)
    for it in range(cfg.steps):
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr * lr_factor(it, cfg)
        x, y = gpt_batch(trainer.objective.train_ids, cfg.batch_size, cfg.context, gen)
        loss = F.cross_entropy(model(x).logits.flatten(0, 1), y.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return model


def quality(steps: int, precision: str, seeds: list[int], reference: bool) -> None:
    ours, refs = [], []
    for seed in seeds:
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
        ours.append(trainer.val_losses[-1][1])
        line = (
            f"seed {seed}: ours {ours[-1]:.4f} (wall {wall:.0f} s: setup {setup:.1f} s, "
            f"training {trainer.elapsed_s:.0f} s)"
        )
        if reference:  # the same corpus split, tokenizer, schedule and validation batches
            t = time.perf_counter()
            refs.append(trainer.evaluate(nanogpt_reference(trainer, seed)))
            line += f"; nanoGPT recipe on transformers {refs[-1]:.4f} ({time.perf_counter() - t:.0f} s)"
        print(line, flush=True)
    mean = statistics.mean(ours)
    verdict = "PASS" if mean <= 1.88 else "FAIL"
    print(
        f"nanoGPT CPU recipe ({precision}, {len(seeds)} seed(s)): ours val loss {mean:.4f} mean "
        f"(target <= 1.88: {verdict})"
    )
    if refs:
        print(
            f"  reference {statistics.mean(refs):.4f} mean; ours - reference = "
            f"{mean - statistics.mean(refs):+.4f} (negative: ours is better)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", choices=["throughput", "quality"])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1337], help="1337 is nanoGPT's seed")
    ap.add_argument("--no-reference", action="store_true", help="skip the nanoGPT reference run")
    args = ap.parse_args()
    if args.part == "throughput":
        throughput(args.rounds)
    else:
        quality(args.steps, args.precision, args.seeds, not args.no_reference)


if __name__ == "__main__":
    main()
