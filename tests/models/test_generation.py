"""Generation as a stream of steps: reproducible, cancellable, sliding past the context, stopping."""

import numpy as np
import pytest
import torch

import models
from models.nn import GPTConfig
from models.nn.gpt import GPT
from tests.models.helpers import bpe_tokenizer, char_tokenizer


def _model(tok, ctx=64):
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=tok.vocab_size, n_positions=ctx, n_embd=32, n_layer=2, n_head=4)
    return GPT(cfg).eval()


def _text(steps):
    return "".join(s.text for s in steps)


def test_same_seed_same_text_and_other_seed_differs():
    tok = char_tokenizer()
    model = _model(tok)
    a = list(models.generate(model, tok, "First", max_new_tokens=30, temperature=1.0, seed=7))
    b = list(models.generate(model, tok, "First", max_new_tokens=30, temperature=1.0, seed=7))
    c = list(models.generate(model, tok, "First", max_new_tokens=30, temperature=1.0, seed=8))
    assert [s.token_id for s in a] == [s.token_id for s in b]
    assert [s.token_id for s in a] != [s.token_id for s in c]


def test_greedy_steps_match_full_forward():
    tok = char_tokenizer()
    model = _model(tok)
    steps = list(models.generate(model, tok, "All: Speak", max_new_tokens=12, temperature=0, alternatives=5))
    ids = list(tok.encode("All: Speak").ids)
    for step in steps:  # each step is the argmax of a fresh full forward over the text so far
        with torch.no_grad():
            probs = torch.softmax(model(torch.tensor([ids])).logits[0, -1], -1)
        assert step.token_id == int(probs.argmax())
        assert step.prob == pytest.approx(float(probs.max()), abs=1e-5)
        assert step.top_ids[0] == step.token_id and len(step.top_ids) == 5
        assert np.all(np.diff(step.top_probs) <= 0)
        ent = float(-(probs * probs.log()).sum())
        assert step.entropy == pytest.approx(ent, abs=1e-4)
        ids.append(step.token_id)
    assert steps[-1].finish_reason == "length" and steps[0].finish_reason is None


def test_attention_rows_cover_everything_before_the_token():
    tok = char_tokenizer()
    model = _model(tok)
    prompt_len = len(tok.encode("First").ids)
    steps = list(models.generate(model, tok, "First", max_new_tokens=5, temperature=0, attention=True))
    for i, step in enumerate(steps):
        assert step.attention.shape == (2, 4, prompt_len + i)
        np.testing.assert_allclose(step.attention.sum(-1), 1.0, atol=1e-5)
    # the row equals the last query row of a full forward pass
    ids = torch.tensor([list(tok.encode("First").ids) + [s.token_id for s in steps[:3]]])
    with torch.no_grad():
        full = model(ids, output_attentions=True).attentions
    np.testing.assert_allclose(steps[3].attention[1], full[1][0, :, -1].numpy(), atol=1e-5)


def test_top_k_one_is_greedy_and_top_p_tiny_is_greedy():
    tok = char_tokenizer()
    model = _model(tok)
    greedy = [s.token_id for s in models.generate(model, tok, "You", max_new_tokens=15, temperature=0)]
    for kw in ({"top_k": 1}, {"top_p": 1e-6}):
        sampled = [
            s.token_id
            for s in models.generate(model, tok, "You", max_new_tokens=15, temperature=1.5, seed=3, **kw)
        ]
        assert sampled == greedy


def test_cancel_stops_between_steps():
    tok = char_tokenizer()
    gen = models.generate(_model(tok), tok, "First", max_new_tokens=100, temperature=0)
    got = []
    for step in gen:
        got.append(step)
        if len(got) == 3:
            gen.cancel()
    assert len(got) == 3 and gen.cancelled


def test_long_prompt_slides_to_last_window_and_generation_continues_past_context():
    tok = char_tokenizer()
    model = _model(tok, ctx=32)
    prompt = "First Citizen: Before we proceed any further, hear me speak."
    gen = models.generate(model, tok, prompt, max_new_tokens=40, temperature=0, attention=True)
    assert len(gen.prompt) == 32 and any("last 32 tokens" in n for n in gen.notes)
    steps = list(gen)
    assert len(steps) == 40 and steps[-1].attention.shape[-1] == 31  # a full window of keys
    # the sliding window matches a fresh greedy run on the last window of the text
    ids = list(tok.encode(prompt).ids) + [s.token_id for s in steps[:-1]]
    with torch.no_grad():
        logits = model(torch.tensor([ids[-31:]])).logits[0, -1]
    assert steps[-1].token_id == int(logits.argmax())


def test_stop_string_ends_generation():
    tok = char_tokenizer()
    model = _model(tok)
    free = _text(models.generate(model, tok, "All", max_new_tokens=40, temperature=0))
    stop = free[5:7]
    steps = list(models.generate(model, tok, "All", max_new_tokens=40, temperature=0, stop=(stop,)))
    assert steps[-1].finish_reason == "stop" and stop in _text(steps)
    assert len(steps) <= free.index(stop) + len(stop)


def test_stream_decoder_never_shows_half_a_character():
    tok = bpe_tokenizer()
    text = "naïve café ☃ "
    ids = tok.encode(text).ids
    stream = tok.stream()
    pieces = [stream.step(i) for i in ids]
    assert "".join(pieces) == text
    assert all("\ufffd" not in p for p in pieces)


def test_empty_prompt_and_unknown_characters():
    tok = char_tokenizer()
    model = _model(tok)
    with pytest.raises(models.ModelError, match="prompt is empty"):
        models.generate(model, tok, "")
    gen = models.generate(model, tok, "First ☃", max_new_tokens=2)
    assert any("unknown" in n and "☃" in n for n in gen.notes)
    assert len(list(gen)) == 2


