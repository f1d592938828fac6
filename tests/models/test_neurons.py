"""The neurons behind a token: the direct effects of every neuron and every other component add up to
the logit; top-activating contexts equal a brute-force search; families that norm the MLP's output
are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers

import models
from models.inspect.neurons import WINDOW, activations, neuron_effects, top_contexts
from tests.models.helpers import TEXT, char_tokenizer

CONFIGS = {
    "gpt2": lambda: transformers.GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=4, n_positions=128),
    "llama": lambda: transformers.LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        mlp_bias=True,
    ),  # fmt: skip
}


def _load(tmp_path, name):
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(CONFIGS[name]())
    with torch.no_grad():
        for p_name, p in model.named_parameters():
            if p_name.endswith("bias") or "norm" in p_name or "ln_" in p_name:
                p.normal_(0.0, 0.3).add_(1.0 if p_name.endswith("weight") else 0.0)
    model.save_pretrained(tmp_path)
    char_tokenizer().save(tmp_path)
    return models.load(tmp_path)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_neurons_effect_and_every_other_component_add_up_to_the_logit(tmp_path, name):
    """The residual stream entering the final norm is the embedding, each attention output and
    each MLP output (its neurons through their columns, plus its bias); read through the norm with
    its scale frozen, the pieces add up to the logit."""
    ours, tok = _load(tmp_path, name)
    text = "First Citizen: speak"
    effects = neuron_effects(ours, tok, text, position=7, k=5)
    ids = torch.tensor(effects.tokens.ids[None])
    parts = []
    gpt = name == "gpt2"
    attn = [b.attn.c_proj if gpt else b.self_attn.o_proj for b in ours.blocks()]
    modules = [ours.embedding_output(), *attn]
    handles = [m.register_forward_hook(lambda _m, _a, out: parts.append(out[0, 7].detach())) for m in modules]
    with torch.no_grad():
        ours(ids)
    for h in handles:
        h.remove()
    biases = [ours.neuron_projection(i).bias.detach() for i in range(ours.config.n_layer)]
    norm = ours.transformer.ln_f if gpt else ours.model.norm
    resid = activations(ours, ids)[-1][0, 7]
    y = effects.target
    u = ours.lm_head.weight[y].detach()
    if gpt:  # LayerNorm: centred, over the whole stream's deviation
        scale = torch.sqrt(resid.var(unbiased=False) + norm.eps)

        def read(c):
            return float(((c - c.mean()) / scale * norm.weight) @ u)

        constant = float(norm.bias @ u)
    else:  # RMSNorm
        scale = torch.sqrt(resid.pow(2).mean() + norm.eps)

        def read(c):
            return float((c / scale * norm.weight) @ u)

        constant = 0.0
    total = (
        sum(read(c) for c in parts) + sum(read(b) for b in biases) + float(effects.per_layer.sum()) + constant
    )
    assert abs(total - effects.logit) < 1e-4, (total, effects.logit)
    assert effects.target == int(effects.tokens.ids[8])  # by default: the token that came next
    order = np.abs(effects.effects)
    assert (np.diff(order) <= 1e-6).all() and effects.activations.shape == (5, len(effects.tokens))
    acts = activations(ours, ids)
    for lay, n, a in zip(effects.layers, effects.neurons, effects.activations, strict=True):
        np.testing.assert_allclose(a, acts[int(lay)][0, :, int(n)].numpy(), rtol=1e-6)


def test_top_contexts_equal_a_brute_force_search(tmp_path):
    ours, tok = _load(tmp_path, "gpt2")
    corpus = TEXT * 3
    last = list(top_contexts(ours, tok, corpus, layer=1, k=4, windows=6, batch=4))[-1]
    assert last.done == last.total == 6
    ids = tok.encode(corpus, special_tokens=False).ids
    everything = []
    for w in range(6):  # each window alone, every position, every neuron
        window = ids[w * WINDOW : (w + 1) * WINDOW]
        acts = activations(ours, torch.tensor([window]), [1])[1][0].numpy()  # [T, neurons]
        everything.append(acts)
    flat = np.concatenate(everything)  # [6 × 64, neurons]
    for neuron in (0, 17, 100):
        expected = np.sort(flat[:, neuron])[::-1][:4]
        np.testing.assert_allclose(last.values[neuron], expected, rtol=1e-5)
        places = zip(last.contexts(neuron), last.windows[neuron], last.positions[neuron], strict=True)
        for (before, token, _after, value), w, p in places:
            assert np.isclose(everything[w][p, neuron], value, rtol=1e-5)
            assert token == tok.token_text(ids[w * WINDOW + p]) and len(before) <= 12


def test_a_family_that_norms_its_mlp_output_is_refused(tmp_path):
    torch.manual_seed(0)
    cfg = transformers.Gemma2Config(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, pad_token_id=0,
    )  # fmt: skip
    transformers.Gemma2ForCausalLM(cfg).save_pretrained(tmp_path)
    char_tokenizer().save(tmp_path)
    gemma, tok = models.load(tmp_path)
    with pytest.raises(models.ModelError, match="normed before it joins the residual stream"):
        neuron_effects(gemma, tok, "First")
