"""How much a held-out accuracy means: its 95% interval, and a warning when the set is too small."""

from __future__ import annotations

import math

Z95 = 1.96
FEW = 50  # held-out examples below which one example moves the accuracy by 2+ points


def interval(correct: int, n: int) -> tuple[float, float]:
    """The Wilson score interval (95%) of an accuracy of `correct` out of `n`: honest at 0% and
    100% and on small sets, where the normal approximation's ± runs past the ends."""
    if n <= 0:
        return 0.0, 1.0
    p = correct / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def described(correct: int, n: int) -> str:
    """'75.0% of 8 held out right (95%: 41–93%)'."""
    low, high = interval(correct, n)
    return f"{correct / max(n, 1):.1%} of {n} held out right (95%: {low:.0%}–{high:.0%})"


def warning(n: int) -> str:
    """What a small held-out set means, or "" when it is large enough."""
    if n >= FEW:
        return ""
    return (
        f"Only {n} examples are held out: one of them moves the accuracy by {100 / max(n, 1):.1f} "
        "points, so its curve says little. Use a larger labelled file (a few hundred rows)."
    )
