"""The attention overview as pixels: every layer × head pooled into one image (numpy, torch for a
long text), built whole from a kept attention or a layer at a time as a layered probe hands them."""

from __future__ import annotations

import math

import numpy as np

from models.results import PooledAttention
from playground.views.widgets.attention_scale import LOG_FLOOR, rescaled

MAX_TILE = 96  # pixels per tile side; longer texts are mean-pooled (it is an overview)


def build_mosaic(att: np.ndarray, max_tile: int = MAX_TILE, scale: str = "linear") -> tuple[np.ndarray, int]:
    """[L, H, T, T] -> ([L*s, H*s] row-major float32, tile size s), pooled when T > max_tile.
    A rectangular [L, H, R, C] (cross-attention) is stretched to square tiles by repeating its rows
    (or columns) a whole number of times; what is left over stays empty (NaN). A layer at a time,
    in `scale` (a colour scale of attention_scale): a long text's whole attention is never copied.
    A long text's square layers are scaled and pooled by torch on every core: at 2,048 tokens of
    SmolLM2's shape the overview with its first token left out took 11.6 s with numpy, 3.7 s with
    torch (linear: 3.9 and 2.0 s; bench_real_scale.py)."""
    rows = []
    for i in range(att.shape[0]):
        layer = att[i : i + 1]
        if layer.shape[2] == layer.shape[3] and layer.shape[2] > max_tile:
            rows.append(_pooled_row(layer, scale, max_tile))
        else:
            rows.append(_tile_row(rescaled(layer, scale), max_tile))
    if not rows:
        return np.zeros((0, 0), np.float32), 1
    return np.ascontiguousarray(np.vstack([r for r, _ in rows]), dtype=np.float32), rows[0][1]


def _pooled_row(att: np.ndarray, scale: str, max_tile: int) -> tuple[np.ndarray, int]:
    """`_tile_row` of `rescaled(att, scale)` for one square layer [1, H, T, T], in torch and in
    place on one float32 copy: the same max over f × f cells with the text padded by zeros, where
    empty (NaN) cells lose (they are -inf while pooled)."""
    import torch  # (loaded by the worker long before a long text is drawn; the window starts without)

    x = torch.from_numpy(np.ascontiguousarray(att[0])).to(torch.float32, copy=True)  # [H, T, T]
    return pooled_layer(x, scale, max_tile)


def pooled_layer(x, scale: str, max_tile: int = MAX_TILE) -> tuple[np.ndarray, int]:
    """One layer's tiles ([s, H*s], s) from its float32 torch tensor [H, T, T], which it scales and
    pools in place (`_pooled_row`'s work, for a layer a probe hands over)."""
    import torch
    import torch.nn.functional as F

    H, T, _ = x.shape
    if scale == "sqrt":
        x.clamp_(min=0.0).sqrt_()
    elif scale == "log":
        x.clamp_(min=LOG_FLOOR).log10_().div_(-math.log10(LOG_FLOOR)).add_(1.0).clamp_(0.0, 1.0)
    x.nan_to_num_(nan=-math.inf)
    if scale == "row":
        top = x.amax(-1, keepdim=True)
        x = torch.where(top > 0, x / top, 0.0)  # (a row with nothing drawn: zeros, as numpy's)
    elif scale == "no-first":  # each row shared among the other tokens alone
        rest = x[..., 1:]
        total = rest.clamp(min=0.0).sum(-1, keepdim=True)
        rest.div_(total)
        rest.masked_fill_(~(total > 0), -math.inf)
        x[..., 0] = -math.inf
    elif scale not in ("linear", "sqrt", "log"):
        raise ValueError(f"unknown attention scale '{scale}'")
    f = math.ceil(T / max_tile)
    pooled = F.max_pool2d(x[None], f, ceil_mode=True)[0]  # [H, s, s]
    s = pooled.shape[-1]
    if s * f > T:  # the last row and column of cells reach into the zeros the text is padded with
        for edge in (pooled[:, -1, :], pooled[:, :, -1]):
            edge.clamp_(min=0.0)
    pooled[pooled == -math.inf] = math.nan
    return np.ascontiguousarray(pooled.permute(1, 0, 2).reshape(s, H * s).numpy(), dtype=np.float32), s


