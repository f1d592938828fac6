"""What a run learns, one strategy per kind of data: the next token or masked tokens of a text, labels,
or source → target pairs. The Trainer's one loop asks its objective for data, batches, the loss and
what a validation adds; `objective_for` picks it from the settings' capabilities."""

from __future__ import annotations

from typing import Any

from models.errors import ModelError
from models.text.modadd import is_modadd
from models.training.objectives.base import Objective, evaluated
from models.training.objectives.labels import Labels
from models.training.objectives.modadd import ModularAddition
from models.training.objectives.pairs import Translation
from models.training.objectives.text import MaskedTokens, NextToken
from models.training.settings import ARCHITECTURES, TrainConfig

__all__ = [
    "Labels", "MaskedTokens", "ModularAddition", "NextToken", "Objective", "Translation", "evaluated",
    "objective_for",
]  # fmt: skip


def objective_for(config: TrainConfig, data: Any = None) -> type[Objective]:
    """Labels for a classifier; modular addition for its task (grokking's); else what the
    architecture's model predicts."""
    if is_modadd(data):
        if config.arch != "gpt" or config.task != "lm":
            raise ModelError("modular addition trains a GPT (next token): choose the GPT architecture")
        return ModularAddition
    if config.task == "classify":
        return Labels
    capabilities = ARCHITECTURES[config.arch].capabilities
    if capabilities.encoder_decoder:
        return Translation
    return MaskedTokens if capabilities.masked_lm else NextToken
