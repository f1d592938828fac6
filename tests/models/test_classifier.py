"""Our BERT classifier against `transformers`' BertForSequenceClassification, both ways; comparing models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers

import models
from models.nn.bert import Bert
from models.training.batches import pad_rows as pad
from models.training.objectives.labels import with_labels
from tests.models.helpers import tiny_bert_config, wordpiece_tokenizer

LABELS = ("bad", "good", "neutral")
TEXTS = ["First Citizen: speak.", "All: Speak, speak.", "You are all resolved rather to die than to famish?"]


def _batch(tok):
    rows = [tok.encode(t).ids.tolist() for t in TEXTS]
    return pad(rows, 0)


def test_our_classifier_folder_opens_in_transformers_with_same_logits(tmp_path):
    tok = wordpiece_tokenizer()
    torch.manual_seed(0)
    ours = Bert(tiny_bert_config(tok.vocab_size, labels=LABELS, has_mlm_head=False)).eval()
    torch.nn.init.normal_(ours.classifier.bias)  # nothing may hide behind zero-initialised biases
    torch.nn.init.normal_(ours.pooler.dense.bias)
    models.save(ours, tok, tmp_path)
    theirs = transformers.BertForSequenceClassification.from_pretrained(tmp_path, attn_implementation="eager")
    theirs.eval()
    assert theirs.config.id2label == dict(enumerate(LABELS))
    ids, mask = _batch(tok)
    with torch.no_grad():
        expected = theirs(input_ids=ids, attention_mask=mask).logits
        got = ours.classify(ids, mask).logits
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
    assert expected.abs().max() > 0.1  # a real signal, not zeros matching zeros


def test_transformers_classifier_folder_opens_here_with_same_logits(tmp_path):
    tok = wordpiece_tokenizer()
    cfg = transformers.BertConfig(
        vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=32, id2label={0: "no", 1: "yes"},
        label2id={"no": 0, "yes": 1},
    )  # fmt: skip
    torch.manual_seed(1)
    theirs = transformers.BertForSequenceClassification(cfg).eval()
    theirs.save_pretrained(tmp_path)
    tok.save(tmp_path)
    ours, _ = models.load(tmp_path)
    assert ours.config.labels == ("no", "yes") and ours.head is None
    ids, mask = _batch(tok)
    with torch.no_grad():
        expected = theirs(input_ids=ids, attention_mask=mask).logits
        got = ours.classify(ids, mask).logits
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)


def test_a_classifier_keeps_the_pretrained_encoder_and_drops_the_mlm_head():
    tok = wordpiece_tokenizer()
    torch.manual_seed(0)
    mlm = Bert(tiny_bert_config(tok.vocab_size)).eval()
    classifier = with_labels(mlm, ("a", "b")).eval()
    assert classifier.head is None and classifier.config.labels == ("a", "b")
    ids, mask = _batch(tok)
    with torch.no_grad():
        # the encoder's last hidden states are the MLM model's, bit for bit
        hidden = mlm(ids, mask, output_hidden_states=True).hidden_states[-1]
        torch.testing.assert_close(classifier(ids, mask).logits, hidden, atol=0, rtol=0)
    assert with_labels(classifier, ("a", "b")) is classifier


def test_a_gpt_cannot_become_a_classifier():
    from models.nn import GPTConfig
    from models.nn.gpt import GPT

    with pytest.raises(models.ModelError, match="needs a BERT"):
        with_labels(GPT(GPTConfig(vocab_size=50, n_positions=16, n_embd=16, n_layer=1, n_head=2)), ("a", "b"))


def test_comparing_a_model_with_itself_changes_nothing():
    tok = wordpiece_tokenizer()
    torch.manual_seed(0)
    bert = Bert(tiny_bert_config(tok.vocab_size)).eval()
    same = models.compare((bert, tok), (bert, tok), "First Citizen: speak, speak.")
    assert np.all(same.attention_change == 0) and np.all(same.head_change == 0)
    assert all(np.all(np.nan_to_num(v) == 0) for v in same.score_change.values())
    assert np.all(np.nan_to_num(same.prob_change) == 0)
    other = Bert(tiny_bert_config(tok.vocab_size)).eval()  # other random weights
    changed = models.compare((bert, tok), (other, tok), "First Citizen: speak, speak.")
    assert np.abs(changed.attention_change).max() > 1e-3 and changed.head_change.min() > 0
    # B's own probe: the comparison holds each model's attention, not one model's twice
    text = "First Citizen: speak, speak."
    np.testing.assert_allclose(changed.b.attentions, models.probe(other, tok, text).attentions)


def test_regression_and_multi_label_classifier_folders_are_refused(tmp_path):
    from models.hf.config import config_from_hf

    base = {"model_type": "bert", "architectures": ["BertForSequenceClassification"]}
    with pytest.raises(models.ModelError, match="regression"):
        config_from_hf(base | {"num_labels": 1, "id2label": {"0": "score"}})
    with pytest.raises(models.ModelError, match="multi_label_classification"):
        config_from_hf(base | {"problem_type": "multi_label_classification"})
    assert config_from_hf(base | {"id2label": {"0": "no", "1": "yes"}}).labels == ("no", "yes")
    assert config_from_hf({"model_type": "bert", "architectures": ["BertForMaskedLM"]}).labels == ()


def test_a_long_text_probed_on_a_bert_keeps_its_start_and_cls():
    tok = wordpiece_tokenizer()
    bert = Bert(tiny_bert_config(tok.vocab_size, max_position_embeddings=8)).eval()
    p = models.probe(bert, tok, "You are all resolved rather to die than to famish, speak, speak")
    assert len(p.tokens) == 8 and p.tokens.texts[0] == "[CLS]" and p.tokens.texts[-1] == "[SEP]"
    assert p.tokens.texts[1] == "you" and any("showing its first 8" in n for n in p.tokens.notes)


def test_comparing_models_of_different_shapes_is_refused():
    tok = wordpiece_tokenizer()
    a = Bert(tiny_bert_config(tok.vocab_size)).eval()
    b = Bert(tiny_bert_config(tok.vocab_size, num_hidden_layers=3)).eval()
    with pytest.raises(models.ModelError, match="different shapes"):
        models.compare((a, tok), (b, tok), "speak")


def test_a_gpt_comparison_puts_each_probability_over_the_token_it_is_for():
    from models.nn import GPTConfig
    from models.nn.gpt import GPT
    from tests.models.helpers import char_tokenizer

    tok = char_tokenizer()
    torch.manual_seed(0)
    a, b = (
        GPT(GPTConfig(vocab_size=tok.vocab_size, n_positions=32, n_embd=16, n_layer=1, n_head=2)).eval()
        for _ in "ab"
    )
    result = models.compare((a, tok), (b, tok), "First Citizen")
    before, after = result.token_probs
    assert np.isnan(before[0]) and np.isnan(result.prob_change[0])  # nothing predicts the first token
    np.testing.assert_allclose(before[1:], result.a.target_prob[:-1])  # token t's, from tokens before it
    np.testing.assert_allclose(result.prob_change[1:], after[1:] - before[1:])
