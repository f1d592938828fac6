"""A busy laptop: training and generation quiet, beside a busy loop, and beside a second PyTorch program.

    python tests/bench/bench_busy.py [--steps 150] [--tokens 200] [--settings app,old]

Each measurement runs in a fresh process (its threads chosen at start, as the app chooses them):
training the copy task with the `task` preset's model (steps/s) and greedy generation with the
built-in GPT (tokens/s). The neighbours are started by this script and stopped after: a plain Python
busy loop (one core), and a PyTorch matmul loop with torch's default threads. "app" is the app's
own choice (`playground.threads`: one thread per core, the count tuned as the work runs); "old" is
torch's defaults (one spinning thread per core, always).
Targets (issue 23): beside the PyTorch program ≥ 0.35x of the quiet rate, beside the busy loop
≥ 0.45x, and quiet no slower than the old defaults.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from contextlib import contextmanager

import checkout  # noqa: F401  (the repository on sys.path, as from any folder)

NEIGHBOURS = {
    "quiet": None,
    "busy loop": "while True:\n    pass",
    "torch program": "import torch\na = torch.randn(1024, 1024)\nwhile True:\n    a @ a",
}
MEASURE = r"""
import sys, time
import torch
from playground import threads
import models
from models import assets
what, n, choice = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# "app": the app's choice (one per core, tuned as the work runs); "old": torch's defaults, untouched
tuner = threads.start(None, print) if choice == "app" else None

def step(work):
    t0 = time.perf_counter()
    work()
    if tuner is not None and (better := tuner.record(1, time.perf_counter() - t0)) is not None:
        threads.use(better)

if what == "train":
    from models.training.trainer import Trainer
    t = Trainer(models.preset("task", steps=n + 40, eval_every=0, sample_every=0, probe_every=0,
                              checkpoint_every=0), "task:copy")
    for _ in range(20):  # warm up
        step(t.advance)
    t0 = time.perf_counter()
    for _ in range(n):
        step(t.advance)
    print(n / (time.perf_counter() - t0), torch.get_num_threads())
else:
    model, tok = models.load(assets.builtin_model("gpt"))
    list(models.generate(model, tok, "ROMEO:", max_new_tokens=10, temperature=0))
    gen = iter(models.generate(model, tok, "ROMEO:", max_new_tokens=n, temperature=0))
    t0, made = time.perf_counter(), 0
    while True:
        try:
            step(lambda: next(gen))
        except StopIteration:
            break
        made += 1
    print(made / (time.perf_counter() - t0), torch.get_num_threads())
"""


def measure(what: str, n: int, choice: str) -> tuple[float, int]:
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        env.pop(key, None)  # the user's own settings would hide what each choice does
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, what, str(n), choice], capture_output=True, text=True, env=env
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    rate, threads = out.stdout.split()[-2:]
    return float(rate), int(threads)


@contextmanager
def beside(name: str):
    """Within the block, the named neighbour runs in a process of its own (none for "quiet")."""
    code = NEIGHBOURS[name]
    neighbour = subprocess.Popen([sys.executable, "-c", code]) if code else None
    try:
        time.sleep(1.0 if code else 0)  # the neighbour is up to speed
        yield
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--tokens", type=int, default=600)
    ap.add_argument("--settings", default="app,old")
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores", flush=True)
    for choice in args.settings.split(","):
        for what, n, unit in (("train", args.steps, "steps/s"), ("generate", args.tokens, "tok/s")):
            quiet = None
            for name in NEIGHBOURS:
                with beside(name):
                    rate, threads = measure(what, n, choice)
                quiet = quiet or rate
                print(f"{choice:>4} settings, {what:<8} {name:<14} {rate:8.1f} {unit}  "
                      f"{rate / quiet:5.2f}x quiet  ({threads} threads)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