def _tile_row(att: np.ndarray, max_tile: int) -> tuple[np.ndarray, int]:
    """One layer's tiles [1, H, R, C] -> ([s, H*s], s)."""
    L, H, R, C = att.shape
    if R != C:  # each row (or column) repeated to fill the square as far as whole copies go
        att = np.repeat(att, max(1, C // R), axis=2) if R < C else np.repeat(att, max(1, R // C), axis=3)
        n = max(att.shape[2:])
        square = np.full((L, H, n, n), np.nan, np.float32)
        square[:, :, : att.shape[2], : att.shape[3]] = att
        att = square
    T = att.shape[2]
    f = max(1, math.ceil(T / max_tile))
    if f > 1:
        s = math.ceil(T / f)
        padded = np.zeros((L, H, s * f, s * f), np.float32)
        padded[:, :, :T, :T] = att
        # max-pool f × f cells (max keeps sharp heads visible); strided slices are ~10x faster
        # than reducing over the middle axes of a 6-D reshape
        rows = padded[:, :, 0::f, :]
        for i in range(1, f):
            rows = np.fmax(rows, padded[:, :, i::f, :])  # fmax: empty (NaN) cells lose
        att = rows[..., 0::f]
        for j in range(1, f):
            att = np.fmax(att, rows[..., j::f])
    s = att.shape[2]
    # [L, H, s, s] -> [L, s, H, s] -> [L*s, H*s]: tile (l, h) at rows l*s.., columns h*s..
    return np.ascontiguousarray(att.transpose(0, 2, 1, 3).reshape(L * s, H * s), dtype=np.float32), s


class OverviewPooler:
    """What a layered probe (`models.probe`'s `each_layer`) hands over, kept as the attention view
    draws it: the overview pooled in the scales asked, the first token's share of the attention
    (for "automatic"), one layer whole, and each block's input stream, to make any layer again
    (`models.layer_attention`). Nothing grows as layers × heads × T²."""

    def __init__(self, scale: str, layer: int, max_tile: int = MAX_TILE) -> None:
        # "automatic" is decided by the whole text's sink: both its choices are pooled. Linear
        # serves square root and log too (they keep the order of values: pooling by max commutes)
        asked = ("no-first",) if scale == "auto" else (scale,) if scale in ("row", "no-first") else ()
        self.scales, self.layer, self.max_tile = ("linear", *asked), layer, max_tile
        self.rows: dict[str, list[np.ndarray]] = {s: [] for s in self.scales}
        self.tile, self.heads, self.sink, self.cells = 1, 0, 0.0, 0
        self.kept: np.ndarray | None = None
        self.streams: list = []  # torch [T, C], one per layer

    def __call__(self, layer: int, weights, stream) -> None:
        import torch

        from models.inspect.analysis import FULL_BYTES

        self.streams.append(stream)
        H, T, _ = weights.shape
        self.heads = H
        if T > 1:  # (the first query of a causal head can see nothing but the first token)
            self.sink += float(weights[:, 1:, 0].sum(dtype=torch.float64))
            self.cells += H * (T - 1)
        if layer == self.layer:
            self.kept = np.empty(
                tuple(weights.shape), np.float32 if weights.numel() * 4 <= FULL_BYTES else np.float16
            )
            torch.from_numpy(self.kept).copy_(weights)
        for scale in self.scales:
            row, self.tile = pooled_layer(weights.to(torch.float32, copy=True), scale, self.max_tile)
            self.rows[scale].append(row)

    def result(self) -> PooledAttention:
        mosaics = {s: (np.vstack(rows), self.tile) for s, rows in self.rows.items()}
        share = self.sink / self.cells if self.cells else 0.0
        return PooledAttention(len(self.streams), self.heads, mosaics, share, self.layer, self.kept)


def mosaic_in(pooled: PooledAttention, scale: str) -> tuple[np.ndarray, int] | None:
    """A layered probe's overview in a resolved scale: pooled so, or from the linear pooling (square
    root and log), or None: it must be pooled again."""
    if scale in pooled.mosaics:
        return pooled.mosaics[scale]
    if scale in ("sqrt", "log") and "linear" in pooled.mosaics:
        mosaic, tile = pooled.mosaics["linear"]
        return rescaled(mosaic, scale), tile
    return None
