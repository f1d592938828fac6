"""`playground sweep`: a scaling-law sweep headless — GPTs of several sizes on one corpus and token
budget, each run's folder and a CSV written, the fitted L(N) = E + A·N^−α printed."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from models.errors import ModelError
from playground import threads

SUFFIXES = {"k": 1_000, "m": 1_000_000}


def count(text: str) -> int:
    """'20k' -> 20000, '1.5M' -> 1500000, '300' -> 300."""
    t = text.strip().lower()
    try:
        return int(float(t[:-1]) * SUFFIXES[t[-1]]) if t and t[-1] in SUFFIXES else int(float(t))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a count: {text!r} (e.g. 20k, 1.5M)") from e


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="playground sweep",
        description="Train GPTs of several sizes for one token budget, one after another, and fit the "
        "final held-out loss against the parameters: L(N) = E + A·N^-alpha (Kaplan et al. 2020).",
    )
    p.add_argument("--corpus", default="shakespeare", help="a text file, a folder or a built-in corpus")
    p.add_argument(
        "--sizes", default="20k,60k,200k,600k,1.5M",
        type=lambda s: [count(x) for x in s.split(",") if x.strip()],
        help="non-embedding parameters of each model, comma-separated (default 20k,60k,200k,600k,1.5M)",
    )  # fmt: skip
    p.add_argument("--tokens", default="1M", type=count, help="tokens each model trains on (default 1M)")
    p.add_argument("--out", required=True, help="folder for each run's checkpoint and the CSVs")
    p.add_argument("--seed", type=int, default=1337)
    threads.add_option(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tuner = threads.start(args.threads, lambda m: print(f"warning: {m}", file=sys.stderr))
    try:
        return _sweep(args, tuner)
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _sweep(args: argparse.Namespace, tuner: threads.ThreadTuner | None) -> int:
    """Every size in turn, the thread count tuned anew for each (beside a busy program a small
    model runs several times faster on one thread than on two)."""
    from models.hf.checkpoint import available_memory
    from models.text.corpus import load_corpus
    from models.training.scaling import PAPERS, check_memory, fit_power_law, frontier, run_configs, sweep

    configs = run_configs(args.sizes, args.tokens, args.seed)
    corpus = load_corpus(args.corpus, seed=args.seed)
    check_memory(configs, len(set(corpus.text)) + 1, available_memory())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs, last = [], None
    for run, report in threads.tuned(sweep(configs, corpus, out), tuner):
        if run is not last and tuner is not None:
            tuner.restart(forget=True)
        if run is not last:
            if last is not None:
                runs.append(last)
                _said(last)
            last = run
            print(f"training {run.n_layer} layers × {run.n_embd} ({run.params:,} parameters)…", flush=True)
        if report.status == "failed":
            print(f"error: the {run.params:,}-parameter run failed: {report.events}", file=sys.stderr)
            return 1
    runs.append(last)
    _said(last)
    with open(out / "sweep.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["params", "n_layer", "n_embd", "tokens", "compute", "val_loss", "seconds", "folder"])
        for r in runs:
            tokens = r.curve[-1][0]
            w.writerow([r.params, r.n_layer, r.n_embd, tokens, 6 * r.params * tokens, f"{r.final_loss:.5f}",
                        f"{r.seconds:.1f}", r.folder])  # fmt: skip
    with open(out / "curves.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["params", "tokens", "compute", "val_loss"])
        for r in runs:
            for tokens, loss in r.curve:
                w.writerow([r.params, tokens, 6 * r.params * tokens, f"{loss:.5f}"])
    law = fit_power_law([r.params for r in runs], [r.final_loss for r in runs])
    compute, best = frontier(runs)
    print(f"fit: {law.said}")
    print("for context: " + "; ".join(f"{name} α = {a}" for name, a in PAPERS.items()))
    print(f"compute-optimal frontier: {len(compute)} points from {compute[0]:.2g} to {compute[-1]:.2g} FLOP")
    print(f"written: {out / 'sweep.csv'}, {out / 'curves.csv'} and each run's folder")
    return 0


def _said(run) -> None:
    print(
        f"  {run.params:>10,} parameters: held-out loss {run.final_loss:.4f} in {run.seconds:.0f} s",
        flush=True,
    )
