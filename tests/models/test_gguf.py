"""GGUF files open with the same tokens, logits and greedy text as `transformers` reading the same
file (or, for the families it cannot read, as the model the file was written from); every tensor
type dequantises as `gguf`'s own code does; bad files are refused with the file named."""

from __future__ import annotations

import gguf
import numpy as np
import pytest
import torch
import transformers

import models
from models.hf.gguf_file import GGUF
from tests.models.gguf_files import Q, byte_level_meta, sentencepiece_meta, theirs_from, write_gguf

VOCAB = 320
SMALL = dict(
    vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, max_position_embeddings=64
)
GQA = dict(num_attention_heads=4, num_key_value_heads=2)
# the families, each as llama.cpp keeps it (Gemma's query scale is 1/√head_dim there, 256 here)
FAMILIES = {
    "llama": lambda **kw: transformers.LlamaConfig(**SMALL | kw, **GQA),
    "qwen2": lambda: transformers.Qwen2Config(**SMALL, **GQA),
    "qwen3": lambda: transformers.Qwen3Config(**SMALL, **GQA, head_dim=16),
    "gemma2": lambda: transformers.Gemma2Config(
        **SMALL, **GQA, head_dim=256, query_pre_attn_scalar=256, sliding_window=5
    ),  # fmt: skip (transformers reads no soft caps from a file: its defaults, 50 and 30, are written)
    "gemma3_text": lambda: transformers.Gemma3TextConfig(
        **SMALL | {"num_hidden_layers": 6}, **GQA, head_dim=256, query_pre_attn_scalar=256, sliding_window=5
    ),
    "phi3": lambda: transformers.Phi3Config(**SMALL, **GQA, pad_token_id=1),
    "olmo2": lambda: transformers.Olmo2Config(**SMALL, **GQA, pad_token_id=1),
    "smollm3": lambda: transformers.SmolLM3Config(**SMALL | {"num_hidden_layers": 4}, **GQA, pad_token_id=1),
    "gpt2": lambda: transformers.GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64),
}
SENTENCEPIECE = ("gemma2", "gemma3_text", "phi3")  # as their real files are
# transformers cannot read these families' files (Qwen3's head size, GPT-2's vocabulary size are lost)
UNREAD = ("qwen3", "olmo2", "smollm3", "gpt2")
TEXT = "First Citizen: speak, speak. You are all resolved?"


def _model(name: str, **changes):
    torch.manual_seed(0)
    config = FAMILIES[name](**changes)
    model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation="eager")
    with torch.no_grad():  # norms and biases away from their start values: a lost one shows
        for p_name, p in model.named_parameters():
            if p_name.endswith("bias") or "norm" in p_name or "ln_" in p_name:
                p.normal_(0.0, 0.3).add_(1.0 if p_name.endswith("weight") else 0.0)
    return model.eval()


def _meta(name: str) -> dict:
    return sentencepiece_meta(VOCAB) if name in SENTENCEPIECE else byte_level_meta(VOCAB)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_a_gguf_opens_with_the_tokens_logits_and_greedy_text_transformers_reads(tmp_path, name):
    written = _model(name)
    path = write_gguf(written, tmp_path / f"{name}.gguf", _meta(name), chat_template="{{ messages }}")
    ours, tok = models.load(path)
    assert ours.config.label and tok.chat_template == "{{ messages }}"
    if name in UNREAD:
        reference, ids = written, tok.encode_for_decoder(TEXT).ids
    else:
        reference, their_tok = theirs_from(path)
        ids = tok.encode_for_decoder(TEXT).ids
        assert list(ids) == their_tok(TEXT)["input_ids"]
        assert tok.decode(ids, skip_special=True) == their_tok.decode(
            their_tok(TEXT)["input_ids"], skip_special_tokens=True
        )
    x = torch.tensor([list(ids)])
    with torch.no_grad():
        torch.testing.assert_close(ours(x).logits, reference(x).logits, atol=1e-4, rtol=0)
        expected = reference.generate(
            x, max_new_tokens=12, do_sample=False, eos_token_id=None, pad_token_id=0
        )
    steps = list(models.generate(ours, tok, TEXT, max_new_tokens=12, temperature=0))
    assert [s.token_id for s in steps] == expected[0, len(ids) :].tolist()


K_QUANTS = [Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K]
# the largest logit error a type's rounding gave on this model, against its float32 weights
ROUNDING = {Q.F16: 1e-3, Q.BF16: 2e-2, Q.Q8_0: 3e-2, Q.Q5_0: 0.15, Q.Q5_1: 0.15, Q.Q4_0: 0.35, Q.Q4_1: 0.35}


