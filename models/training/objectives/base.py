"""The objective interface: what the Trainer's one loop asks of what a run learns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, ClassVar

import torch

from models.nn import Model
from models.results import Baseline
from models.text.tokenizer import Tokenizer
from models.training.settings import TrainConfig


class Objective:
    """One kind of training data and what is learned from it. Made from the settings, the data
    (a name, a path or the data itself) and the tokenizer (None: one is learned from the data); bad data
    is refused here, before a run makes any folder."""

    data_file: ClassVar[str]  # where a user's data is kept in a run's folder: resuming reads nothing else

    data: Any  # the corpus, labelled examples or pairs, with `name` and `sha256`
    tokenizer: Tokenizer
    probe_text: str  # the text whose attention the run shows as it learns
    sample_prompt: str  # how a generated sample starts ("" when the run writes no text)
    notes: tuple[str, ...] = ()  # said in the run's first report (e.g. examples cut to the context)

    def __init__(self, config: TrainConfig, data: Any, tokenizer: Tokenizer | None) -> None:
        self.config = config

    def model(self, given: Model | None, resuming: bool = False) -> Model:
        """The model to train: `given` (a checkpoint's when `resuming`), checked and adapted (a
        classifier's head), or a new one of the settings' shape (made under the run's seed)."""
        raise NotImplementedError

    def batch(self, gen: torch.Generator, device: torch.device) -> tuple[Any, torch.Tensor]:
        """A training batch (inputs, targets) drawn with the run's generator."""
        raise NotImplementedError

    def loss(self, net: torch.nn.Module, model: Model, x: Any, y: torch.Tensor) -> torch.Tensor:
        """The loss of a batch; `net` is the model itself or its distributed wrapper."""
        raise NotImplementedError

    def tokens(self, x: Any) -> int:
        """The tokens a batch's inputs hold (padding included: it is computed too)."""
        return int(x.numel())

    def evaluate(
        self, model: Model, device: torch.device, autocast: AbstractContextManager
    ) -> tuple[float, dict[str, Any]]:
        """The held-out loss (the same batches every time, so the curve is comparable), and what
        a validation step reports besides it (a classifier's scores, translations)."""
        raise NotImplementedError

    def sample(self, model: Model, step: int) -> str | None:
        """A line showing what the model does now: generated text, a filled mask, a label."""
        return None

    def baseline(self, model: Model, evaluate) -> Baseline:
        """A fine-tune's base model before its first step (`evaluate()` gives the held-out loss)."""
        return Baseline(val_loss=evaluate())

    def describe(self) -> str:
        """What the run learns from, in a few words ("12,345 training tokens")."""
        raise NotImplementedError

    @classmethod
    def saved_data(cls, folder: Path, saved: dict[str, Any], seed: int) -> Any:
        """The data a run was saved with, from its checkpoint alone (a built-in one by name)."""
        raise NotImplementedError


@contextmanager
def evaluated(model: Model) -> Iterator[Model]:
    """Eval mode inside the block, train mode after it, however the block ends."""
    model.eval()
    try:
        yield model
    finally:
        model.train()
