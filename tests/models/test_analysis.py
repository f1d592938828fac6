"""Probe and fill-mask: what the inspection views draw, checked against plain forward passes."""

import numpy as np
import pytest
import torch

import models
from models.nn import GPTConfig
from models.nn.bert import Bert
from models.nn.gpt import GPT
from tests.models.helpers import char_tokenizer, tiny_bert_config, wordpiece_tokenizer


def test_gpt_probe_scores_each_next_token():
    tok = char_tokenizer()
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, n_positions=32, n_embd=32, n_layer=2, n_head=4))
    text = "Speak, speak."
    p = models.probe(model.eval(), tok, text, k=4)
    T = len(text)
    assert p.capabilities.causal and p.tokens.texts == tuple(text)
    assert p.attentions.shape == (2, 4, T, T) and p.attentions.dtype == np.float32
    with torch.no_grad():
        probs = torch.softmax(model(torch.from_numpy(p.tokens.ids[None])).logits[0], -1).numpy()
    expected = [probs[t, p.tokens.ids[t + 1]] for t in range(T - 1)]
    np.testing.assert_allclose(p.target_prob[:-1], expected, atol=1e-6)
    assert np.isnan(p.target_prob[-1])
    assert p.perplexity == pytest.approx(float(np.exp(-np.mean(np.log(expected)))), rel=1e-5)
    assert p.top_ids.shape == (T, 4) and p.top_texts[0][0] == tok.token_text(p.top_ids[0, 0])
    np.testing.assert_allclose(p.top_probs[:, 0], probs.max(-1), atol=1e-6)
    np.testing.assert_allclose(p.entropy, -(probs * np.log(probs)).sum(-1), rtol=1e-5)


@pytest.mark.parametrize("kind", ["gpt", "bert", "gemma2"])
def test_a_probes_predictions_come_a_few_positions_at_a_time_and_equal_the_whole(kind, monkeypatch, tmp_path):
    """The head reads a block of positions at a time (positions × vocabulary is the biggest thing a
    real model's probe would make): blocks of 3 give what one block gives, across block edges."""
    from models.inspect import analysis

    if kind == "gpt":
        tok = char_tokenizer()
        torch.manual_seed(0)
        cfg = GPTConfig(vocab_size=tok.vocab_size, n_positions=32, n_embd=32, n_layer=2, n_head=4)
        model, text = GPT(cfg).eval(), "Speak, speak. All: we proceed."
    elif kind == "bert":
        tok = wordpiece_tokenizer()
        model, text = _bert(tok), "you are all resolved rather to die than to famish"
    else:  # a decoder family read from a folder: its final norm, and a soft-capped head
        import transformers

        tok = char_tokenizer()
        torch.manual_seed(0)
        cfg = transformers.Gemma2Config(
            vocab_size=tok.vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, head_dim=16, final_logit_softcapping=30.0,
        )  # fmt: skip
        transformers.Gemma2ForCausalLM(cfg).save_pretrained(tmp_path)
        tok.save(tmp_path)
        model, text = models.load(tmp_path)[0], "Speak, speak. All: we proceed."
    whole = models.probe(model, tok, text, k=3)
    with torch.no_grad():  # the reference: every position's logits at once
        probs = torch.softmax(model(torch.from_numpy(whole.tokens.ids[None])).logits[0], -1).numpy()
    np.testing.assert_allclose(whole.top_probs[:, 0], probs.max(-1), rtol=1e-5)
    np.testing.assert_allclose(whole.entropy, -(probs * np.log(probs)).sum(-1), rtol=1e-4)
    seen: list[int] = []
    head = model.get_submodule(model.OUTPUT_HEAD)
    hook = head.register_forward_hook(lambda _m, args, _out: seen.append(args[0].shape[-2]))
    monkeypatch.setattr(analysis, "BLOCK_CELLS", 3 * model.config.vocab_size)
    blocks = models.probe(model, tok, text, k=3)
    hook.remove()
    assert max(seen) == 3 and len(seen) > len(whole.tokens) // 3  # (a decoder's own pass: its last one)
    np.testing.assert_array_equal(blocks.top_ids, whole.top_ids)
    for name in ("top_probs", "entropy", "target_prob"):
        np.testing.assert_allclose(getattr(blocks, name), getattr(whole, name), rtol=1e-5, equal_nan=True)
    assert blocks.top_texts == whole.top_texts


