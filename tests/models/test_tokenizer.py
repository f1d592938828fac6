"""Tokenizers: train, save and load each kind; GPT-2 and BERT vocab files; display texts and offsets."""

import json

import pytest

import models
from models.text.tokenizer import Tokenizer
from tests.models.helpers import TEXT, bpe_tokenizer, char_tokenizer, wordpiece_tokenizer


@pytest.mark.parametrize("make", [char_tokenizer, bpe_tokenizer, wordpiece_tokenizer])
def test_round_trip_through_tokenizer_json(tmp_path, make):
    tok = make()
    tok.save(tmp_path)
    again = Tokenizer.load(tmp_path)
    text = "Speak, speak. You are all resolved"
    assert again.kind == tok.kind
    assert list(again.encode(text).ids) == list(tok.encode(text).ids)


def test_char_tokenizer_offsets_and_decode():
    tok = char_tokenizer()
    enc = tok.encode("All: Speak")
    assert enc.texts == tuple("All: Speak")
    assert enc.offsets.tolist() == [[i, i + 1] for i in range(10)]
    assert tok.decode(enc.ids) == "All: Speak"


def test_bpe_learns_merges_and_shows_input_text():
    tok = bpe_tokenizer()
    text = "First Citizen: hear me speak."
    enc = tok.encode(text)
    assert len(enc) < len(text)  # merges make multi-character tokens
    assert "".join(enc.texts) == text  # display texts are the input, not byte symbols like Ġ
    assert all(text[s:e] == t for t, (s, e) in zip(enc.texts, enc.offsets, strict=True))


def test_gpt2_vocab_json_and_merges_txt_load(tmp_path):
    tok = bpe_tokenizer()
    tok.hf.model.save(str(tmp_path))  # writes vocab.json and merges.txt, as GPT-2 ships them
    assert {p.name for p in tmp_path.iterdir()} == {"vocab.json", "merges.txt"}
    loaded = Tokenizer.load(tmp_path)
    assert list(loaded.encode(TEXT[:200]).ids) == list(tok.encode(TEXT[:200]).ids)


def test_bert_vocab_txt_loads_with_specials_and_lowercase(tmp_path):
    tok = wordpiece_tokenizer()
    vocab = sorted(tok.hf.get_vocab().items(), key=lambda kv: kv[1])
    (tmp_path / "vocab.txt").write_text("".join(t + "\n" for t, _ in vocab), encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    loaded = Tokenizer.load(tmp_path)
    enc = loaded.encode("SPEAK, [MASK] speak")
    assert enc.texts[0] == "[CLS]" and enc.texts[-1] == "[SEP]"
    assert "[MASK]" in enc.texts and "speak" in enc.texts
    assert list(enc.ids) == list(tok.encode("speak, [MASK] speak").ids)


def test_unknown_characters_get_a_note():
    enc = char_tokenizer().encode("Speak ☃ ✓")
    assert enc.texts[-1] == "✓"  # the view still shows what was typed
    assert len(enc.notes) == 1 and "☃" in enc.notes[0] and "✓" in enc.notes[0]


def test_missing_or_broken_tokenizer_is_a_clear_error(tmp_path):
    with pytest.raises(models.ModelError, match="no tokenizer found"):
        Tokenizer.load(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(models.ModelError, match="tokenizer files could not be read"):
        Tokenizer.load(tmp_path)
    with pytest.raises(models.ModelError, match="unknown tokenizer"):
        Tokenizer.train(["x"], "sentencepiece")
