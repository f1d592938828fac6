"""The models already on this machine: the Hugging Face cache, LM Studio's and Ollama's stores and
folders the user adds, each described (family, size, quantisation) and said to open here or why
not. Everything is read from disk: nothing is downloaded.

LM Studio keeps `models/<publisher>/<repository>/<file>.gguf` under ~/.lmstudio (older versions
under ~/.cache/lm-studio). Ollama keeps `manifests/<registry>/<namespace>/<model>/<tag>` (JSON
naming the model's layers by digest) and `blobs/sha256-<digest>` under $OLLAMA_MODELS, else
~/.ollama/models.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from models.errors import ModelError

HF, LMSTUDIO, OLLAMA, FOLDER = "Hugging Face cache", "LM Studio", "Ollama", "Folder"
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
OLLAMA_LIBRARY = ("registry.ollama.ai", "library")  # its own models go by their bare name
PARTIAL = (".part", ".partial", ".download", ".downloading", ".crdownload", ".incomplete", ".tmp")
READING = "reading…"  # a GGUF file's description before its header is read


@dataclass(frozen=True)
class LocalModel:
    """One model the user has, and what opening it takes."""

    source: str  # HF, LMSTUDIO, OLLAMA or FOLDER
    name: str  # as the user knows it: org/name, publisher/repo/file.gguf, name:tag, a path
    opens_as: str  # what `--model` and File ▸ Open take: a hub id, a path, "ollama:name:tag"
    path: str  # the folder or file read
    family: str = ""  # "Llama", "Gemma 3"… (or the file's own architecture name when unsupported)
    n_params: int = 0
    quantization: str = ""  # "Q4_K", "BF16"…: the type most weights are stored in
    size: int = 0  # bytes on disk
    why_not: str = ""  # "" when it opens here

    @property
    def opens(self) -> bool:
        return not self.why_not


def lmstudio_dirs() -> list[Path]:
    home = Path.home()
    return [home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"]


def ollama_dir() -> Path:
    return (
        Path(os.environ["OLLAMA_MODELS"]).expanduser()
        if os.environ.get("OLLAMA_MODELS")
        else (Path.home() / ".ollama" / "models")
    )


def scan(folders: list[str] | tuple[str, ...] = (), read_gguf: bool = True) -> list[LocalModel]:
    """Every model in every store and folder, sorted by source then name. `read_gguf=False` lists
    GGUF files without reading their headers (seconds each for a big vocabulary) unless read before."""
    found = [_from_hub(m) for m in _hub_models()]
    for folder in lmstudio_dirs():
        found += _files_in(folder, LMSTUDIO, read_gguf)
    found += _ollama(ollama_dir(), read_gguf)
    for folder in folders:
        found += _files_in(Path(folder).expanduser(), FOLDER, read_gguf)
    order = {HF: 0, LMSTUDIO: 1, OLLAMA: 2, FOLDER: 3}
    return sorted(found, key=lambda m: (order[m.source], m.name.lower()))


def resolve_ollama(name: str) -> Path:
    """The model blob of an Ollama model "name:tag" (or "namespace/name:tag"); ModelError if the
    store lacks it or its blob."""
    root = ollama_dir()
    for m in _ollama(root, read_gguf=False):
        if m.name == name or m.name == f"{name}:latest":
            if m.why_not and m.why_not != READING:
                raise ModelError(f"Ollama model {name}: {m.why_not}")
            return Path(m.path)
    raise ModelError(f"Ollama model {name} is not in Ollama's store ({root})")


# ---- the Hugging Face cache --------------------------------------------------------------------
def _hub_models():
    from models.hf.hub_cache import scan as scan_hub

    try:
        return scan_hub()
    except Exception:  # noqa: BLE001 — a cache huggingface_hub cannot read lists nothing, says nothing
        return []


def _from_hub(m) -> LocalModel:
    from models.hf.config import label_of

    try:
        config = json.loads((Path(m.folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    quantization = str(config.get("torch_dtype") or config.get("dtype") or "").upper().replace("FLOAT", "F")
    quantization = {"BF16": "BF16", "F32": "F32", "F16": "F16", "BFLOAT16": "BF16"}.get(
        quantization, quantization
    )
    return LocalModel(
        HF, m.repo_id, m.repo_id, m.folder, label_of(m.model_type) or m.architecture, m.n_params,
        quantization, m.size_on_disk, m.why_not,
    )  # fmt: skip


# ---- GGUF files and model folders --------------------------------------------------------------
_described: dict[tuple[str, int, int], LocalModel] = {}  # GGUF headers read, by (path, size, mtime)


def describe_gguf(path: Path, source: str, name: str, opens_as: str, read: bool = True) -> LocalModel:
    """A GGUF file's row: read from its header (once per file version), or READING if `read` is off."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    base = LocalModel(source, name, opens_as, str(path), size=stat.st_size)
    if key in _described:
        return replace(_described[key], source=source, name=name, opens_as=opens_as)
    if not read:
        return replace(base, why_not=READING)
    from models.hf.config import label_of
    from models.hf.gguf_file import ARCHITECTURES, GGUF

    try:
        file = GGUF(path)
    except ModelError as e:
        architecture = _architecture(path)
        why = str(e).removeprefix(f"{path}: ")
        if architecture == "clip":  # LM Studio keeps a vision model's image encoder beside it
            why = "an image encoder (mmproj) for a vision model, not a language model"
        row = replace(base, family=architecture, why_not=why)
    else:
        tokens = file.meta.get("tokenizer.ggml.model")
        why = (
            ""
            if tokens in ("gpt2", "llama")
            else (
                f"its tokenizer ('{tokens}') is not one that opens here"
                if tokens
                else "it holds no tokenizer"
            )
        )
        unreadable = sorted(
            {t.tensor_type.name for t in file.tensors.values() if not _readable(t.tensor_type)}
        )
        if unreadable:
            why = f"tensor type {unreadable[0]} cannot be read"
        if not why:
            try:
                file.check()
            except ModelError as e:
                why = str(e).removeprefix(f"{path}: ")
        row = replace(
            base, family=label_of(ARCHITECTURES[file.architecture]), n_params=file.parameters(),
            quantization=file.quantization(), why_not=why,
        )  # fmt: skip
    _described[key] = row
    return row