def test_probe_crops_to_the_context_and_says_so():
    tok = char_tokenizer()
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, n_positions=16, n_embd=32, n_layer=1, n_head=2))
    p = models.probe(model.eval(), tok, "First Citizen: Before we proceed")
    assert len(p.tokens) == 16 and "".join(p.tokens.texts) == "First Citizen: Before we proceed"[-16:]
    assert any("showing its last 16" in n for n in p.tokens.notes)
    with pytest.raises(models.ModelError, match="empty"):
        models.probe(model, tok, "   ")


def _bert(tok):
    torch.manual_seed(0)
    return Bert(tiny_bert_config(tok.vocab_size)).eval()


def test_fill_mask_by_position_equals_writing_mask():
    tok = wordpiece_tokenizer()
    model = _bert(tok)
    text = "speak , speak . you are all resolved"
    by_text = models.fill_mask(model, tok, text.replace("you", "[MASK]"), attentions=True)
    position = list(tok.encode(text).texts).index("you")
    by_click = models.fill_mask(model, tok, text, mask_positions=[position])
    assert by_text.fills[0].position == by_click.fills[0].position == position
    np.testing.assert_allclose(by_text.fills[0].top_probs, by_click.fills[0].top_probs, atol=1e-6)
    assert by_click.tokens.texts[position] == "[MASK]"
    assert by_text.attentions.shape == (2, 4, len(by_text.tokens), len(by_text.tokens))
    assert by_click.attentions is None


def test_fill_mask_refuses_what_it_cannot_do():
    tok = wordpiece_tokenizer()
    bert = _bert(tok)
    with pytest.raises(models.ModelError, match="nothing to fill"):
        models.fill_mask(bert, tok, "speak , speak")
    with pytest.raises(models.ModelError, match="outside the text"):
        models.fill_mask(bert, tok, "speak", mask_positions=[40])
    gpt = GPT(GPTConfig(vocab_size=tok.vocab_size, n_positions=16, n_embd=32, n_layer=1, n_head=2))
    with pytest.raises(models.ModelError, match="needs a BERT model"):
        models.fill_mask(gpt, tok, "[MASK]")
    with pytest.raises(models.ModelError, match="needs a GPT model"):
        models.generate(bert, tok, "speak")


def test_bert_probe_scores_each_token_in_place():
    tok = wordpiece_tokenizer()
    model = _bert(tok)
    p = models.probe(model, tok, "you are all resolved")
    assert p.capabilities.encoder_only and p.tokens.texts[0] == "[CLS]"
    assert np.all(np.isfinite(p.target_prob)) and np.all((p.target_prob > 0) & (p.target_prob <= 1))


def test_a_long_texts_attention_keeps_to_its_memory_budget(monkeypatch):
    """Past the float32 budget a probe keeps its attentions in float16 (the same values, rounded);
    past the float16 one it is refused before anything is computed, naming the length that fits."""
    from models.inspect import analysis

    tok = char_tokenizer()
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, n_positions=64, n_embd=32, n_layer=2, n_head=4)).eval()
    text = "Speak, speak. All: we proceed."
    exact = models.probe(model, tok, text)
    cells = exact.attentions.size
    monkeypatch.setattr(analysis, "FULL_BYTES", cells * 4 - 1)
    half = models.probe(model, tok, text)
    assert exact.attentions.dtype == np.float32 and half.attentions.dtype == np.float16
    np.testing.assert_allclose(half.attentions, exact.attentions, atol=1e-3)
    monkeypatch.setattr(analysis, "HALF_BYTES", cells * 2 - 1)
    with pytest.raises(models.ModelError, match=r"shorten the text to about \d+ tokens"):
        models.probe(model, tok, text)
    assert models.probe(model, tok, text, attentions=False).attentions.size == 0  # scores alone still run


