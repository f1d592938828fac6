"""The model interface: every family offers the same parts, declares what it can do, and the tools
ask those capabilities (a Llama is not a GPT by name, a BERT without its head is not a masked LM)."""

from __future__ import annotations

import pytest
import torch

import models
from models.capabilities import Capabilities
from models.nn import GPT, Bert, Decoder, DecoderConfig, GPTConfig, Model, Seq2Seq, Seq2SeqConfig
from tests.models.helpers import char_tokenizer, tiny_bert_config, wordpiece_tokenizer

DECODER = dict(
    vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4
)


def _families() -> dict[str, tuple[Model, Capabilities]]:
    torch.manual_seed(0)
    seq2seq = Seq2SeqConfig(vocab_size=64, d_model=32, encoder_attention_heads=4, decoder_attention_heads=4)
    return {
        "gpt": (GPT(GPTConfig(vocab_size=64, n_embd=32)), Capabilities(causal=True)),
        "llama-gqa": (
            Decoder(DecoderConfig(**DECODER, num_key_value_heads=2)),
            Capabilities(causal=True, grouped_kv=True),
        ),
        "mistral-window": (
            Decoder(DecoderConfig(family="mistral", **DECODER, num_key_value_heads=4, sliding_window=8)),
            Capabilities(causal=True, local_window=True),
        ),
        "gemma-local-layers": (
            Decoder(
                DecoderConfig(
                    family="gemma2",
                    **DECODER,
                    num_key_value_heads=4,
                    sliding_window=8,
                    local_layers=(0,),
                    norms="sandwich",
                    norm_plus_one=True,
                )
            ),  # fmt: skip
            Capabilities(causal=True, local_window=True),
        ),
        "bert": (Bert(tiny_bert_config(64)), Capabilities(masked_lm=True)),
        "bert-encoder": (Bert(tiny_bert_config(64, has_mlm_head=False)), Capabilities()),
        "bert-classifier": (
            Bert(tiny_bert_config(64, has_mlm_head=False, labels=("no", "yes"))),
            Capabilities(classifier=True),
        ),
        "seq2seq": (Seq2Seq(seq2seq), Capabilities(encoder_decoder=True)),
    }


@pytest.mark.parametrize("name", list(_families()))
def test_every_family_offers_the_interface_and_declares_what_it_can_do(name):
    model, expected = _families()[name]
    assert isinstance(model, Model)  # the Protocol, checked at run time
    assert model.capabilities == expected
    cfg = model.config
    assert isinstance(cfg.label, str) and cfg.label
    assert len(model.blocks()) == cfg.n_layer and cfg.n_kv_head <= cfg.n_head
    projection = model.head_projection(cfg.n_layer - 1)
    assert projection.in_features == cfg.n_head * cfg.head_size  # its input is the heads merged
    assert isinstance(model.embedding_output(), torch.nn.Module)
    windows = [model.attention_window(i) for i in range(cfg.n_layer)]
    assert windows == {"mistral-window": [8, 8], "gemma-local-layers": [8, 0]}.get(name, [0] * cfg.n_layer)


@pytest.mark.parametrize("name", ["gpt", "llama-gqa", "mistral-window", "bert"])
def test_the_head_projection_sees_merged_heads_and_logits_from_reads_the_last_layer_as_the_model(name):
    model, caps = _families()[name]
    model.eval()
    cfg = model.config
    seen = []
    hook = model.head_projection(0).register_forward_pre_hook(lambda _m, args: seen.append(args[0].shape))
    ids = torch.randint(5, 60, (2, 7))
    with torch.no_grad():
        out = model(ids, output_hidden_states=True)
    hook.remove()
    assert seen == [torch.Size([2, 7, cfg.n_head * cfg.head_size])]
    last = model.logits_from(out.hidden_states[-1], last=True)
    torch.testing.assert_close(last, out.logits)
    earlier = model.logits_from(out.hidden_states[1], last=False)
    assert earlier.shape == out.logits.shape and not torch.allclose(earlier, out.logits)
    if caps.causal:
        cache = model.new_cache(batch=2, max_len=9)
        assert cache.k.shape == (cfg.n_layer, 2, cfg.n_kv_head, 9, cfg.head_size)
    else:
        with pytest.raises(models.ModelError, match="keeps no cache"):
            model.new_cache()


def test_tools_ask_capabilities_not_names():
    """A Llama generates (it is causal), a BERT does not, an encoder–decoder translates; an encoder
    without its masked-LM head has nothing to read its layers with; one-stack tools refuse the
    encoder–decoder."""
    fam = _families()
    tok = char_tokenizer()
    llama = Decoder(DecoderConfig(**(DECODER | {"vocab_size": tok.vocab_size}), num_key_value_heads=2)).eval()
    assert len(list(models.generate(llama, tok, "First", max_new_tokens=3, temperature=0))) == 3
    with pytest.raises(models.ModelError, match="generation needs a GPT"):
        models.generate(fam["bert"][0], wordpiece_tokenizer(), "the cat")
    with pytest.raises(models.ModelError, match="no masked-LM head"):
        models.logit_lens(fam["bert-encoder"][0], wordpiece_tokenizer(), "the cat")
    with pytest.raises(models.ModelError, match="three kinds"):
        models.logit_lens(fam["seq2seq"][0], tok, "First")
    with pytest.raises(models.ModelError, match="three kinds"):
        with models.ablated(fam["seq2seq"][0], [(0, 0)]):
            pass


@pytest.mark.parametrize("name", ["gpt", "llama-gqa", "mistral-window", "bert"])
def test_running_from_any_layers_residual_stream_gives_the_models_logits(name):
    """What a head sweep relies on: the blocks from layer l on, fed the stream entering layer l,
    give the model's own logits (the last position alone, when asked)."""
    model, _ = _families()[name]
    model.eval()
    ids = torch.randint(5, 60, (2, 9))
    with torch.no_grad():
        out = model(ids, output_hidden_states=True)
        for layer in range(model.config.n_layer):
            torch.testing.assert_close(model.run_from(layer, out.hidden_states[layer]), out.logits)
        last = model.run_from(1, out.hidden_states[1], last_only=True)
    torch.testing.assert_close(last, out.logits[:, -1:])
