"""Tokenizers as decoders' folders have them: the start token tokenizer_config asks for, and the chat
template, rendered as `transformers` renders it."""

from __future__ import annotations

import json

import pytest
import torch
import transformers

import models
from tests.models.helpers import char_tokenizer

TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def _folder(tmp_path, **config):
    torch.manual_seed(0)
    tok = char_tokenizer()
    tok.hf.add_special_tokens(["<s>", "<|user|>", "<|assistant|>", "<|end|>"])
    cfg = transformers.LlamaConfig(
        vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, bos_token_id=None,
        eos_token_id=None,
    )  # fmt: skip
    transformers.LlamaForCausalLM(cfg).save_pretrained(tmp_path)
    tok.save(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"bos_token": "<s>", **config}))
    return tmp_path


def test_the_start_token_is_added_once_where_the_config_asks(tmp_path):
    model, tok = models.load(_folder(tmp_path, add_bos_token=True))
    bos = tok.token_id("<s>")
    probe = models.probe(model, tok, "First")
    assert probe.tokens.ids[0] == bos and probe.tokens.texts[0] == "<s>" and len(probe.tokens) == 6
    gen = models.generate(model, tok, "<s>First", max_new_tokens=2, temperature=0)
    assert list(gen.prompt.ids).count(bos) == 1  # already there: not added again
    plain, plain_tok = models.load(_folder(tmp_path / "plain"))
    assert models.probe(plain, plain_tok, "First").tokens.ids[0] != bos


def test_the_chat_template_renders_as_transformers_renders_it(tmp_path):
    folder = _folder(tmp_path, add_bos_token=True, chat_template=TEMPLATE)
    model, tok = models.load(folder)
    theirs = transformers.PreTrainedTokenizerFast(
        tokenizer_file=str(folder / "tokenizer.json"), bos_token="<s>", chat_template=TEMPLATE
    )
    expected = theirs.apply_chat_template(
        [{"role": "user", "content": "Speak"}], tokenize=False, add_generation_prompt=True
    )
    assert tok.apply_chat("Speak") == expected == "<s><|user|>Speak<|end|><|assistant|>"
    gen = models.generate(model, tok, "Speak", max_new_tokens=3, temperature=0, chat=True)
    assert gen.prompt.texts[:2] == ("<s>", "<|user|>") and gen.prompt.texts[-1] == "<|assistant|>"
    assert len(list(gen)) == 3


def test_a_missing_or_failing_template_is_a_clear_error(tmp_path):
    model, tok = models.load(_folder(tmp_path / "none"))
    with pytest.raises(models.ModelError, match="no chat template"):
        models.generate(model, tok, "Speak", chat=True)
    bad = "{{ raise_exception('only system and user turns') }}"
    model, tok = models.load(_folder(tmp_path / "bad", chat_template=bad))
    with pytest.raises(models.ModelError, match="chat template failed: only system and user turns"):
        models.generate(model, tok, "Speak", chat=True)


def test_a_saved_decoder_keeps_its_start_token_and_chat_template(tmp_path):
    model, tok = models.load(_folder(tmp_path / "in", add_bos_token=True, chat_template=TEMPLATE))
    models.save(model, tok, tmp_path / "out")
    again_model, again = models.load(tmp_path / "out")
    assert again.bos_prefix == tok.bos_prefix is not None and again.chat_template == TEMPLATE
    assert again.apply_chat("Speak") == tok.apply_chat("Speak")
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path / "out")
    assert theirs.apply_chat_template(
        [{"role": "user", "content": "Speak"}], tokenize=False, add_generation_prompt=True
    ) == tok.apply_chat("Speak")


def test_a_start_token_the_post_processor_adds_is_kept_without_add_bos_token(tmp_path):
    """Llama 3 folders say nothing of add_bos_token: tokenizer.json's post-processor adds it."""
    from tokenizers import processors

    folder = _folder(tmp_path)  # tokenizer_config: bos_token only
    tok = models.Tokenizer.load(folder)
    bos = tok.token_id("<s>")
    tok.hf.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])
    tok.save(folder)
    model, tok = models.load(folder)
    assert tok.bos_prefix == bos and models.probe(model, tok, "First").tokens.texts[0] == "<s>"


def test_tools_and_documents_are_none_in_a_template_as_in_transformers(tmp_path):
    template = "{% if tools is not none %}[TOOLS]{% endif %}{{ messages[0]['content'] }}"
    folder = _folder(tmp_path, chat_template=template)
    _, tok = models.load(folder)
    theirs = transformers.PreTrainedTokenizerFast(
        tokenizer_file=str(folder / "tokenizer.json"), chat_template=template
    )
    expected = theirs.apply_chat_template(
        [{"role": "user", "content": "Speak"}], tokenize=False, add_generation_prompt=True
    )
    assert tok.apply_chat("Speak") == expected == "Speak"
