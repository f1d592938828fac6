"""Per-head pattern scores (previous-token, first-token sink, induction) from a probe's attentions."""

from __future__ import annotations

import numpy as np

SCORES = ("previous-token", "first-token", "induction")


def head_scores(attentions: np.ndarray, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Score every head on each pattern; each score is the mean attention mass on the pattern.

    attentions: float [layers, heads, T, T] (query rows, key columns); ids: int [T].
    Returns {name: float32 [layers, heads]}; induction is NaN when no token repeats.
    """
    L, H, T, _ = attentions.shape
    rows = np.arange(1, T)
    prev = attentions[:, :, rows, rows - 1].mean(-1) if T > 1 else np.full((L, H), np.nan)
    first = attentions[:, :, 1:, 0].mean(-1) if T > 1 else np.full((L, H), np.nan)
    # induction: query t attends to j whose predecessor is the same token as t (j - 1 < t - 1),
    # i.e. to what came after the previous occurrence of the current token
    ids = np.asarray(ids)
    target = np.zeros((T, T), dtype=bool)
    target[:, 1:] = ids[:, None] == ids[None, :-1]
    target &= np.tri(T, k=-1, dtype=bool)  # only keys strictly before the query
    target[np.arange(T), np.arange(T)] = False
    has = target.any(1)
    if has.any():
        induction = (attentions[:, :, has] * target[has]).sum(-1).mean(-1)
    else:
        induction = np.full((L, H), np.nan)
    return {
        "previous-token": prev.astype(np.float32),
        "first-token": first.astype(np.float32),
        "induction": induction.astype(np.float32),
    }
