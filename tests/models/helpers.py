"""Tiny random models and tokenizers for engine tests (no download)."""

from __future__ import annotations

from models.text.tokenizer import Tokenizer

TEXT = (
    "First Citizen: Before we proceed any further, hear me speak.\n"
    "All: Speak, speak.\nFirst Citizen: You are all resolved rather to die than to famish?\n"
) * 20


def char_tokenizer() -> Tokenizer:
    return Tokenizer.train([TEXT], "char")


def bpe_tokenizer(vocab_size: int = 300) -> Tokenizer:
    return Tokenizer.train([TEXT], "bpe", vocab_size=vocab_size)


def wordpiece_tokenizer(vocab_size: int = 200) -> Tokenizer:
    return Tokenizer.train([TEXT], "wordpiece", vocab_size=vocab_size)


def tiny_bert_config(vocab_size: int, **changes):
    """A 2-layer, width-32 BERT: milliseconds per forward pass; `changes` override any field."""
    from models.nn import BertConfig

    fields = dict(
        vocab_size=vocab_size,
        max_position_embeddings=32,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
    )
    return BertConfig(**(fields | changes))


def saved_pair(folder, arch: str):
    """(ours, tokenizer, the same weights in `transformers`): a random 3-layer model saved to
    `folder` and opened there again as GPT2LMHeadModel or BertForMaskedLM (eager attention)."""
    import torch
    import transformers

    import models
    from models.nn import GPTConfig
    from models.nn.bert import Bert
    from models.nn.gpt import GPT

    torch.manual_seed(0)
    if arch == "gpt":
        tok = char_tokenizer()
        ours = GPT(GPTConfig(vocab_size=tok.vocab_size, n_positions=64, n_embd=48, n_layer=3, n_head=4))
        theirs = transformers.GPT2LMHeadModel
    else:
        tok = wordpiece_tokenizer()
        ours = Bert(tiny_bert_config(tok.vocab_size, num_hidden_layers=3))
        theirs = transformers.BertForMaskedLM
    models.save(ours.eval(), tok, folder)
    return ours, tok, theirs.from_pretrained(folder, attn_implementation="eager").eval()
