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
    if not steps or steps[0].prompt_attention is None:
        return None
    final = steps[-1].final_attention
    if complete and final is None:
        return None
    block = steps[0].prompt_attention
    L, H, P, _ = block.shape
    rows = [step.attention for step in steps[1:]] + ([final] if final is not None else [])
    # the row of step i is the query at position P - 1 + i, over the P + i tokens up to it
    if any(row is None or row.shape[-1] != P + i for i, row in enumerate(rows, start=1)):
        return None
    T = P + len(rows)
    full = np.zeros((L, H, T, T), np.float32)
    full[:, :, :P, :P] = block
    for i, row in enumerate(rows, start=1):
        full[:, :, P - 1 + i, : P + i] = row
    return full
