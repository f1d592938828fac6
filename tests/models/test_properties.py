"""Model properties: causality, cache equals recompute, fast path equals explicit path, rows sum to 1."""

import torch

from models.nn import GPTConfig
from models.nn.bert import Bert
from models.nn.gpt import GPT
from tests.models.helpers import tiny_bert_config


def _gpt(**kw) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=50, n_positions=32, n_embd=32, n_layer=2, n_head=4, **kw)).eval()


def _ids(T=16, vocab=50):
    return torch.randint(0, vocab, (2, T), generator=torch.Generator().manual_seed(3))


def test_gpt_is_causal():
    model, ids = _gpt(), _ids()
    changed = ids.clone()
    changed[:, 10:] = (changed[:, 10:] + 7) % 50
    with torch.no_grad():
        a, b = model(ids).logits, model(changed).logits
    torch.testing.assert_close(a[:, :10], b[:, :10])
    assert not torch.allclose(a[:, 10:], b[:, 10:])  # the changed positions do move


def test_cached_decoding_equals_full_recompute():
    model, ids = _gpt(), _ids(T=20)
    with torch.no_grad():
        full = model(ids).logits
        cache = model.new_cache(batch=2)
        pieces = [model(ids[:, :8], cache=cache).logits]  # prefill, then one token at a time
        pieces += [model(ids[:, t : t + 1], cache=cache).logits for t in range(8, 20)]
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=0)
    assert cache.length == 20


def test_cached_chunk_after_prefill_equals_recompute():
    model, ids = _gpt(), _ids(T=20)
    with torch.no_grad():
        full = model(ids, output_attentions=True)
        cache = model.new_cache(batch=2)
        model(ids[:, :12], cache=cache)
        tail = model(ids[:, 12:], cache=cache, output_attentions=True)  # several queries at once
    torch.testing.assert_close(tail.logits, full.logits[:, 12:], atol=1e-5, rtol=0)
    torch.testing.assert_close(tail.attentions[1], full.attentions[1][:, :, 12:], atol=1e-6, rtol=0)


def test_fast_path_equals_explicit_path():
    for model in (_gpt(), _bert()):
        ids = _ids(vocab=model.config.vocab_size)
        with torch.no_grad():
            fast, explicit = model(ids), model(ids, output_attentions=True)
        assert fast.attentions is None
        torch.testing.assert_close(fast.logits, explicit.logits, atol=1e-5, rtol=0)


def test_attention_rows_sum_to_one_and_respect_the_mask():
    model, ids = _gpt(), _ids()
    with torch.no_grad():
        atts = model(ids, output_attentions=True).attentions
    assert len(atts) == 2
    for a in atts:
        assert a.shape == (2, 4, 16, 16)
        torch.testing.assert_close(a.sum(-1), torch.ones(2, 4, 16))
        assert torch.all(torch.triu(a, diagonal=1) == 0)  # no query looks ahead


def test_bert_padding_is_not_attended():
    model = _bert()
    ids = _ids(vocab=model.config.vocab_size)
    keep = torch.ones_like(ids)
    keep[:, -4:] = 0
    with torch.no_grad():
        atts = model(ids, attention_mask=keep, output_attentions=True).attentions
    for a in atts:
        assert torch.all(a[..., -4:] == 0)
        torch.testing.assert_close(a.sum(-1), torch.ones_like(a.sum(-1)))


def test_embeddings_are_tied():
    gpt, bert = _gpt(), _bert()
    assert gpt.lm_head.weight.data_ptr() == gpt.transformer.wte.weight.data_ptr()
    assert bert.head.decoder.weight.data_ptr() == bert.embeddings.tok.weight.data_ptr()


def _bert() -> Bert:
    torch.manual_seed(0)
    return Bert(tiny_bert_config(60)).eval()
