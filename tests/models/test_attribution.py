"""Token attributions against references written here: integrated gradients and input × gradient
against captum applied to the matching `transformers` model (same weights), completeness, and
attention rollout from the attention matrices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers
from captum.attr import IntegratedGradients

import models
from models.inspect.attribution import rollout
from tests.models.helpers import char_tokenizer

TEXT = "First Citizen: speak"
CONFIGS = {
    "gpt2": lambda: transformers.GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=4, n_positions=64),
    "llama": lambda: transformers.LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    ),  # fmt: skip
}


def _pair(tmp_path, name):
    torch.manual_seed(0)
    theirs = transformers.AutoModelForCausalLM.from_config(
        CONFIGS[name](), attn_implementation="eager"
    ).eval()
    theirs.save_pretrained(tmp_path)
    char_tokenizer().save(tmp_path)
    ours, tok = models.load(tmp_path)
    return ours, tok, theirs


def _their_embedded(theirs, ids):
    """transformers' embedded input (GPT-2's includes its position embeddings), and f(E) for it."""
    gpt2 = isinstance(theirs, transformers.GPT2LMHeadModel)
    layer = theirs.transformer.drop if gpt2 else theirs.model.embed_tokens
    seen = []
    handle = layer.register_forward_hook(lambda _m, _a, out: seen.append(out))
    with torch.no_grad():
        theirs(ids[None])
    handle.remove()
    seen = [seen[0]]

    def f(embedded, target, contrast=None):
        handle = layer.register_forward_hook(lambda _m, _a, _out: embedded)
        try:
            logits = theirs(ids[: embedded.shape[1]].expand(embedded.shape[0], -1)).logits
        finally:
            handle.remove()
        logp = torch.log_softmax(logits[:, target - 1], -1)
        return logp[:, ids[target]] - (logp[:, contrast] if contrast is not None else 0)

    return seen[0].detach(), f


@pytest.mark.parametrize("baseline", ["neutral", "zero"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_integrated_gradients_equal_captum_on_the_transformers_model_and_are_complete(
    tmp_path, name, baseline
):
    from models.inspect.attribution import neutral_token

    ours, tok, theirs = _pair(tmp_path, name)
    result = list(models.attribute(ours, tok, TEXT, "integrated_gradients", steps=24, baseline=baseline))[-1]
    ids = torch.tensor(result.tokens.ids)
    embedded, f = _their_embedded(theirs, ids)
    reference = _their_embedded(theirs, torch.full_like(ids, neutral_token(tok)))[0]
    for g in range(0, len(result.targets), 5):
        t = int(result.targets[g])
        inputs = embedded[:, :t]
        base = reference[:, :t] if baseline == "neutral" else torch.zeros_like(inputs)
        expected, delta = IntegratedGradients(lambda e, t=t: f(e, t)).attribute(
            inputs, baselines=base, n_steps=24, return_convergence_delta=True
        )
        np.testing.assert_allclose(result.scores[g, :t], expected.sum(-1)[0].detach().numpy(), atol=1e-4)
        assert (result.scores[g, t:] == 0).all()
        with torch.no_grad():  # completeness: the shares add up to f(x) - f(baseline) but for the delta
            gap = (f(inputs, t) - f(base, t)).item()
        assert abs(result.scores[g].sum() - gap - result.delta[g]) < 1e-4
        assert (
            abs(result.delta[g] - delta.item()) < 1e-4 and abs(result.values[g] - f(inputs, t).item()) < 1e-4
        )


def test_more_steps_shrink_the_delta_from_a_neutral_baseline(tmp_path):
    """The built-in GPT's kind (a character vocabulary): the delta falls as the path is sampled finer."""
    ours, tok, _ = _pair(tmp_path, "gpt2")

    def delta(steps: int) -> float:
        result = list(models.attribute(ours, tok, TEXT, "integrated_gradients", targets=[10], steps=steps))[
            -1
        ]
        return float(np.abs(result.delta).max())

    coarse, fine = delta(4), delta(64)
    assert fine < coarse and fine < 0.01


def test_input_x_gradient_is_the_embedding_times_its_gradient_and_a_contrast_is_a_difference(tmp_path):
    ours, tok, theirs = _pair(tmp_path, "llama")
    alternative = tok.token_id("e")
    for contrast in (None, alternative):
        result = list(models.attribute(ours, tok, TEXT, "input_x_gradient", contrast=contrast))[-1]
        assert result.done == len(result.targets) == len(result.tokens) - 1
        ids = torch.tensor(result.tokens.ids)
        embedded, f = _their_embedded(theirs, ids)
        t = int(result.targets[-1])
        inputs = embedded[:, :t].clone().requires_grad_(True)
        f(inputs, t, contrast).sum().backward()
        np.testing.assert_allclose(
            result.scores[-1, :t], (inputs * inputs.grad).sum(-1)[0].detach().numpy(), atol=1e-5
        )


def test_rollout_multiplies_head_averaged_attention_with_the_residual(tmp_path):
    ours, tok, _ = _pair(tmp_path, "gpt2")
    result = list(models.attribute(ours, tok, TEXT, "rollout"))[-1]
    att = models.probe(ours, tok, TEXT).attentions  # [L, H, T, T]
    T = att.shape[-1]
    expected = np.eye(T)
    for layer in att:  # written out here, layer by layer
        a = layer.mean(0) + np.eye(T)
        a = a / a.sum(1, keepdims=True)
        expected = a @ expected
    np.testing.assert_allclose(rollout(att), expected, atol=1e-6)
    for g, t in enumerate(result.targets):
        np.testing.assert_allclose(result.scores[g, :t], expected[t - 1, :t], atol=1e-5)
        assert abs(result.scores[g, :t].sum() - 1.0) < 1e-4  # a row of rollout spreads all of its weight


def test_progress_comes_in_chunks_and_bad_requests_are_refused(tmp_path):
    ours, tok, _ = _pair(tmp_path, "llama")
    parts = list(models.attribute(ours, tok, TEXT * 2, "input_x_gradient"))
    assert [p.done for p in parts] == sorted(
        {min(len(parts[0].targets), n) for n in range(8, 8 * len(parts) + 1, 8)}
    )
    assert not parts[0].scores[parts[0].done :].any()  # what is not done yet is zero
    with pytest.raises(models.ModelError, match="method must be one of"):
        list(models.attribute(ours, tok, TEXT, "saliency"))
    with pytest.raises(models.ModelError, match="position 99 has no tokens before it"):
        list(models.attribute(ours, tok, TEXT, targets=[99]))
    from tests.models.helpers import tiny_bert_config

    bert = models.Bert(tiny_bert_config(64))
    with pytest.raises(models.ModelError, match="attributions are for decoders"):
        list(models.attribute(bert, tok, TEXT))


def test_the_output_head_runs_only_where_a_target_is_predicted(tmp_path):
    """Never batch × positions × vocabulary (a real model's 2,048 tokens × 152k would be gigabytes):
    every call of the head sees one position per row."""
    ours, tok, _ = _pair(tmp_path, "llama")
    seen = []
    handle = ours.lm_head.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape)))
    for method in ("input_x_gradient", "integrated_gradients", "rollout"):
        list(models.attribute(ours, tok, TEXT * 2, method, steps=4))
    handle.remove()
    assert seen and all(shape[-2] == 1 for shape in seen), [s for s in seen if s[-2] != 1]
