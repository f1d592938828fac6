"""A scaling-law sweep on Shakespeare in minutes: seven GPT sizes, one token budget, the fit.

    python tests/bench/bench_scaling.py [--sizes 10k,25k,60k,150k,400k,1M,2.5M] [--tokens 1M]

`playground sweep` as it runs (one model after another, the app's thread choice), in a temporary
folder: each size's held-out loss and seconds, then L(N) = E + A·N^−α fitted with α's bootstrap
spread and R², beside the papers' exponents. Target: the whole sweep within 10 minutes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import checkout  # noqa: F401  (the repository on sys.path, as from any folder)

BUDGET_S = 600.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,25k,60k,150k,400k,1M,2.5M")
    parser.add_argument("--tokens", default="1M")
    args = parser.parse_args()
    from playground.cli import main as cli

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        code = cli(["sweep", "--sizes", args.sizes, "--tokens", args.tokens, "--out", out])
    took = time.perf_counter() - start
    print(f"whole sweep: {took:.0f} s (target ≤ {BUDGET_S:.0f} s)")
    sys.exit(code)


if __name__ == "__main__":
    main()
