"""Opening a model for the worker: a folder, or a built-in one (a starter model if it is missing)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import models
from models import assets
from playground.info import ModelInfo, model_info
from playground.starter import train_starter

HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")  # how a Hugging Face repository is named
DEFAULT_DATA_DIR = Path.home() / ".cache" / "transformer-playground"
STARTER_NOTE = "built-in model not found: using a small starter model made at first start"


def open_model(
    source: str,
    device: str,
    assets_dir: Path | None,
    data_dir: Path | None,
    should_stop: Callable[[], bool],
    say: Callable[[str], None],
    precision: str = "auto",
) -> tuple[Any, Any, ModelInfo]:
    """(model, tokenizer, ModelInfo) for a folder, a GGUF file, a cached "org/name", an
    "ollama:name:tag" or "builtin:gpt"/"builtin:bert"; raises ModelError.

    `assets_dir` replaces the installed assets (see `models.assets.builtin_model`);
    `say` tells the status bar about slow steps; `should_stop` cuts the starter's training short.
    """
    note = ""
    if source.startswith("builtin:"):
        arch = source.split(":", 1)[1]
        if arch not in ("gpt", "bert"):
            raise models.ModelError(f"unknown built-in model '{arch}' (gpt or bert)")
        name = f"built-in {arch.upper()}"
        folder = assets.builtin_model(arch, assets_dir)
        if folder is not None:
            model, tok = models.load(folder, device, precision=precision)
        else:
            name = f"starter {arch.upper()}"
            starter = (data_dir or DEFAULT_DATA_DIR) / f"starter-{arch}"
            model, tok, why = _starter(arch, starter, device, should_stop, say)
            note = f"{STARTER_NOTE}; {why}" if why else STARTER_NOTE
            folder = starter if not why else ""  # (a starter that could not be saved has no files)
    else:
        folder = Path(source).expanduser()
        name = folder.name or str(folder)
        if source.startswith("ollama:"):  # "ollama:name:tag": a model in Ollama's store
            from models.hf.local_models import resolve_ollama

            folder, name = resolve_ollama(source.removeprefix("ollama:")), source.removeprefix("ollama:")
        elif not folder.exists() and HUB_ID.match(source):  # "org/name": a model in the hub cache
            from models.hf.hub_cache import resolve

            folder, name = resolve(source), source
        model, tok = models.load(folder, device, precision=precision)
    chat = tok.chat_template is not None
    info = model_info(model, name, source, device, note, chat=chat, folder=folder or "")
    if model.capabilities.encoder_decoder:
        from models.training.objectives.pairs import held_out_source

        info = replace(info, example=held_out_source(folder))  # a source it can read, if known
    return model, tok, info


def _starter(
    arch: str, folder: Path, device: str, should_stop: Callable[[], bool], say: Callable[[str], None]
) -> tuple[Any, Any, str]:
    if (folder / "config.json").is_file():
        try:
            model, tok = models.load(folder, device)
            return model, tok, ""
        except models.ModelError:
            pass  # a damaged cache is simply made again
    say(f"training a small starter {arch.upper()} (first start only)…")
    return train_starter(arch, folder, device, should_stop)
