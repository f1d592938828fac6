"""Checkpoint folders: Hugging Face `config.json` + `model.safetensors` + `tokenizer.json`, both ways."""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from models.device import check_precision
from models.errors import ModelError
from models.hf.atomic import Writer, recover, write_folder
from models.hf.config import config_from_hf, config_to_hf
from models.hf.gguf_file import is_gguf
from models.hf.weights import state_from_hf, state_to_hf, state_to_hf_names
from models.nn import (
    BertConfig,
    Decoder,
    DecoderConfig,
    Model,
    ModelConfig,
    Seq2Seq,
    build,
    layout,
)
from models.nn.decoder import Rotary
from models.nn.quantized import quantize_int8, refuse_quantized
from models.nn.seq2seq import sinusoidal_table
from models.text.tokenizer import Tokenizer


# ---- loading ------------------------------------------------------------------------------
def load(
    path: str | Path,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    precision: str = "auto",
) -> tuple[Model, Tokenizer]:
    """Open a checkpoint folder (ours, or a Hugging Face one of a family in models.hf.config) or a
    GGUF file (models.hf.gguf_file) from a local path, in `dtype`: by default float32 on a CPU,
    and on a GPU the folder's own type when it stores bfloat16 or float16 weights (float32
    otherwise). `precision`
    ("fp32", "bf16", "int8": int8 weights, models.nn.quantized) chooses instead of `dtype`.

    Everything is checked before a model is returned, so a failure leaves nothing half-loaded.
    """
    check_precision(precision, torch.device(device))
    folder = Path(path)
    recover(folder)  # a save that died mid-swap left the old folder aside: put it back
    # int8 is made from bfloat16 weights (half float32's peak), the rest widened once quantized
    chosen = {"fp32": torch.float32, "bf16": torch.bfloat16, "int8": torch.bfloat16}.get(precision, dtype)
    if folder.is_file() and is_gguf(folder):
        config, state, tokenizer = _read_gguf(folder, chosen or torch.float32)
    else:
        config, state, tokenizer = _read_folder(folder, chosen, torch.device(device))
    return _assemble(config, state, tokenizer, folder, device, precision)


def _read_folder(
    folder: Path, dtype: torch.dtype | None, device: torch.device
) -> tuple[ModelConfig, dict[str, torch.Tensor], Tokenizer]:
    if not folder.is_dir():
        what = "a file, not a folder or a GGUF file" if folder.exists() else "no such folder"
        raise ModelError(
            f"{folder}: {what}. A model folder holds config.json, the weights (model.safetensors or "
            "pytorch_model.bin) and the tokenizer (tokenizer.json), as a training run or a Hugging "
            "Face download leaves them; a .gguf file is opened as it is"
        )
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelError(f"{folder}: config.json is missing")
    try:
        hf_config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{config_path}: not valid JSON ({e})") from e
    generation = folder / "generation_config.json"  # instruct models list their turn-end tokens here
    if generation.is_file():
        try:
            eos = json.loads(generation.read_text(encoding="utf-8")).get("eos_token_id")
        except (OSError, ValueError):
            eos = None
        if isinstance(eos, list) and eos:
            hf_config = hf_config | {"eos_token_id": eos}
    config = config_from_hf(hf_config)
    files = _weight_files(folder)
    dtype = dtype or _default_dtype(files, device)
    _check_memory(folder, files, dtype)
    weights = _read_weights(files, dtype)
    tokenizer = Tokenizer.load(folder)
    return config, state_from_hf(config, weights), tokenizer


def _read_gguf(path: Path, dtype: torch.dtype) -> tuple[ModelConfig, dict[str, torch.Tensor], Tokenizer]:
    """A GGUF file: its metadata checked, its tokenizer built and its size counted before any
    weight is dequantised."""
    from models.hf.gguf_file import GGUF

    file = GGUF(path)
    config = config_from_hf(file.hf_config())
    tokenizer = file.tokenizer()
    need, free = file.needed_bytes(dtype), available_memory()
    if need > free:
        raise ModelError(
            f"{path}: the model needs {need / 2**30:.1f} GiB as {_name(dtype)} once dequantised, but only "
            f"{free / 2**30:.1f} GiB of memory are free: refused before loading"
        )
    with torch.device("meta"):
        names = list(state_to_hf_names(build(config)))
    return config, state_from_hf(config, file.hf_weights(names, dtype)), tokenizer


