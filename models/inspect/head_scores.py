"""Per-head pattern scores from a probe's attentions: a decoder's or encoder's own (previous-token,
first-token sink, induction), an encoder–decoder's cross-attention (diagonal, anti-diagonal)."""

from __future__ import annotations

import numpy as np

SCORES = ("previous-token", "first-token", "induction")
CROSS_SCORES = ("diagonal", "anti-diagonal")  # copy reads the same place; reverse, the mirrored one


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


def probe_scores(probe) -> dict[str, np.ndarray]:
    """The scores that fit the probe: its cross-attention's for an encoder–decoder, else its own."""
    if probe.cross_attentions is not None:
        return cross_scores(probe.cross_attentions)
    return head_scores(probe.attentions, probe.tokens.ids)


def cross_scores(cross: np.ndarray) -> dict[str, np.ndarray]:
    """Score every cross-attention head on the two alignments; each score is the mean attention mass
    the target's tokens put on their source token.

    cross: float [layers, heads, T, S], row i the query that chose target token i (counting from 0;
    the last row chose </s>), column S - 1 the source's </s>. Row i's diagonal key is i, its anti-diagonal key
    S - 2 - i; rows past the shorter of target and source are not scored.
    Returns {name: float32 [layers, heads]}, NaN when nothing is scored.
    """
    L, H, T, S = cross.shape
    n = min(T - 1, S - 1)  # target tokens that have a source token in the same or mirrored place
    if n < 1:
        return {name: np.full((L, H), np.nan, np.float32) for name in CROSS_SCORES}
    rows = np.arange(n)
    return {
        "diagonal": cross[:, :, rows, rows].mean(-1).astype(np.float32),
        "anti-diagonal": cross[:, :, rows, S - 2 - rows].mean(-1).astype(np.float32),
    }
