"""How attention is coloured. Real models park most of every row's attention on the first token (an
attention sink), and a linear 0–1 scale then shows one bright column and black: these scales show the
rest, and "automatic" picks one when a sink dominates. Every scale maps into 0–1, so the colour bar's
range stays; its label says what the colours mean."""

from __future__ import annotations

import numpy as np

SCALES = {  # key -> what the scale box says
    "auto": "colours: automatic",
    "linear": "colours: linear 0–1",
    "no-first": "colours: first token left out",
    "sqrt": "colours: square root",
    "log": "colours: logarithmic",
    "row": "colours: each row to its max",
}
LABELS = {  # key -> the colour bar's label
    "linear": "attention",
    "no-first": "attention among the other tokens",
    "sqrt": "√ attention",
    "log": "attention, log scale (0: 10⁻³, 1: 1)",
    "row": "attention ÷ its row's max",
}
SINK = 0.5  # the first token holding this share of the average row's attention is a sink
LOG_FLOOR = 1e-3  # the log scale's 0


def sink_share(att: np.ndarray) -> float:
    """The mean attention on the first key of every query after the first ([..., Q, K]; the first
    query of a causal head can see nothing else)."""
    if att.ndim < 2 or att.shape[-2] < 2 or att.shape[-1] < 2:
        return 0.0
    values = att[..., 1:, 0]
    return float(np.nanmean(values)) if np.isfinite(values).any() else 0.0


def resolve(scale: str, share: float) -> str:
    """The scale to draw with: "auto" leaves the first token out when it is a sink (holding `share`
    of the attention, `sink_share`), else linear."""
    if scale != "auto":
        return scale
    return "no-first" if share >= SINK else "linear"


def rescaled(att: np.ndarray, scale: str) -> np.ndarray:
    """`att` ([..., Q, K], rows summing to 1) in a resolved scale, float32 within 0–1 (NaN stays)."""
    att = np.asarray(att, np.float32)
    if scale == "linear":
        return att
    if scale == "sqrt":
        return np.sqrt(np.clip(att, 0.0, None))
    if scale == "log":
        return np.clip(np.log10(np.maximum(att, LOG_FLOOR)) / -np.log10(LOG_FLOOR) + 1.0, 0.0, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        if scale == "row":
            top = np.nanmax(att, axis=-1, keepdims=True) if att.size else att
            return np.where(top > 0, att / top, 0.0).astype(np.float32)
        if scale == "no-first":  # each row shared among the other tokens alone
            out = np.full_like(att, np.nan)
            rest = att[..., 1:]
            total = np.nansum(rest, axis=-1, keepdims=True)
            out[..., 1:] = np.where(total > 0, rest / total, np.nan)
            return out
    raise ValueError(f"unknown attention scale '{scale}'")


def described(scale: str, share: float) -> str:
    """What a title adds about the scale ("" for linear); `share`: the first token's (`sink_share`)."""
    if scale == "linear":
        return ""
    if scale == "no-first":
        return f" · first token left out (it holds {share:.0%} of the attention)"
    return " · " + SCALES[scale].removeprefix("colours: ")
