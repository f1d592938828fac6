"""Opening a model for the worker: a folder, or a built-in one (a starter model if it is missing)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import models
from playground.info import model_info
from playground.starter import ASSETS, builtin_folder

DEFAULT_DATA_DIR = Path.home() / ".cache" / "transformer-playground"
STARTER_NOTE = "built-in model not found: using a small starter model made at first start"


def open_model(
    source: str,
    device: str,
    assets: Path | None,
    data_dir: Path | None,
    make_starter: Callable[[str, Path, str], tuple[Any, Any]],
):
    """(model, tokenizer, ModelInfo) for a folder or "builtin:gpt"/"builtin:bert"; raises ModelError."""
    note = ""
    if source.startswith("builtin:"):
        arch = source.split(":", 1)[1]
        if arch not in ("gpt", "bert"):
            raise models.ModelError(f"unknown built-in model '{arch}' (gpt or bert)")
        name = f"built-in {arch.upper()}"
        folder = builtin_folder(arch, assets or ASSETS)
        if folder is not None:
            model, tok = models.load(folder, device)
        else:
            note = STARTER_NOTE
            name = f"starter {arch.upper()}"
            model, tok = _starter(
                arch, (data_dir or DEFAULT_DATA_DIR) / f"starter-{arch}", device, make_starter
            )
    else:
        folder = Path(source).expanduser()
        model, tok = models.load(folder, device)
        name = folder.name or str(folder)
    info = model_info(model, name, source, device, note)
    return model, tok, info


def _starter(arch: str, folder: Path, device: str, make: Callable) -> tuple[Any, Any]:
    if (folder / "config.json").is_file():
        try:
            return models.load(folder, device)
        except models.ModelError:
            pass  # a damaged cache is simply made again
    model, tok = make(arch, folder, STARTER_NOTE)
    return model.to(device), tok
