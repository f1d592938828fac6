"""Presets and validation of custom hyperparameters: every mistake gets a message that names it."""

import pytest

from models.errors import ModelError
from models.training.settings import PRESETS, TrainConfig, preset


def test_presets_are_valid_and_described() -> None:
    assert {"tiny", "shakespeare"} <= set(PRESETS)
    for p in PRESETS.values():
        assert p.description.lower().startswith(p.name.lower())
        assert isinstance(p.config, TrainConfig)
    nano = preset("shakespeare")
    assert (nano.n_layer, nano.n_head, nano.n_embd, nano.context, nano.batch_size) == (4, 4, 128, 64, 12)
    assert (nano.steps, nano.lr, nano.min_lr, nano.dropout) == (2000, 1e-3, 1e-4, 0.0)


def test_bert_preset_switches_tokenizer() -> None:
    assert preset("tiny", arch="bert").tokenizer == "wordpiece"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_head": 3}, r"heads \(3\) must divide the width \(128\)"),
        ({"n_layer": 0}, "n_layer must be a whole number"),
        ({"lr": -1.0}, "learning rate must be positive"),
        ({"min_lr": 1.0}, "min lr must be between 0"),
        ({"warmup_steps": 5000}, "warmup .* is longer than the run"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"arch": "bert", "tokenizer": "char"}, "BERT needs the WordPiece tokenizer"),
        ({"tokenizer": "wordpiece"}, "GPT needs a tokenizer that keeps spaces"),
        ({"device": "tpu"}, "device must be one of"),
        ({"tokenizer": "bpe", "vocab_size": 10}, "vocab size must be between"),
        ({"batch_size": 2.5}, "batch_size must be a whole number"),
        ({"colour": "red"}, "unknown training setting"),
    ],
)
def test_invalid_settings_are_named(changes: dict, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        preset("shakespeare", **changes)


def test_unknown_preset() -> None:
    with pytest.raises(ModelError, match="unknown preset 'huge'.*tiny"):
        preset("huge")


def test_round_trip_through_dict() -> None:
    cfg = preset("tiny", seed=7, lr=5e-4)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_short_run_gets_a_short_warmup() -> None:
    assert preset("shakespeare", steps=50).warmup_steps == 5
    with pytest.raises(ModelError, match="warmup"):
        preset("shakespeare", steps=50, warmup_steps=60)
