"""`playground train`: headless training with a progress bar; also runs under torchrun (DDP)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any

from models.errors import ModelError
from models.inspect.induction import THRESHOLD as INDUCTION_THRESHOLD
from models.text.corpus import BUILTIN_CORPORA
from models.text.modadd import is_modadd
from models.text.tasks import TASKS
from models.training.settings import ARCHITECTURES, ARCHS, PRESETS, TOKENIZERS, TrainConfig, preset
from playground import threads

# command-line flag -> TrainConfig field, for the settings a person usually changes
_FLAGS = {
    "arch": ("arch", str),
    "tokenizer": ("tokenizer", str),
    "vocab_size": ("vocab_size", int),
    "layers": ("n_layer", int),
    "heads": ("n_head", int),
    "width": ("n_embd", int),
    "context": ("context", int),
    "dropout": ("dropout", float),
    "batch_size": ("batch_size", int),
    "steps": ("steps", int),
    "lr": ("lr", float),
    "min_lr": ("min_lr", float),
    "warmup": ("warmup_steps", int),
    "weight_decay": ("weight_decay", float),
    "grad_clip": ("grad_clip", float),
    "eval_every": ("eval_every", int),
    "eval_batches": ("eval_batches", int),
    "sample_every": ("sample_every", int),
    "probe_every": ("probe_every", int),
    "checkpoint_every": ("checkpoint_every", int),
    "seed": ("seed", int),
    "modulus": ("modulus", int),
    "train_fraction": ("train_fraction", float),
    "repeat_share": ("repeat_share", float),
    "device": ("device", str),
    "precision": ("precision", str),
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="playground train",
        description="Train a small GPT or BERT and write a checkpoint folder that the app and "
        "transformers open. Runs under `torchrun --nproc_per_node=N` too (DDP).",
        epilog="presets: "
        + "; ".join(p.description for p in PRESETS.values())
        + ". tasks: "
        + ", ".join(TASKS),
    )
    p.add_argument(
        "--corpus",
        help="a UTF-8 text file, a folder of .txt files, a built-in corpus "
        f"({', '.join(BUILTIN_CORPORA)}) or a built-in task ({', '.join(TASKS)}, or modadd: modular "
        "addition, grokking's task, with --modulus and --train-fraction; also written task:NAME)",
    )
    p.add_argument("--out", help="checkpoint folder to write (default: the --resume folder)")
    p.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR")
    p.add_argument(
        "--preset",
        default=None,
        help=f"one of {', '.join(PRESETS)} (default: tiny; task for a built-in task)",
    )
    p.add_argument("--arch", choices=ARCHS)
    p.add_argument("--tokenizer", choices=TOKENIZERS, help="default: char for GPT, wordpiece for BERT")
    p.add_argument(
        "--no-training-state",
        action="store_true",
        help="leave the optimizer state out of the final folder (small; not resumable)",
    )
    for flag, (_, kind) in _FLAGS.items():
        if flag not in ("arch", "tokenizer"):
            p.add_argument("--" + flag.replace("_", "-"), dest=flag, type=kind)
    p.add_argument(
        "--induction-heads",
        action="store_true",
        help="a GPT on text: measure its induction heads at every validation (the induction preset does)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or samples")
    threads.add_option(p)
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    changes: dict[str, Any] = {
        field: getattr(args, flag) for flag, (field, _) in _FLAGS.items() if getattr(args, flag) is not None
    }
    if args.no_training_state:
        changes["keep_training_state"] = False
    if args.induction_heads:
        changes["induction_heads"] = True
    made_for = ARCHITECTURES[args.arch].preset if args.arch else ""  # the encoder–decoder's own
    task = "grok" if is_modadd(args.corpus) else "task" if _is_task(args.corpus) else "tiny"
    name = args.preset or made_for or task
    return preset(name, **changes)


def _is_task(corpus: str | None) -> bool:
    if not corpus:
        return False
    return corpus.startswith("task:") or (corpus in TASKS and not os.path.exists(corpus))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tuner = threads.start(args.threads, lambda m: print(f"warning: {m}", file=sys.stderr))
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    try:
        if distributed:
            _init_distributed(args.device)
        code = _train(args, tuner if not distributed else None)
        if distributed:  # wait for rank 0's last validation and checkpoint: a rank that tore
            import torch.distributed as dist  # gloo down while a peer still worked aborted at exit

            dist.barrier()
        return code
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        if distributed:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def _init_distributed(device: str | None) -> None:
    import torch
    import torch.distributed as dist

    gpu = torch.cuda.is_available() and device in (None, "auto", "cuda")
    if gpu:  # one GPU per process, chosen by torchrun's LOCAL_RANK
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if gpu else "gloo")


def _train(args: argparse.Namespace, tuner=None) -> int:
    from models.training.trainer import Trainer

    if args.resume:
        changes = {
            field: getattr(args, flag)
            for flag, (field, _) in _FLAGS.items()
            if getattr(args, flag) is not None and field in ("steps", "device")
        }
        trainer = Trainer.from_checkpoint(args.resume, out_dir=args.out, corpus=args.corpus, **changes)
    else:
        if not args.corpus or not args.out:
            raise ModelError("--corpus and --out are needed (or --resume DIR)")
        trainer = Trainer(config_from_args(args), args.corpus, args.out)
    return run_with_progress(trainer, args.quiet, tuner)


def _scores(val_loss: float, classes, translations=None, grokking=None) -> str:
    accuracy = f", validation accuracy {classes.accuracy:.1%}" if classes is not None else ""
    if grokking is not None:
        return (
            f"accuracy train {grokking.train_accuracy:.1%}, test {grokking.test_accuracy:.1%} "
            f"(test loss {val_loss:.4f}), weight norm {grokking.weight_norm:.1f}, key frequencies "
            + ", ".join(map(str, grokking.key_frequencies))
        )
    if translations is not None:
        accuracy = f", token accuracy {translations.token_accuracy:.1%}, exact {translations.exact:.1%}"
    return f"val {val_loss:.4f}{accuracy}"


def run_with_progress(trainer, quiet: bool, tuner=None) -> int:
    """Iterate a trainer with a progress bar, samples and events; Ctrl-C stops it cleanly. A
    `tuner` (playground.threads.ThreadTuner) picks the thread count as the steps go."""

    import torch
    from tqdm import tqdm

    main_rank = trainer.rank == 0
    shown = not quiet
    quiet = quiet or not main_rank
    cfg = trainer.config
    # Ctrl-C asks for a clean stop: the current step ends and a checkpoint is written
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: trainer.stop()) if in_main else None
    bar = tqdm(total=cfg.steps, initial=trainer.step, disable=quiet, unit="step", dynamic_ncols=True)
    if not quiet:
        n_params = sum(p.numel() for p in trainer.model.parameters())
        tqdm.write(
            f"{cfg.arch} {n_params / 1e6:.2f}M parameters, {trainer.tokenizer.kind} "
            f"tokenizer ({trainer.tokenizer.vocab_size} tokens), "
            f"{trainer.describe_data()}, device {trainer.device} ({torch.get_num_threads()} threads)"
            + (f" x{trainer.world} processes" if trainer.world > 1 else "")
        )
    if main_rank:
        for warning in cfg.warnings():
            print(f"warning: {warning}", file=sys.stderr)
    last = None
    accuracy = ""
    formed = None  # the step a run tracking induction heads saw them form
    try:
        for report in threads.tuned(trainer, tuner):
            last = report
            bar.update(report.step - bar.n)
            post = {
                "loss": f"{report.loss:.3f}",
                "tok/s": f"{report.tokens_per_s:,.0f}" if report.tokens_per_s else "…",
            }
            if trainer.val_losses:
                post["val"] = f"{trainer.val_losses[-1][1]:.3f}"
            if report.classes is not None:  # a classifier: its newest validation accuracy stays shown
                accuracy = f"{report.classes.accuracy:.1%}"
            if report.translations is not None:  # an encoder–decoder: exact held-out translations
                accuracy = f"{report.translations.exact:.1%} exact"
            if report.grokking is not None:  # modular addition: the held-out pairs
                accuracy = f"test {report.grokking.test_accuracy:.1%}"
            if accuracy:
                post["acc"] = accuracy
            bar.set_postfix(post, refresh=False)
            if not quiet and report.before is not None:
                tqdm.write(f"before fine-tuning: {_scores(report.before.val_loss, report.before.classes)}")
                if report.before.sample:
                    tqdm.write(f"--- sample before fine-tuning ---\n{report.before.sample}\n---")
            if not quiet and report.val_loss is not None:
                tqdm.write(
                    f"step {report.step}: train {report.loss:.4f}, "
                    f"{_scores(report.val_loss, report.classes, report.translations, report.grokking)}"
                )
            if not quiet and report.induction is not None:
                m = report.induction
                heads = ", ".join(f"L{layer}H{head}" for layer, head in m.heads)
                tqdm.write(
                    f"  induction: best {m.best:.2f} ({heads}) · in-context {m.icl:+.3f} nats, "
                    f"{m.icl_heads_out:+.3f} with those heads out, {m.icl_weakest_out:+.3f} weakest out"
                )
                if formed is None and m.best >= INDUCTION_THRESHOLD:
                    formed = report.step
                    tqdm.write(f"  induction heads formed at step {formed} ({heads})")
            if not quiet and report.sample:
                tqdm.write(f"--- sample at step {report.step} ---\n{report.sample}\n---")
            for event in report.events:
                if main_rank:
                    tqdm.write(event, file=sys.stderr if report.status == "failed" else None)
    finally:
        bar.close()
        if in_main:
            signal.signal(signal.SIGINT, previous)
    if last is not None and last.status == "failed":
        return 1
    if main_rank and trainer.last_checkpoint is not None and shown:
        print(f"checkpoint: {trainer.last_checkpoint}")
    return 0
