"""`playground finetune`: continue training an opened model on new text, or fine-tune a BERT classifier."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from models.errors import ModelError
from models.text.labelled import LABELLED_TASKS
from models.training.finetune import PRESETS
from playground import threads

_FLAGS = {  # flag -> (TrainConfig field, type): the settings a fine-tune usually changes
    "steps": ("steps", int),
    "lr": ("lr", float),
    "min_lr": ("min_lr", float),
    "warmup": ("warmup_steps", int),
    "batch_size": ("batch_size", int),
    "context": ("context", int),
    "weight_decay": ("weight_decay", float),
    "trainable_blocks": ("trainable_blocks", int),
    "val_fraction": ("val_fraction", float),
    "eval_every": ("eval_every", int),
    "sample_every": ("sample_every", int),
    "checkpoint_every": ("checkpoint_every", int),
    "seed": ("seed", int),
    "device": ("device", str),
}
_LABELLED_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".ndjson")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="playground finetune",
        description="Fine-tune a model folder and write a folder that the app and transformers open: "
        "--task lm continues training on a text file (any GPT or decoder, or a BERT with its "
        "masked-LM head); --task classify trains a BERT sequence classifier on labelled examples.",
        epilog="presets: "
        + "; ".join(f"{k}: " + ", ".join(f"{n}={v}" for n, v in d.items()) for k, d in PRESETS.items()),
    )
    p.add_argument(
        "--model", help="the folder or .gguf file to start from (or a Hugging Face id in the local cache)"
    )
    p.add_argument(
        "--data",
        help="a UTF-8 text file (lm), a CSV/TSV/JSON Lines file of labelled examples (classify), "
        f"or a built-in labelled task ({', '.join('task:' + t for t in LABELLED_TASKS)})",
    )
    p.add_argument("--task", choices=tuple(PRESETS), help="default: classify for labelled data, else lm")
    p.add_argument("--text-column", default="", help="labelled data: the text column (default: guessed)")
    p.add_argument("--label-column", default="", help="labelled data: the label column (default: guessed)")
    p.add_argument("--out", help="folder to write (default: the --resume folder)")
    p.add_argument("--resume", metavar="DIR", help="continue the fine-tune saved in DIR")
    for flag, (_, kind) in _FLAGS.items():
        p.add_argument("--" + flag.replace("_", "-"), dest=flag, type=kind)
    p.add_argument("--quiet", action="store_true", help="no progress bar or samples")
    threads.add_option(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tuner = threads.start(args.threads, lambda m: print(f"warning: {m}", file=sys.stderr))
    try:
        return _finetune(args, tuner)
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def is_labelled(data: str) -> bool:
    from models.text.labelled import is_labelled_task

    return is_labelled_task(data) or Path(data).suffix.lower() in _LABELLED_SUFFIXES


def _finetune(args: argparse.Namespace, tuner=None) -> int:
    from playground.cli.train import run_with_progress

    changes: dict[str, Any] = {
        field: getattr(args, flag) for flag, (field, _) in _FLAGS.items() if getattr(args, flag) is not None
    }
    if args.resume:
        trainer = _resumed(args.resume, args.out, changes)
    else:
        if not (args.model and args.data and args.out):
            raise ModelError("--model, --data and --out are needed (or --resume DIR)")
        trainer = _new(args, changes)
    return run_with_progress(trainer, args.quiet, tuner)


def _new(args: argparse.Namespace, changes: dict[str, Any]):
    import models
    from models.text.corpus import load_corpus
    from models.text.labelled import load_labelled
    from models.training.finetune import finetune_config, finetuner

    task = args.task or ("classify" if is_labelled(args.data) else "lm")
    folder = Path(args.model).expanduser()
    if not folder.exists() and "/" in args.model:  # an ORG/NAME id: the local Hugging Face cache
        from models.hf.hub_cache import resolve

        folder = resolve(args.model)
    model, tokenizer = models.load(folder)
    seed = changes.get("seed", 1337)
    if task == "classify":
        data = load_labelled(args.data, args.text_column, args.label_column, seed=seed)
    else:
        data = load_corpus(args.data, seed=seed)
    config = finetune_config(model, task, base_model=str(folder), **changes)
    return finetuner(model, tokenizer, data, config, args.out)


def _resumed(folder: str, out: str | None, changes: dict[str, Any]):
    from models.training.trainer import Trainer

    kept = {k: v for k, v in changes.items() if k in ("steps", "device")}
    ignored = sorted(set(changes) - set(kept))
    if ignored:  # the run continues as it was set up; only its length and device may change
        print(f"warning: a resumed run keeps its settings; ignored: {', '.join(ignored)}", file=sys.stderr)
    return Trainer.from_checkpoint(folder, out_dir=out, **kept)
