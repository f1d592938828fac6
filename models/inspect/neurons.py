"""The neurons behind a token: each MLP neuron's direct effect on a token's logit, its activations
over a text, and its top-activating contexts over a corpus.

A neuron's activation is its value at the input of its block's MLP output projection
(`Model.neuron_projection`); its direct effect on token y's logit at a position is the activation
times its output column, read through the final norm with that position's scale frozen (the norm is
then linear: centred for a LayerNorm) and the output head's row for y — the "direct logit
attribution" of TransformerLens. The effects of every neuron, every attention output, the
embedding, the biases and the norm's own bias add up to the logit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from models.errors import ModelError
from models.nn import Model
from models.results import TokenizedText
from models.text.tokenizer import Tokenizer

WINDOW = 64  # tokens a corpus window holds
CONTEXT = 12  # tokens shown either side of a top activation


@dataclass(frozen=True)
class NeuronEffects:
    """The neurons with the largest direct effects on one token's logit."""

    tokens: TokenizedText
    position: int  # the position whose prediction is explained (of the token after it)
    target: int  # the token id explained
    target_text: str  # … as it shows
    logit: float
    layers: np.ndarray  # int [K]
    neurons: np.ndarray  # int [K]
    effects: np.ndarray  # float32 [K]: direct effect on the logit, largest |effect| first
    activations: np.ndarray  # float32 [K, T]: each listed neuron over the text
    per_layer: np.ndarray  # float32 [layers]: the sum of every neuron's effect, layer by layer


@dataclass(frozen=True)
class TopContexts:
    """One layer's neurons' strongest activations over a corpus (every neuron of it at once)."""

    layer: int
    values: np.ndarray  # float32 [neurons, k], largest first
    windows: np.ndarray  # int [neurons, k]: the window each came from
    positions: np.ndarray  # int [neurons, k]: the position in it
    texts: tuple[tuple[str, ...], ...]  # each window's token texts
    done: int  # windows read so far
    total: int

    def contexts(self, neuron: int) -> list[tuple[str, str, str, float]]:
        """(before, the token, after, activation) for a neuron's top activations."""
        out = []
        for w, p, v in zip(self.windows[neuron], self.positions[neuron], self.values[neuron], strict=True):
            if not np.isfinite(v):
                continue
            texts = self.texts[w]
            out.append(
                (
                    "".join(texts[max(0, p - CONTEXT) : p]),
                    texts[p],
                    "".join(texts[p + 1 : p + 1 + CONTEXT]),
                    float(v),
                )
            )
        return out


def _projections(model: Model) -> list[nn.Linear]:
    if not model.capabilities.causal:
        raise ModelError(
            f"neurons' effects on the next token are a decoder's: a {model.config.label} has none"
        )
    projections = [model.neuron_projection(i) for i in range(model.config.n_layer)]
    if any(p is None for p in projections):
        raise ModelError(
            f"a {model.config.label}'s MLP output is normed before it joins the residual stream: a neuron "
            "has no direct effect on a logit to read"
        )
    return projections


def activations(model: Model, ids: torch.Tensor, layers: list[int] | None = None) -> dict[int, torch.Tensor]:
    """Every neuron's activation in `layers` (all by default) over ids [B, T]: {layer: [B, T, neurons]};
    under key -1, the residual stream entering the final norm [B, T, C]."""
    projections = _projections(model)
    layers = list(range(len(projections))) if layers is None else layers
    seen: dict[int, torch.Tensor] = {}

    def keep(key: int):
        return lambda _m, args: seen.__setitem__(key, args[0].detach())

    modules = [(i, projections[i]) for i in layers] + [(-1, model.get_submodule(model.FINAL_NORM))]
    handles = [module.register_forward_pre_hook(keep(key)) for key, module in modules]
    try:
        with torch.no_grad():
            model(ids, last_only=True)
    finally:
        for h in handles:
            h.remove()
    return seen


def _read_through_norm(model: Model, final: torch.Tensor, target: int) -> tuple[torch.Tensor, bool]:
    """(the direction a residual component is read along for `target`'s logit at this position,
    whether the norm centres first): the final norm with its scale frozen, then the head's row."""
    norm = model.get_submodule(model.FINAL_NORM)
    head = model.get_submodule(model.OUTPUT_HEAD)
    x = final.float()
    weight = getattr(norm, "weight", None)
    w = torch.ones_like(x) if weight is None else weight.float()
    if getattr(norm, "plus_one", False):  # (Gemma: no direct effects are read there anyway)
        w = 1.0 + w
    centred = isinstance(norm, nn.LayerNorm)
    if centred:
        scale = torch.sqrt(x.var(unbiased=False) + norm.eps)
    else:
        scale = torch.sqrt(x.pow(2).mean() + norm.eps)
    return w * head.weight[target].float() / scale, centred


