"""The induction-head phase change on this CPU: the induction preset's run on Shakespeare, headless.

    python tests/bench/bench_induction.py [--seeds 1337] [--beside quiet "torch program"]

Each run is `playground train --corpus shakespeare --preset induction` as the Trainer runs it (the
app's thread choice): the step and seconds where the best head's induction score first reaches the
threshold (the marker), the whole run's seconds, and at its end the in-context-learning score with
every head, with the two best induction heads knocked out and with the weakest head knocked out.
Beside a neighbour (bench_busy's), started here and stopped after. Target: the heads form within
5 minutes, and knocking them out undoes the in-context learning.
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
    from models.inspect.induction import THRESHOLD
    from models.training.settings import preset
    from models.training.trainer import Trainer
    from playground import threads

    tuner = threads.start(None, print)
    trainer = Trainer(preset("induction", seed=seed, sample_every=0, checkpoint_every=0), "shakespeare")
    start = time.perf_counter()
    seen: dict = {}
    for report in threads.tuned(trainer, tuner):
        now = time.perf_counter()
        m = report.induction
        if m is None:
            continue
        if "formed" not in seen and m.best >= THRESHOLD:
            seen["formed"] = (report.step, now - start, m.heads)
        seen["end"] = (report.step, now - start, m.best, m.icl, m.icl_heads_out, m.icl_weakest_out)
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1337])
    parser.add_argument("--beside", nargs="+", default=["quiet", "torch program"], choices=list(NEIGHBOURS))
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a single run, in this process
    args = parser.parse_args()
    if args.one is not None:
        print(repr(run(args.one)))
        return
    header = f"{'beside':<14} {'seed':>5} {'heads formed':>22} {'run':>7}"
    print(f"{header}  in-context: every head / best out / weakest out")
    for name in args.beside:
        for seed in args.seeds:
            with beside(name):
                out = subprocess.run([sys.executable, __file__, "--one", str(seed)], capture_output=True,
                                     text=True, check=True).stdout  # fmt: skip
            seen = ast.literal_eval(out.strip().splitlines()[-1])
            formed = "not formed"
            if "formed" in seen:
                step, seconds, heads = seen["formed"]
                named = ",".join(f"L{layer}H{head}" for layer, head in heads)
                formed = f"{step:,} ({seconds:5.1f} s, {named})"
            _, total, best, icl, out_best, out_weak = seen["end"]
            scores = f"{icl:+.3f} / {out_best:+.3f} / {out_weak:+.3f} (best score {best:.2f})"
            print(f"{name:<14} {seed:>5} {formed:>22} {total:5.0f} s  {scores}", flush=True)
    print(f"target: the heads form within {BUDGET_S:.0f} s; the best heads out undo the in-context learning")


if __name__ == "__main__":
    main()