def _architecture(path: Path) -> str:
    """general.architecture of a file the app cannot open (a vision projector says "clip")."""
    try:
        import gguf

        field = gguf.GGUFReader(str(path)).get_field("general.architecture")
        return str(field.contents()) if field is not None else ""
    except Exception:  # noqa: BLE001 — a corrupt file has no architecture to tell
        return ""


def _readable(qtype) -> bool:
    import gguf

    return qtype.name in ("F32", "F16") or qtype in getattr(gguf.quants, "_type_traits", {})


def _files_in(folder: Path, source: str, read_gguf: bool, depth: int = 4) -> list[LocalModel]:
    """GGUF files, unfinished downloads and model folders (config.json) under `folder`."""
    if not folder.is_dir():
        return []
    found: list[LocalModel] = []
    for path in _walk(folder, depth):
        name = str(path.relative_to(folder)) if path != folder else path.name
        if path.is_dir():
            found.append(_folder_row(path, source, name))
        elif any(path.name.lower().endswith(".gguf" + p) for p in PARTIAL):
            found.append(LocalModel(source, name, str(path), str(path), size=path.stat().st_size,
                                    why_not="a download that has not finished"))  # fmt: skip
        else:
            found.append(describe_gguf(path, source, name, str(path), read_gguf))
    return found


def _walk(folder: Path, depth: int):
    """Model folders and .gguf files (and unfinished ones) down to `depth` levels; a model folder
    is not looked into further."""
    if (folder / "config.json").is_file():
        yield folder
        return
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_file() and (entry.suffix.lower() == ".gguf" or any(
            entry.name.lower().endswith(".gguf" + p) for p in PARTIAL
        )):  # fmt: skip
            yield entry
        elif entry.is_dir() and depth > 0:
            yield from _walk(entry, depth - 1)


def _folder_row(folder: Path, source: str, name: str) -> LocalModel:
    """A Hugging Face style folder outside the cache, described as the cache's are."""
    from models.hf.hub_cache import _describe

    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return replace(_from_hub(_describe(name, folder, size)), source=source, opens_as=str(folder))


# ---- Ollama ------------------------------------------------------------------------------------
def _ollama(root: Path, read_gguf: bool) -> list[LocalModel]:
    manifests = root / "manifests"
    if not manifests.is_dir():
        return []
    found = []
    for manifest in sorted(p for p in manifests.rglob("*") if p.is_file()):
        parts = manifest.relative_to(manifests).parts
        if len(parts) != 4:  # registry / namespace / model / tag
            continue
        registry, namespace, model, tag = parts
        name = f"{model}:{tag}" if (registry, namespace) == OLLAMA_LIBRARY else f"{namespace}/{model}:{tag}"
        opens_as = f"ollama:{name}"
        try:
            layers = json.loads(manifest.read_text(encoding="utf-8")).get("layers") or []
            digest = next(layer["digest"] for layer in layers if layer.get("mediaType") == OLLAMA_MODEL_LAYER)
        except (OSError, ValueError, StopIteration, KeyError, TypeError, AttributeError):
            found.append(
                LocalModel(OLLAMA, name, opens_as, str(manifest), why_not="its manifest names no model layer")
            )
            continue
        blob = root / "blobs" / str(digest).replace(":", "-")
        if not blob.is_file():
            found.append(
                LocalModel(
                    OLLAMA, name, opens_as, str(blob), why_not=f"its model blob {blob.name} is missing"
                )
            )
            continue
        found.append(describe_gguf(blob, OLLAMA, name, opens_as, read_gguf))
    return found
