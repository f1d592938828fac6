"""What the GUI knows about the loaded model: a small torch-free record the worker emits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.capabilities import Capabilities


@dataclass(frozen=True)
class ModelInfo:
    name: str  # shown in the status bar and the recent-models menu
    source: str  # what to pass back to `load` to reopen it: a folder or "builtin:gpt"/"builtin:bert"
    kind: str  # its family's name, for people: "GPT", "BERT", "Llama", "encoder–decoder"…
    capabilities: Capabilities  # what it can do: the views ask these, never its family
    n_layer: int
    n_head: int
    context: int
    vocab_size: int
    n_params: int
    device: str  # "CPU", "CUDA" or "MPS"
    precision: str = "fp32"  # what it runs in: "fp32", "bf16", "fp16" or "int8" (int8 weights)
    note: str = ""  # e.g. "starter model: the built-in one was not found"
    fingerprint: str = ""  # of its weights (models.fingerprint): a recipe names the model it used
    task: str = ""  # the built-in task it was trained on here ("copy"…), "" if none or not known
    chat: bool = False  # its tokenizer has a chat template (an instruct model)
    n_kv_head: int = 0  # key/value heads (fewer than query heads: grouped-query attention)
    labels: tuple[str, ...] = ()  # a sequence classifier's classes
    windows: tuple[int, ...] = ()  # per layer, the keys a local layer sees (0: all); () without any
    base: str = ""  # the name of the model it was fine-tuned from, kept to compare with ("" = none)
    example: str = ""  # a text to show it with first: an encoder–decoder's held-out source
    # a model trained or fine-tuned here (facts; the GUI's presenter words its name and hint):
    trained_on: str = ""  # the run's corpus, labelled data or pairs, by name
    finetuned: str = ""  # "lm" or "classify" when a fine-tune made it ("" = trained from scratch)

    @property
    def can_fill_mask(self) -> bool:
        return self.capabilities.masked_lm

    @property
    def summary(self) -> str:
        return f"{self.name} · {format_count(self.n_params)} parameters · {self.device} · {self.precision}"


def precision_of(model) -> str:
    """What a model runs in, as the status bar says it."""
    from models.nn.quantized import is_quantized

    if is_quantized(model):
        return "int8"
    dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
    return {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}.get(dtype, dtype)


def format_count(n: int) -> str:
    """1234567 -> '1.2M' (the status bar has little room)."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def model_info(
    model,
    name: str,
    source: str,
    device: str,
    note: str = "",
    task: str = "",
    chat: bool = False,
    folder: str | Path = "",
) -> ModelInfo:
    """Describe a loaded or freshly trained model (worker thread). Its fingerprint is its weight
    files' (`folder`: where it was read or last saved), or, with none, its weights'."""
    from models import fingerprint, fingerprint_files

    cfg = model.config
    return ModelInfo(
        name=name,
        source=source,
        kind=cfg.label,
        capabilities=model.capabilities,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        context=cfg.context,
        vocab_size=cfg.vocab_size,
        n_params=sum(p.numel() for p in model.parameters()),
        device=device.upper(),
        precision=precision_of(model),
        note=note,
        fingerprint=(folder and fingerprint_files(folder)) or fingerprint(model),
        task=task,
        chat=chat,
        n_kv_head=cfg.n_kv_head,
        labels=tuple(getattr(cfg, "labels", ())),
        windows=tuple(model.attention_window(i) for i in range(cfg.n_layer))
        if model.capabilities.local_window
        else (),
    )
