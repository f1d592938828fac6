"""Tick labels for log axes: pyqtgraph's own label every 2 … 9 within a decade, and they overlap."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def decade_ticks(first: int, last: int, label: Callable[[float], str] = lambda v: f"{v:,.0f}") -> list:
    """Each decade 10^first … 10^last labelled, 2 … 9 of each as unlabelled minor ticks (in the
    axis's own coordinate, log10 of the value)."""
    return [
        [(float(d), label(10.0**d)) for d in range(first, last + 1)],
        [(float(np.log10(m * 10.0**d)), "") for d in range(first, last) for m in range(2, 10)],
    ]


def si(value: float) -> str:
    """20000 → 20k, 1.5e6 → 1.5M, 3e12 → 3T: a parameter count or a FLOP count at a glance."""
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def loss_ticks(low: float = 0.5, high: float = 12.0) -> list:
    """A log loss axis: every 0.2 labelled, every 0.1 between (a sweep's losses span well under a decade)."""
    values = np.round(np.arange(low, high, 0.1), 1)
    return [
        [(float(np.log10(v)), f"{v:.1f}") for v in values if round(v * 10) % 2 == 0],
        [(float(np.log10(v)), "") for v in values if round(v * 10) % 2 == 1],
    ]
