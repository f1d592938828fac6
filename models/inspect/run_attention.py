"""A generation's attention over its whole text, put together from its steps (numpy only: the GUI uses it)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.results import GenerationStep


def run_attention(steps: Sequence[GenerationStep], complete: bool = True) -> np.ndarray | None:
    """The attention of prompt and generated tokens [layers, heads, T, T], from the prompt's
    block, each step's row and the last token's row: nothing is run again.

    A run still streaming (or stopped) lacks its newest token's row: with `complete` False it
    gives the part it holds (T one short), with `complete` True it gives None. None also when
    attention was not asked for, or the context filled and slid (the rows describe another window).
    """
    shape = run_shape(steps, complete)
    if shape is None:
        return None
    L, H, T = shape
    block = steps[0].prompt_attention
    P = block.shape[-1]
    full = np.zeros((L, H, T, T), np.float32)
    full[:, :, :P, :P] = block
    for i, row in enumerate(_rows(steps), start=1):  # the query at position P - 1 + i
        full[:, :, P - 1 + i, : P + i] = row
    return full


def run_shape(steps: Sequence[GenerationStep], complete: bool = True) -> tuple[int, int, int] | None:
    """(layers, heads, T) of what `run_attention` would give, or None; cheap: nothing is copied."""
    if not steps or steps[0].prompt_attention is None or steps[0].cross_attention is not None:
        return None  # (an encoder–decoder's run: see `translation_attention`)
    if complete and steps[-1].final_attention is None:
        return None
    L, H, P, _ = steps[0].prompt_attention.shape
    rows = _rows(steps)
    # the row of step i is the query at position P - 1 + i, over the P + i tokens up to it
    if any(row is None or row.shape[-1] != P + i for i, row in enumerate(rows, start=1)):
        return None
    return L, H, P + len(rows)


def translation_attention(
    steps: Sequence[GenerationStep],
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """An encoder–decoder run's attention from its steps, for the N decoder inputs it read (its start
    token and every token but the last it chose): the encoder's [layers, heads, S, S], the decoder's
    own [layers, heads, N, N] and the cross-attention [layers, heads, N, S]. None without attention."""
    if not steps or steps[0].prompt_attention is None or steps[0].cross_attention is None:
        return None
    L, H = steps[0].attention.shape[:2]
    N = len(steps)
    decoder = np.zeros((L, H, N, N), np.float32)
    for i, step in enumerate(steps):  # step i's query is decoder input i, over inputs 0 … i
        decoder[:, :, i, : i + 1] = step.attention
    cross = np.stack([step.cross_attention for step in steps], axis=2).astype(np.float32)
    return steps[0].prompt_attention, decoder, cross


def _rows(steps: Sequence[GenerationStep]) -> list:
    final = steps[-1].final_attention
    return [step.attention for step in steps[1:]] + ([final] if final is not None else [])