def test_invalid_settings_are_refused():
    for bad in ({"temperature": -1}, {"top_p": 0}, {"top_k": -2}, {"max_new_tokens": 0}):
        with pytest.raises(models.ModelError):
            models.SamplingSettings(**bad)


def test_a_runs_attention_put_together_from_its_steps_equals_running_the_whole_text():
    """Prompt block + each step's row + the last token's row = a probe of prompt and output."""
    from models.inspect.run_attention import run_attention

    tok = char_tokenizer()
    model = _model(tok)
    gen = models.generate(
        model, tok, "All: Speak", max_new_tokens=12, temperature=0.8, seed=3, attention=True
    )
    steps = list(gen)
    full = run_attention(steps)
    ids = list(gen.prompt.ids) + [s.token_id for s in steps]
    with torch.no_grad():
        reference = model(torch.tensor([ids]), output_attentions=True).attentions
    assert full.shape == (2, 4, len(ids), len(ids))
    np.testing.assert_allclose(full, torch.stack([a[0] for a in reference]).numpy(), atol=1e-5)


def test_a_stopped_or_sliding_run_does_not_pretend_to_hold_its_attention():
    from models.inspect.run_attention import run_attention

    tok = char_tokenizer()
    model = _model(tok)
    no_rows = list(models.generate(model, tok, "All: Speak", max_new_tokens=5, temperature=0))
    assert run_attention(no_rows) is None  # attention not asked for
    gen = models.generate(model, tok, "All: Speak", max_new_tokens=50, temperature=0, attention=True)
    first = [step for _, step in zip(range(4), gen, strict=False)]  # stopped after 4 steps
    assert run_attention(first) is None
    partial = run_attention(first, complete=False)  # what it holds: all but the newest token's row
    whole = run_attention(
        list(models.generate(model, tok, "All: Speak", max_new_tokens=50, temperature=0, attention=True))
    )
    T = partial.shape[-1]
    assert T == len(gen.prompt) + 3
    np.testing.assert_allclose(partial, whole[:, :, :T, :T], atol=1e-6)
    long = "All: Speak, speak. " * 3  # the context (64) fills and slides
    slid = list(models.generate(model, tok, long, max_new_tokens=40, temperature=0, attention=True))
    assert run_attention(slid) is None


def test_inference_mode_is_off_between_the_steps_of_a_paused_generation():
    """A worker serves probes, the lens and loads between two chunks of a generation: none of
    them may inherit the generation's inference mode (a model loaded then would hold inference
    tensors that training cannot use)."""
    from models.nn.seq2seq import Seq2Seq, Seq2SeqConfig

    gpt_tok = char_tokenizer()
    pairs = models.Tokenizer.train(["abcdefgh ijk"], "char", specials=("<pad>", "</s>"))
    seq2seq = Seq2SeqConfig(
        vocab_size=pairs.vocab_size, eos_token_id=1, d_model=16, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        max_position_embeddings=32,
    )  # fmt: skip
    for tok, model in ((gpt_tok, _model(gpt_tok)), (pairs, Seq2Seq(seq2seq).eval())):
        steps = iter(models.generate(model, tok, "abc", max_new_tokens=5, temperature=0))
        next(steps)
        assert not torch.is_inference_mode_enabled()
        made = torch.zeros(2, requires_grad=True) * 2  # what is served between two steps
        assert not made.is_inference() and made.requires_grad
        list(steps)  # the rest still runs in inference mode, to its end
        assert not torch.is_inference_mode_enabled()


def test_a_runs_attention_grown_row_by_row_equals_the_whole_run_put_together():
    """The streamed picture grows by rows (batches of any size, the buffer made at its final size
    or growing past it) and ends equal to `run_attention`; a stopped run's part equals the
    partial one; a run whose context slid stops growing."""
    from models.inspect.run_attention import GrowingAttention, run_attention

    tok = char_tokenizer()
    model = _model(tok)
    steps = list(
        models.generate(model, tok, "All: Speak", max_new_tokens=20, temperature=0.8, seed=3, attention=True)
    )
    for new_tokens, batch in ((20, 3), (0, 1), (5, 7)):  # exact room, none (it grows), too little
        grown = GrowingAttention(new_tokens)
        for start in range(0, len(steps), batch):
            assert grown.add(steps[start : start + batch])
            if start + batch < len(steps):
                partial = run_attention(steps[: start + batch], complete=False)
                np.testing.assert_array_equal(grown.matrix(), partial)
        assert grown.complete
        np.testing.assert_array_equal(grown.matrix(), run_attention(steps))
    long = "All: Speak, speak. " * 3  # the context (64) fills and slides
    slid = GrowingAttention(40)
    assert not slid.add(
        list(models.generate(model, tok, long, max_new_tokens=40, temperature=0, attention=True))
    )
    assert slid.matrix() is None


def test_a_grown_picture_stays_within_its_context_and_budget():
    """Max tokens may say 10,000: the buffer is made for the context at most, and a picture past
    its budget is not followed at all (the finished text is probed instead)."""
    from models.inspect.run_attention import GrowingAttention

    tok = char_tokenizer()
    model = _model(tok)
    steps = list(models.generate(model, tok, "All: Speak", max_new_tokens=8, temperature=0, attention=True))
    bounded = GrowingAttention(10_000, context=64)
    assert bounded.add(steps) and bounded.complete
    assert bounded.matrix().shape[-1] == len(steps[0].prompt_attention[0, 0]) + 8
    assert bounded.buffer.shape[-1] == bounded.matrix().shape[-1]  # the spare room let go once complete
    tiny_budget = GrowingAttention(8, context=64, budget=1024)
    assert not tiny_budget.add(steps) and tiny_budget.matrix() is None
