"""Llama, Qwen2, Qwen3, Mistral, GPT-NeoX, Gemma 2 and 3, Phi-3, OLMo 2 and SmolLM3 against
`transformers` on tiny random configs built here: logits, every layer's attentions and hidden
states; both ways; cache; greedy generation; weights as users have them (sharded, bf16, untied)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import transformers

import models
from models.nn import Decoder, DecoderConfig
from tests.models.helpers import char_tokenizer

SMALL = dict(
    vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, max_position_embeddings=64
)
CONFIGS = {
    "llama": lambda: transformers.LlamaConfig(**SMALL, num_attention_heads=4, num_key_value_heads=2),
    "llama3-rope-tied": lambda: transformers.LlamaConfig(
        **SMALL,
        num_attention_heads=4,
        num_key_value_heads=1,
        tie_word_embeddings=True,
        rope_parameters={
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 16,
        },
    ),  # fmt: skip
    "llama-bias": lambda: transformers.LlamaConfig(
        **SMALL, num_attention_heads=4, num_key_value_heads=4, attention_bias=True, mlp_bias=True
    ),
    "qwen2": lambda: transformers.Qwen2Config(**SMALL, num_attention_heads=4, num_key_value_heads=2),
    "qwen3": lambda: transformers.Qwen3Config(
        **SMALL, num_attention_heads=4, num_key_value_heads=2, head_dim=16
    ),
    "mistral": lambda: transformers.MistralConfig(
        **SMALL, num_attention_heads=4, num_key_value_heads=2, sliding_window=5
    ),
    "gpt_neox": lambda: transformers.GPTNeoXConfig(
        **SMALL,
        num_attention_heads=4,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5},
    ),  # fmt: skip
    "gpt_neox-sequential": lambda: transformers.GPTNeoXConfig(
        **SMALL, num_attention_heads=4, use_parallel_residual=False
    ),
}
IDS_ = dict(pad_token_id=0, bos_token_id=1, eos_token_id=63)  # an end token greedy text rarely meets
GQA = dict(num_attention_heads=4, num_key_value_heads=2)
CONFIGS |= {
    "gemma2": lambda: transformers.Gemma2Config(  # soft caps small enough to bend the numbers
        **SMALL | {"num_hidden_layers": 3},
        **GQA,
        **IDS_,
        head_dim=8,
        query_pre_attn_scalar=12,
        sliding_window=5,
        attn_logit_softcapping=2.0,
        final_logit_softcapping=3.0,
    ),  # fmt: skip
    "gemma3_text": lambda: transformers.Gemma3TextConfig(
        **SMALL | {"num_hidden_layers": 3},
        **GQA,
        **IDS_,
        head_dim=16,
        query_pre_attn_scalar=8,
        sliding_window=5,
        layer_types=["sliding_attention", "full_attention", "sliding_attention"],
        rope_parameters={
            "full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1_000_000.0},
            "sliding_attention": {"rope_type": "default", "rope_theta": 100.0},
        },
    ),  # fmt: skip
    "phi3": lambda: transformers.Phi3Config(
        **SMALL,
        **GQA,
        **IDS_,
        sliding_window=6,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5},
    ),  # fmt: skip
    "olmo2": lambda: transformers.Olmo2Config(**SMALL, **GQA, **IDS_, attention_bias=True),
    "smollm3": lambda: transformers.SmolLM3Config(**SMALL | {"num_hidden_layers": 4}, **GQA, **IDS_),
}
NEW_FAMILIES = ["gemma2", "gemma3_text", "phi3", "olmo2", "smollm3"]
IDS = torch.randint(0, 60, (2, 12), generator=torch.Generator().manual_seed(0))


def _theirs(name: str):
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(CONFIGS[name](), attn_implementation="eager")
    with torch.no_grad():  # random biases and norm weights too: a zero bias would hide a lost one
        for p_name, p in model.named_parameters():
            if p_name.endswith("bias") or "norm" in p_name or "layernorm" in p_name:
                p.normal_(0.0, 0.3).add_(1.0 if p_name.endswith("weight") else 0.0)
    return model.eval()


def _saved(model, folder, **kwargs):
    model.save_pretrained(folder, **kwargs)
    char_tokenizer().save(folder)
    return folder


def _compare(ours, theirs, ids=IDS):
    with torch.no_grad():
        a = ours(ids, output_attentions=True, output_hidden_states=True)
        b = theirs(ids, output_attentions=True, output_hidden_states=True)
    torch.testing.assert_close(a.logits, b.logits, atol=1e-4, rtol=0)
    assert len(a.attentions) == len(b.attentions) and len(a.hidden_states) == len(b.hidden_states)
    for x, y in zip(a.attentions, b.attentions, strict=True):
        torch.testing.assert_close(x, y, atol=1e-4, rtol=0)
    for x, y in zip(a.hidden_states, b.hidden_states, strict=True):
        torch.testing.assert_close(x, y, atol=1e-4, rtol=0)
    with torch.no_grad():  # any layer's attention again, from the stream entering its block alone
        for layer, y in enumerate(b.attentions):
            torch.testing.assert_close(
                ours.block_attention(layer, a.hidden_states[layer]), y, atol=1e-4, rtol=0
            )


@pytest.mark.parametrize("name", list(CONFIGS))
def test_their_folder_opens_here_with_the_same_logits_attentions_and_hidden_states(tmp_path, name):
    theirs = _theirs(name)
    ours, _ = models.load(_saved(theirs, tmp_path))
    assert isinstance(ours, Decoder) and ours.config.family == CONFIGS[name]().model_type
    _compare(ours, theirs)


@pytest.mark.parametrize("name", ["llama", "qwen3", "mistral", "gpt_neox", "llama3-rope-tied", *NEW_FAMILIES])
def test_our_folder_opens_in_transformers_with_the_same_logits(tmp_path, name):
    ours, _ = models.load(_saved(_theirs(name), tmp_path / "in"))
    with torch.no_grad():  # change every weight: what comes back must be ours, not theirs
        for p in ours.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    models.save(ours, char_tokenizer(), tmp_path / "out")
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["architectures"] == [type(_theirs(name)).__name__]
    theirs = transformers.AutoModelForCausalLM.from_pretrained(
        tmp_path / "out", attn_implementation="eager"
    ).eval()
    _compare(ours, theirs)


@pytest.mark.parametrize("name", ["llama", "qwen3", "gpt_neox", "mistral", *NEW_FAMILIES])
def test_cached_decoding_equals_recompute_and_greedy_matches_transformers_generate(tmp_path, name):
    theirs = _theirs(name)
    ours, tok = models.load(_saved(theirs, tmp_path))
    prompt = "First Citizen"
    ids = tok.encode(prompt, special_tokens=False).ids
    steps = list(models.generate(ours, tok, prompt, max_new_tokens=20, temperature=0, attention=True))
    with torch.no_grad():
        expected = theirs.generate(  # both stop at the config's end-of-text token, if it comes
            torch.tensor([list(ids)]), max_new_tokens=20, do_sample=False, pad_token_id=0,
            eos_token_id=ours.config.eos_token_id,
        )[0, len(ids):].tolist()  # fmt: skip
    assert [s.token_id for s in steps] == expected
    assert len(steps) >= 16, f"an early end-of-text compares only {len(steps)} tokens"
    full = list(ids) + expected
    with torch.no_grad():  # each step's attention row is the full pass's row at that position
        att = ours(torch.tensor([full]), output_attentions=True).attentions
    for i, step in enumerate(steps):
        row = torch.stack([a[0, :, len(ids) - 1 + i, : len(ids) + i] for a in att])
        torch.testing.assert_close(torch.from_numpy(step.attention), row, atol=1e-5, rtol=0)


def test_a_sharded_bf16_folder_loads_as_float32(tmp_path):
    theirs = _theirs("qwen2").to(torch.bfloat16)
    folder = _saved(theirs, tmp_path, max_shard_size="20KB")
    assert (folder / "model.safetensors.index.json").is_file() and not (folder / "model.safetensors").exists()
    ours, _ = models.load(folder)
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in ours.parameters())
    _compare(ours, theirs.float())


def test_untied_heads_stay_untied_and_a_missing_head_is_named(tmp_path):
    theirs = _theirs("llama")
    ours, _ = models.load(_saved(theirs, tmp_path))
    assert ours.lm_head.weight is not ours.model.embed_tokens.weight
    torch.testing.assert_close(ours.lm_head.weight, theirs.lm_head.weight)
    from safetensors.torch import load_file, save_file

    weights = load_file(tmp_path / "model.safetensors")
    del weights["lm_head.weight"]
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(models.ModelError, match="missing tensor 'lm_head.weight'"):
        models.load(tmp_path)


def test_a_model_too_big_for_memory_is_refused_before_loading(tmp_path, monkeypatch):
    from models.hf import checkpoint

    folder = _saved(_theirs("llama"), tmp_path)
    monkeypatch.setattr(checkpoint, "available_memory", lambda: 1000)
    monkeypatch.setattr(checkpoint, "_read_weights", lambda files: pytest.fail("read the weights"))
    with pytest.raises(models.ModelError, match=r"needs 0\.0 GiB as float32, but only 0\.0 GiB"):
        models.load(folder)


def test_bad_decoder_configs_are_refused():
    with pytest.raises(models.ModelError, match="key/value heads .3. must divide the query heads .4."):
        DecoderConfig(hidden_size=32, num_attention_heads=4, num_key_value_heads=3)
    with pytest.raises(models.ModelError, match="rope_scaling type 'yarn' is not supported"):
        Decoder(DecoderConfig(hidden_size=32, num_attention_heads=4, num_key_value_heads=4,
                              rope_scaling=(("factor", 2.0), ("rope_type", "yarn"))))  # fmt: skip


def test_every_inspection_tool_works_on_a_grouped_query_decoder(tmp_path):
    """Probe, logit lens, head ablation (against a hook on transformers' o_proj) and a sweep."""
    theirs = _theirs("llama")
    ours, tok = models.load(_saved(theirs, tmp_path))
    text = "First Citizen: Before"
    probe = models.probe(ours, tok, text)
    T = len(probe.tokens)
    assert probe.attentions.shape == (2, 4, T, T)  # every query head, though only 2 key/value heads
    lens = models.logit_lens(ours, tok, text, k=3)
    torch.testing.assert_close(torch.tensor(lens.top_probs[-1]), torch.tensor(probe.top_probs[:, :3]))
    ids = torch.tensor(probe.tokens.ids[None])

    def zero_head(_m, args):
        x = args[0].clone()
        x[..., 8:16] = 0.0  # head 1 of 4, size 8
        return (x,)

    handle = theirs.model.layers[1].self_attn.o_proj.register_forward_pre_hook(zero_head)
    with torch.no_grad():
        reference = theirs(ids).logits
    handle.remove()
    with torch.no_grad(), models.ablated(ours, [(1, 1)]):
        knocked = ours(ids).logits
    torch.testing.assert_close(knocked, reference, atol=1e-4, rtol=0)
    sweep = list(models.ablation_sweep(ours, tok, text))[-1]
    assert sweep.complete and sweep.values.shape == (2, 4)


def test_a_dtype_can_be_chosen_on_load(tmp_path):
    theirs = _theirs("llama")
    folder = _saved(theirs, tmp_path)
    half, _ = models.load(folder, dtype=torch.bfloat16)
    assert {p.dtype for p in half.parameters()} == {torch.bfloat16}
    with torch.no_grad():
        torch.testing.assert_close(half(IDS).logits.float(), theirs(IDS).logits, atol=5e-2, rtol=0)


def test_old_style_rope_keys_read_as_transformers_reads_them_and_survive_a_save(tmp_path):
    """A transformers-4 config.json: rope_theta and rope_scaling {"type": "linear"} at top level."""
    folder = _saved(_theirs("llama"), tmp_path / "in")
    config = json.loads((folder / "config.json").read_text())
    config.pop("rope_parameters", None)
    config |= {"rope_theta": 5000.0, "rope_scaling": {"type": "linear", "factor": 2.0}}
    (folder / "config.json").write_text(json.dumps(config))
    ours, tok = models.load(folder)
    assert (
        dict(ours.config.rope_scaling) == {"rope_type": "linear", "factor": 2.0}
        and ours.config.rope_theta == 5000.0
    )
    theirs = transformers.AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()
    _compare(ours, theirs)
    models.save(ours, tok, tmp_path / "out")
    again, _ = models.load(tmp_path / "out")
    assert again.config.rope_scaling == ours.config.rope_scaling  # not read back as "default"


def test_every_end_of_turn_token_stops_generation(tmp_path):
    """Llama 3 instruct lists several eos ids (in generation_config.json): each one ends the reply."""
    folder = _saved(_theirs("llama"), tmp_path)
    ours, tok = models.load(folder)
    free = [s.token_id for s in models.generate(ours, tok, "First", max_new_tokens=8, temperature=0)]
    third = free[2]
    (folder / "generation_config.json").write_text(json.dumps({"eos_token_id": [63, third]}))
    ours, tok = models.load(folder)
    steps = list(models.generate(ours, tok, "First", max_new_tokens=8, temperature=0))
    assert [s.token_id for s in steps] == free[: free.index(third) + 1] and steps[-1].finish_reason == "eos"


def test_the_kv_cache_holds_what_the_run_can_reach_not_the_whole_context(tmp_path, monkeypatch):
    ours, tok = models.load(_saved(_theirs("llama"), tmp_path))
    sizes = []
    new_cache = ours.new_cache
    monkeypatch.setattr(
        ours, "new_cache", lambda batch=1, max_len=None: sizes.append(max_len) or new_cache(batch, max_len)
    )
    steps = list(models.generate(ours, tok, "First", max_new_tokens=6, temperature=0, attention=True))
    assert sizes == [5 + 6 + 1] and steps[-1].final_attention is not None  # not 64 (the context)


@pytest.mark.parametrize("name", NEW_FAMILIES)
def test_every_inspection_works_on_the_new_families(tmp_path, name):
    """Through the one model interface: a probe (a local layer's rows end at its window), the
    lens, a knockout against a hook on transformers' o_proj, both sweeps (which start at a layer's
    cached residual stream: their baseline is the full pass's), a short fine-tune and compare."""
    theirs = _theirs(name)
    ours, tok = models.load(_saved(theirs, tmp_path / "in"))
    cfg, text = ours.config, "First Citizen: Before we proceed"
    probe = models.probe(ours, tok, text)
    T = len(probe.tokens)
    for layer in range(cfg.n_layer):  # a windowed layer's attention is zero further back than it
        rows, cols = torch.tril_indices(T, T)
        far = (
            (rows - cols) >= cfg.sliding_window if cfg.windowed(layer) else torch.zeros(len(rows), dtype=bool)
        )
        weights = torch.from_numpy(probe.attentions[layer][:, rows, cols])
        assert bool((weights[:, far] == 0).all()) and (not far.any() or bool((weights[:, ~far] > 0).all()))
    assert any(cfg.windowed(i) for i in range(cfg.n_layer)) == (name in ("gemma2", "gemma3_text", "phi3"))
    lens = models.logit_lens(ours, tok, text, k=3)
    torch.testing.assert_close(torch.tensor(lens.top_probs[-1]), torch.tensor(probe.top_probs[:, :3]))
    ids = torch.tensor(probe.tokens.ids[None])
    D = cfg.head_size

    def zero_head(_m, args):
        x = args[0].clone()
        x[..., D : 2 * D] = 0.0  # head 1
        return (x,)

    handle = theirs.model.layers[1].self_attn.o_proj.register_forward_pre_hook(zero_head)
    with torch.no_grad():
        reference = theirs(ids).logits
    handle.remove()
    with torch.no_grad(), models.ablated(ours, [(1, 1)]):
        torch.testing.assert_close(ours(ids).logits, reference, atol=1e-4, rtol=0)
    knocked = list(models.ablation_sweep(ours, tok, text))[-1]
    assert knocked.complete and knocked.values.shape == (cfg.n_layer, 4)
    patched = list(models.patching_sweep(ours, tok, text, "First Citizen: Before we procees"))[-1]
    assert patched.complete and np.isfinite(patched.values).all()
    (tmp_path / "text.txt").write_text("First Citizen: Before we proceed any further, hear me speak. " * 20)
    trainer = models.finetuner(
        ours, tok, str(tmp_path / "text.txt"), models.finetune_config(ours, "lm", steps=12, context=16)
    )
    losses = [r.loss for r in trainer]
    assert losses[-1] < losses[0]
    before, _ = models.load(tmp_path / "in")
    comparison = models.compare((before, tok), (ours, tok), text)
    assert comparison.a.attentions.shape == comparison.b.attentions.shape == probe.attentions.shape
