"""Grokking on this CPU: the grok preset's run (modular addition mod 59, half the pairs), headless.

    python tests/bench/bench_grokking.py [--seeds 1337 1 2] [--beside quiet "torch program"]

Each run is `playground train --corpus task:modadd --preset grok` as the Trainer runs it (the app's
thread choice, validation every 20 steps): the step and seconds where train accuracy first reaches
100% and where test accuracy first reaches 50% and 95%, and the key frequencies of the embedding then.
Beside a neighbour (bench_busy's: a busy loop, or a PyTorch matmul loop), started here and stopped
after. The target: test accuracy >= 95% within 5 minutes.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import time

import checkout  # noqa: F401  (the repository on sys.path, as from any folder)
from bench_busy import NEIGHBOURS, beside

BUDGET_S = 300.0


def run(seed: int) -> dict:
    from models.training.settings import preset
    from models.training.trainer import Trainer
    from playground import threads

    tuner = threads.start(None, print)
    trainer = Trainer(preset("grok", seed=seed, probe_every=0, sample_every=0), "task:modadd")
    start = time.perf_counter()
    seen: dict = {}
    for report in threads.tuned(trainer, tuner):
        now = time.perf_counter()
        g = report.grokking
        if g is None:
            continue
        for name, reached in (("train 100%", g.train_accuracy >= 1.0), ("test 50%", g.test_accuracy >= 0.5),
                              ("test 95%", g.test_accuracy >= 0.95)):  # fmt: skip
            if reached and name not in seen:
                seen[name] = (report.step, now - start, g.key_frequencies)
        if "test 95%" in seen or now - start > BUDGET_S:
            break
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1337, 1, 2])
    parser.add_argument("--beside", nargs="+", default=["quiet", "torch program"], choices=list(NEIGHBOURS))
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a single run, in this process
    args = parser.parse_args()
    if args.one is not None:
        print(repr(run(args.one)))
        return
    print(f"{'beside':<14} {'seed':>5} {'train 100%':>16} {'test 50%':>16} {'test 95%':>16}  key frequencies")
    for name in args.beside:
        for seed in args.seeds:
            with beside(name):
                out = subprocess.run([sys.executable, __file__, "--one", str(seed)], capture_output=True,
                                     text=True, check=True).stdout  # fmt: skip
            seen = ast.literal_eval(out.strip().splitlines()[-1])

            def cell(key: str, seen=seen) -> str:
                if key not in seen:
                    return f"{'not in budget':>16}"
                return f"{seen[key][0]:>6,} ({seen[key][1]:5.1f} s)"

            keys = ", ".join(map(str, seen.get("test 95%", (0, 0, ()))[2]))
            print(f"{name:<14} {seed:>5} {cell('train 100%')} {cell('test 50%')} {cell('test 95%')}  {keys}",
                  flush=True)  # fmt: skip
    print(f"target: test accuracy >= 95% within {BUDGET_S:.0f} s")


if __name__ == "__main__":
    main()
