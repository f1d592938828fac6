"""The engine: GPT and BERT, tokenizers, checkpoints, generation, probes — pure PyTorch, no Qt.

Torch-free parts (`models.results`, `models.sampling`, `models.errors`) import without torch;
everything else is loaded on first use, so the GUI can import results cheaply.
"""

from __future__ import annotations

import importlib
from typing import Any

from models.errors import ModelError
from models.results import (
    FillMaskResult,
    GenerationStep,
    MaskFill,
    Probe,
    TokenizedText,
    TrainingReport,
)
from models.sampling import SamplingSettings

_LAZY = {
    "load": "models.checkpoint",
    "save": "models.checkpoint",
    "generate": "models.generation",
    "Generation": "models.generation",
    "probe": "models.analysis",
    "fill_mask": "models.analysis",
    "GPT": "models.gpt",
    "Bert": "models.bert",
    "GPTConfig": "models.config",
    "BertConfig": "models.config",
    "Tokenizer": "models.tokenizer",
    "Trainer": "models.training",
    "TrainConfig": "models.presets",
    "PRESETS": "models.presets",
    "preset": "models.presets",
    "load_corpus": "models.corpus",
    "TASKS": "models.tasks",
}

__all__ = [
    "FillMaskResult",
    "GenerationStep",
    "MaskFill",
    "ModelError",
    "Probe",
    "SamplingSettings",
    "TokenizedText",
    "TrainingReport",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")