def _assemble(
    config: ModelConfig,
    state: dict[str, torch.Tensor],
    tokenizer: Tokenizer,
    folder: Path,
    device,
    precision: str,
) -> tuple[Model, Tokenizer]:
    """The model from checked weights, on `device`, in its precision."""
    if isinstance(config, BertConfig) and not any(k.startswith("head.") for k in state):
        config = replace(config, has_mlm_head=False)  # encoder only: inspect, no fill-mask
    with torch.device("meta"):  # no random weights are made only to be overwritten
        model = build(config)
    _check_state(model, state, folder)
    # assigned, not copied: each tensor becomes the parameter, so it must be laid out as one
    # (GPT-2's transposed Conv1D weights are views; a strided weight changes the matmul's rounding)
    # (taken out of the caller's dict: a weight laid out again for decoding below frees its old
    # copy at once, where a reference left behind held them all, +137 MiB at SmolLM2's shape)
    placed = {k: state.pop(k).contiguous() for k in list(state)}
    model.load_state_dict(placed, strict=False, assign=True)  # tied weights are absent on purpose
    del placed
    model.tie_weights()
    _make_buffers(model)
    if tokenizer.vocab_size > config.vocab_size:
        raise ModelError(
            f"{folder}: the tokenizer has {tokenizer.vocab_size} tokens but the model only "
            f"{config.vocab_size}"
        )
    if precision == "int8":
        quantize_int8(model)
        for p in model.parameters():  # what is not a linear layer (embeddings, norms) runs in float32
            p.data = p.data.float()
    return layout.for_decoding(model.to(device).eval()), tokenizer


def _make_buffers(model: Model) -> None:
    """Computed (not stored) tables, made on the CPU once the model left the meta device."""
    if isinstance(model, Decoder):
        model.model.rotary = Rotary(model.config)
        if model.model.local_rotary is not None:
            model.model.local_rotary = Rotary(model.config, local=True)
    if isinstance(model, Seq2Seq):  # the sinusoidal tables are computed, never stored
        table = sinusoidal_table(model.config.max_position_embeddings, model.config.d_model)
        model.model.encoder.positions = table
        model.model.decoder.positions = table.clone()


STORED_BYTES = {"F64": 8, "F32": 4, "BF16": 2, "F16": 2, "I64": 8, "I32": 4, "I8": 1, "U8": 1, "BOOL": 1}


def available_memory() -> int:
    """Bytes of memory available now, page cache included (a test replaces this to play a
    small machine)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse


def _check_memory(folder: Path, files: list[Path], dtype: torch.dtype = torch.float32) -> None:
    """Refuse, before reading a weight, a model whose copy in `dtype` would not fit in free memory."""
    if files[0].suffix != ".safetensors":
        return
    need, width = 0, torch.empty((), dtype=dtype).element_size()
    for path in files:
        try:
            with safe_open(str(path), "pt") as f:
                for key in f.keys():
                    sliced = f.get_slice(key)
                    n, stored = math.prod(sliced.get_shape()), STORED_BYTES.get(sliced.get_dtype(), 4)
                    # the stored tensor and its converted copy are alive together while loading
                    need += n * width + (n * stored if stored != width else 0)
        except (SafetensorError, OSError, ValueError) as e:
            raise ModelError(f"{path}: corrupt or truncated safetensors file ({e})") from e
    free = available_memory()
    if need > free:
        raise ModelError(
            f"{folder}: the model needs {need / 2**30:.1f} GiB as {_name(dtype)}, but only "
            f"{free / 2**30:.1f} GiB of memory are free: refused before loading"
        )


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _weight_files(folder: Path) -> list[Path]:
    """model.safetensors, the shards an index names, or pytorch_model.bin."""
    index = folder / "model.safetensors.index.json"
    if index.is_file() and not (folder / "model.safetensors").is_file():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelError(f"{index}: not a valid shard index ({e})") from e
        missing = [s for s in shards if not (folder / s).is_file()]
        if missing:
            raise ModelError(f"{folder}: shard {missing[0]} named in the index is missing")
        return [folder / s for s in shards]
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return [folder / name]
    raise ModelError(f"{folder}: no weights found (expected model.safetensors or pytorch_model.bin)")


def _default_dtype(files: list[Path], device: torch.device) -> torch.dtype:
    """float32 on a CPU (its math is float32); on a GPU, a 16-bit folder's own 16-bit type."""
    if device.type == "cpu" or files[0].suffix != ".safetensors":
        return torch.float32
    with safe_open(str(files[0]), "pt") as f:
        stored = {f.get_slice(k).get_dtype() for k in f.keys()}
    if "F16" in stored:
        return torch.float16  # kept as stored, as transformers' dtype="auto" keeps it
    return torch.bfloat16 if "BF16" in stored else torch.float32


