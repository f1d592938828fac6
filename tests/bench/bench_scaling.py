"""A scaling-law sweep on Shakespeare in minutes: seven GPT sizes, one token budget, the fit.

    python tests/bench/bench_scaling.py [--sizes 10k,25k,60k,150k,400k,1M,2.5M] [--tokens 1M]
                                        [--beside quiet "torch program"]

`playground sweep` as it runs (one model after another, the app's thread choice), in a temporary
folder: each size's held-out loss and seconds, then L(N) = E + A·N^−α fitted with α's bootstrap
spread and R², beside the papers' exponents. Beside a neighbour (bench_busy's: a busy loop, or a
PyTorch matmul loop), started here and stopped after. Target: the whole sweep within 10 minutes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

import checkout  # noqa: F401  (the repository on sys.path, as from any folder)
from bench_busy import NEIGHBOURS, beside

BUDGET_S = 600.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,25k,60k,150k,400k,1M,2.5M")
    parser.add_argument("--tokens", default="1M")
    parser.add_argument("--beside", nargs="+", default=["quiet", "torch program"], choices=list(NEIGHBOURS))
    args = parser.parse_args()
    results = []
    for name in args.beside:
        with beside(name), tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            sweep = [sys.executable, "-m", "playground.cli", "sweep", "--sizes", args.sizes,
                     "--tokens", args.tokens, "--out", out]  # fmt: skip
            printed = subprocess.run(sweep, capture_output=True, text=True, check=True).stdout
            took = time.perf_counter() - start
        print(f"--- beside: {name}\n{printed.rstrip()}", flush=True)
        fit = next((line for line in printed.splitlines() if line.startswith("fit:")), "no fit")
        results.append((name, took, fit))
    for name, took, fit in results:
        print(f"{name:<14} whole sweep {took:4.0f} s (target ≤ {BUDGET_S:.0f} s) · {fit}")


if __name__ == "__main__":
    main()
