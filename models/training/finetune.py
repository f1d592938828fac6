"""Fine-tuning an opened model: its settings (a low learning rate, a short warmup) and its trainer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.errors import ModelError
from models.nn import Model
from models.text.corpus import Corpus
from models.text.labelled import Labelled
from models.text.tokenizer import Tokenizer
from models.training.settings import FINETUNE_PRESETS as PRESETS
from models.training.settings import TrainConfig, arch_of, tokenizer_for
from models.training.trainer import Trainer


def finetune_config(model: Model, task: str = "lm", base_model: str = "", **overrides: Any) -> TrainConfig:
    """The fine-tuning preset for `task` on this model's shape, with `overrides` applied."""
    if task not in PRESETS:
        raise ModelError(f"task must be one of {', '.join(PRESETS)} (got '{task}')")
    c = model.config
    if model.capabilities.encoder_decoder:  # its pairs train from the Training tab (or `--arch seq2seq`)
        raise ModelError(
            "fine-tuning is for decoders (GPT) and BERT: "
            "an encoder–decoder trains on pairs in the Training tab"
        )
    arch = arch_of(model.capabilities)
    settings = PRESETS[task] | overrides
    if "steps" in overrides and "warmup_steps" not in overrides:  # a short run, a short warmup
        settings["warmup_steps"] = min(PRESETS[task]["warmup_steps"], int(overrides["steps"]) // 10)
    settings["context"] = min(int(settings["context"]), c.context)
    return TrainConfig(
        arch=arch,
        tokenizer=tokenizer_for(arch),  # the model's own is used; this is a label
        task=task,
        base_model=base_model or "(opened model)",
        n_layer=c.n_layer,
        n_head=c.n_head,
        n_embd=c.n_embd if c.n_embd % c.n_head == 0 else c.n_head,
        **settings,
    )


def finetuner(
    model: Model,
    tokenizer: Tokenizer,
    data: Corpus | Labelled | str | Path,
    config: TrainConfig,
    out_dir: str | Path | None = None,
) -> Trainer:
    """The trainer for a fine-tune: labels for a classifier, the model's own objective otherwise."""
    if config.task != "classify" and isinstance(data, Labelled):
        raise ModelError("labelled examples need task 'classify'; fine-tuning on text needs a text file")
    return Trainer(config, data, out_dir, tokenizer=tokenizer, model=model)