def _read_weights(files: list[Path], dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Every floating-point tensor in `dtype` (a bf16 folder is widened to float32 on a CPU)."""
    weights: dict[str, torch.Tensor] = {}
    for path in files:
        weights.update(_read_file(path))
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in weights.items()}


def _read_file(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as e:
            raise ModelError(f"{path}: corrupt or truncated safetensors file ({e})") from e
    try:
        # weights_only: a pickle that needs arbitrary code is refused, never executed
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelError(
            f"{path}: refused — this pickle is not plain weights (loading it would run "
            f"code) or it is corrupt. Details: {str(e).splitlines()[0]}"
        ) from e


def _check_state(model: nn.Module, state: dict[str, torch.Tensor], folder: Path) -> None:
    tied = _tied(model)
    expected = {k: v for k, v in model.state_dict().items() if k not in tied}
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ModelError(
            f"{folder}: weights are missing tensor '{missing[0]}'"
            + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
        )
    for name, ref in expected.items():
        if tuple(state[name].shape) != tuple(ref.shape):
            raise ModelError(
                f"{folder}: tensor '{name}' has shape {tuple(state[name].shape)}, "
                f"but config.json implies {tuple(ref.shape)}"
            )


def _tied(model: nn.Module) -> set[str]:
    """Names of parameters that are an earlier parameter (an output head tied to the embedding):
    files leave them out."""
    first: dict[int, str] = {}
    tied = set()
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) in first:
            tied.add(name)
        else:
            first[id(p)] = name
    return tied


# ---- saving -------------------------------------------------------------------------------
def save(
    model: Model,
    tokenizer: Tokenizer,
    path: str | Path,
    extra_files: dict[str, Writer] | None = None,
) -> Path:
    """Write a folder that `transformers` and this app both open, atomically as a whole.

    `extra_files` maps a file name to a function that writes it to a given path. Any failure
    (disk full, permissions, a library error) is a ModelError and leaves the old folder as it was.
    """
    refuse_quantized(model, "Saving")
    cfg = model.config
    state = state_to_hf(model)
    hf_config = config_to_hf(cfg)
    files: dict[str, Writer] = {
        "model.safetensors": lambda p: save_file(state, str(p), metadata={"format": "pt"}),
        "config.json": lambda p: p.write_text(json.dumps(hf_config, indent=2)),
        "tokenizer.json": lambda p: tokenizer.hf.save(str(p)),
        "tokenizer_config.json": lambda p: p.write_text(
            json.dumps(_tokenizer_config(cfg, tokenizer), indent=2)
        ),
    }
    return write_folder(Path(path), files | (extra_files or {}), replaces=REPLACED_FILES)


# Files of an older checkpoint in the same folder that the new one supersedes: never carried over.
REPLACED_FILES = (
    "training_state.pt",
    "train_config.json",
    "corpus.txt",
    "pytorch_model.bin",
    "model.safetensors.index.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
)


def _tokenizer_config(cfg: ModelConfig, tokenizer: Tokenizer) -> dict:
    base = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": cfg.context}
    if isinstance(cfg, BertConfig):
        return base | {
            "unk_token": "[UNK]",
            "pad_token": "[PAD]",
            "cls_token": "[CLS]",
            "sep_token": "[SEP]",
            "mask_token": "[MASK]",
        }
    if isinstance(cfg, DecoderConfig):  # what the folder it came from said: nothing is lost
        ids = (("bos_token", cfg.bos_token_id), ("eos_token", cfg.eos_token_id))
        named = {k: t for k, i in ids if i is not None and (t := tokenizer.hf.id_to_token(i))}
        kept = base | named | tokenizer.special_texts
        if tokenizer.bos_prefix is not None:
            kept |= {"add_bos_token": True, "bos_token": tokenizer.hf.id_to_token(tokenizer.bos_prefix)}
        if tokenizer.chat_template:
            kept["chat_template"] = tokenizer.chat_template
        return kept
    if tokenizer.eos_id is not None:
        return base | {"eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>"}
    return base


FINGERPRINT_SAMPLES = 256  # 4 KiB samples of each weight file: about a megabyte read, in milliseconds


def fingerprint_files(folder: str | Path) -> str:
    """16 hex digits of a SHA-256 over a folder's weight files (or one GGUF file): their names,
    sizes, safetensors headers (every tensor's name, type, shape and place) and 256 samples of
    their bytes. The same files give the same fingerprint whatever precision they open in, and it
    costs milliseconds where hashing every weight took a second per 250 M parameters; "" without
    weight files."""
    import hashlib

    try:
        files = [Path(folder)] if Path(folder).is_file() else _weight_files(Path(folder))  # a GGUF file
    except ModelError:
        return ""
    digest = hashlib.sha256()
    for path in files:
        size = path.stat().st_size
        digest.update(f"{path.name}:{size}".encode())
        with open(path, "rb") as f:
            head = f.read(8)
            digest.update(head)
            if path.suffix == ".safetensors" and len(head) == 8:
                digest.update(f.read(int.from_bytes(head, "little")))  # the header: every tensor's place
            for i in range(FINGERPRINT_SAMPLES):
                f.seek(size * i // FINGERPRINT_SAMPLES)
                digest.update(f.read(4096))
    return digest.hexdigest()[:16]


def fingerprint(model: nn.Module) -> str:
    """16 hex digits of a SHA-256 over every weight, in name order: the same weights give the same
    fingerprint however they were loaded (a recipe names the model it was made with)."""
    import hashlib

    digest = hashlib.sha256()
    with torch.no_grad():
        for name, tensor in sorted(model.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().to("cpu").contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]
