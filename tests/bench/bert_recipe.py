"""BERT recipe search: several `playground train` runs in parallel on one GPU, then held-out accuracy.

    python tests/bench/bert_recipe.py [--budget-s 330] [--device cuda] [--only A,B]   # search
    python tests/bench/bert_recipe.py --device cpu --budget-s 40 --quick                # smoke test
    python tests/bench/bert_recipe.py evaluate FOLDER [--device cpu]                    # one folder

The search launches every configuration at once as its own `python -m playground.cli train`
process. A short calibration round (the same configurations, all at once, a few hundred steps)
measures each one's seconds per step under that contention, so each real run gets as many steps
as fit in what is left of --budget-s (the cosine schedule then ends when the time does). At the
deadline a straggler gets SIGINT (the trainer stops and writes a checkpoint), then SIGKILL; the
periodic checkpoints (--checkpoint-every) mean even a killed run leaves a folder to score.

Every folder is then scored the same way: the validation text the Trainer holds out (the last
val_fraction of the corpus's characters), cut into windows of the model's context as
[CLS] text [SEP]; 15% of the tokens replaced by [MASK] (fixed seed); top-1 / top-5 accuracy and
the masked-LM loss over those positions; also the trainer-style validation loss (80/10/10
masking, batch 16 x 100 batches, the trainer's eval seed; the README's 5.41 is this number) and
the top-5 fills of a few sentences. Results go to $OUT/bert_recipe.json (else the scratch folder);
the best folder by accuracy is copied, flattened, to $OUT/bert/.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from checkout import ROOT  # the repository on sys.path, models.assets mapped

SENTENCES = (
    "the king is [MASK] of england.",
    "i will [MASK] thee to the court.",
    "what is your [MASK], my lord?",
    "my lord, the [MASK] is come.",
    "o romeo, romeo, [MASK] art thou romeo?",
)
MAX_FILE = 15 * 2**20
LAUNCHED: list[subprocess.Popen] = []  # every child, so none outlives this script
COPY_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "train_config.json",
)

# name: CLI settings. Every run: WordPiece 1000, warmup min(1000, steps/10), cosine to lr/10,
# weight decay 0.1, mask 15%. Per-step time on a GPU is launch-bound for these tiny models, so a
# bigger batch or width costs little wall time: the search spends it on tokens per step.
CONFIGS: dict[str, dict] = {
    # the hypothesis itself: the built-in shape, 16x the batch, as many steps as fit
    "A-4x128-b256-lr1e-3": dict(
        layers=4, heads=4, width=128, context=64, batch_size=256, lr=1e-3, dropout=0.0
    ),
    # the same shape, a higher peak rate (a faster way off the plateau?), half the tokens per step
    "B-4x128-b128-lr2e-3": dict(
        layers=4, heads=4, width=128, context=64, batch_size=128, lr=2e-3, dropout=0.0
    ),
    # the same shape, twice the batch again, dropout against ~1000 passes over 330k tokens
    "C-4x128-b512-d0.1": dict(layers=4, heads=4, width=128, context=64, batch_size=512, lr=1e-3, dropout=0.1),
    # wider (3.5 M parameters, 14 MB): more capacity; lower rate for the wider post-LN stack
    "D-4x256-b256-d0.1": dict(layers=4, heads=4, width=256, context=64, batch_size=256, lr=5e-4, dropout=0.1),
    # wider and a longer window: more context to predict a masked word from
    "E-4x256-ctx128-b128-d0.1": dict(
        layers=4, heads=4, width=256, context=128, batch_size=128, lr=5e-4, dropout=0.1
    ),
    # the built-in shape with a longer window: is context, not capacity, what it lacks?
    "F-4x128-ctx128-b128": dict(
        layers=4, heads=4, width=128, context=128, batch_size=128, lr=1e-3, dropout=0.0
    ),
}
QUICK_CONFIGS: dict[str, dict] = {  # CPU smoke test: two tiny runs
    "qA-2x64-b16": dict(layers=2, heads=2, width=64, context=64, batch_size=16, lr=1e-3, dropout=0.0),
    "qB-2x64-b32-d0.1": dict(layers=2, heads=2, width=64, context=32, batch_size=32, lr=2e-3, dropout=0.1),
}


def corpus_path() -> Path:
    from models import assets

    return assets.path(assets.SHAKESPEARE)


# ---- evaluation ------------------------------------------------------------------------------
def evaluate(
    folder: str | Path,
    device: str = "cpu",
    corpus: str | Path | None = None,
    mask_prob: float = 0.15,
    seed: int = 0,
    max_masked: int = 0,
    batch: int = 64,
) -> dict:
    """Held-out masked-token accuracy, masked-LM loss, trainer-style val loss, top-5 fills."""
    import torch
    import torch.nn.functional as F

    from models.hf.checkpoint import load
    from models.inspect.analysis import fill_mask
    from models.text.corpus import load_corpus
    from models.training.batches import Masker, encode_ids

    folder = Path(folder)
    t0 = time.perf_counter()
    model, tok = load(folder, device=device)
    model.eval()
    tc = {}
    if (folder / "train_config.json").is_file():
        tc = json.loads((folder / "train_config.json").read_text())
    val_fraction, train_seed = tc.get("val_fraction", 0.1), tc.get("seed", 1337)
    text = load_corpus(corpus or corpus_path()).text
    cut = int(len(text) * (1.0 - val_fraction))  # as models.text.corpus.Corpus.split
    val_ids = encode_ids(tok, text[cut:])
    context = model.config.context
    inner = context - 2
    n = len(val_ids) // inner
    body = val_ids[: n * inner].view(n, inner)  # [N, T - 2] non-overlapping windows
    gen = torch.Generator().manual_seed(seed)
    chosen = torch.rand(body.shape, generator=gen) < mask_prob
    if max_masked:  # keep only the first windows holding about max_masked masked tokens
        keep = int((chosen.sum(1).cumsum(0) <= max_masked).sum()) or 1
        body, chosen = body[:keep], chosen[:keep]
    cls_id, sep_id, mask_id = tok.token_id("[CLS]"), tok.token_id("[SEP]"), tok.mask_id
    inputs = torch.where(chosen, torch.full_like(body, mask_id), body)
    col = lambda v: torch.full((body.shape[0], 1), v, dtype=body.dtype)  # noqa: E731
    x = torch.cat([col(cls_id), inputs, col(sep_id)], 1)  # [N, T]
    y = torch.cat([col(-100), torch.where(chosen, body, torch.full_like(body, -100)), col(-100)], 1)
    correct1 = correct5 = 0
    loss_sum = 0.0
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            xb, yb = x[i : i + batch].to(device), y[i : i + batch].to(device)
            logits = model(xb).logits.float()  # [b, T, vocab]
            m = yb != -100
            lg, tg = logits[m], yb[m]
            loss_sum += float(F.cross_entropy(lg, tg, reduction="sum"))
            top5 = lg.topk(5, -1).indices
            correct1 += int((top5[:, 0] == tg).sum())
            correct5 += int((top5 == tg[:, None]).any(-1).sum())
    masked = int(chosen.sum())
    labels = body[chosen]
    majority = float(torch.bincount(labels).max()) / max(masked, 1)

    # the trainer's own validation loss (Trainer.evaluate), at batch 16 x 100 for every model
    masker = Masker(tok, model.config.vocab_size, tc.get("mask_prob", 0.15))
    g2 = torch.Generator().manual_seed(train_seed + 10_000)
    total, hits, count = 0.0, 0, 0
    with torch.inference_mode():
        for _ in range(100):
            xb, yb = masker.batch(val_ids, 16, context, g2)
            logits, yb = model(xb.to(device)).logits.float(), yb.to(device)
            total += float(F.cross_entropy(logits.flatten(0, 1), yb.flatten(), ignore_index=-100))
            m = yb != -100
            hits += int((logits[m].argmax(-1) == yb[m]).sum())
            count += int(m.sum())

    fills = {}
    for s in SENTENCES:
        try:
            f = fill_mask(model, tok, s, k=5).fills[0]
            fills[s] = [[t, round(float(p), 3)] for t, p in zip(f.top_texts, f.top_probs, strict=True)]
        except Exception as e:  # a sentence this tokenizer cannot mask: report, do not fail
            fills[s] = f"error: {e}"
    return {
        "folder": str(folder),
        "params": sum(p.numel() for p in model.parameters()),
        "context": context,
        "val_tokens": len(val_ids),
        "masked_tokens": masked,
        "top1_acc": correct1 / max(masked, 1),
        "top5_acc": correct5 / max(masked, 1),
        "masked_lm_loss": loss_sum / max(masked, 1),
        "majority_baseline_acc": majority,
        "val_loss_trainer_style": total / 100,
        # top-1 on those 80/10/10 batches: the 10% left unchanged are easy, so this is higher
        "top1_acc_trainer_style": hits / max(count, 1),
        "fills": fills,
        "eval_s": round(time.perf_counter() - t0, 2),
    }


def print_eval(r: dict) -> None:
    print(
        f"{r['folder']}: top-1 {r['top1_acc']:.1%}, top-5 {r['top5_acc']:.1%} over "
        f"{r['masked_tokens']} masked tokens (most frequent token alone {r['majority_baseline_acc']:.1%}); "
        f"masked-LM loss {r['masked_lm_loss']:.3f}; trainer-style (80/10/10, 16x100) val loss "
        f"{r['val_loss_trainer_style']:.3f}, top-1 {r['top1_acc_trainer_style']:.1%}"
    )
    for s, f in r["fills"].items():
        shown = f if isinstance(f, str) else ", ".join(f"{t} {p:.2f}" for t, p in f)
        print(f"  {s:42s} {shown}")


# ---- launching -------------------------------------------------------------------------------
def cli_args(
    settings: dict, corpus: Path, out: Path, device: str, steps: int, extra: dict, quiet: bool = True
) -> list[str]:
    # run through this script (`_cli`), which maps models.assets first, then playground.cli
    args = [
        sys.executable, *(["-S"] if sys.flags.no_site else []),
        str(Path(__file__).resolve()), "_cli", "train",
        "--corpus", str(corpus), "--arch", "bert", "--tokenizer", "wordpiece", "--vocab-size", "1000",
        "--preset", "shakespeare", "--device", device, "--out", str(out), "--steps", str(steps),
        "--probe-every", "0", "--sample-every", "0", *(["--quiet"] if quiet else []),
    ]  # fmt: skip
    for k, v in {**settings, **extra}.items():
        args += ["--" + k.replace("_", "-"), str(v)]
    return args


def launch(args: list[str], log: Path, threads: int) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), RAYON_NUM_THREADS=str(max(threads, 2)))
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    with open(log, "w") as f:
        f.write(" ".join(args) + "\n")
        f.flush()
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True
        )
    LAUNCHED.append(proc)
    return proc


def wait_all(
    procs: dict[str, subprocess.Popen], deadline: float, grace: float = 20.0, exit_times: dict | None = None
) -> dict[str, str]:
    """Wait until all exit or the deadline; then SIGINT (clean stop + checkpoint), then SIGKILL."""
    t0 = time.monotonic()
    exit_times = {} if exit_times is None else exit_times
    while time.monotonic() < deadline and any(p.poll() is None for p in procs.values()):
        for n, p in procs.items():
            if p.poll() is not None and n not in exit_times:
                exit_times[n] = round(time.monotonic() - t0, 1)
        time.sleep(0.5)
    ended = {n: "exited" for n, p in procs.items() if p.poll() is not None}
    late = [n for n, p in procs.items() if p.poll() is None]
    for n in late:
        procs[n].send_signal(signal.SIGINT)
        ended[n] = "stopped at deadline (SIGINT)"
    stop_by = time.monotonic() + grace
    while time.monotonic() < stop_by and any(procs[n].poll() is None for n in late):
        time.sleep(0.2)
    for n in late:
        if procs[n].poll() is None:
            procs[n].kill()
            procs[n].wait()
            ended[n] = "killed at deadline (SIGKILL)"
    return ended


def read_state(folder: Path) -> dict:
    import torch

    path = folder / "training_state.pt"
    if not path.is_file():
        return {}
    try:
        s = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        return {"error": str(e)}
    return {
        "step": int(s["step"]),
        "elapsed_s": float(s["elapsed_s"]),
        "val_losses": [[int(a), round(float(b), 4)] for a, b in s["val_losses"]],
        "last_train_loss": round(float(s["losses"][-1]), 4) if s["losses"] else None,
    }


def tail(path: Path, n: int = 600) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def search(args: argparse.Namespace) -> int:
    t_start = time.monotonic()
    deadline = t_start + args.budget_s  # every training process is gone by then
    configs = QUICK_CONFIGS if args.quick else CONFIGS
    if args.only:
        configs = {n: c for n, c in configs.items() if any(n.startswith(o) for o in args.only.split(","))}
    corpus = corpus_path()
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="bert_recipe_"))
    scratch.mkdir(parents=True, exist_ok=True)
    out = Path(os.environ["OUT"]) if os.environ.get("OUT") else scratch
    threads = args.threads or max(1, (os.cpu_count() or 2) // len(configs))
    print(f"corpus {corpus}; scratch {scratch}; {len(configs)} configs at once on {args.device}; "
          f"{threads} CPU threads each; budget {args.budget_s:.0f} s", flush=True)  # fmt: skip

    # 1. calibration: all at once, as in the real round, so the contention is the same
    cal_steps = 20 if args.quick else args.cal_steps
    cal_extra = dict(warmup=1, eval_every=0, eval_batches=1, checkpoint_every=0)
    procs = {
        n: launch(cli_args(c, corpus, scratch / f"cal-{n}", args.device, cal_steps, cal_extra, quiet=False),
                  scratch / f"cal-{n}.log", threads)
        for n, c in configs.items()
    }  # fmt: skip
    t0 = time.monotonic()
    cal_exit: dict[str, float] = {}
    wait_all(procs, min(deadline, t0 + args.cal_timeout_s), grace=5, exit_times=cal_exit)
    cal_wall = time.monotonic() - t0
    per_step: dict[str, float] = {}
    overheads: dict[str, float] = {}  # start-up and shutdown of each process: wall less its steps
    for n in configs:
        st = read_state(scratch / f"cal-{n}")
        if st.get("step"):
            # the progress bar's last tok/s: a moving average of recent steps, so the first
            # (slow, lazy CUDA set-up) steps do not count; else the mean over the whole run
            rates = re.findall(r"tok/s=([\d,]+)", tail(scratch / f"cal-{n}.log", 4000))
            tok_per_step = configs[n]["batch_size"] * configs[n]["context"]
            rate = float(rates[-1].replace(",", "")) if rates else 0.0
            per_step[n] = tok_per_step / rate if rate > 0 else st["elapsed_s"] / st["step"]
            overheads[n] = cal_exit.get(n, cal_wall) - st["elapsed_s"]
        else:
            print(
                f"calibration of {n} failed (rc {procs[n].returncode}):\n{tail(scratch / f'cal-{n}.log')}",
                flush=True,
            )
    if not per_step:
        print("every calibration run failed; nothing to train", flush=True)
        return 1
    overhead = max(overheads.values())
    print(f"calibration: {cal_wall:.1f} s wall; start-up/shutdown overhead, step time: "
          + ", ".join(f"{n} {overheads[n]:.1f} s, {v * 1e3:.1f} ms" for n, v in per_step.items()),
          flush=True)  # fmt: skip

    # 2. the real round: as many steps as fit before the deadline (less start-up and a margin)
    margin = args.margin_s if args.margin_s >= 0 else (3.0 if args.quick else 15.0)
    left = deadline - time.monotonic() - margin
    train_s = left - overhead
    if train_s <= 5:
        print(f"no time left to train ({train_s:.0f} s)", flush=True)
        return 1
    plan: dict[str, dict] = {}
    procs = {}
    for n, c in configs.items():
        if n not in per_step:
            continue
        steps = max(20, int(args.fill * (left - overheads[n]) / per_step[n]) // 10 * 10)
        warmup = min(1000, steps // 10)
        extra = dict(
            warmup=warmup,
            min_lr=c["lr"] / 10,
            eval_every=max(1, steps // 4),
            eval_batches=20,
            checkpoint_every=max(1, steps // 8),
        )
        plan[n] = {**c, **extra, "steps": steps}
        cmd = cli_args(c, corpus, scratch / n, args.device, steps, extra)
        procs[n] = launch(cmd, scratch / f"{n}.log", threads)
        plan[n]["command"] = "python -m playground.cli " + " ".join(cmd[cmd.index("_cli") + 1 :])
    print(
        f"training for about {train_s:.0f} s: "
        + ", ".join(f"{n} {p['steps']} steps" for n, p in plan.items()),
        flush=True,
    )
    t1 = time.monotonic()
    exit_times: dict[str, float] = {}
    ended = wait_all(procs, deadline, grace=args.grace_s, exit_times=exit_times)
    wall = time.monotonic() - t1
    print(f"training round ended after {wall:.1f} s", flush=True)

    # 3. score every folder that holds a checkpoint
    results = []
    for n, p in plan.items():
        folder = scratch / n
        row = {"name": n, "settings": p, "end": ended.get(n), "returncode": procs[n].returncode,
               "wall_s": round(wall, 1), "calibrated_ms_per_step": round(per_step[n] * 1e3, 2)}  # fmt: skip
        row["run_wall_s"] = exit_times.get(n)  # launch to exit; None = still running at the deadline
        row.update(read_state(folder))
        row["steps_planned"] = p["steps"]
        if row.get("step") == p["steps"]:
            row["end"] = "finished" if ended.get(n) == "exited" else "finished (exit interrupted)"
        try:  # a process killed in the middle of a folder swap: put the complete folder back
            from models.hf.atomic import recover

            recover(folder)
        except Exception:
            pass
        if (folder / "model.safetensors").is_file():
            try:
                row["eval"] = evaluate(folder, args.device, corpus, max_masked=args.max_masked)
            except Exception as e:
                row["eval_error"] = f"{type(e).__name__}: {e}"
        else:
            row["eval_error"] = "no checkpoint was written"
        row["log_tail"] = tail(scratch / f"{n}.log", 400)
        results.append(row)
        if "eval" in row:
            print_eval(row["eval"])
        else:
            print(f"{n}: {row['eval_error']}\n{row['log_tail']}")

    scored = [r for r in results if "eval" in r]
    # the folder copied back must fit what the device run returns (16 MiB a file)
    small = [r for r in scored if (scratch / r["name"] / "model.safetensors").stat().st_size < MAX_FILE]
    best = max(small, key=lambda r: r["eval"]["top1_acc"]) if small else None
    best_any = max(scored, key=lambda r: r["eval"]["top1_acc"]) if scored else None
    report = {
        "device": args.device,
        "budget_s": args.budget_s,
        "corpus": str(corpus),
        "calibration_wall_s": round(cal_wall, 1),
        "startup_overhead_s": {n: round(v, 1) for n, v in overheads.items()},
        "configs": results,
        "best": best["name"] if best else None,  # copied to bert/
        "best_any_size": best_any["name"] if best_any else None,
        "total_s": round(time.monotonic() - t_start, 1),
    }
    if not args.quick or os.environ.get("OUT"):
        try:
            import torch

            report["torch"] = torch.__version__
            if args.device == "cuda":
                report["gpu"] = torch.cuda.get_device_name(0)
        except Exception:
            pass
    out.mkdir(parents=True, exist_ok=True)
    (out / "bert_recipe.json").write_text(json.dumps(report, indent=2))
    if best:
        dest = out / "bert"
        dest.mkdir(exist_ok=True)
        for f in COPY_FILES:
            src = scratch / best["name"] / f
            if src.is_file():
                shutil.copy2(src, dest / f)

    print()
    head = ("config", "steps", "end", "val(run)", "val(16x100)", "mlm loss", "top1", "top5", "top1(801010)")
    print("{:26s} {:>11s} {:8s} {:>8s} {:>11s} {:>8s} {:>6s} {:>6s} {:>12s}".format(*head))
    for r in results:
        e = r.get("eval", {})
        vl = r.get("val_losses") or [[0, math.nan]]
        nan = math.nan
        print(
            f"{r['name']:26s} {r.get('step', 0):>5d}/{r['steps_planned']:<5d} {(r['end'] or '?')[:8]:8s} "
            f"{vl[-1][1]:8.3f} {e.get('val_loss_trainer_style', nan):11.3f} "
            f"{e.get('masked_lm_loss', nan):8.3f} {e.get('top1_acc', nan):6.1%} "
            f"{e.get('top5_acc', nan):6.1%} {e.get('top1_acc_trainer_style', nan):12.1%}"
        )
    if best:
        print(f"best: {best['name']} ({best['eval']['top1_acc']:.1%}); files in {out / 'bert'}; "
              f"results in {out / 'bert_recipe.json'}; {report['total_s']:.0f} s in all")  # fmt: skip
    return 0 if scored else 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_cli"]:  # a training process: `playground train ...` with models.assets mapped
        from playground.cli import main as cli_main

        return cli_main(argv[1:])
    if argv[:1] == ["evaluate"]:
        ap = argparse.ArgumentParser(prog="bert_recipe.py evaluate")
        ap.add_argument("folder")
        ap.add_argument("--device", default="cpu")
        ap.add_argument("--corpus", default=None)
        ap.add_argument("--max-masked", type=int, default=0, help="0 = the whole validation text")
        a = ap.parse_args(argv[1:])
        r = evaluate(a.folder, a.device, a.corpus, max_masked=a.max_masked)
        print_eval(r)
        print(f"({r['eval_s']} s)")
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-s", type=float, default=330.0, help="wall clock for calibration + training")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="two tiny configs (CPU smoke test)")
    ap.add_argument("--only", default="", help="comma-separated config name prefixes")
    ap.add_argument("--scratch", default=None)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads per run (default cores / runs)")
    ap.add_argument("--cal-steps", type=int, default=300)
    ap.add_argument("--cal-timeout-s", type=float, default=60.0)
    ap.add_argument(
        "--margin-s", type=float, default=-1, help="kept free before the deadline (default 15, quick 3)"
    )
    ap.add_argument("--fill", type=float, default=0.93, help="fraction of the time left planned as steps")
    ap.add_argument("--grace-s", type=float, default=20.0, help="after SIGINT, before SIGKILL")
    ap.add_argument("--max-masked", type=int, default=0, help="cap on scored masked tokens (0 = all)")
    try:
        return search(ap.parse_args(argv))
    finally:
        for p in LAUNCHED:
            if p.poll() is None:
                p.kill()
                p.wait()


if __name__ == "__main__":
    sys.exit(main())
