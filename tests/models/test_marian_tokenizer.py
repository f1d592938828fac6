"""A Marian (opus-mt) folder's SentencePiece tokenizer reads as `transformers`' MarianTokenizer does:
the same ids for the same text, the same text back; its model opens with it and translates."""

from __future__ import annotations

import json
import shutil

import pytest
import sentencepiece as spm
import torch
import transformers

import models
from models.inspect.translate import source_tokens, translate
from models.nn.seq2seq import Seq2Seq, Seq2SeqConfig

TEXT = [
    "the cat sat on the mat.", "a dog ran in the park!", "hello world, how are you?",
    "Où est la gare ? Ｆｕｌｌ width digits １２３.", "she sells sea shells by the sea shore",
]  # fmt: skip
SHAPE = dict(
    d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
    encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64,
)  # fmt: skip


@pytest.fixture(scope="module")
def marian_folder(tmp_path_factory):
    """A folder laid out as Helsinki-NLP's: source.spm, target.spm, vocab.json (</s> 0, <unk> 1,
    the pieces of both models, <pad> last), config.json and weights; no tokenizer.json."""
    root = tmp_path_factory.mktemp("opus")
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(TEXT * 40), encoding="utf-8")
    for side, size in (("source", 48), ("target", 40)):
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(root / side), vocab_size=size, model_type="unigram",
            character_coverage=1.0, hard_vocab_limit=False, minloglevel=2,
        )  # fmt: skip
    pieces = []
    for side in ("source", "target"):
        sp = spm.SentencePieceProcessor(model_file=str(root / f"{side}.model"))
        pieces += [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if not sp.is_control(i)]
    vocab = ["</s>", "<unk>", *dict.fromkeys(p for p in pieces if p != "<unk>"), "<pad>"]
    folder = root / "opus-mt-tiny"
    torch.manual_seed(0)
    config = Seq2SeqConfig(
        vocab_size=len(vocab), eos_token_id=0, pad_token_id=len(vocab) - 1,
        decoder_start_token_id=len(vocab) - 1, **SHAPE,
    )  # fmt: skip
    models.save(Seq2Seq(config).eval(), models.Tokenizer.train(["x"], "char"), folder)
    (folder / "tokenizer.json").unlink()
    for side in ("source", "target"):
        shutil.copy(root / f"{side}.model", folder / f"{side}.spm")
    (folder / "vocab.json").write_text(json.dumps({p: i for i, p in enumerate(vocab)}), encoding="utf-8")
    return folder


def test_the_same_ids_as_marian_tokenizer_and_the_same_text_back(marian_folder):
    """(As MarianTokenizer reads without sacremoses: with it, Moses first normalises punctuation.)"""
    f = marian_folder
    theirs = transformers.MarianTokenizer(str(f / "source.spm"), str(f / "target.spm"), str(f / "vocab.json"))
    ours = models.Tokenizer.load(f)
    texts = [*TEXT, "  extra   spaces  ", "unseen: zebra xylophone 42", "émigré"]
    for text in texts:
        expected = theirs(text).input_ids  # pieces, then </s>
        got, _ = source_tokens(ours, text, 64)
        assert got.ids.tolist() == expected, text
        back = theirs.decode(expected, skip_special_tokens=True)
        assert ours.decode(got.ids.tolist(), skip_special=True) == back, text
    assert any(theirs(t).input_ids.count(1) for t in texts)  # unknown pieces were met (and agree)


def test_the_folder_opens_and_translates(marian_folder):
    model, tok = models.load(marian_folder)
    assert model.capabilities.encoder_decoder and tok.token_id("</s>") == 0 and tok.kind == "unigram"
    out = translate(model, tok, ["the cat sat"], max_new_tokens=8)
    assert isinstance(out[0], str)
    probe = models.probe(model, tok, "the cat -> a dog")
    assert probe.source.texts[-1] == "</s>" and probe.cross_attentions.shape[-1] == len(probe.source)


def test_a_folder_with_two_vocabularies_or_a_broken_model_is_refused(marian_folder, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(marian_folder, broken)
    (broken / "source.spm").write_bytes(b"not a model")
    with pytest.raises(models.ModelError, match="not a SentencePiece model"):
        models.Tokenizer.load(broken)
    two = tmp_path / "two"
    shutil.copytree(marian_folder, two)
    (two / "target_vocab.json").write_text("{}", encoding="utf-8")
    with pytest.raises(models.ModelError, match="separate source and target vocabularies"):
        models.Tokenizer.load(two)
