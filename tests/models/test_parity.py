"""Parity with `transformers` on tiny random GPT-2 and BERT configs, both ways through saved folders."""

import pytest
import torch
import transformers

import models
from models.nn import GPTConfig
from models.nn.bert import Bert
from models.nn.gpt import GPT
from tests.models.helpers import bpe_tokenizer, tiny_bert_config, wordpiece_tokenizer

TOL = 1e-4


def _hf_gpt2(vocab: int) -> transformers.GPT2LMHeadModel:
    cfg = transformers.GPT2Config(
        vocab_size=vocab,
        n_positions=64,
        n_embd=48,
        n_layer=3,
        n_head=4,
        bos_token_id=None,
        eos_token_id=None,
        attn_implementation="eager",
    )
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    return _perturbed(model)


def _hf_bert(vocab: int, cls=transformers.BertForMaskedLM):
    cfg = transformers.BertConfig(
        vocab_size=vocab,
        max_position_embeddings=64,
        hidden_size=48,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=96,
        attn_implementation="eager",
    )
    torch.manual_seed(0)
    model = cls(cfg).eval()
    return _perturbed(model)


def _perturbed(model):
    """Random biases and norms too, so a mix-up of any two tensors shows in the outputs."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def _ids(vocab: int, T: int = 20) -> torch.Tensor:
    return torch.randint(0, vocab, (2, T), generator=torch.Generator().manual_seed(1))


def _assert_close(ours, theirs, hidden=True):
    torch.testing.assert_close(ours.logits, theirs.logits, atol=TOL, rtol=0)
    assert len(ours.attentions) == len(theirs.attentions) > 0
    for a, b in zip(ours.attentions, theirs.attentions, strict=True):
        torch.testing.assert_close(a, b, atol=TOL, rtol=0)
    if hidden:
        for a, b in zip(ours.hidden_states, theirs.hidden_states, strict=True):
            torch.testing.assert_close(a, b, atol=TOL, rtol=0)


def test_gpt2_folder_from_transformers_opens_with_same_outputs(tmp_path):
    tok = bpe_tokenizer()
    hf = _hf_gpt2(tok.vocab_size)
    hf.save_pretrained(tmp_path)
    tok.save(tmp_path)
    ours, _ = models.load(tmp_path)
    ids = _ids(tok.vocab_size)
    with torch.no_grad():
        _assert_close(
            ours(ids, output_attentions=True, output_hidden_states=True),
            hf(ids, output_attentions=True, output_hidden_states=True),
        )


def test_our_gpt_folder_opens_in_transformers_with_same_outputs(tmp_path):
    tok = bpe_tokenizer()
    torch.manual_seed(0)
    ours = GPT(GPTConfig(vocab_size=tok.vocab_size, n_positions=64, n_embd=48, n_layer=3, n_head=4))
    ours.eval()
    models.save(ours, tok, tmp_path)
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path, attn_implementation="eager").eval()
    ids = _ids(tok.vocab_size)
    with torch.no_grad():
        _assert_close(
            ours(ids, output_attentions=True, output_hidden_states=True),
            hf(ids, output_attentions=True, output_hidden_states=True),
        )


def test_bert_folder_from_transformers_opens_with_same_outputs(tmp_path):
    tok = wordpiece_tokenizer()
    hf = _hf_bert(tok.vocab_size)
    hf.save_pretrained(tmp_path)
    tok.save(tmp_path)
    ours, _ = models.load(tmp_path)
    ids = _ids(tok.vocab_size)
    mask = torch.ones_like(ids)
    mask[1, -5:] = 0  # padding on the second row
    with torch.no_grad():
        _assert_close(
            ours(ids, attention_mask=mask, output_attentions=True, output_hidden_states=True),
            hf(ids, attention_mask=mask, output_attentions=True, output_hidden_states=True),
        )


def test_our_bert_folder_opens_in_transformers_with_same_outputs(tmp_path):
    tok = wordpiece_tokenizer()
    torch.manual_seed(0)
    ours = Bert(
        tiny_bert_config(
            tok.vocab_size,
            max_position_embeddings=64,
            hidden_size=48,
            num_hidden_layers=3,
            intermediate_size=96,
        )
    )
    _perturbed(ours)
    ours.eval()
    models.save(ours, tok, tmp_path)
    hf = transformers.BertForMaskedLM.from_pretrained(tmp_path, attn_implementation="eager").eval()
    ids = _ids(tok.vocab_size)
    with torch.no_grad():
        _assert_close(
            ours(ids, output_attentions=True, output_hidden_states=True),
            hf(ids, output_attentions=True, output_hidden_states=True),
        )


def test_encoder_only_bert_opens_for_inspection_without_fill_mask(tmp_path):
    tok = wordpiece_tokenizer()
    hf = _hf_bert(tok.vocab_size, cls=transformers.BertModel)
    hf.save_pretrained(tmp_path)
    tok.save(tmp_path)
    ours, _ = models.load(tmp_path)
    assert ours.config.has_mlm_head is False
    ids = _ids(tok.vocab_size)
    with torch.no_grad():
        out, ref = ours(ids, output_attentions=True), hf(ids, output_attentions=True)
    torch.testing.assert_close(out.logits, ref.last_hidden_state, atol=TOL, rtol=0)
    for a, b in zip(out.attentions, ref.attentions, strict=True):
        torch.testing.assert_close(a, b, atol=TOL, rtol=0)
    probe = models.probe(ours, tok, "You are all resolved")
    assert probe.attentions.shape[:2] == (3, 4)
    with pytest.raises(models.ModelError, match="no masked-LM head"):
        models.fill_mask(ours, tok, "You are [MASK] resolved")


def test_pytorch_bin_weights_load_like_safetensors(tmp_path):
    tok = bpe_tokenizer()
    hf = _hf_gpt2(tok.vocab_size)
    hf.config.save_pretrained(tmp_path)  # transformers 5 only writes safetensors: pickle by hand
    torch.save(hf.state_dict(), tmp_path / "pytorch_model.bin")
    tok.save(tmp_path)
    ours, _ = models.load(tmp_path)
    ids = _ids(tok.vocab_size)
    with torch.no_grad():
        torch.testing.assert_close(ours(ids).logits, hf(ids).logits, atol=TOL, rtol=0)


def test_fill_mask_matches_transformers_probabilities(tmp_path):
    tok = wordpiece_tokenizer()
    hf = _hf_bert(tok.vocab_size)
    hf.save_pretrained(tmp_path)
    tok.save(tmp_path)
    ours, _ = models.load(tmp_path)
    result = models.fill_mask(ours, tok, "you are all [MASK] rather to die", k=5)
    ids = torch.tensor(result.tokens.ids[None])
    with torch.no_grad():
        probs = torch.softmax(hf(ids).logits[0], -1)
    (fill,) = result.fills
    assert result.tokens.texts[fill.position] == "[MASK]"
    ref_p, ref_i = torch.topk(probs[fill.position], 5)
    assert fill.top_ids.tolist() == ref_i.tolist()
    torch.testing.assert_close(torch.from_numpy(fill.top_probs), ref_p, atol=TOL, rtol=0)
