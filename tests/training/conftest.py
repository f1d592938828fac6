"""Fixtures for the training tests: a small slice of Shakespeare and a tiny, fast configuration."""

from pathlib import Path

import pytest

from models.training.settings import TrainConfig


@pytest.fixture
def small_corpus(tmp_path: Path, shakespeare: str) -> Path:
    path = tmp_path / "small.txt"
    path.write_text(shakespeare[:20_000], encoding="utf-8")
    return path


@pytest.fixture
def tiny() -> TrainConfig:
    """One layer, width 32, context 16: a step takes about a millisecond on CPU."""
    return TrainConfig(
        n_layer=1,
        n_head=2,
        n_embd=32,
        context=16,
        batch_size=8,
        steps=30,
        lr=3e-3,
        min_lr=3e-4,
        warmup_steps=5,
        eval_every=10,
        eval_batches=4,
        sample_every=0,
        probe_every=0,
        checkpoint_every=0,
        sample_tokens=20,
    )
