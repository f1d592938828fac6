"""Scaling laws in minutes (Kaplan et al. 2020; Hoffmann et al. 2022): GPTs of several sizes trained
on one corpus for one token budget, one after another; the final loss against the parameters fitted
by L(N) = E + A·N^−α with its uncertainty, and the compute-optimal frontier of the loss curves.

N counts the parameters outside the embeddings (Kaplan et al.'s choice: with them, a small model's
count is mostly its vocabulary). Compute is C = 6·N·D for D tokens seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from models.errors import ModelError
from models.training.settings import TrainConfig, preset

# (layers, width) from 10k to 15M non-embedding parameters, width about 32–64 × layers (the shape
# matters little next to the size, Kaplan et al. §3.1); heads of 16–64 dimensions
LADDER = (
    (1, 16), (1, 24), (1, 32), (2, 32), (2, 48), (2, 64), (3, 64), (3, 96), (4, 96), (4, 128),
    (5, 160), (6, 192), (6, 256), (8, 256), (8, 320), (8, 384), (10, 384),
)  # fmt: skip
BATCH, CONTEXT = 16, 64  # every run's: 1,024 tokens a step
PAPERS = {  # α of L(N), for context beside the fitted one
    "Kaplan et al. 2020 (L(N), converged)": 0.076,
    "Hoffmann et al. 2022 (Chinchilla, α of N)": 0.34,
}


def non_embedding(n_layer: int, n_embd: int) -> int:
    """A GPT block's weights and biases: attention 4·d² + 4d, MLP 8·d² + 5d, two norms 4d."""
    return n_layer * (12 * n_embd * n_embd + 13 * n_embd)


