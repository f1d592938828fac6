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
    A long text's square layers are scaled and pooled by torch on every core (`pooled_layer`): at
    2,048 tokens of SmolLM2's shape, in float16, the overview with its first token left out took
    11.6 s with numpy and takes 2.1 s, most of it making each layer float32 (linear: 3.9 -> 2.2 s)."""
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
    """`_tile_row` of `rescaled(att, scale)` for one square layer [1, H, T, T], by torch on one
    float32 copy (`pooled_layer`)."""
    import torch  # (loaded by the worker long before a long text is drawn; the window starts without)

    x = torch.from_numpy(np.ascontiguousarray(att[0])).to(torch.float32, copy=True)  # [H, T, T]
    return pooled_layer(x, (scale,), max_tile)[scale]


def pooled_layer(x, scales, max_tile: int = MAX_TILE) -> dict[str, tuple[np.ndarray, int]]:
    """One square layer's tiles ([s, H*s], s) in each of `scales`, from its float32 torch tensor
    [H, T, T] (changed in place: empty, NaN, cells become -inf): what rescaling, padding with zeros
    and max-pooling f × f cells gives, empty cells losing. Each row is max-pooled over its keys
    once, then every scale is made from those maxima: each scale either keeps the order of values
    (square root, log) or divides a whole row by one number (each row to its max; the first token
    left out: the rest of the row over its sum), so it commutes with taking a maximum along the
    row, and the queries are pooled last. Two passes over T × T serve every scale (9 heads over
    2,048 tokens: 39 ms a layer for linear and first-token-left-out together, where scaling then
    pooling each, on a copy, took 205 ms)."""
    import torch
    import torch.nn.functional as F

    H, T, _ = x.shape
    f = math.ceil(T / max_tile)
    has_empty = bool(torch.isnan(x.sum()))  # (weights are finite: NaN marks an empty cell)
    rest_sum = None
    if "no-first" in scales:  # each row's share outside the first token (empty cells count 0)
        rest = x[..., 1:]
        rest_sum = (torch.nansum(rest.clamp(min=0.0), -1) if has_empty else rest.sum(-1))[..., None]
    if has_empty:
        x.nan_to_num_(nan=-math.inf)
    # [H, T, s]; (pooling along one axis, 1-D pooling is 3-4x faster than 2-D pooling's (1, f))
    keys = F.max_pool1d(x.reshape(H * T, 1, T), f, ceil_mode=True).view(H, T, -1) if f > 1 else x
    empty = -math.inf
    out = {}
    for scale in scales:
        if scale == "linear":
            k = keys
        elif scale == "sqrt":
            k = torch.where(keys > empty, keys.clamp(min=0.0).sqrt(), empty)
        elif scale == "log":
            logged = keys.clamp(min=LOG_FLOOR).log10().div_(-math.log10(LOG_FLOOR)).add_(1.0).clamp_(0.0, 1.0)
            k = torch.where(keys > empty, logged, empty)
        elif scale == "row":
            top = keys.amax(-1, keepdim=True)
            k = torch.where(top > 0, keys / top, 0.0)  # (a row with nothing drawn: zeros, as numpy's)
        elif scale == "no-first":  # the first token's own cell out of the first block of keys
            k = keys.clone()
            k[..., 0] = x[..., 1:f].amax(-1) if f > 1 and T > 1 else empty
            k = torch.where(rest_sum > 0, k / rest_sum, empty)
        else:
            raise ValueError(f"unknown attention scale '{scale}'")
        pooled = F.max_pool2d(k[None], (f, 1), ceil_mode=True)[0] if f > 1 else k.clone()  # [H, s, s]
        side = pooled.shape[-1]
        if side * f > T:  # the last row and column of cells reach into the zeros the text is padded with
            for edge in (pooled[:, -1, :], pooled[:, :, -1]):
                edge.clamp_(min=0.0)
        pooled[pooled == empty] = math.nan
        out[scale] = np.ascontiguousarray(pooled.permute(1, 0, 2).reshape(side, H * side).cpu().numpy()), side
    return out


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

    def __init__(self, text: str, scale: str, layer: int, max_tile: int = MAX_TILE) -> None:
        # "automatic" is decided by the whole text's sink: both its choices are pooled. Linear
        # serves square root and log too (they keep the order of values: pooling by max commutes)
        asked = ("no-first",) if scale == "auto" else (scale,) if scale in ("row", "no-first") else ()
        self.text, self.scales, self.layer, self.max_tile = text, ("linear", *asked), layer, max_tile
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
        if T > 1:  # (the first query of a causal head can see nothing but the first token; summed
            # on the CPU in float64: Apple's GPUs have no float64)
            self.sink += float(weights[:, 1:, 0].cpu().double().sum())
            self.cells += H * (T - 1)
        if layer == self.layer:
            self.kept = np.empty(
                tuple(weights.shape), np.float32 if weights.numel() * 4 <= FULL_BYTES else np.float16
            )
            torch.from_numpy(self.kept).copy_(weights)
        # (the pass's own weights, let go after this: their empty cells, if any, are changed)
        for scale, (row, tile) in pooled_layer(weights.float(), self.scales, self.max_tile).items():
            self.rows[scale].append(row)
            self.tile = tile

    def result(self) -> PooledAttention:
        """The overview; the layer kept whole stays here (`kept`) until the view asks for it."""
        mosaics = {s: (np.vstack(rows), self.tile) for s, rows in self.rows.items()}
        share = self.sink / self.cells if self.cells else 0.0
        return PooledAttention(self.text, len(self.streams), self.heads, mosaics, share)


def mosaic_in(pooled: PooledAttention, scale: str) -> tuple[np.ndarray, int] | None:
    """A layered probe's overview in a resolved scale: pooled so, or from the linear pooling (square
    root and log), or None: it must be pooled again."""
    if scale in pooled.mosaics:
        return pooled.mosaics[scale]
    if scale in ("sqrt", "log") and "linear" in pooled.mosaics:
        mosaic, tile = pooled.mosaics["linear"]
        return rescaled(mosaic, scale), tile
    return None
