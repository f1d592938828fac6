"""What a head sweep asks the worker for (the other requests are plain arguments or a TrainRequest)."""

from __future__ import annotations

from dataclasses import dataclass

SWEEP_KINDS = ("ablation", "patching")


@dataclass(frozen=True)
class SweepRequest:
    """Every head in turn: knocked out over `text` ("ablation", by `mode`), or patched from the
    run on `text` (clean) into the run on `corrupted` ("patching"), read on `target` vs `other`
    (empty: the clean and corrupted predictions)."""

    kind: str
    text: str
    corrupted: str = ""
    target: str = ""
    other: str = ""
    mode: str = "zero"