@pytest.mark.parametrize("qtype", [*ROUNDING, *K_QUANTS], ids=lambda q: q.name)
def test_every_tensor_type_reads_as_gguf_dequantises_it_and_runs_as_transformers_runs_it(tmp_path, qtype):
    """A Llama 256 wide (a K-quant block is 256 numbers): matrices stored as `qtype` (the K-quants
    as random valid blocks: `gguf` writes none), the same logits as transformers from the file."""
    wide = dict(hidden_size=256, intermediate_size=256, num_hidden_layers=1)
    written = _model("llama", **wide)
    k = qtype in K_QUANTS
    path = write_gguf(
        written, tmp_path / "m.gguf", _meta("llama"), qtype=Q.F32 if k else qtype, raw_k=qtype if k else None
    )
    file = GGUF(path)
    assert file.quantization() == qtype.name
    ours, tok = models.load(path)
    reader = gguf.GGUFReader(str(path))
    oracle = {t.name: gguf.quants.dequantize(t.data, t.tensor_type) for t in reader.tensors}
    np.testing.assert_array_equal(
        ours.model.layers[0].mlp.down_proj.weight.detach().numpy(), oracle["blk.0.ffn_down.weight"]
    )
    np.testing.assert_array_equal(
        ours.model.embed_tokens.weight.detach().numpy(), oracle["token_embd.weight"]
    )
    theirs, _ = theirs_from(path)
    x = torch.tensor([list(tok.encode_for_decoder(TEXT).ids)])
    with torch.no_grad():
        logits = ours(x).logits
        torch.testing.assert_close(logits, theirs(x).logits, atol=1e-4, rtol=1e-4)
        if not k:  # rounding the float weights moves the logits by no more than the type's bound
            error = (logits - written(x).logits).abs().max()
            print(f"{qtype.name}: largest logit error {error:.4f}")
            assert error < ROUNDING[qtype]


def test_a_quantised_file_runs_in_the_precision_chosen(tmp_path):
    path = write_gguf(_model("llama", hidden_size=256, intermediate_size=256), tmp_path / "m.gguf",
                      _meta("llama"), qtype=Q.Q8_0)  # fmt: skip
    fp32, tok = models.load(path)
    bf16, _ = models.load(path, precision="bf16")
    int8, _ = models.load(path, precision="int8")
    assert fp32.lm_head.weight.dtype == torch.float32 and bf16.lm_head.weight.dtype == torch.bfloat16
    x = torch.tensor([list(tok.encode_for_decoder(TEXT).ids)])
    with torch.no_grad():
        for other in (bf16, int8):
            assert (other(x).logits.float() - fp32(x).logits).abs().max() < 0.1


def test_a_file_too_big_for_memory_is_refused_before_a_weight_is_read(tmp_path, monkeypatch):
    from models.hf import checkpoint
    from models.hf.gguf_file import GGUF as File

    path = write_gguf(_model("llama"), tmp_path / "m.gguf", _meta("llama"))
    monkeypatch.setattr(checkpoint, "available_memory", lambda: 1000)
    monkeypatch.setattr(File, "_array", lambda *a: pytest.fail("read a weight"))
    with pytest.raises(models.ModelError, match=r"m\.gguf: the model needs .* once dequantised, but only"):
        models.load(path)


