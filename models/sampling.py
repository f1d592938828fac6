"""Generation settings (torch-free, so the GUI can build and validate them)."""

from __future__ import annotations

from dataclasses import dataclass

from models.errors import ModelError


@dataclass(frozen=True)
class SamplingSettings:
    max_new_tokens: int = 200
    temperature: float = 0.8  # 0 means greedy
    top_k: int = 0  # sample among the k most likely tokens; 0 = all
    top_p: float = 1.0  # nucleus: the smallest set whose probability reaches p; 1 = all
    seed: int | None = None  # same seed, same text; None = a fresh draw each time
    stop: tuple[str, ...] = ()  # generation ends once the output contains one of these
    alternatives: int = 10  # how many top alternatives each step reports
    attention: bool = False  # report each step's attention row for every layer and head

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ModelError(f"max new tokens must be at least 1 (got {self.max_new_tokens})")
        if self.temperature < 0:
            raise ModelError(f"temperature must be 0 (greedy) or more (got {self.temperature})")
        if self.top_k < 0:
            raise ModelError(f"top-k must be 0 (off) or more (got {self.top_k})")
        if not 0.0 < self.top_p <= 1.0:
            raise ModelError(f"top-p must be in (0, 1] (got {self.top_p})")
        if self.alternatives < 0:
            raise ModelError(f"alternatives must be 0 or more (got {self.alternatives})")
