"""The local Hugging Face hub cache: which models it holds and whether they open here (never online)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from models.errors import ModelError
from models.hf.config import SUPPORTED


@dataclass(frozen=True)
class CachedModel:
    """One model repository in the cache, as its newest snapshot has it."""

    repo_id: str  # "org/name"
    folder: str  # the snapshot folder that opens
    model_type: str  # config.json's, "" if none
    architecture: str  # e.g. "LlamaForCausalLM"
    n_params: int  # counted from the weight files' headers (nothing is loaded); 0 if unknown
    size_on_disk: int  # bytes of the whole repository in the cache
    why_not: str = ""  # "" when it opens here; else the reason

    @property
    def opens(self) -> bool:
        return not self.why_not


def cache_dir() -> Path:
    """HF_HUB_CACHE, else HF_HOME/hub, else $XDG_CACHE_HOME (or ~/.cache)/huggingface/hub, as
    huggingface_hub finds it (read now, not at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    base = (
        Path(os.environ["XDG_CACHE_HOME"]).expanduser()
        if os.environ.get("XDG_CACHE_HOME")
        else Path.home() / ".cache"
    )
    return base / "huggingface" / "hub"


def scan(cache: str | Path | None = None) -> list[CachedModel]:
    """Every model repository in the cache, sorted by name; an absent cache holds none."""
    from huggingface_hub import scan_cache_dir

    folder = Path(cache) if cache is not None else cache_dir()
    if not folder.is_dir():
        return []
    info = scan_cache_dir(folder)  # reads the folder only: no network
    found = []
    for repo in info.repos:
        if repo.repo_type != "model" or not repo.revisions:
            continue
        snapshot = _newest(repo)
        found.append(_describe(repo.repo_id, Path(snapshot.snapshot_path), repo.size_on_disk))
    return sorted(found, key=lambda m: m.repo_id.lower())


def resolve(repo_id: str, cache: str | Path | None = None) -> Path:
    """The snapshot folder of a cached model "org/name"; ModelError if the cache lacks it."""
    for model in scan(cache):
        if model.repo_id == repo_id:
            return Path(model.folder)
    where = Path(cache) if cache is not None else cache_dir()
    raise ModelError(
        f"{repo_id} is not in the Hugging Face cache ({where}) and nothing is downloaded here: "
        "download it on a machine with internet access, or give a folder"
    )


def _newest(repo):
    """The revision refs/main points at, else the most recently changed one."""
    main = next((r for r in repo.revisions if "main" in r.refs), None)
    return main or max(repo.revisions, key=lambda r: r.last_modified)


def _describe(repo_id: str, folder: Path, size: int) -> CachedModel:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return CachedModel(repo_id, str(folder), "", "", 0, size, "no readable config.json")
    kind = str(config.get("model_type", ""))
    architecture = ", ".join(config.get("architectures") or []) or kind
    from models.hf.checkpoint import _weight_files  # the files the loader would read

    try:
        files = _weight_files(folder)
    except ModelError as e:
        files, weights_missing = [], str(e).removeprefix(f"{folder}: ")
    else:
        weights_missing = ""
    n_params = _count_parameters(files)
    why_not = ""
    if kind not in SUPPORTED:
        why_not = f"model_type '{kind}' is not supported ({', '.join(SUPPORTED)})"
    elif weights_missing:
        why_not = f"its weights are not all in the cache ({weights_missing})"
    elif not any((folder / f).is_file() for f in ("tokenizer.json", "vocab.json", "vocab.txt")):
        why_not = "its tokenizer is not in the cache"
    return CachedModel(repo_id, str(folder), kind, architecture, n_params, size, why_not)


def _count_parameters(files: list[Path]) -> int:
    """Elements of every tensor in the safetensors files the loader reads, from their headers."""
    from safetensors import safe_open

    total = 0
    for path in files:
        if path.suffix != ".safetensors":
            continue
        try:
            with safe_open(str(path), "pt") as f:
                total += sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
        except Exception:  # noqa: BLE001 — a damaged or partial file: count what can be counted
            continue
    return total
