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


GROWN_BYTES = 2560 * 2**20  # a streamed run's picture is followed up to this (the probe's float16 cap)


class GrowingAttention:
    """A streamed run's attention [layers, heads, T, T], grown a row per token as steps arrive
    (each token costs its own row, L·H·T values, instead of the whole T² picture being rebuilt at
    every redraw). `new_tokens`: how many the run may add, so the buffer is made once at its final
    size; past it, it grows by a quarter. `matrix()` is a view of the part filled so far.

    `broken` once a row does not fit (the context filled and slid): the picture stops there."""

    def __init__(self, new_tokens: int = 0, context: int = 0, budget: int = GROWN_BYTES) -> None:
        """`context`: the model's (a run past it slides, and stops growing here); `budget`: bytes
        the picture may take (a bigger one is not followed: the finished text is probed instead,
        within the probe's own budget)."""
        self.new_tokens, self.context, self.budget = new_tokens, context, budget
        self.buffer: np.ndarray | None = None
        self.size = 0  # T: the rows (and columns) filled
        self.steps = 0  # steps taken in
        self.broken = False
        self.complete = False

    def add(self, steps: Sequence[GenerationStep]) -> bool:
        """Take in the next steps of the run; False when they cannot be shown this way (an
        encoder–decoder's, a run without attention, or one whose context slid)."""
        for step in steps:
            if self.broken or self.complete:
                return False
            if self.steps == 0:
                block = step.prompt_attention
                if block is None or step.cross_attention is not None:
                    self.broken = True
                    return False
                wanted = block.shape[-1] + max(self.new_tokens, 1)
                self._reserve(block.shape[:2], min(wanted, self.context) if self.context else wanted)
                if self.broken:
                    return False
                self.size = block.shape[-1]
                self.buffer[:, :, : self.size, : self.size] = block
            else:
                self._row(step.attention)  # the previous token's query, over the tokens up to it
            self.steps += 1
            if step.final_attention is not None:
                self._row(step.final_attention)  # the run ended: its newest token's row too
                self.complete = not self.broken
        return not self.broken

    def matrix(self) -> np.ndarray | None:
        """[L, H, T, T]: the rows so far (a view: no copy; once complete, a buffer with room to
        spare is let go for a copy of just the picture)."""
        if self.buffer is None or self.broken:
            return None
        if self.complete and self.buffer.shape[-1] > self.size:
            self.buffer = np.ascontiguousarray(self.buffer[:, :, : self.size, : self.size])
        return self.buffer[:, :, : self.size, : self.size]

    def _row(self, row: np.ndarray | None) -> None:
        T = self.size
        if row is None or row.shape[-1] != T + 1:  # the row of the query at T - 1 + 1 spans T + 1
            self.broken = True
            return
        self._reserve(row.shape[:2], T + 1)
        if self.broken:
            return
        self.buffer[:, :, T, : T + 1] = row
        self.size = T + 1

    def _reserve(self, heads: tuple[int, int], n: int) -> None:
        capacity = 0 if self.buffer is None else self.buffer.shape[-1]
        if n <= capacity:
            return
        size = max(n, capacity + max(16, capacity // 4))  # (a quarter: memory is L·H·T², never doubled)
        if self.context:
            size = max(n, min(size, self.context))
        if heads[0] * heads[1] * size * size * 4 > self.budget:
            self.broken = True  # past the budget: not followed (the finished text is probed)
            return
        try:
            grown = np.zeros((*heads, size, size), np.float32)
        except MemoryError:
            self.broken = True
            return
        if self.buffer is not None:
            grown[:, :, :capacity, :capacity] = self.buffer
        self.buffer = grown