def shape_for(params: int) -> tuple[int, int, int]:
    """(layers, width, heads) of the ladder's shape nearest `params` non-embedding parameters."""
    layers, width = min(LADDER, key=lambda s: abs(math.log(non_embedding(*s)) - math.log(max(params, 1))))
    return layers, width, max(1, width // 32) if width >= 64 else max(1, width // 16)


def kaplan_lr(params: int) -> float:
    """Kaplan et al.'s fitted learning rate for a model of `params` non-embedding parameters (their
    eq. D.1), which does well at every size here."""
    return 0.003239 - 0.0001395 * math.log(params)


def run_configs(sizes: list[int], tokens: int, seed: int = 1337, **overrides) -> list[TrainConfig]:
    """One run's settings per size: the same corpus, batch, context, token budget and seed."""
    if not 3 <= len(sizes) <= 12:
        raise ModelError(f"a sweep needs 3 to 12 sizes to fit E + A·N^−α through (got {len(sizes)})")
    steps = tokens // (BATCH * CONTEXT)
    if steps < 20:
        raise ModelError(
            f"a budget of {tokens:,} tokens is {steps} steps of {BATCH * CONTEXT:,} tokens: too few to "
            f"fit anything; give at least {20 * BATCH * CONTEXT:,} tokens"
        )
    shapes = sorted({shape_for(n) for n in sizes}, key=lambda s: non_embedding(*s[:2]))
    if len(shapes) < len(sizes):
        raise ModelError("two of the sizes are nearest the same shape: space them further apart (×2 or more)")
    configs = []
    for layers, width, heads in shapes:
        lr = kaplan_lr(non_embedding(layers, width))
        configs.append(
            preset(
                "shakespeare", n_layer=layers, n_embd=width, n_head=heads, context=CONTEXT, batch_size=BATCH,
                steps=steps, lr=lr, min_lr=lr / 10, warmup_steps=min(100, steps // 10), dropout=0.0,
                eval_every=max(1, steps // 8), eval_batches=20, sample_every=0, probe_every=0,
                checkpoint_every=0, seed=seed, **overrides,
            )
        )  # fmt: skip
    return configs


def check_memory(configs: list[TrainConfig], vocab: int, available: int) -> None:
    """Refuse a sweep whose largest model would not fit: weights, gradients and AdamW's two moments
    (16 bytes a parameter) and the activations of one batch (a rough 40 floats a token a layer a
    width)."""
    largest = max(configs, key=lambda c: non_embedding(c.n_layer, c.n_embd))
    params = non_embedding(largest.n_layer, largest.n_embd) + (vocab + largest.context) * largest.n_embd
    need = 16 * params + 4 * 40 * BATCH * largest.context * largest.n_layer * largest.n_embd
    if need > available:
        raise ModelError(
            f"the largest model ({largest.n_layer} layers × {largest.n_embd}) needs about "
            f"{need / 2**30:.1f} GiB to train, and {available / 2**30:.1f} GiB is free: drop the largest size"
        )


@dataclass
class SweepRun:
    """One size's run: its shape, the held-out loss at each validation, its time."""

    n_layer: int
    n_embd: int
    params: int  # non-embedding
    curve: list[tuple[int, float]] = field(default_factory=list)  # (tokens seen, held-out loss)
    seconds: float = 0.0
    folder: str = ""
    steps_done: int = 0

    @property
    def final_loss(self) -> float:
        return self.curve[-1][1] if self.curve else float("nan")


@dataclass(frozen=True)
class PowerLaw:
    """L(N) = E + A·N^−α, fitted; α's spread over bootstrap refits; R² of the fit."""

    E: float
    A: float
    alpha: float
    alpha_std: float
    r2: float
    band: tuple[np.ndarray, np.ndarray, np.ndarray] = field(repr=False)  # N, 2.5% and 97.5% curves

    def __call__(self, n) -> np.ndarray:
        return self.E + self.A * np.asarray(n, np.float64) ** -self.alpha

    @property
    def said(self) -> str:
        spread = f"α ± {self.alpha_std:.3f}, R² {self.r2:.3f}"
        return f"L(N) = {self.E:.3f} + {self.A:.3g}·N^−{self.alpha:.3f} ({spread})"


def fit_power_law(n, loss, bootstrap: int = 200, seed: int = 0) -> PowerLaw:
    """Least squares in log(L − E) for each floor E on a grid below the smallest loss (the
    profile over E: a 3-parameter curve_fit on a handful of points wanders off), the best E kept;
    the band and α's spread from refits to the points resampled with replacement."""
    n, loss = np.asarray(n, np.float64), np.asarray(loss, np.float64)
    if len(n) < 3:
        raise ModelError("fitting E + A·N^−α needs at least 3 sizes")

    def fit(x, y):  # every floor at once: the closed-form line through (log N, log(L − E)) per E
        floors = np.linspace(0.0, y.min() * 0.999, 400)[:, None]  # [E, 1]
        lx, lz = np.log(x), np.log(y - floors)  # [n], [E, n]
        dx = lx - lx.mean()
        slope = (lz * dx).sum(1) / max((dx * dx).sum(), 1e-300)  # [E]
        intercept = lz.mean(1) - slope * lx.mean()
        sse = ((floors + np.exp(intercept)[:, None] * x ** slope[:, None] - y) ** 2).sum(1)
        best = int(np.argmin(sse))
        return float(floors[best, 0]), math.exp(intercept[best]), -float(slope[best])

    E, A, alpha = fit(n, loss)
    residual = ((E + A * n**-alpha - loss) ** 2).sum()
    r2 = 1.0 - residual / max(((loss - loss.mean()) ** 2).sum(), 1e-12)
    rng = np.random.default_rng(seed)
    grid = np.geomspace(n.min() / 2, n.max() * 4, 60)
    alphas, curves = [], []
    for _ in range(bootstrap):
        pick = rng.integers(0, len(n), len(n))
        if len(set(pick.tolist())) < 3:
            continue
        e, a, al = fit(n[pick], loss[pick])
        alphas.append(al)
        curves.append(e + a * grid**-al)
    low, high = np.percentile(np.array(curves), [2.5, 97.5], axis=0)
    return PowerLaw(E, A, alpha, float(np.std(alphas)), float(r2), (grid, low, high))


def frontier(runs: list[SweepRun]) -> tuple[np.ndarray, np.ndarray]:
    """The compute-optimal frontier: at each compute C = 6·N·D any run reached, the lowest held-out
    loss of any run at that compute or less (the lower envelope of the loss-against-compute curves)."""
    points = sorted((6.0 * r.params * tokens, loss) for r in runs for tokens, loss in r.curve)
    compute, best, low = [], [], math.inf
    for c, loss in points:
        if loss < low:
            low = loss
            compute.append(c)
            best.append(loss)
    return np.array(compute), np.array(best)


def sweep(configs: list[TrainConfig], corpus, out_dir=None) -> Iterator[tuple[SweepRun, object]]:
    """Train each size in turn: (its run, the trainer's report) after every step; the run's curve
    grows at each validation. `out_dir`/N-params/ keeps each run's folder."""
    import time
    from pathlib import Path

    from models.training.trainer import Trainer

    for cfg in configs:
        params = non_embedding(cfg.n_layer, cfg.n_embd)
        folder = Path(out_dir) / f"{params // 1000}k-params" if out_dir is not None else None
        trainer = Trainer(cfg, corpus, folder)
        run = SweepRun(cfg.n_layer, cfg.n_embd, params, folder=str(folder or ""))
        start = time.perf_counter()
        for report in trainer:
            if report.val_loss is not None:
                run.curve.append((report.step * BATCH * cfg.context, report.val_loss))
            run.seconds, run.steps_done = time.perf_counter() - start, report.step
            yield run, report
            if report.status in ("failed", "stopped"):
                return
