"""The article's sinusoidal positional encoding as a table (numpy only: the views draw it without torch)."""

from __future__ import annotations

import numpy as np

LAYOUTS = ("article", "marian")  # sin and cos interleaved, as the formula reads; or sines, then cosines


def sinusoidal(positions: int, dim: int, layout: str = "marian") -> np.ndarray:
    """float64 [positions, dim]: PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(the same).

    "article": columns 2i and 2i+1 hold the sine and cosine of pair i, as the formula is written.
    "marian": the sines of every pair first, then the cosines (how Marian, and so `transformers`,
    lay the same numbers out); an odd width has one more sine than cosines.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)} (got {layout!r})")
    pos = np.arange(positions, dtype=np.float64)[:, None]
    rates = 10000.0 ** (-2.0 * np.arange(dim // 2 + dim % 2, dtype=np.float64) / dim)  # [ceil(d/2)]
    angles = pos * rates  # [P, ceil(d/2)]
    if layout == "marian":
        return np.concatenate([np.sin(angles), np.cos(angles[:, : dim // 2])], axis=1)
    table = np.empty((positions, dim))
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : dim // 2])
    return table


def similarity(table: np.ndarray) -> np.ndarray:
    """[P, P] dot products of the positions' encodings, divided by the most a pair can reach (the
    diagonal): 1 for a position with itself; it depends only on the distance between two positions."""
    dots = table @ table.T
    return dots / np.max(np.diag(dots))
