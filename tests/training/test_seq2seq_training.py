"""Training the encoder–decoder: pairs and their bad input, the built-in tasks learned (the reverse
task's anti-diagonal cross-attention, held-out numbers translated exactly), resume, and the CLI."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

import models
from models.text.pairs import chinese, english, pair_task, read_pairs
from models.training.settings import preset
from models.training.trainer import Trainer

TINY = dict(n_layer=1, n_head=2, n_embd=32, context=24, batch_size=16, warmup_steps=2, eval_every=5,
            sample_every=0, checkpoint_every=0, dropout=0.0)  # fmt: skip


def test_number_words_and_chinese_numerals():
    assert english(312) == "three hundred and twelve" and english(14) == "fourteen" and english(0) == "zero"
    assert english(700) == "seven hundred" and english(45) == "forty five"
    assert chinese(312) == "三百一十二" and chinese(205) == "二百零五" and chinese(15) == "十五"
    assert chinese(110) == "一百一十" and chinese(0) == "零"
    numbers = pair_task("numbers", 5000)
    assert len(numbers) == 1000 and len(set(numbers.sources)) == 1000  # each number once
    train, val = numbers.split(0.1, seed=0)
    assert not set(train.sources) & set(val.sources) and len(val) == 100


@pytest.mark.parametrize(
    "text, message",
    [
        ("src\ttgt\na\tb\n", "no source column 'source'"),
        ("source\ttarget\na\t\nb\tc\n", "row 2 has an empty 'target'"),
        ("source\ttarget\n\tb\nc\td\n", "row 2 has an empty 'source'"),
        ("source\ttarget\na\tb\n", "fewer than two different sources"),
    ],
    ids=["missing column", "empty target", "empty source", "one source"],
)
def test_bad_pair_files_are_refused_with_the_reason(tmp_path, text, message):
    path = tmp_path / "pairs.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(models.ModelError, match=message):
        read_pairs(path)


def test_a_source_longer_than_the_context_is_cut_with_a_note(tmp_path):
    path = tmp_path / "pairs.tsv"
    rows = [f"{'abc' * 3}{i}\t{i}" for i in range(10)] + ["x" * 60 + "\ty"]
    path.write_text("source\ttarget\n" + "\n".join(rows) + "\n", encoding="utf-8")
    trainer = Trainer(preset("seq2seq", steps=2, **TINY), path)
    notes = [e for r in trainer for e in r.events]
    assert any("1 of 11 pairs are longer than the context (24 tokens) and were truncated" in n for n in notes)


def test_resume_continues_the_same_curve(tmp_path):
    cfg = preset("seq2seq", steps=10, **TINY)
    whole = [r.loss for r in Trainer(cfg, "task:copy")]
    first = Trainer(cfg, "task:copy", tmp_path / "run")
    losses = []
    for r in first:
        losses.append(r.loss)
        if r.step == 4:
            first.stop()

    rest = [r.loss for r in Trainer.from_checkpoint(tmp_path / "run")]
    np.testing.assert_allclose(losses[:4] + rest, whole, rtol=1e-5)
    # the app shows a folder it opens with a held-out source of the run's own data
    from models.training.objectives.pairs import held_out_source

    assert held_out_source(tmp_path / "run") == first.objective.val_pairs.sources[0] != ""
    assert held_out_source(tmp_path) == ""  # no training state: nothing known


def test_the_cli_trains_an_encoder_decoder_that_transformers_opens(tmp_path):
    import transformers

    from playground.cli.train import main

    out = tmp_path / "s2s"
    args = ["--arch", "seq2seq", "--corpus", "task:reverse", "--steps", "3", "--layers", "1", "--width", "32",
            "--heads", "2", "--context", "16", "--eval-every", "3", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    ours, tok = models.load(out)
    theirs = transformers.MarianMTModel.from_pretrained(out, attn_implementation="eager").eval()
    src = torch.tensor([tok.encode("abcd", special_tokens=False).ids.tolist() + [tok.token_id("</s>")]])
    dec = torch.zeros(1, 3, dtype=torch.long)
    with torch.no_grad():
        torch.testing.assert_close(ours(src, dec).logits, theirs(input_ids=src, decoder_input_ids=dec).logits,
                                   atol=1e-4, rtol=0)  # fmt: skip


@pytest.mark.slow
def test_a_short_run_on_reverse_forms_an_anti_diagonal_cross_attention_head():
    """The seq2seq preset at batch 32, 300 steps (about 20 s on the 2-core CPU): the anti-diagonal
    forms before the translations are all exact (48% here; 100% at batch 64, 32 s)."""
    cfg = preset("seq2seq", steps=300, batch_size=32, eval_every=300, sample_every=0, checkpoint_every=0)
    trainer = Trainer(cfg, "task:reverse")
    list(trainer)
    model = trainer.model.eval()
    (src, mask, dec), _ = trainer.objective.tensors(trainer.objective.val_rows[:64], 0, trainer.device)
    with torch.no_grad():
        cross = model(src, dec, attention_mask=mask, output_attentions=True).cross_attentions
    letters = (mask.sum(1) - 1).tolist()  # each source's letters, before its </s>
    best = 0.0
    for att in cross:  # [B, heads, target, source]
        for head in range(att.shape[1]):  # mass on the anti-diagonal: output t reads source letter n-1-t
            mass = [float(att[b, head, t, n - 1 - t]) for b, n in enumerate(letters) for t in range(n)]
            best = max(best, sum(mass) / len(mass))
    assert best > 0.5


@pytest.mark.slow
def test_held_out_numbers_are_translated_exactly():
    """English number words to digits, 100 numbers never seen in training: the seq2seq preset at
    batch 32, 400 steps, about 33 s on the 2-core CPU (99% exact; at batch 64, 300 steps: 97%, 48 s)."""
    t0 = time.perf_counter()
    cfg = preset("seq2seq", steps=400, batch_size=32, eval_every=400, sample_every=0, checkpoint_every=0)
    trainer = Trainer(cfg, "task:numbers")
    last = list(trainer)[-1].translations
    assert last.exact >= 0.9, (last.exact, last.examples)
    assert time.perf_counter() - t0 < 600


def test_the_probe_of_an_encoder_decoder_run_is_a_pair(tmp_path):
    """Its snapshots line up only if every step reads the same target: a source alone is refused."""
    from models.text.pairs import ARROW

    with pytest.raises(models.ModelError, match="probe text of an encoder–decoder is a pair"):
        Trainer(preset("seq2seq", probe_text="abc", **TINY), "task:copy")
    with pytest.raises(models.ModelError, match="needs a source and a target"):
        Trainer(preset("seq2seq", probe_text="-> abc", **TINY), "task:copy")
    trainer = Trainer(preset("seq2seq", probe_text="abc -> abc", **TINY), "task:copy")
    probe = trainer.probe()
    assert probe.source.texts == ("a", "b", "c", "</s>") and probe.outputs == ("a", "b", "c", "</s>")
    default = Trainer(preset("seq2seq", **TINY), "task:copy").probe_text
    assert ARROW in default
