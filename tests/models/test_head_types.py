"""Head types: heads set by hand to each pattern are named for it, the three TransformerLens
patterns are its own, and the gallery runs on a model's random repeated tokens and a text."""

from __future__ import annotations

import numpy as np
import torch

import models
from models.inspect.head_types import LOCAL, THRESHOLD, TYPES, HeadTypes, patterns, type_scores


def _rows(T: int, pick) -> np.ndarray:
    """An attention matrix whose row i spreads evenly over the keys `pick(i)` (else its own)."""
    A = np.zeros((T, T), np.float32)
    for i in range(T):
        keys = [j for j in pick(i) if 0 <= j <= i] or [i]
        A[i, keys] = 1.0 / len(keys)
    return A


def test_heads_set_by_hand_to_each_pattern_are_named_for_it():
    rng = np.random.default_rng(0)
    half = rng.choice(50, size=20, replace=False)
    ids = np.concatenate([half, half])  # every token of the second half has a copy 20 back
    T = len(ids)
    made = {
        "induction": _rows(T, lambda i: [i - 19] if i >= 20 else [i - 1]),
        "duplicate-token": _rows(T, lambda i: [i - 20] if i >= 20 else [0]),
        "previous-token": _rows(T, lambda i: [i - 1]),
        "first-token": _rows(T, lambda i: [0]),
        "local": _rows(T, lambda i: [i, i - 2, i - 3]),
        "diffuse": _rows(T, lambda i: range(i + 1)),
    }
    attentions = np.stack(list(made.values()))[None]  # one layer, a head per pattern
    names, strength = HeadTypes(type_scores(attentions, ids), None, 20).dominant()
    assert list(names[0]) == list(made) == list(TYPES)
    assert (strength[0] >= THRESHOLD).all()
    both = np.stack([0.5 * made["previous-token"] + 0.5 * made["first-token"]])[None]
    # both halves reach THRESHOLD on their own types: the more specific one names the head
    assert HeadTypes(type_scores(both, ids), None, 20).dominant()[0][0, 0] == "previous-token"
    five_back = _rows(T, lambda i: [i - 5])[None, None]  # sharp, but on no pattern: "mixed"
    assert HeadTypes(type_scores(five_back, ids), None, 20).dominant()[0][0, 0] == "mixed"


def test_the_three_detection_patterns_are_transformer_lens_s():
    """Written out here as TransformerLens's head_detector builds them (its code reads torch)."""
    ids = np.array([5, 7, 5, 9, 7, 5])
    T = len(ids)
    eq = (ids[:, None] == ids[None, :]).astype(np.float32)
    np.fill_diagonal(eq, 0)
    duplicate = np.tril(eq)
    rolled = np.roll(duplicate, 1, axis=1)
    rolled[:, 0] = 0
    previous = np.zeros((T, T), np.float32)
    previous[1:, :-1] = np.eye(T - 1)
    got = patterns(ids)
    np.testing.assert_array_equal(got["duplicate-token"], duplicate)
    np.testing.assert_array_equal(got["induction"], np.tril(rolled))
    np.testing.assert_array_equal(got["previous-token"], np.tril(previous))
    A = np.random.default_rng(1).random((2, 3, T, T)).astype(np.float32)
    A = np.tril(A)
    A /= A.sum(-1, keepdims=True)
    s = type_scores(A, ids)  # TransformerLens's "mul": Σ A·P / Σ A
    np.testing.assert_allclose(
        s["induction"], (A * np.tril(rolled)).sum((-1, -2)) / A.sum((-1, -2)), rtol=1e-6
    )
    near = np.array([[0 <= i - j < LOCAL for j in range(T)] for i in range(T)])
    np.testing.assert_allclose(s["local"], (A * near).sum(-1).mean(-1), rtol=1e-6)


def test_the_gallery_scores_a_models_heads_on_random_repeats_and_a_text(tmp_path):
    import transformers

    from tests.models.helpers import char_tokenizer

    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=4, n_positions=128)
    transformers.GPT2LMHeadModel(cfg).save_pretrained(tmp_path)
    char_tokenizer().save(tmp_path)
    model, tok = models.load(tmp_path)
    types = models.head_types(model, tok, "First Citizen: speak, speak.")
    assert types.tokens == 48 and set(types.random) == set(TYPES) and types.text is not None
    for scores in (types.random, types.text):
        for name, grid in scores.items():
            assert (
                grid.shape == (2, 4)
                and np.isfinite(grid).all()
                and (grid >= 0).all()
                and (grid <= 1 + 1e-5).all()
            ), name
    names, _ = types.dominant("text")
    assert names.shape == (2, 4)
    again = models.head_types(model, tok)
    np.testing.assert_array_equal(again.random["induction"], types.random["induction"])  # seeded
    assert again.text is None


def test_a_long_texts_head_types_are_scored_a_layer_at_a_time_alike(monkeypatch):
    """Past the probe's float32 budget the text's heads are scored as each layer is made (no
    layers × heads × T² is held): the same scores as from every layer kept."""
    from models.inspect import analysis
    from models.nn import GPT, GPTConfig
    from tests.models.helpers import char_tokenizer

    tok = char_tokenizer()
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, n_positions=128, n_embd=32, n_layer=3, n_head=4)).eval()
    text = "First Citizen: speak, speak. All: speak, speak."
    whole = models.head_types(model, tok, text)
    handed: list[int] = []
    pass_layers = analysis._with_attentions

    def counted(*args, **kwargs):
        if kwargs.get("each_layer") is not None:
            each = kwargs["each_layer"]
            kwargs["each_layer"] = lambda layer, w, s: handed.append(layer) or each(layer, w, s)
        return pass_layers(*args, **kwargs)

    monkeypatch.setattr(analysis, "_with_attentions", counted)
    monkeypatch.setattr(analysis, "FULL_BYTES", 1)
    layered = models.head_types(model, tok, text)
    assert handed == [0, 1, 2]
    for name in TYPES:
        np.testing.assert_allclose(layered.text[name], whole.text[name], rtol=1e-5, atol=1e-6, err_msg=name)
