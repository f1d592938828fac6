"""Steering vectors (activation addition): a direction in the residual stream entering a block, made
from contrasting texts, added while the model reads and writes.

A direction at layer L is the mean residual stream entering block L over one text's (or list's)
positions minus the other's (Turner et al. 2023's "activation addition", as a mean difference:
texts of any lengths). `steered(model, vector, coefficient)` adds coefficient × vector to that
stream at every position (or only the prompt's, or only the generated tokens') for everything
run inside it: probes, generation, the lens.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.errors import ModelError
from models.nn import Model
from models.text.tokenizer import Tokenizer

POSITIONS = ("all", "prompt", "generated")  # where the vector is added


@dataclass(frozen=True)
class SteeringVector:
    """A direction in the residual stream entering block `layer` ([width], float32)."""

    layer: int
    vector: np.ndarray
    plus: tuple[str, ...] = ()  # the texts it points towards
    minus: tuple[str, ...] = ()  # … and away from

    @property
    def described(self) -> str:
        def side(texts):
            return " + ".join(f"“{t[:24]}”" for t in texts[:3]) + (" …" if len(texts) > 3 else "")

        return (
            f"{side(self.plus)} − {side(self.minus)} at layer {self.layer}"
            if self.plus
            else f"layer {self.layer}"
        )

    def save(self, path: str | Path) -> Path:
        """`NAME.npy` (the vector) and `NAME.json` beside it (its layer and texts, the width)."""
        from models.hf.atomic import write_file

        path = Path(path).with_suffix(".npy")

        def write_vector(p: Path) -> None:
            with open(p, "wb") as f:  # (np.save on a name would add ".npy" to the temporary one)
                np.save(f, self.vector.astype(np.float32))

        write_file(path, write_vector)
        recipe = {"layer": self.layer, "width": int(self.vector.shape[0]), "plus": list(self.plus),
                  "minus": list(self.minus)}  # fmt: skip
        write_file(path.with_suffix(".json"), lambda p: p.write_text(json.dumps(recipe, indent=2)))
        return path

    @classmethod
    def load(cls, path: str | Path) -> SteeringVector:
        path = Path(path).with_suffix(".npy")
        try:
            vector = np.load(path, allow_pickle=False)
            recipe = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ModelError(
                f"{path}: not a saved steering vector (a .npy with its .json beside it): {e}"
            ) from e
        if vector.ndim != 1:
            raise ModelError(f"{path}: a steering vector is one row of numbers (this is {vector.shape})")
        return cls(int(recipe.get("layer", 0)), vector.astype(np.float32), tuple(recipe.get("plus", ())),
                   tuple(recipe.get("minus", ())))  # fmt: skip


def residual_mean(model: Model, tokenizer: Tokenizer, texts: Sequence[str], layer: int) -> np.ndarray:
    """The residual stream entering block `layer`, averaged over each text's positions, then over
    the texts [width]."""
    from models.inspect.analysis import _encode

    _check_layer(model, layer)
    block = model.blocks()[layer]
    means = []
    for text in texts:
        tokens = _encode(model, tokenizer, text)
        seen: list[torch.Tensor] = []
        handle = block.register_forward_pre_hook(lambda _m, args, seen=seen: seen.append(args[0].detach()))
        try:
            with torch.inference_mode():
                model(torch.tensor(tokens.ids[None], device=next(model.parameters()).device))
        finally:
            handle.remove()
        means.append(seen[0][0].float().mean(0))
    return torch.stack(means).mean(0).cpu().numpy()


def make_vector(
    model: Model, tokenizer: Tokenizer, plus: Sequence[str], minus: Sequence[str], layer: int
) -> SteeringVector:
    """The mean residual stream of `plus` minus that of `minus`, entering block `layer`."""
    plus, minus = [t for t in plus if t.strip()], [t for t in minus if t.strip()]
    if not plus or not minus:
        raise ModelError("a direction needs texts on both sides (towards and away from)")
    vector = residual_mean(model, tokenizer, plus, layer) - residual_mean(model, tokenizer, minus, layer)
    return SteeringVector(layer, vector.astype(np.float32), tuple(plus), tuple(minus))


@contextmanager
def steered(
    model: Model, vector: SteeringVector, coefficient: float, positions: str = "all"
) -> Iterator[None]:
    """Everything run inside adds coefficient × vector to the stream entering its block: at every
    position ("all"), only in a pass over several tokens (a prompt: "prompt"), or only in the
    one-token passes of decoding ("generated")."""
    _check_layer(model, vector.layer)
    if positions not in POSITIONS:
        raise ModelError(f"positions must be one of {', '.join(POSITIONS)} (got '{positions}')")
    width = model.config.n_embd
    if vector.vector.shape != (width,):
        raise ModelError(
            f"the vector has {vector.vector.shape[0]} numbers but this model's stream is {width} wide: "
            "it was made with another model"
        )
    p = next(model.parameters())
    delta = torch.as_tensor(vector.vector, device=p.device).float() * float(coefficient)

    def add(_module, args):
        x = args[0]
        if (positions == "prompt" and x.shape[1] == 1) or (positions == "generated" and x.shape[1] > 1):
            return None
        return (x + delta.to(x.dtype), *args[1:])

    handle = model.blocks()[vector.layer].register_forward_pre_hook(add)
    try:
        yield
    finally:
        handle.remove()


def _check_layer(model: Model, layer: int) -> None:
    if not model.capabilities.causal:
        raise ModelError(f"steering is for decoders: a {model.config.label} does not generate")
    if not 0 <= layer < model.config.n_layer:
        raise ModelError(f"layer must be 0 to {model.config.n_layer - 1} (got {layer})")
