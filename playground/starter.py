"""A small starter model, trained in seconds when the built-in checkpoints are missing (torch)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import models

# A few public-domain lines: enough for a char-level model to learn spelling and spacing.
TEXT = """\
To be, or not to be, that is the question:
Whether 'tis nobler in the mind to suffer
The slings and arrows of outrageous fortune,
Or to take arms against a sea of troubles
And by opposing end them. To die, to sleep;
No more; and by a sleep to say we end
The heart-ache and the thousand natural shocks
That flesh is heir to: 'tis a consummation
Devoutly to be wish'd. To die, to sleep;
To sleep, perchance to dream: ay, there's the rub.
The quick brown fox jumps over the lazy dog.
The cat sat on the mat. The dog sat on the log.
"""

STARTER_CONFIG = dict(  # a minute's worth of the tiny preset, cut to seconds
    n_layer=4,
    n_head=4,
    n_embd=64,
    context=48,
    batch_size=16,
    steps=300,
    lr=3e-3,
    min_lr=3e-4,
    warmup_steps=20,
    eval_every=0,
    eval_batches=1,
    sample_every=0,
    probe_every=0,
    checkpoint_every=0,
    keep_training_state=False,
)


def train_starter(
    arch: str, folder: Path, device: str, should_stop: Callable[[], bool], seconds: float = 8.0
) -> tuple[Any, Any, str]:
    """(model, tokenizer, note): a small model trained briefly on TEXT with the Trainer.

    Saved in `folder` so the next start is instant; kept in memory only when that fails.
    """
    from models.text.corpus import Corpus
    from models.training.settings import preset
    from models.training.trainer import Trainer

    tokenizer = {"gpt": {"tokenizer": "char"}, "bert": {"tokenizer": "wordpiece", "vocab_size": 300}}[arch]
    config = preset("tiny", arch=arch, device=device, **tokenizer, **STARTER_CONFIG)
    # repeated so the held-out tenth still holds a training window of BERT's word pieces
    trainer = Trainer(config, Corpus("starter text", TEXT * 10))
    start = time.perf_counter()
    for _ in trainer:
        if should_stop() or time.perf_counter() - start > seconds:
            break
    model = trainer.model.eval()
    try:
        trainer.save(folder, final=True)
        return model, trainer.tokenizer, ""
    except models.ModelError as e:
        return model, trainer.tokenizer, f"it could not be saved, so it is made again next time ({e})"
