"""Logit lens: the last layer is the model's own output; every layer matches a `transformers` reading."""

import numpy as np
import pytest
import torch

import models
from models.errors import ModelError
from models.nn.bert import Bert
from tests.models.helpers import TEXT, saved_pair, tiny_bert_config, wordpiece_tokenizer

TEXT_IN = "First Citizen: Before we proceed"


def test_gpt_lens_matches_transformers_layer_by_layer(tmp_path):
    """Reference: the same weights in `GPT2LMHeadModel`, each hidden state read through its
    ln_f and lm_head (the last hidden state comes out of ln_f already)."""
    ours, tok, hf = saved_pair(tmp_path, "gpt")
    lens = models.logit_lens(ours, tok, TEXT_IN, k=3)
    ids = torch.tensor(lens.tokens.ids[None])
    with torch.no_grad():
        hidden = hf(ids, output_hidden_states=True).hidden_states[1:]
        reference = [
            torch.softmax(hf.lm_head(h if i == len(hidden) - 1 else hf.transformer.ln_f(h))[0], -1)
            for i, h in enumerate(hidden)
        ]
    assert lens.prob.shape == (3, len(lens.tokens))
    for layer, probs in enumerate(reference):
        expected = probs.gather(1, torch.tensor(lens.target_ids)[:, None])[:, 0].numpy()
        np.testing.assert_allclose(lens.prob[layer], expected, atol=1e-5)
        np.testing.assert_array_equal(lens.top_ids[layer], probs.topk(3, -1).indices.numpy())


def test_the_last_layer_is_the_models_own_output(tmp_path):
    ours, tok, _ = saved_pair(tmp_path, "gpt")
    lens = models.logit_lens(ours, tok, TEXT_IN, k=5)
    probe = models.probe(ours, tok, TEXT_IN, k=5)
    np.testing.assert_array_equal(lens.top_ids[-1], probe.top_ids)
    np.testing.assert_allclose(lens.top_probs[-1], probe.top_probs, atol=1e-6)
    np.testing.assert_array_equal(lens.target_ids, probe.top_ids[:, 0])  # it follows the prediction
    np.testing.assert_allclose(lens.prob[-1], probe.top_probs[:, 0], atol=1e-6)
    assert lens.top_texts[-1][0] == probe.top_texts[0]


def test_bert_lens_reads_every_layer_through_the_mlm_head(tmp_path):
    ours, tok, hf = saved_pair(tmp_path, "bert")
    lens = models.logit_lens(ours, tok, "before we proceed any further")
    with torch.no_grad():
        hidden = hf(torch.tensor(lens.tokens.ids[None]), output_hidden_states=True).hidden_states[1:]
        reference = [torch.softmax(hf.cls(h)[0], -1) for h in hidden]
    for layer, probs in enumerate(reference):
        expected = probs.gather(1, torch.tensor(lens.target_ids)[:, None])[:, 0].numpy()
        np.testing.assert_allclose(lens.prob[layer], expected, atol=1e-5)


def test_a_picked_token_is_followed_everywhere_and_must_be_one_token(tmp_path):
    ours, tok, _ = saved_pair(tmp_path, "gpt")
    lens = models.logit_lens(ours, tok, TEXT_IN, token="e")
    e = tok.encode("e", special_tokens=False).ids[0]
    assert set(lens.target_ids) == {e} and set(lens.target_texts) == {"e"}
    probe = models.probe(ours, tok, TEXT_IN, k=tok.vocab_size)
    at_e = [probe.top_probs[t][list(probe.top_ids[t]).index(e)] for t in range(len(lens.tokens))]
    np.testing.assert_allclose(lens.prob[-1], at_e, atol=1e-6)
    with pytest.raises(ModelError, match="2 tokens"):
        models.logit_lens(ours, tok, TEXT_IN, token="ab")


def test_an_encoder_only_bert_is_refused():
    tok = wordpiece_tokenizer()
    model = Bert(tiny_bert_config(tok.vocab_size, has_mlm_head=False))
    with pytest.raises(ModelError, match="no masked-LM head"):
        models.logit_lens(model, tok, TEXT[:40])


def test_the_lens_arrives_in_blocks_the_last_positions_first_and_adds_up_to_the_whole(tmp_path, monkeypatch):
    """A real model's lens is computed a few positions at a time (its logits would not fit in
    memory at once): each block's cells are those of the whole lens, the rest wait as NaN."""
    from models.inspect import lens as lens_module

    ours, tok, _ = saved_pair(tmp_path, "gpt")
    whole = models.logit_lens(ours, tok, TEXT_IN, k=3)
    L, T = whole.prob.shape
    monkeypatch.setattr(lens_module, "BLOCK_CELLS", 2 * L * ours.config.vocab_size)  # 2 positions
    blocks = list(lens_module.lens_blocks(ours, tok, TEXT_IN, k=3))
    assert len(blocks) == (T + 1) // 2 and [b.done for b in blocks] == [
        min(2 * (i + 1), T) for i in range(len(blocks))
    ]
    first = blocks[0]
    assert not first.complete and np.isfinite(first.prob[:, -2:]).all() and np.isnan(first.prob[:, :-2]).all()
    assert first.top_texts[0][0] == () and first.top_texts[-1][-1] == whole.top_texts[-1][-1]
    last = blocks[-1]
    assert last.complete
    np.testing.assert_allclose(last.prob, whole.prob, atol=1e-6)
    np.testing.assert_array_equal(last.top_ids, whole.top_ids)
    assert last.target_texts == whole.target_texts and last.top_texts == whole.top_texts


def test_a_decoders_lens_never_makes_every_positions_logits_at_once(tmp_path):
    """At 2,048 tokens of a 152k vocabulary the model's own head on every position was 1.2 GB: the
    lens reads the layers' hidden states, and its blocks are the only logits it makes."""
    ours, tok, _ = saved_pair(tmp_path, "gpt")
    seen: list[int] = []
    hook = ours.lm_head.register_forward_hook(lambda _m, args, _out: seen.append(args[0].shape[-2]))
    try:
        lens = models.logit_lens(ours, tok, TEXT_IN, k=3)
    finally:
        hook.remove()
    T = len(lens.tokens)
    assert seen and seen[0] == 1  # the model's own pass: the last position only
    assert lens.prob.shape == (3, T) and np.isfinite(lens.prob).all()
