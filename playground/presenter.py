"""Words for people, on the GUI side: a model trained here is named, and given a hint, from the facts the
worker reports (the worker composes no display text)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from models.text.pairs import PAIR_TASKS
from models.text.tasks import TASKS
from playground.info import ModelInfo


def present(info: ModelInfo, previous: ModelInfo | None) -> ModelInfo:
    """`info` as the status bar, the menus and the views show it. A model trained or fine-tuned
    here gets its name and a hint for what to try first; `previous` is the model it replaces (a
    fine-tune's base)."""
    if not info.trained_on:
        return info  # opened: a folder, a hub id or a built-in model is already named
    data = info.trained_on
    if info.finetuned:
        kind = "classifier" if info.finetuned == "classify" else "fine-tuned"
        base = previous.name if previous is not None else "base model"
        return replace(info, name=f"{base}, {kind} ({Path(data).name})", base=base, note="")
    if info.capabilities.encoder_decoder:
        pairs = PAIR_TASKS.get(data.removeprefix("task:"))
        hint = f"type a source to translate; look for {pairs.look_for}" if pairs else ""
        return replace(info, name=f"trained encoder–decoder ({data})", note=hint)
    task = TASKS.get(info.task)
    hint = f"prompt it with {task.prompt_hint}" if task is not None else ""
    return replace(info, name=f"trained {info.kind} ({data})", note=hint)
