"""The encoder–decoder against `transformers`' MarianMTModel on tiny random configs, both ways: logits and
every kind of attention; cached decoding equals recompute; the sinusoidal table is the article's."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import transformers

import models
from models.nn.seq2seq import Seq2Seq, Seq2SeqConfig, sinusoidal_table
from tests.models.helpers import char_tokenizer

SHAPE = dict(
    d_model=32, encoder_layers=2, decoder_layers=3, encoder_attention_heads=4, decoder_attention_heads=2,
    encoder_ffn_dim=64, decoder_ffn_dim=48, max_position_embeddings=40,
)  # fmt: skip


def _batch(vocab: int):
    g = torch.Generator().manual_seed(0)
    src = torch.randint(3, vocab, (2, 9), generator=g)
    src[1, 6:] = 0  # the second source is padded
    mask = (torch.arange(9)[None] < torch.tensor([[9], [6]])).long()
    tgt = torch.randint(3, vocab, (2, 7), generator=g)
    return src, mask, tgt


def _theirs_from(folder):
    return transformers.MarianMTModel.from_pretrained(folder, attn_implementation="eager").eval()


def _compare(ours, theirs, vocab):
    src, mask, tgt = _batch(vocab)
    with torch.no_grad():
        expected = theirs(input_ids=src, attention_mask=mask, decoder_input_ids=tgt, output_attentions=True)
        got = ours(src, tgt, attention_mask=mask, output_attentions=True)
    torch.testing.assert_close(got.logits, expected.logits, atol=1e-4, rtol=0)
    for kind, theirs_kind in (
        ("encoder_attentions", "encoder_attentions"),
        ("decoder_attentions", "decoder_attentions"),
        ("cross_attentions", "cross_attentions"),
    ):
        ours_att, their_att = getattr(got, kind), getattr(expected, theirs_kind)
        assert len(ours_att) == len(their_att) and len(ours_att) > 0
        for a, b in zip(ours_att, their_att, strict=True):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=0)
    assert expected.logits.abs().max() > 0.1


@pytest.mark.parametrize("activation", ["relu", "gelu", "swish"])
def test_our_folder_opens_in_transformers_with_the_same_logits_and_attentions(tmp_path, activation):
    tok = char_tokenizer()
    torch.manual_seed(0)
    ours = Seq2Seq(Seq2SeqConfig(vocab_size=tok.vocab_size, activation=activation, **SHAPE)).eval()
    torch.nn.init.normal_(ours.final_logits_bias)  # nothing hides behind a zero bias
    for p in ours.parameters():
        if p.dim() == 1:
            torch.nn.init.normal_(p, std=0.1)  # biases and LayerNorm gains too
    models.save(ours, tok, tmp_path)
    _compare(ours, _theirs_from(tmp_path), tok.vocab_size)


def test_a_transformers_folder_opens_here_with_the_same_logits_and_attentions(tmp_path):
    tok = char_tokenizer()
    cfg = transformers.MarianConfig(
        vocab_size=tok.vocab_size, activation_function="swish", scale_embedding=True, pad_token_id=0,
        decoder_start_token_id=0, eos_token_id=1, **{k: v for k, v in SHAPE.items()},
    )  # fmt: skip
    torch.manual_seed(1)
    theirs = transformers.MarianMTModel(cfg).eval()
    with torch.no_grad():
        theirs.final_logits_bias.normal_()
    theirs.save_pretrained(tmp_path)
    tok.save(tmp_path)
    ours, _ = models.load(tmp_path)
    assert isinstance(ours, Seq2Seq) and ours.config.activation == "swish" and ours.config.eos_token_id == 1
    _compare(ours, _theirs_from(tmp_path), tok.vocab_size)  # eager: it returns its attentions


def test_cached_decoding_equals_recompute():
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(vocab_size=50, **SHAPE)).eval()
    src, mask, tgt = _batch(50)
    with torch.no_grad():
        full = model(src, tgt, attention_mask=mask, output_attentions=True)
        memory, _ = model.encode(src, mask)
        cache = model.new_cache(batch=2, max_len=16)
        steps = [model.decode(tgt[:, :3], memory, mask, cache=cache)]  # a prefix, then one at a time
        for t in range(3, tgt.shape[1]):
            steps.append(model.decode(tgt[:, t : t + 1], memory, mask, cache=cache, output_attentions=True))
    torch.testing.assert_close(torch.cat([s.logits for s in steps], 1), full.logits, atol=1e-5, rtol=0)
    last = steps[-1]  # the newest token's rows of the decoder's self- and cross-attention
    for layer in range(3):
        torch.testing.assert_close(
            last.decoder_attentions[layer][:, :, 0], full.decoder_attentions[layer][:, :, -1]
        )
        torch.testing.assert_close(
            last.cross_attentions[layer][:, :, 0], full.cross_attentions[layer][:, :, -1]
        )


def test_the_decoder_is_causal_and_the_encoder_ignores_padding():
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(vocab_size=50, **SHAPE)).eval()
    src, mask, tgt = _batch(50)
    with torch.no_grad():
        base = model(src, tgt, attention_mask=mask).logits
        later = tgt.clone()
        later[:, 4:] = 5  # changing later target tokens leaves earlier positions as they were
        torch.testing.assert_close(model(src, later, attention_mask=mask).logits[:, :4], base[:, :4])
        padded = src.clone()
        padded[1, 6:] = 7  # what sits under the padding mask does not matter
        torch.testing.assert_close(model(padded, tgt, attention_mask=mask).logits[1], base[1])


def test_the_sinusoidal_table_holds_the_articles_values():
    d = 16
    table = sinusoidal_table(50, d)
    for pos in (0, 1, 7, 49):
        for i in range(d // 2):
            angle = pos / 10000 ** (2 * i / d)
            # the article interleaves PE(pos, 2i) = sin and PE(pos, 2i+1) = cos; Marian puts the sines
            # first and the cosines after them: column i is the article's 2i, column d/2 + i its 2i+1
            assert table[pos, i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[pos, d // 2 + i].item() == pytest.approx(math.cos(angle), abs=1e-6)
    theirs = transformers.models.marian.modeling_marian.MarianSinusoidalPositionalEmbedding(50, d)
    torch.testing.assert_close(table, theirs.create_weight())


def test_bad_encoder_decoder_configs_are_refused(tmp_path):
    from models.hf.config import config_from_hf

    with pytest.raises(models.ModelError, match="activation 'tanh'"):
        Seq2SeqConfig(activation="tanh")
    with pytest.raises(models.ModelError, match="separate source and target vocabularies"):
        config_from_hf({"model_type": "marian", "vocab_size": 10, "decoder_vocab_size": 12})
    model = Seq2Seq(Seq2SeqConfig(vocab_size=50, **SHAPE)).eval()
    with pytest.raises(models.ModelError, match="exceeds the context"):
        model(torch.ones(1, 41, dtype=torch.long), torch.ones(1, 2, dtype=torch.long))


def test_translation_streams_steps_that_match_a_full_forward():
    from models.inspect.translate import translate

    tok = models.Tokenizer.train(["abcdefgh ijk"], "char", specials=("<pad>", "</s>"))
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(vocab_size=tok.vocab_size, eos_token_id=1, **SHAPE)).eval()
    steps = list(models.generate(model, tok, "abc defg", max_new_tokens=12, temperature=0, attention=True))
    assert steps[-1].finish_reason in ("eos", "length") and 8 <= len(steps) <= 12  # not an early </s>
    ids = [s.token_id for s in steps if s.token_id != tok.token_id("</s>")]
    assert tok.decode(ids, skip_special=True) == translate(model, tok, ["abc defg"], 12)[0]
    src = torch.tensor([tok.encode("abc defg", special_tokens=False).ids.tolist() + [1]])
    dec = torch.tensor([[0, *[s.token_id for s in steps[:-1]]]])  # what the decoder read, step by step
    with torch.no_grad():
        full = model(src, dec, output_attentions=True)
    probs = torch.softmax(full.logits[0], -1)
    for i, step in enumerate(steps):
        assert step.prob == pytest.approx(float(probs[i, step.token_id]), abs=1e-5)
        np.testing.assert_allclose(
            step.cross_attention, torch.stack([a[0, :, i] for a in full.cross_attentions]), atol=1e-5
        )
    assert steps[0].prompt_attention.shape == (2, 4, src.shape[1], src.shape[1])  # the encoder's own
    sampled = [
        s.token_id for s in models.generate(model, tok, "abc", max_new_tokens=8, temperature=1.0, seed=3)
    ]
    again = [
        s.token_id for s in models.generate(model, tok, "abc", max_new_tokens=8, temperature=1.0, seed=3)
    ]
    assert sampled == again


def test_a_probe_reads_a_pair_teacher_forced_and_a_run_holds_the_same_attention():
    """The probe of "source → target" is one teacher-forced forward; the attention a streamed run
    carries, put together from its steps, is the probe of its own output (nothing is run again)."""
    from models.inspect.run_attention import translation_attention
    from models.text.pairs import ARROW, START

    tok = models.Tokenizer.train(["abcdefgh ijk"], "char", specials=("<pad>", "</s>"))
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(vocab_size=tok.vocab_size, eos_token_id=1, **SHAPE)).eval()
    probe = models.probe(model, tok, f"abc{ARROW}fed")
    assert probe.capabilities.encoder_decoder and probe.tokens.texts == (START, "f", "e", "d")
    assert probe.source.texts == ("a", "b", "c", "</s>") and probe.outputs == ("f", "e", "d", "</s>")
    src = torch.tensor([[*tok.encode("abc", special_tokens=False).ids.tolist(), 1]])
    with torch.no_grad():
        full = model(src, torch.from_numpy(probe.tokens.ids[None]), output_attentions=True)
    probs = torch.softmax(full.logits[0], -1)
    following = [*tok.encode("fed", special_tokens=False).ids.tolist(), 1]  # f e d </s>
    np.testing.assert_allclose(probe.target_prob, probs[torch.arange(4), following], atol=1e-6)
    assert probe.attentions.shape == (3, 2, 4, 4) and probe.cross_attentions.shape == (3, 2, 4, 4)
    assert probe.encoder_attentions.shape == (2, 4, 4, 4)
    np.testing.assert_allclose(probe.cross_attentions[1], full.cross_attentions[1][0], atol=1e-6)
    # the last position predicts </s>; its probability is scored, not NaN
    assert np.isfinite(probe.target_prob).all()

    with torch.no_grad():
        model.final_logits_bias[0, 0] = -1e4  # <pad> is never chosen: the output reads back as text
    steps = list(models.generate(model, tok, "abc defg", max_new_tokens=30, temperature=0, attention=True))
    out = tok.decode([s.token_id for s in steps], skip_special=True)
    encoder, decoder, cross = translation_attention(steps)
    again = models.probe(model, tok, f"abc defg{ARROW}{out}")
    n = min(len(steps), len(again.tokens))  # a run cut by its length holds no row for its last token
    assert n > 3 and again.tokens.ids[1:n].tolist() == [s.token_id for s in steps[: n - 1]]
    np.testing.assert_allclose(encoder, again.encoder_attentions, atol=1e-5)
    np.testing.assert_allclose(decoder[:, :, :n, :n], again.attentions[:, :, :n, :n], atol=1e-5)
    np.testing.assert_allclose(cross[:, :, :n], again.cross_attentions[:, :, :n], atol=1e-5)
    alone = models.probe(model, tok, "abc defg")  # a source alone: with its greedy translation
    assert alone.tokens.texts[:n] == again.tokens.texts[:n]
    with pytest.raises(models.ModelError, match="source is empty"):
        models.probe(model, tok, f"{ARROW}abc")
    long = models.probe(model, tok, f"{'abc ' * 20}{ARROW}ba", attentions=False)  # 80 > 40 tokens
    assert long.tokens.notes == ("the source is longer than the context of 40: its start is read",)
    assert long.attentions.shape == (0, 0, 3, 3) and len(long.tokens) == 3  # (none asked for)
