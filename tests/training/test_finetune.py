"""Fine-tuning: labelled data and its bad input, the classifier's run and resume, text fine-tunes of
GPT and decoder models, freezing early blocks, and the `playground finetune` command."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

import models
from models.nn.bert import Bert
from models.nn.gpt import GPT
from models.text.labelled import Labelled, columns, labelled_task, make_labelled, read_labelled
from models.training.finetune import finetune_config, finetuner
from models.training.trainer import Trainer
from tests.models.helpers import TEXT, tiny_bert_config, wordpiece_tokenizer

WORDS = {"speak": "loud", "famish": "hungry"}  # a word in the text decides its label


def _examples(n: int = 120, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    filler = "you are all resolved rather to die than proceed any further hear me".split()
    rows = []
    for _ in range(n):
        word = rng.choice(list(WORDS))
        words = rng.sample(filler, 6)
        words.insert(rng.randrange(7), word)
        rows.append((" ".join(words), WORDS[word]))
    return rows


def _csv(path: Path, rows, header=("text", "label"), sep=",") -> Path:
    lines = [sep.join(header)] + [sep.join(f'"{c}"' if sep == "," else c for c in r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def bert_pair():
    tok = wordpiece_tokenizer()
    torch.manual_seed(0)
    return Bert(tiny_bert_config(tok.vocab_size)), tok


def _config(model, **changes):
    base = dict(steps=60, lr=3e-3, min_lr=3e-4, warmup_steps=5, batch_size=16, context=32, eval_every=20,
                sample_every=0, probe_every=0, checkpoint_every=0, val_fraction=0.25)  # fmt: skip
    return finetune_config(model, "classify", base_model="test", **(base | changes))


# ---- labelled files ------------------------------------------------------------------------------
def test_csv_tsv_and_json_lines_read_the_same(tmp_path):
    rows = _examples(10)
    a = read_labelled(_csv(tmp_path / "d.csv", rows))
    b = read_labelled(_csv(tmp_path / "d.tsv", rows, sep="\t"))
    jl = tmp_path / "d.jsonl"
    jl.write_text("".join(json.dumps({"sentence": t, "class": y}) + "\n" for t, y in rows), encoding="utf-8")
    c = read_labelled(jl)  # columns guessed: "sentence" and "class"
    assert a.texts == b.texts == c.texts == tuple(t for t, _ in rows)
    assert a.ids == b.ids == c.ids and a.labels == ("hungry", "loud")
    assert columns(tmp_path / "d.tsv") == ["text", "label"] and columns(jl) == ["sentence", "class"]


def test_numeric_labels_are_numbered_in_numeric_order(tmp_path):
    rows = [("a b", "10"), ("c d", "2"), ("e f", "10"), ("g h", "2"), ("i j", "1"), ("k l", "1")]
    data = read_labelled(_csv(tmp_path / "n.csv", rows))
    assert data.labels == ("1", "2", "10") and data.ids == (2, 1, 2, 1, 0, 0)


@pytest.mark.parametrize(
    "write, message",
    [
        (lambda p: _csv(p, _examples(6), header=("text", "lbl")), "no label column 'label' .*text, lbl"),
        (lambda p: _csv(p, [("a", "x"), ("b", "")] * 3), "row 3 has an empty 'label'"),
        (lambda p: _csv(p, [("a", "x"), ("b", "x")]), "every example has the label 'x'"),
        (
            lambda p: _csv(p, [("a", "x"), ("b", "y"), ("c", "z"), ("d", "x")]),
            "each class needs at least two",
        ),
        (lambda p: p.write_bytes(b"text,label\nna\xefve,x\n"), "is not UTF-8"),
        (lambda p: p.write_text("", encoding="utf-8"), "is empty"),
    ],
    ids=[
        "misnamed column",
        "empty label",
        "single class",
        "more classes than examples",
        "not utf-8",
        "empty",
    ],
)
def test_bad_labelled_files_are_refused_with_the_reason(tmp_path, write, message):
    path = tmp_path / "bad.csv"
    write(path)
    with pytest.raises(models.ModelError, match=message):
        read_labelled(path, "text", "label")


def test_a_missing_named_column_is_refused(tmp_path):
    path = _csv(tmp_path / "d.csv", _examples(6))
    with pytest.raises(models.ModelError, match="no text column 'body'"):
        read_labelled(path, "body", "label")


def test_a_row_with_more_fields_than_the_header_is_named(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\nhello there,x\nhello, there,y\n", encoding="utf-8")
    with pytest.raises(models.ModelError, match="row 3 has more fields than the header"):
        read_labelled(path)  # the columns guessed, as the command line does


def test_json_labels_one_spelling_per_class_and_lists_refused(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [{"text": "a b", "label": 1}, {"text": "c d", "label": 1.0}, {"text": "e f", "label": 2},
            {"text": "g h\u2028i", "label": 2}]  # fmt: skip
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    data = read_labelled(path)
    assert data.labels == ("1", "2") and data.ids == (0, 0, 1, 1)
    again = tmp_path / "again.jsonl"  # how a run keeps its examples: read back whole
    again.write_text(data.text, encoding="utf-8")
    assert read_labelled(again, "text", "label") == Labelled(str(again), data.texts, data.ids, data.labels)
    path.write_text(json.dumps({"text": "a", "label": [1, 2]}) + "\n", encoding="utf-8")
    with pytest.raises(models.ModelError, match="a list or an object"):
        read_labelled(path)


def test_copies_of_a_text_stay_on_one_side_of_the_split():
    texts = [f"text {i % 10}" for i in range(60)]
    data = make_labelled("d", texts, ["a" if i % 10 < 5 else "b" for i in range(60)])
    train, val = data.split(0.3, seed=0)
    assert not set(train.texts) & set(val.texts) and len(train) + len(val) == 60


def test_builtin_labelled_tasks_are_reproducible_and_balanced():
    a, b = labelled_task("word-order", 200, seed=3), labelled_task("task:word-order", 200, seed=3)
    assert a == b and 70 < sum(a.ids) < 130
    shuffled = [t for t, y in zip(a.texts, a.ids, strict=True) if a.labels[y] == "shuffled"]
    assert all(t == t.lower() and "," not in t for t in shuffled)  # no punctuation gives it away
    big = labelled_task("question", 5000)  # more than there are questions: fewer examples, no repeats
    assert len(set(big.texts)) == len(big) < 5000 and sum(big.ids) == len(big) // 2
    q = labelled_task("question", 100)
    assert not any(t.endswith(("?", ".", "!")) for t in q.texts) and set(q.labels) == {
        "question",
        "statement",
    }


# ---- the classifier's run --------------------------------------------------------------------------
def test_classifier_fine_tune_learns_and_reports_scores(tmp_path, bert_pair):
    model, tok = bert_pair
    data = read_labelled(_csv(tmp_path / "d.csv", _examples(160)))
    trainer = finetuner(model, tok, data, _config(model, steps=80), tmp_path / "out")
    reports = list(trainer)
    before = reports[0].before
    assert before is not None and before.classes is not None
    last = [r for r in reports if r.classes is not None][-1]
    assert last.classes.accuracy >= 0.9 > before.classes.accuracy
    assert last.classes.confusion.sum() == len(trainer.objective.val_rows) == 40
    assert np.trace(last.classes.confusion) == round(last.classes.accuracy * 40)
    assert last.val_loss < before.val_loss
    saved, _ = models.load(tmp_path / "out")  # a classifier folder that reopens
    assert saved.config.labels == ("hungry", "loud")


def test_classifier_resume_continues_the_same_curve(tmp_path, bert_pair):
    model, tok = bert_pair
    data = read_labelled(_csv(tmp_path / "d.csv", _examples(100)))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = _config(model, steps=16, eval_every=4)
    whole = [r.loss for r in finetuner(model, tok, data, cfg)]
    model.load_state_dict(state)
    first = finetuner(model, tok, data, cfg, tmp_path / "run")
    losses = []
    for r in first:
        losses.append(r.loss)
        if r.step == 6:
            first.stop()
    (tmp_path / "d.csv").unlink()  # the run keeps its own copy of the examples
    second = Trainer.from_checkpoint(tmp_path / "run")
    # the base model's scores stay those measured before step 1, not the half-trained model's
    assert second.before.classes.accuracy == first.before.classes.accuracy
    np.testing.assert_array_equal(second.before.classes.confusion, first.before.classes.confusion)
    rest = list(second)
    assert all(r.before is None for r in rest)
    np.testing.assert_allclose(losses[:6] + [r.loss for r in rest], whole, rtol=1e-5)


def test_over_long_texts_are_truncated_with_a_note(tmp_path, bert_pair):
    model, tok = bert_pair
    rows = _examples(20)
    rows[0] = (" ".join(["speak"] * 80), "loud")
    data = read_labelled(_csv(tmp_path / "d.csv", rows))
    trainer = finetuner(model, tok, data, _config(model, steps=2, warmup_steps=0), None)
    notes = [e for r in trainer for e in r.events]
    assert any(
        "1 of 20 examples are longer than the context (32 tokens) and were truncated" in n for n in notes
    )


def test_masked_lm_fine_tune_of_an_encoder_only_bert_is_refused(tmp_path, bert_pair):
    _, tok = bert_pair
    encoder = Bert(tiny_bert_config(tok.vocab_size, has_mlm_head=False))
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT * 5, encoding="utf-8")
    with pytest.raises(models.ModelError, match="no masked-LM head"):
        finetuner(encoder, tok, str(corpus), finetune_config(encoder, "lm"))


# ---- fine-tuning on text -------------------------------------------------------------------------
def _small_gpt(tmp_path: Path, shakespeare: str):
    from models.training.settings import TrainConfig

    corpus = tmp_path / "first.txt"
    corpus.write_text(shakespeare[:20_000], encoding="utf-8")
    cfg = TrainConfig(n_layer=2, n_head=2, n_embd=32, context=32, batch_size=8, steps=60, lr=3e-3,
                      warmup_steps=5, eval_every=0, sample_every=0, probe_every=0, checkpoint_every=0,
                      keep_training_state=False)  # fmt: skip
    trainer = Trainer(cfg, corpus, tmp_path / "base")
    list(trainer)
    return tmp_path / "base"


def test_gpt_fine_tune_lowers_the_new_texts_loss_and_reopens(tmp_path, shakespeare):
    base = _small_gpt(tmp_path, shakespeare)
    second = tmp_path / "second.txt"
    second.write_text(("To be, or not to be, that is the question.\n" * 200), encoding="utf-8")
    model, tok = models.load(base)
    cfg = finetune_config(model, "lm", base_model=str(base), steps=40, lr=3e-3, context=32, eval_every=20,
                          sample_every=40, sample_tokens=20, checkpoint_every=0)  # fmt: skip
    trainer = finetuner(model, tok, str(second), cfg, tmp_path / "tuned")
    reports = list(trainer)
    before = reports[0].before
    assert before is not None and before.sample and reports[-1].sample
    assert reports[-1].val_loss < before.val_loss * 0.7
    tuned, _ = models.load(tmp_path / "tuned")
    assert isinstance(tuned, GPT)


def test_only_the_last_blocks_train(tmp_path, shakespeare):
    base = _small_gpt(tmp_path, shakespeare)
    model, tok = models.load(base)
    frozen = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = finetune_config(model, "lm", steps=5, lr=1e-2, context=32, trainable_blocks=1, eval_every=0,
                          sample_every=0, probe_every=0, checkpoint_every=0)  # fmt: skip
    trainer = finetuner(model, tok, "shakespeare", cfg)
    notes = [e for r in trainer for e in r.events]
    assert any("training the last 1 of 2 blocks" in n for n in notes)
    after = model.state_dict()
    for name in ("transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.attn.c_attn.weight"):
        assert torch.equal(after[name], frozen[name]), name
    assert not torch.equal(
        after["transformer.h.1.attn.c_attn.weight"], frozen["transformer.h.1.attn.c_attn.weight"]
    )


def test_a_llama_family_decoder_fine_tunes_on_text(tmp_path):
    from models.nn import Decoder, DecoderConfig
    from tests.models.helpers import bpe_tokenizer

    tok = bpe_tokenizer()
    torch.manual_seed(0)
    shape = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, max_position_embeddings=64)
    config = DecoderConfig(
        family="llama", vocab_size=tok.vocab_size, num_attention_heads=4, num_key_value_heads=2, **shape
    )
    llama = Decoder(config)
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT * 10, encoding="utf-8")
    cfg = finetune_config(llama, "lm", steps=30, lr=3e-3, context=32, eval_every=30, sample_every=0,
                          checkpoint_every=0)  # fmt: skip
    reports = list(finetuner(llama, tok, str(corpus), cfg, tmp_path / "out"))
    assert reports[-1].val_loss < reports[0].before.val_loss
    again, _ = models.load(tmp_path / "out")
    assert isinstance(again, Decoder)


# ---- the command ---------------------------------------------------------------------------------
def test_cli_fine_tunes_a_classifier_and_resumes_it(tmp_path, bert_pair, capsys):
    from playground.cli.finetune import main

    model, tok = bert_pair
    models.save(model, tok, tmp_path / "bert")
    data = _csv(tmp_path / "d.csv", _examples(60))
    args = ["--model", str(tmp_path / "bert"), "--data", str(data), "--steps", "6", "--eval-every", "3",
            "--context", "32", "--out", str(tmp_path / "out"), "--quiet"]  # fmt: skip
    assert main(args) == 0
    again, _ = models.load(tmp_path / "out")
    assert again.config.labels == ("hungry", "loud")
    assert main(["--resume", str(tmp_path / "out"), "--steps", "9", "--quiet"]) == 0
    from models.training.run_state import load_state

    assert load_state(tmp_path / "out")["step"] == 9
    assert main(["--model", str(tmp_path / "bert"), "--data", str(data), "--text-column", "body",
                 "--out", str(tmp_path / "x"), "--quiet"]) == 2  # fmt: skip
    assert "no text column 'body'" in capsys.readouterr().err


def test_an_encoder_only_bert_fine_tunes_as_a_classifier(tmp_path, bert_pair):
    _, tok = bert_pair
    encoder = Bert(tiny_bert_config(tok.vocab_size, has_mlm_head=False))
    data = read_labelled(_csv(tmp_path / "d.csv", _examples(40)))
    reports = list(finetuner(encoder, tok, data, _config(encoder, steps=4, warmup_steps=0), tmp_path / "out"))
    assert reports[-1].status == "finished" and reports[-1].classes is not None
    again, _ = models.load(tmp_path / "out")
    assert again.config.labels == ("hungry", "loud") and again.head is None
