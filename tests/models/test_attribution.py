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
    with pytest.raises(models.ModelError, match="position 99 is not a predicted token"):
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


def _marian_pair(tmp_path):
    from models.nn.seq2seq import Seq2Seq, Seq2SeqConfig

    tok = models.Tokenizer.train(["abcdefgh ijk"], "char", specials=("<pad>", "</s>"))
    torch.manual_seed(0)
    shape = dict(
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=48,
        max_position_embeddings=40,
    )
    ours = Seq2Seq(Seq2SeqConfig(vocab_size=tok.vocab_size, eos_token_id=1, **shape)).eval()  # fmt: skip
    for name, p in ours.named_parameters():  # a sharp head, and weights that read both inputs
        torch.nn.init.normal_(p, std=(1.0 if "shared" in name else 0.1) if p.dim() > 1 else 0.1)
    models.save(ours, tok, tmp_path)
    theirs = transformers.MarianMTModel.from_pretrained(tmp_path, attn_implementation="eager").eval()
    return ours, tok, theirs


def _their_pair_f(theirs, source, decoder):
    """f(source embedded, decoder inputs embedded) on transformers' Marian, both given as our
    embedding output (token × scale + position): Marian adds its own positions (and scales the
    decoder's), so they are taken off first."""
    enc, dec = theirs.model.encoder, theirs.model.decoder
    with torch.no_grad():
        pos_s = enc.embed_positions(torch.Size([1, len(source)]))
        pos_d = dec.embed_positions(torch.Size([1, len(decoder)]), 0)

    def f(s, d, t, contrast=None):
        n, length = d.shape[:2]
        out = theirs(inputs_embeds=s - pos_s, decoder_inputs_embeds=(d - pos_d[:length]) / dec.embed_scale)
        logp = torch.log_softmax(out.logits[:, t - 1], -1)
        return logp[:, decoder[t]] - (logp[:, contrast] if contrast is not None else 0)

    with torch.no_grad():
        s = enc.embed_tokens(source[None]) * enc.embed_scale + pos_s
        d = dec.embed_tokens(decoder[None]) * dec.embed_scale + pos_d
    return s, d, f


@pytest.mark.parametrize("method", ["input_x_gradient", "integrated_gradients"])
def test_an_encoder_decoders_tokens_are_explained_by_the_source_and_the_target_before_them(tmp_path, method):
    """Each target token of "source → target" is attributed over every source token and the target
    tokens before it, equal to captum applied to transformers' Marian with the same weights."""
    from models.text.pairs import ARROW, START

    ours, tok, theirs = _marian_pair(tmp_path)
    result = list(models.attribute(ours, tok, f"abc de{ARROW}fed", method, steps=16))[-1]
    S = result.source_length
    assert result.tokens.texts == ("a", "b", "c", " ", "d", "e", "</s>", START, "f", "e", "d", "</s>")
    assert S == 7 and list(result.targets) == [8, 9, 10, 11]  # f e d </s>, each predicted
    source = torch.tensor(result.tokens.ids[:S])
    decoder = torch.tensor(result.tokens.ids[S:])
    s, d, f = _their_pair_f(theirs, source, decoder)
    for g, t in enumerate(result.targets):
        j = int(t) - S  # the token's place in the decoder's row
        inputs = (s.clone().requires_grad_(True), d[:, :j].clone().requires_grad_(True))
        if method == "input_x_gradient":
            f(*inputs, j).sum().backward()
            expected = [(x * x.grad).sum(-1)[0].detach().numpy() for x in inputs]
        else:
            from models.inspect.attribution import neutral_token

            blank = _their_pair_f(theirs, torch.full_like(source, neutral_token(tok)),
                                  torch.full_like(decoder, neutral_token(tok)))  # fmt: skip
            a, delta = IntegratedGradients(lambda a, b, j=j: f(a, b, j)).attribute(
                inputs, baselines=(blank[0], blank[1][:, :j]), n_steps=16, return_convergence_delta=True
            )
            expected = [x.sum(-1)[0].detach().numpy() for x in a]
            assert abs(result.delta[g] - delta.item()) < 1e-4
            with torch.no_grad():  # completeness over source and target together
                gap = (f(*inputs, j) - f(blank[0], blank[1][:, :j], j)).item()
            assert abs(result.scores[g].sum() - gap - result.delta[g]) < 1e-4
        # (a tiny post-norm model's shares are small: compared to 1e-6 and 0.1%, each input's seen)
        np.testing.assert_allclose(result.scores[g, :S], expected[0], atol=1e-6, rtol=1e-3)
        np.testing.assert_allclose(result.scores[g, S : S + j], expected[1], atol=1e-6, rtol=1e-3)
        assert (result.scores[g, S + j :] == 0).all()
        assert np.abs(expected[0]).max() > 1e-4 and np.abs(expected[1]).max() > 1e-4  # 100 × atol
        assert abs(result.values[g] - f(s, d[:, :j], j).item()) < 1e-4


def test_an_encoder_decoder_without_a_target_explains_its_translation_and_refuses_rollout(tmp_path):
    ours, tok, _ = _marian_pair(tmp_path)
    result = list(models.attribute(ours, tok, "abc", "input_x_gradient"))[-1]
    S = result.source_length
    probe = models.probe(ours, tok, "abc")  # (its decoder row: the source read with its translation)
    np.testing.assert_array_equal(result.tokens.ids[S:-1], probe.tokens.ids)
    assert result.done == len(result.targets) == len(result.tokens) - S - 1
    with pytest.raises(models.ModelError, match="rollout follows one stack"):
        list(models.attribute(ours, tok, "abc", "rollout"))
    with pytest.raises(models.ModelError, match="is not a predicted token"):
        list(models.attribute(ours, tok, "abc", targets=[2]))  # a source token is not predicted
