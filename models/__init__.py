"""The engine: GPT and BERT, tokenizers, checkpoints, generation, probes — pure PyTorch, no Qt.

Layout: `nn/` the architectures, `hf/` Hugging Face folders (config, weight names, crash-safe
load/save), `text/` tokenizers, corpora and tasks, `inspect/` generation, sampling, probes, head
scores, the logit lens, ablation and patching, comparing two models, `training/` settings, batches,
the Trainer and fine-tuning (text, or BERT sequence classification).
Torch-free parts (`models.results`, `models.inspect.sampling`, `models.inspect.run_attention`,
`models.training.settings`, `models.errors`) import without torch;
everything else is loaded on first use, so the GUI can import results cheaply.
"""

from __future__ import annotations

import importlib
from typing import Any

from models.errors import ModelError
from models.inspect.sampling import SamplingSettings
from models.results import (
    Attribution,
    Baseline,
    ClassEval,
    Comparison,
    FillMaskResult,
    GenerationStep,
    HeadCheck,
    HeadSweep,
    LogitLens,
    MaskFill,
    Probe,
    TokenizedText,
    TrainingReport,
)

_LAZY = {
    "load": "models.hf.checkpoint",
    "save": "models.hf.checkpoint",
    "save_gguf": "models.hf.gguf_save",
    "fingerprint": "models.hf.checkpoint",
    "fingerprint_files": "models.hf.checkpoint",
    "generate": "models.inspect.generation",
    "Generation": "models.inspect.generation",
    "probe": "models.inspect.analysis",
    "layer_attention": "models.inspect.analysis",
    "fill_mask": "models.inspect.analysis",
    "logit_lens": "models.inspect.lens",
    "ablated": "models.inspect.ablation",
    "ablation_sweep": "models.inspect.sweeps",
    "exact_answers": "models.inspect.exact",
    "patching_sweep": "models.inspect.sweeps",
    "patched": "models.inspect.sweeps",
    "compare": "models.inspect.compare",
    "attribute": "models.inspect.attribution",
    "make_vector": "models.inspect.steering",
    "head_types": "models.inspect.head_types",
    "neuron_effects": "models.inspect.neurons",
    "top_contexts": "models.inspect.neurons",
    "steered": "models.inspect.steering",
    "SteeringVector": "models.inspect.steering",
    "finetune_config": "models.training.finetune",
    "finetuner": "models.training.finetune",
    "load_labelled": "models.text.labelled",
    "labelled_task": "models.text.labelled",
    "GPT": "models.nn",
    "Bert": "models.nn",
    "GPTConfig": "models.nn",
    "BertConfig": "models.nn",
    "Seq2Seq": "models.nn",
    "Seq2SeqConfig": "models.nn",
    "Model": "models.nn",
    "Capabilities": "models.capabilities",
    "Tokenizer": "models.text.tokenizer",
    "Trainer": "models.training.trainer",
    "TrainConfig": "models.training.settings",
    "PRESETS": "models.training.settings",
    "preset": "models.training.settings",
    "load_corpus": "models.text.corpus",
    "TASKS": "models.text.tasks",
    "pick_device": "models.device",
}

__all__ = [
    "Attribution",
    "Baseline",
    "ClassEval",
    "Comparison",
    "FillMaskResult",
    "GenerationStep",
    "HeadCheck",
    "HeadSweep",
    "LogitLens",
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
