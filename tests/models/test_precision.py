"""Precisions: int8 weights (float32 activations) and bfloat16 stay close to float32's logits and greedy
text; the int8 kernel equals its dequantized product; what needs float weights refuses int8."""

from __future__ import annotations

import pytest
import torch
import transformers

import models
from models.device import check_precision
from models.nn.linear import Linear
from models.nn.quantized import Int8Linear, is_quantized
from tests.models.helpers import char_tokenizer


def _llama(tmp_path_factory, width: int, inner: int, heads: int):
    """A tiny random Llama folder (tied head, two layers, half as many key/value heads)."""
    tok = char_tokenizer()
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(
        vocab_size=tok.vocab_size, hidden_size=width, intermediate_size=inner, num_hidden_layers=2,
        num_attention_heads=heads, num_key_value_heads=heads // 2, max_position_embeddings=128,
        tie_word_embeddings=True,
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("llama") / "m"
    transformers.LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save(folder)
    return folder


@pytest.fixture(scope="module")
def llama_folder(tmp_path_factory):
    return _llama(tmp_path_factory, 64, 128, 4)


def test_int8_weights_stay_close_to_float32_and_write_the_same_greedy_text(llama_folder):
    exact, tok = models.load(llama_folder)
    int8, _ = models.load(llama_folder, precision="int8")
    assert is_quantized(int8) and not is_quantized(exact)
    linears = [m for m in int8.modules() if isinstance(m, torch.nn.Linear)]
    assert not linears  # every linear layer (the tied head too) holds int8 rows now
    assert all(p.dtype == torch.float32 for p in int8.parameters())  # embeddings and norms: float32
    ids = torch.tensor([tok.encode("First Citizen: Before we proceed", special_tokens=False).ids.tolist()])
    with torch.no_grad():
        a, b = exact(ids).logits, int8(ids).logits
    assert (a - b).abs().max() / a.abs().max() < 0.03
    greedy = [
        [s.token_id for s in models.generate(m, tok, "First", max_new_tokens=24, temperature=0)]
        for m in (exact, int8)
    ]
    agree = next((i for i, (x, y) in enumerate(zip(*greedy, strict=True)) if x != y), 24)
    assert agree >= 16, greedy


def test_bfloat16_keeps_its_weights_in_16_bits_and_close_logits(llama_folder):
    exact, tok = models.load(llama_folder)
    half, _ = models.load(llama_folder, precision="bf16")
    assert all(p.dtype == torch.bfloat16 for p in half.parameters())
    ids = torch.tensor([tok.encode("All: Speak, speak.", special_tokens=False).ids.tolist()])
    with torch.no_grad():
        a, b = exact(ids).logits, half(ids).logits.float()
    assert (a - b).abs().max() / a.abs().max() < 0.05


def test_bfloat16_decoding_multiplies_one_row_by_mv_and_matches_linear(llama_folder, monkeypatch):
    """A token's row goes through `torch.mv` (torch's bf16 one-row `linear` is the slow kernel on a
    CPU); the product is `linear`'s, bias or not, and a decoded text is the same either way."""
    half, tok = models.load(llama_folder, precision="bf16")
    torch.manual_seed(1)
    for bias in (False, True):
        layer = Linear(64, 48, bias=bias).to(torch.bfloat16)
        x = torch.randn(1, 1, 64, dtype=torch.bfloat16)
        ref = torch.nn.functional.linear(
            x.float(), layer.weight.float(), None if layer.bias is None else layer.bias.float()
        )
        assert layer(x).shape == (1, 1, 48)
        assert torch.allclose(layer(x).float(), ref, atol=0.05, rtol=0.02)
        assert torch.allclose(layer(x.expand(3, 1, 64)).float(), ref.expand(3, 1, 48), atol=0.05, rtol=0.02)
    rows = []
    mv, addmv = torch.mv, torch.addmv
    monkeypatch.setattr(torch, "mv", lambda w, v: rows.append(v.shape) or mv(w, v))
    monkeypatch.setattr(torch, "addmv", lambda b, w, v: rows.append(v.shape) or addmv(b, w, v))
    fast = [s.token_id for s in models.generate(half, tok, "First", max_new_tokens=12, temperature=0)]
    assert len(rows) >= 12 * 8  # every decoding step's linear layers (2 layers × 7, and the head)
    monkeypatch.setattr(Linear, "forward", torch.nn.Linear.forward)
    slow = [s.token_id for s in models.generate(half, tok, "First", max_new_tokens=12, temperature=0)]
    assert fast == slow


@pytest.mark.parametrize("width", [64, 40])  # the kernel's widths, and one it cannot take
def test_the_int8_layer_is_its_dequantized_product(width):
    torch.manual_seed(0)
    linear = torch.nn.Linear(width, 24)
    layer = Int8Linear(linear)
    assert layer.kernel == (width % 16 == 0)
    x = torch.randn(3, 5, width)
    dequantized = layer.weight_int8.float() * layer.scale.float()[:, None]
    expected = (x @ dequantized.t() + linear.bias).detach()
    with torch.no_grad():
        torch.testing.assert_close(layer(x), expected, atol=0.02 * float(expected.abs().max()), rtol=0)
    assert (dequantized - linear.weight).abs().max() <= linear.weight.abs().max() / 127  # half a step


def test_what_needs_float_weights_refuses_int8_and_devices_refuse_what_they_cannot_run(
    llama_folder, tmp_path
):
    int8, tok = models.load(llama_folder, precision="int8")
    with pytest.raises(models.ModelError, match="float weights"):
        models.save(int8, tok, tmp_path / "out")
    config = models.finetune_config(int8, "lm", steps=2)
    with pytest.raises(models.ModelError, match="float weights"):
        models.finetuner(int8, tok, "shakespeare", config)
    with pytest.raises(models.ModelError, match="run on the CPU"):
        check_precision("int8", torch.device("cuda"))
    with pytest.raises(models.ModelError, match="precision must be one of"):
        models.load(llama_folder, precision="fp8")


def _column_major(w: torch.Tensor) -> bool:
    return w.stride() == (1, w.shape[0])


@pytest.fixture(scope="module")
def narrow_llama_folder(tmp_path_factory):
    """A Llama narrower than its vocabulary, as real ones are: its tied head widens."""
    return _llama(tmp_path_factory, 16, 48, 2)


def test_float32_decoding_reads_widening_weights_by_columns_training_by_rows(narrow_llama_folder, tmp_path):
    """A loaded float32 model keeps each widening layer's weight (the MLP's up projections, the
    tied head) column by column, where one row's product streams fastest, with the same values
    and the same greedy text; a training run lays every weight out by rows again; bf16 and int8
    keep rows (their kernels read rows); saving writes the same weights."""
    from models.nn import layout
    from models.training.finetune import finetune_config, finetuner

    ours, tok = models.load(narrow_llama_folder)
    block = ours.model.layers[0]
    assert ours.lm_head.in_features < ours.lm_head.out_features  # (the vocabulary is wider)
    widening = [block.mlp.gate_proj, block.mlp.up_proj, ours.lm_head]
    assert all(_column_major(m.weight) for m in widening)
    assert block.mlp.down_proj.weight.is_contiguous()  # a narrowing layer streams fastest by rows
    assert ours.lm_head.weight is ours.model.embed_tokens.weight  # still tied
    ids = torch.tensor([tok.encode("First Citizen: Before we proceed", special_tokens=False).ids.tolist()])

    def greedy():
        return [s.token_id for s in models.generate(ours, tok, "First", max_new_tokens=16, temperature=0)]

    by_columns = greedy()
    with torch.no_grad():
        a = ours(ids).logits
    models.save(ours, tok, tmp_path / "saved")
    layout.for_training(ours)
    assert all(p.is_contiguous() for p in ours.parameters())
    with torch.no_grad():
        torch.testing.assert_close(ours(ids).logits, a, atol=1e-5, rtol=0)
    assert greedy() == by_columns
    again, _ = models.load(tmp_path / "saved")
    for (name, p), q in zip(ours.named_parameters(), again.parameters(), strict=True):
        assert torch.equal(p, q), name

    for precision in ("bf16", "int8"):
        other, _ = models.load(narrow_llama_folder, precision=precision)
        weights = [t for n, t in other.state_dict().items() if t.dim() == 2 and "embed" not in n]
        assert weights and all(t.is_contiguous() for t in weights), precision
    column_linear = layout.for_decoding(torch.nn.Sequential(torch.nn.Linear(16, 48)))[0]
    assert _column_major(column_linear.weight)
    row_linear = torch.nn.Linear(16, 48)
    row_linear.load_state_dict(column_linear.state_dict())
    from_columns, from_rows = Int8Linear(column_linear), Int8Linear(row_linear)
    assert from_columns.weight_int8.is_contiguous()  # the kernel reads rows
    x = torch.randn(3, 16)
    torch.testing.assert_close(from_columns(x), from_rows(x), atol=0, rtol=0)

    loaded, tok = models.load(narrow_llama_folder)  # a fine-tune of it rounds as its resumed run will
    cfg = finetune_config(loaded, "lm", steps=2, context=16, eval_every=0, sample_every=0, probe_every=0,
                          checkpoint_every=0)  # fmt: skip
    trainer = finetuner(loaded, tok, "shakespeare", cfg)
    assert all(p.is_contiguous() for p in trainer.model.parameters())
