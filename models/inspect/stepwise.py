"""Stepping a generator in inference mode one item at a time, never across a pause."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

import torch

T = TypeVar("T")


def stepwise_inference(steps: Iterator[T]) -> Iterator[T]:
    """`steps`, each advanced in inference mode, with the mode off between items: a generator
    paused inside `inference_mode` would keep it on for whatever its caller serves meanwhile
    (probes, the lens, loading a model to compare), all of which would make inference tensors."""
    while True:
        with torch.inference_mode():
            try:
                item = next(steps)
            except StopIteration:
                return
        yield item