def neuron_effects(
    model: Model,
    tokenizer: Tokenizer,
    text: str,
    position: int | None = None,
    target: int | None = None,
    k: int = 20,
) -> NeuronEffects:
    """The `k` neurons with the largest direct effects on the logit of `target` (by default the
    token that follows `position` in the text, or the model's own prediction after the text's
    last token) at `position` (by default the last)."""
    from models.inspect.analysis import _encode

    projections = _projections(model)
    tokens = _encode(model, tokenizer, text)
    T = len(tokens)
    position = T - 1 if position is None else position
    if not 0 <= position < T:
        raise ModelError(f"position {position} is not in a text of {T} tokens")
    ids = torch.tensor(tokens.ids[None], device=next(model.parameters()).device)
    acts = activations(model, ids)
    resid = acts[-1][0, position]  # the stream entering the final norm
    with torch.no_grad():
        logits = model.logits_from(resid[None, None], last=False)[0, 0]
    if target is None:
        target = int(tokens.ids[position + 1]) if position + 1 < T else int(logits.argmax())
    with torch.no_grad():
        direction, centred = _read_through_norm(model, resid, target)
    effects, per_layer = [], []
    for layer, proj in enumerate(projections):
        w_out = proj.weight.detach().float()  # [C, neurons]
        if centred:
            w_out = w_out - w_out.mean(0, keepdim=True)
        e = acts[layer][0, position].float() * (direction @ w_out)  # [neurons]
        effects.append(e)
        per_layer.append(float(e.sum()))
    flat = torch.cat(effects)
    top = flat.abs().topk(min(k, flat.numel())).indices
    width = effects[0].numel()
    layers, neurons = (top // width).cpu().numpy(), (top % width).cpu().numpy()
    over_text = np.stack(
        [acts[int(lay)][0, :, int(n)].float().cpu().numpy() for lay, n in zip(layers, neurons, strict=True)]
    )
    return NeuronEffects(
        tokens, position, target, tokenizer.token_text(target), float(logits[target]), layers, neurons,
        flat[top].float().cpu().numpy(), over_text.astype(np.float32), np.array(per_layer, np.float32),
    )  # fmt: skip


def top_contexts(
    model: Model,
    tokenizer: Tokenizer,
    corpus: str,
    layer: int,
    k: int = 10,
    windows: int = 200,
    batch: int = 8,
) -> Iterator[TopContexts]:
    """Every neuron of `layer`: its `k` strongest activations over up to `windows` windows of
    `WINDOW` tokens from `corpus`, yielded again after each batch of windows."""
    projections = _projections(model)
    if not 0 <= layer < len(projections):
        raise ModelError(f"layer must be 0 to {len(projections) - 1} (got {layer})")
    ids = tokenizer.encode(corpus, special_tokens=False).ids
    size = min(WINDOW, model.config.context)
    starts = list(range(0, max(1, len(ids) - size + 1), size))[:windows]
    if not starts or len(ids) < 2:
        raise ModelError("the corpus is too short to read a neuron's activations over")
    device = next(model.parameters()).device
    width = projections[layer].in_features
    values = torch.full((width, k), float("-inf"))
    where = torch.zeros((width, k), dtype=torch.long)  # flat index: window × size + position
    texts: list[tuple[str, ...]] = []
    for b in range(0, len(starts), batch):
        chunk = [ids[s : s + size] for s in starts[b : b + batch]]
        n = min(len(c) for c in chunk)
        rows = torch.tensor(np.stack([c[:n] for c in chunk]), device=device)
        texts += [tuple(tokenizer.token_text(int(i)) for i in c[:n]) for c in chunk]
        acts = activations(model, rows, [layer])[layer].float().cpu()  # [B, n, width]
        flat = acts.reshape(-1, width).T  # [width, B × n]
        index = (torch.arange(len(chunk))[:, None] * size + torch.arange(n)[None, :] + b * size).reshape(-1)
        merged_values = torch.cat([values, flat], 1)
        merged_where = torch.cat([where, index.expand(width, -1)], 1)
        values, picked = merged_values.topk(k, dim=1)
        where = merged_where.gather(1, picked)
        yield TopContexts(
            layer, values.numpy().astype(np.float32), (where // size).numpy(), (where % size).numpy(),
            tuple(texts), min(b + batch, len(starts)), len(starts),
        )  # fmt: skip