def test_bad_files_are_refused_with_the_file_and_what_is_wrong(tmp_path):
    good = write_gguf(_model("llama"), tmp_path / "good.gguf", _meta("llama"))
    data = good.read_bytes()
    (tmp_path / "cut.gguf").write_bytes(data[: len(data) // 2])
    with pytest.raises(models.ModelError, match=r"cut\.gguf: not a readable GGUF file: truncated or corrupt"):
        models.load(tmp_path / "cut.gguf")
    (tmp_path / "noise.gguf").write_bytes(b"GGUF" + bytes(range(256)) * 4)
    with pytest.raises(models.ModelError, match=r"noise\.gguf: not a readable GGUF file"):
        models.load(tmp_path / "noise.gguf")
    mamba = gguf.GGUFWriter(str(tmp_path / "mamba.gguf"), "mamba")
    for step in (
        mamba.write_header_to_file,
        mamba.write_kv_data_to_file,
        mamba.write_tensors_to_file,
        mamba.close,
    ):
        step()
    with pytest.raises(
        models.ModelError, match=r"mamba\.gguf: architecture 'mamba' is not supported \(supported: llama"
    ):
        models.load(tmp_path / "mamba.gguf")
    unknown = bytearray(good.read_bytes())  # the first tensor's type id (after its name and shape) → 99
    reader = gguf.GGUFReader(str(good))
    type_field = reader.tensors[0].field.parts[4]  # name length, name, dimensions, shape, type, offset
    at = reader.tensors[0].field.offset + sum(p.nbytes for p in reader.tensors[0].field.parts[:4])
    assert int.from_bytes(unknown[at : at + 4], "little") == int(type_field[0])
    unknown[at : at + 4] = (99).to_bytes(4, "little")
    (tmp_path / "unknown.gguf").write_bytes(bytes(unknown))
    with pytest.raises(
        models.ModelError, match=r"unknown\.gguf: a tensor is stored in a type the gguf package does not know"
    ):
        models.load(tmp_path / "unknown.gguf")
    q81 = tmp_path / "q81.gguf"
    writer = gguf.GGUFWriter(str(q81), "llama")  # the good file with a known type gguf cannot dequantise
    src = gguf.GGUFReader(str(good))
    for field in src.fields.values():
        if not field.name.startswith("GGUF.") and field.name != "general.architecture":
            writer.add_key_value(
                field.name,
                field.contents(),
                field.types[0],
                field.types[-1] if len(field.types) > 1 else None,
            )
    for t in src.tensors:
        if t.name == "blk.0.ffn_down.weight":
            block, size = gguf.GGML_QUANT_SIZES[Q.Q8_1]
            rows = np.zeros((t.data.shape[0], t.data.shape[1] // block * size), np.uint8)
            writer.add_tensor(t.name, rows, raw_dtype=Q.Q8_1)
        else:
            writer.add_tensor(t.name, np.array(t.data))
    for step in (
        writer.write_header_to_file,
        writer.write_kv_data_to_file,
        writer.write_tensors_to_file,
        writer.close,
    ):
        step()
    with pytest.raises(
        models.ModelError,
        match=r"q81\.gguf: tensor 'blk\.0\.ffn_down\.weight' has type Q8_1, which cannot be read",
    ):
        models.load(q81)
    meta = _meta("llama") | {"tokens": [], "types": [], "merges": []}
    with pytest.raises(models.ModelError, match=r"bare\.gguf: the file has no tokenizer"):
        models.load(write_gguf(_model("llama"), tmp_path / "bare.gguf", meta))


def test_a_stream_of_byte_tokens_that_are_not_utf8_still_decodes():
    """tokenizers' DecodeStream gives up on some byte-fallback runs a random model makes: the
    stream goes on, and what it shows adds up to the whole text's decoding."""
    from models.text.gguf_tokenizer import gguf_tokenizer

    meta = _meta("phi3")
    fields = {f"tokenizer.ggml.{k}": v for k, v in (("model", "llama"), ("tokens", meta["tokens"]),
              ("scores", meta["scores"]), ("token_type", meta["types"]))}  # fmt: skip
    tok = gguf_tokenizer(fields, "phi3", "t.gguf")
    ids = [
        tok.token_id("<0xFF>"),
        tok.token_id("<0xE2>"),
        *tok.encode("▁ea speak").ids[:4],
        tok.token_id("<0x41>"),
    ]
    stream = tok.stream()
    shown = "".join(stream.step(i) for i in ids)
    assert shown == tok.decode(ids) and shown.endswith("A")


# ---- saving ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["F32", "F16", "BF16", "Q8_0"])
def test_a_saved_gguf_opens_in_transformers_and_here_with_the_same_logits(tmp_path, kind):
    """A Llama 256 wide (Q8_0 blocks fit every row) with a byte-level BPE, changed after loading
    so what is written must be ours; gguf's reader holds the same tensors, transformers runs it."""
    source = write_gguf(
        _model("llama", hidden_size=256, intermediate_size=256), tmp_path / "in.gguf", _meta("llama")
    )
    ours, tok = models.load(source)
    with torch.no_grad():
        for p in ours.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    path = models.save_gguf(ours, tok, tmp_path / "out.gguf", kind)
    file = GGUF(path)
    assert file.quantization() == kind and file.meta["general.file_type"] in (0, 1, 7, 32)
    again, tok2 = models.load(path)
    theirs, their_tok = theirs_from(path)
    ids = tok.encode_for_decoder(TEXT).ids
    assert list(tok2.encode_for_decoder(TEXT).ids) == list(ids) == their_tok(TEXT)["input_ids"]
    x = torch.tensor([list(ids)])
    with torch.no_grad():
        torch.testing.assert_close(again(x).logits, theirs(x).logits, atol=1e-4, rtol=1e-4)
        error = (again(x).logits - ours(x).logits).abs().max()
    assert error < {"F32": 1e-5, **{k.name: v for k, v in ROUNDING.items()}}[kind]


@pytest.mark.parametrize("name", ["gemma2", "gemma3_text", "phi3", "qwen2", "olmo2", "smollm3"])
def test_every_family_saves_as_gguf_and_opens_again_the_same(tmp_path, name):
    """Gemma's norms (1 + w on disk), Phi-3's fused projections, Llama-style permuted rows."""
    ours, tok = models.load(write_gguf(_model(name), tmp_path / "in.gguf", _meta(name)))
    again, _ = models.load(models.save_gguf(ours, tok, tmp_path / "out.gguf", "F32"))
    assert again.config == ours.config
    x = torch.tensor([list(tok.encode_for_decoder(TEXT).ids)])
    with torch.no_grad():
        torch.testing.assert_close(again(x).logits, ours(x).logits, atol=1e-5, rtol=0)


def test_the_built_in_kind_of_model_saves_as_gguf(tmp_path):
    """A GPT-2 with a character vocabulary (the built-in GPT's kind) is written as a byte-level BPE
    without merges: every character is one byte token, so the file splits text as the model did."""
    from models.nn import GPT, GPTConfig
    from tests.models.helpers import char_tokenizer

    tok = char_tokenizer()
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=tok.vocab_size + 3, n_positions=64, n_embd=32, n_layer=2, n_head=4)).eval()
    again, tok2 = models.load(models.save_gguf(gpt, tok, tmp_path / "gpt.gguf", "F32"))
    text = "First Citizen:\nSpeak, speak."
    assert list(tok2.encode_for_decoder(text).ids) == list(tok.encode_for_decoder(text).ids)
    assert tok2.decode(tok2.encode_for_decoder(text).ids) == text
    x = torch.tensor([list(tok.encode_for_decoder(text).ids)])
    with torch.no_grad():
        torch.testing.assert_close(again(x).logits, gpt(x).logits, atol=1e-5, rtol=0)


def test_what_gguf_cannot_hold_is_refused_before_a_file_is_written(tmp_path):
    from models.nn import Bert
    from tests.models.helpers import tiny_bert_config, wordpiece_tokenizer

    tok = wordpiece_tokenizer()
    bert = Bert(tiny_bert_config(tok.vocab_size))
    with pytest.raises(models.ModelError, match="a BERT cannot be saved as GGUF: llama.cpp runs decoders"):
        models.save_gguf(bert, tok, tmp_path / "b.gguf")
    assert not (tmp_path / "b.gguf").exists()
    ours, tok = models.load(write_gguf(_model("llama"), tmp_path / "in.gguf", _meta("llama")))
    with pytest.raises(models.ModelError, match="GGUF type must be one of F32, F16, BF16, Q8_0"):
        models.save_gguf(ours, tok, tmp_path / "x.gguf", "Q4_K")


def test_a_gguf_files_fingerprint_is_read_from_the_file(tmp_path):
    """Recipes name the model they were made with: a GGUF file's fingerprint comes from its bytes
    (milliseconds), the same file gives the same one, another file another."""
    ours, tok = models.load(write_gguf(_model("llama"), tmp_path / "a.gguf", _meta("llama")))
    b = models.save_gguf(ours, tok, tmp_path / "b.gguf", "F32")
    c = models.save_gguf(ours, tok, tmp_path / "c.gguf", "F16")
    prints = [models.fingerprint_files(p) for p in (b, b, c)]
    assert len(prints[0]) == 16 and prints[0] == prints[1] != prints[2]


def test_llama3_rope_factors_stored_as_a_tensor_are_read_as_llama3_scaling(tmp_path):
    """llama.cpp keeps Llama 3.1/3.2's rotary scaling as per-frequency factors (rope_freqs.weight),
    not as metadata: they are recognised, and the file runs as the model it came from."""
    from models.nn.decoder import _scaled

    scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 8192}  # fmt: skip
    rope = scaling | {"rope_theta": 500000.0}
    written = _model("llama", max_position_embeddings=64)
    written.config.rope_parameters = rope  # (the weights do not depend on it)
    reference = transformers.LlamaForCausalLM(transformers.LlamaConfig(**SMALL, **GQA, rope_parameters=rope))
    reference.load_state_dict(written.state_dict())
    reference.eval()
    head_dim = 32 // 4
    inv_freq = 1.0 / (500000.0 ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    factors = (inv_freq / _scaled(inv_freq, scaling)).numpy()
    path = tmp_path / "llama3.gguf"
    write_gguf(written, path, _meta("llama"), extra={"rope_freqs.weight": factors}, rope_theta=500000.0)
    ours, tok = models.load(path)
    assert dict(ours.config.rope_scaling) == scaling
    x = torch.tensor([list(tok.encode_for_decoder(TEXT).ids)])
    with torch.no_grad():
        torch.testing.assert_close(ours(x).logits, reference(x).logits, atol=1e-4, rtol=0)
