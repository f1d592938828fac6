"""Checkpoint folders: Hugging Face `config.json` + `model.safetensors` + `tokenizer.json`, both ways."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from models.errors import ModelError
from models.hf.atomic import Writer, recover, write_folder
from models.hf.config import config_from_hf, config_to_hf
from models.hf.weights import TIED, state_from_hf, state_to_hf
from models.nn import GPT, Bert, Model, ModelConfig
from models.text.tokenizer import Tokenizer


# ---- loading ------------------------------------------------------------------------------
def load(path: str | Path, device: str | torch.device = "cpu") -> tuple[Model, Tokenizer]:
    """Open a checkpoint folder (ours or a Hugging Face GPT-2/BERT one) from a local path.

    Everything is checked before a model is returned, so a failure leaves nothing half-loaded.
    """
    folder = Path(path)
    recover(folder)  # a save that died mid-swap left the old folder aside: put it back
    if not folder.is_dir():
        raise ModelError(f"{folder}: not a folder")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelError(f"{folder}: config.json is missing")
    try:
        hf_config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{config_path}: not valid JSON ({e})") from e
    config = config_from_hf(hf_config)
    weights = _read_weights(folder)
    tokenizer = Tokenizer.load(folder)
    state = state_from_hf(config.arch, weights)
    if config.arch == "bert" and not any(k.startswith("head.") for k in state):
        config = replace(config, has_mlm_head=False)  # encoder only: inspect, no fill-mask
    model = GPT(config) if config.arch == "gpt" else Bert(config)
    _check_state(model, state, folder)
    model.load_state_dict(state, strict=False)  # tied weights are absent from `state` on purpose
    if tokenizer.vocab_size > config.vocab_size:
        raise ModelError(
            f"{folder}: the tokenizer has {tokenizer.vocab_size} tokens but the model only "
            f"{config.vocab_size}"
        )
    return model.to(device).eval(), tokenizer


def _read_weights(folder: Path) -> dict[str, torch.Tensor]:
    st, bin_ = folder / "model.safetensors", folder / "pytorch_model.bin"
    if st.is_file():
        try:
            return load_file(str(st))
        except (SafetensorError, OSError, ValueError) as e:
            raise ModelError(f"{st}: corrupt or truncated safetensors file ({e})") from e
    if bin_.is_file():
        try:
            # weights_only: a pickle that needs arbitrary code is refused, never executed
            return torch.load(str(bin_), map_location="cpu", weights_only=True)
        except Exception as e:
            raise ModelError(
                f"{bin_}: refused — this pickle is not plain weights (loading it would run "
                f"code) or it is corrupt. Details: {str(e).splitlines()[0]}"
            ) from e
    raise ModelError(f"{folder}: no weights found (expected model.safetensors or pytorch_model.bin)")


def _check_state(model: nn.Module, state: dict[str, torch.Tensor], folder: Path) -> None:
    expected = {k: v for k, v in model.state_dict().items() if k not in TIED}
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
    if cfg.arch == "bert":
        return base | {
            "unk_token": "[UNK]",
            "pad_token": "[PAD]",
            "cls_token": "[CLS]",
            "sep_token": "[SEP]",
            "mask_token": "[MASK]",
        }
    if tokenizer.eos_id is not None:
        return base | {"eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>"}
    return base


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