@pytest.mark.parametrize("kind", ["gpt", "bert"])
def test_a_long_texts_attention_goes_a_layer_at_a_time_and_any_layer_comes_back(kind, monkeypatch):
    """Past the float32 budget, a probe given `each_layer` keeps no attention: each layer's weights
    and the stream its block read go there, and `layer_attention` makes that layer again from the
    stream alone; the scores are the same (with a steering vector on: it is in the stream)."""
    from models.inspect import analysis
    from models.inspect.steering import SteeringVector, steered

    if kind == "gpt":
        tok = char_tokenizer()
        torch.manual_seed(0)
        cfg = GPTConfig(vocab_size=tok.vocab_size, n_positions=64, n_embd=32, n_layer=3, n_head=4)
        model, text = GPT(cfg).eval(), "Speak, speak. All: we proceed."
    else:
        tok = wordpiece_tokenizer()
        model, text = _bert(tok), "you are all resolved rather to die than to famish"
    whole = models.probe(model, tok, text)
    seen: dict[int, tuple] = {}
    layered = models.probe(model, tok, text, each_layer=lambda i, w, s: seen.setdefault(i, (w.clone(), s)))
    assert layered.attentions.size == whole.attentions.size  # small: kept whole, nothing handed over
    assert not seen
    monkeypatch.setattr(analysis, "FULL_BYTES", whole.attentions.nbytes - 1)
    layered = models.probe(model, tok, text, each_layer=lambda i, w, s: seen.setdefault(i, (w.clone(), s)))
    assert layered.attentions.shape == (0, 0, len(whole.tokens), len(whole.tokens))
    assert sorted(seen) == list(range(model.config.n_layer))
    for layer, (weights, stream) in seen.items():
        np.testing.assert_allclose(weights.numpy(), whole.attentions[layer], atol=1e-6)
        again = models.layer_attention(model, layer, stream)
        np.testing.assert_allclose(again.astype(np.float32), whole.attentions[layer], atol=1e-3)
    np.testing.assert_array_equal(layered.top_ids, whole.top_ids)
    np.testing.assert_allclose(layered.target_prob, whole.target_prob, rtol=1e-5, equal_nan=True)
    monkeypatch.setattr(analysis, "HALF_BYTES", 1)  # handed over, a long text is not refused…
    assert models.probe(model, tok, text, each_layer=lambda *_: None).attentions.size == 0
    monkeypatch.setattr(
        analysis, "LAYER_BYTES", whole.attentions[0].nbytes - 1
    )  # …unless one layer is too big
    with pytest.raises(
        models.ModelError, match=r"one layer's attention .* shorten the text to about \d+ tokens"
    ):
        models.probe(model, tok, text, each_layer=lambda *_: None)
    monkeypatch.setattr(analysis, "LAYER_BYTES", 2**30)
    if kind == "gpt":  # steered, a later layer's attention is the steered one, made again alike
        vector = SteeringVector(1, np.random.default_rng(0).normal(0, 5, 32).astype(np.float32))
        seen.clear()
        monkeypatch.setattr(analysis, "HALF_BYTES", 2**30)
        with steered(model, vector, 1.0):
            models.probe(model, tok, text, each_layer=lambda i, w, s: seen.setdefault(i, (w.clone(), s)))
            steered_whole = models.probe(model, tok, text, each_layer=None).attentions
        assert not np.allclose(steered_whole[2], whole.attentions[2], atol=1e-3)
        np.testing.assert_allclose(models.layer_attention(model, 1, seen[1][1]), steered_whole[1], atol=1e-3)
        np.testing.assert_allclose(models.layer_attention(model, 2, seen[2][1]), steered_whole[2], atol=1e-3)


def test_a_probe_takes_only_its_own_passes_attention():
    """The probe's hooks on the model's blocks leave another thread's pass over the same model as
    it is (a test, or a caller, using the model while the worker probes it)."""
    import threading

    tok = char_tokenizer()
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, n_positions=64, n_embd=32, n_layer=2, n_head=4)).eval()
    ids = torch.tensor([tok.encode("Speak, speak.").ids.tolist()])
    stop, seen = threading.Event(), []

    def other():
        while not stop.is_set():
            with torch.no_grad():
                out = model(ids, output_attentions=True)
            seen.append(all(a is not None for a in out.attentions))

    thread = threading.Thread(target=other)
    thread.start()
    try:
        for _ in range(20):
            probe = models.probe(model, tok, "All: we proceed.")
            assert np.isfinite(probe.attentions).all()
    finally:
        stop.set()
        thread.join()
    assert seen and all(seen)
