"""Steering vectors: a zero vector changes nothing, steering equals a `transformers` hook adding the
same vector, and on the built-in GPT a speaker's direction raises that speaker's name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers

import models
from models.inspect.steering import SteeringVector, make_vector, residual_mean, steered
from tests.models.helpers import char_tokenizer

TEXT = "First Citizen: Before we proceed"


@pytest.fixture
def pair(tmp_path):
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=64, n_embd=32, n_layer=3, n_head=4, n_positions=64)
    theirs = transformers.GPT2LMHeadModel(cfg).eval()
    theirs.save_pretrained(tmp_path)
    char_tokenizer().save(tmp_path)
    ours, tok = models.load(tmp_path)
    return ours, tok, theirs


def test_a_zero_vector_leaves_the_logits_bit_identical(pair):
    ours, tok, _ = pair
    ids = torch.tensor([list(tok.encode_for_decoder(TEXT).ids)])
    with torch.no_grad():
        plain = ours(ids).logits
        with steered(ours, SteeringVector(1, np.zeros(32, np.float32)), 4.0):
            zero = ours(ids).logits
    assert torch.equal(plain, zero)


def test_steering_equals_a_transformers_hook_adding_the_same_vector(pair):
    ours, tok, theirs = pair
    vector = make_vector(ours, tok, ["speak, speak"], ["famish"], layer=2)
    np.testing.assert_allclose(  # the direction is the mean stream entering block 2, one side minus the other
        vector.vector,
        residual_mean(ours, tok, ["speak, speak"], 2) - residual_mean(ours, tok, ["famish"], 2),
    )
    ids = torch.tensor([list(tok.encode_for_decoder(TEXT).ids)])
    delta = torch.tensor(vector.vector) * 3.0
    handle = theirs.transformer.h[2].register_forward_pre_hook(lambda _m, args: (args[0] + delta, *args[1:]))
    with torch.no_grad():
        reference = theirs(ids).logits
    handle.remove()
    with torch.no_grad(), steered(ours, vector, 3.0):
        got = ours(ids).logits
        unsteered = theirs(ids).logits
    torch.testing.assert_close(got, reference, atol=1e-5, rtol=0)
    assert (got - unsteered).abs().max() > 1e-2  # it did steer


def test_prompt_only_and_generated_only_steering_split_the_passes(pair):
    ours, tok, _ = pair
    vector = SteeringVector(0, np.random.default_rng(0).normal(size=32).astype(np.float32))
    runs = {}
    for positions in ("all", "prompt", "generated", None):
        with steered(ours, vector, 2.0, positions) if positions else torch.no_grad():
            runs[positions] = [
                s.token_id for s in models.generate(ours, tok, TEXT, max_new_tokens=8, temperature=0)
            ]
    first = {k: v[0] for k, v in runs.items()}
    assert (
        first["prompt"] == first["all"] and first["generated"] == first[None]
    )  # the first token comes from the prompt's pass
    assert len({tuple(v) for v in runs.values()}) > 1


def test_vectors_save_and_load_with_their_recipe_and_bad_ones_are_refused(pair, tmp_path):
    ours, tok, _ = pair
    vector = make_vector(ours, tok, ["speak"], ["famish"], layer=1)
    path = vector.save(tmp_path / "speak")
    again = SteeringVector.load(path)
    np.testing.assert_array_equal(again.vector, vector.vector)
    assert (again.layer, again.plus, again.minus) == (1, ("speak",), ("famish",))
    with pytest.raises(models.ModelError, match="is 32 wide: it was made with another model"):
        with steered(ours, SteeringVector(0, np.zeros(16, np.float32)), 1.0):
            pass
    with pytest.raises(models.ModelError, match="layer must be 0 to 2"):
        make_vector(ours, tok, ["a"], ["b"], layer=3)
    with pytest.raises(models.ModelError, match="needs texts on both sides"):
        make_vector(ours, tok, ["a"], [" "], layer=0)
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(models.ModelError, match="not a saved steering vector"):
        SteeringVector.load(tmp_path / "junk.npy")


@pytest.mark.slow
def test_a_speakers_direction_raises_that_speakers_name_on_the_built_in_gpt(shakespeare):
    """ROMEO's speeches minus JULIET's (40 each), added at layer 4 × 4: after another character's
    speech and a blank line, the probability that ROMEO speaks next rises (measured: 0.0022 ->
    0.029, 13x, in the README), and the opposite direction lowers it."""
    from models import assets

    model, tok = models.load(assets.builtin_model("gpt"))
    speeches = shakespeare.split("\n\n")
    romeo = [s for s in speeches if s.startswith("ROMEO:")][:40]
    juliet = [s for s in speeches if s.startswith("JULIET:")][:40]
    vector = make_vector(model, tok, romeo, juliet, layer=4)
    prompt = (
        "MENENIUS:\nWhy, masters, my good friends, mine honest neighbours,\nWill you undo yourselves?\n\n"
    )

    def p_romeo() -> float:
        ids = torch.tensor([list(tok.encode_for_decoder(prompt + "ROMEO").ids)])
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0], -1)
        n = len(tok.encode_for_decoder(prompt).ids)
        return float(torch.exp(sum(logp[n - 1 + i, ids[0, n + i]] for i in range(5))))

    before = p_romeo()
    with steered(model, vector, 4.0):
        towards = p_romeo()
    with steered(model, vector, -4.0):
        away = p_romeo()
    gain = towards / before
    print(f"p(ROMEO speaks next): {before:.4f}, steered towards {towards:.4f} ({gain:.1f}x), away {away:.5f}")
    assert towards > 3 * before and away < before
