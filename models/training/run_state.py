"""A run's state: its random state, and its saved form (training_state.pt: plain tensors and values)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.errors import ModelError
from models.results import Baseline, ClassEval

STATE_FILE = "training_state.pt"
CONFIG_FILE = "train_config.json"
FORMAT = 1


def load_state(folder: str | Path) -> dict[str, Any]:
    """The training state of a checkpoint folder; plain tensors and values only."""
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        raise ModelError(
            f"{folder}: no {STATE_FILE} — this checkpoint was saved without its "
            "training state, so it cannot be resumed (it can still be opened)"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelError(
            f"{path}: refused or corrupt training state "
            f"({str(e).splitlines()[0] if str(e) else type(e).__name__})"
        ) from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ModelError(f"{path}: not a training state this version understands")
    return state


def plain_baseline(before: Baseline | None) -> dict[str, Any] | None:
    """A fine-tune's baseline as plain values, so a resumed run keeps it (and does not measure
    the half-trained model as "before"). A classifier's keeps its scores, not its examples."""
    if before is None:
        return None
    d: dict[str, Any] = {"val_loss": before.val_loss, "sample": before.sample}
    if before.classes is not None:
        c = before.classes
        d["classes"] = {"labels": list(c.labels), "accuracy": c.accuracy, "loss": c.loss,
                        "confusion": c.confusion.tolist()}  # fmt: skip
    return d


def baseline_from(d: dict[str, Any] | None) -> Baseline | None:
    if not d:
        return None
    classes = None
    if d.get("classes"):
        c, empty = d["classes"], np.zeros(0, np.int64)
        classes = ClassEval(
            tuple(c["labels"]), float(c["accuracy"]), float(c["loss"]), np.asarray(c["confusion"], np.int64),
            (), empty, empty, np.zeros(0, np.float32),
        )  # fmt: skip
    return Baseline(val_loss=float(d["val_loss"]), sample=d.get("sample"), classes=classes)


class RunRandom:
    """The run's own random state for what draws from torch's global generator (weight init,
    dropout): borrowed for the block and handed back as it was, so a run neither changes nor
    depends on anyone else's draws, and a resumed run draws what it would have."""

    def __init__(self, seed: int, device: torch.device) -> None:
        # a rank's own GPU (pick_device names none: the current one, which torchrun sets)
        index = device.index if device.index is not None else 0
        if device.type == "cuda" and device.index is None:
            index = torch.cuda.current_device()
        self.devices = [index] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=self.devices):
            torch.manual_seed(seed)
            self.state = self._read()

    @contextmanager
    def active(self) -> Iterator[None]:
        with torch.random.fork_rng(devices=self.devices):
            torch.set_rng_state(self.state["torch"])
            if self.devices and self.state.get("cuda") is not None:
                torch.cuda.set_rng_state(self.state["cuda"], self.devices[0])
            try:
                yield
            finally:
                self.state = self._read()

    def _read(self) -> dict[str, torch.Tensor | None]:
        cuda = torch.cuda.get_rng_state(self.devices[0]) if self.devices else None
        return {"torch": torch.get_rng_state(), "cuda": cuda}
