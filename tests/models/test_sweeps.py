"""Head sweeps against references computed one head at a time on the same weights in `transformers`."""

import numpy as np
import pytest
import torch

import models
from models.errors import ModelError
from models.inspect import sweeps
from tests.models.helpers import saved_pair

CLEAN = "First Citizen: Before we proceed"
CORRUPTED = "First Citizen: Before we procure"  # the same number of characters: the same tokens count


def _hf_parts(hf, arch: str):
    """The `transformers` modules our edits correspond to, found by their own names."""
    if arch == "gpt":
        blocks = hf.transformer.h
        return [b.attn.c_proj for b in blocks], hf.transformer.drop
    return [layer.attention.output.dense for layer in hf.bert.encoder.layer], hf.bert.embeddings


def _capture(hf, arch, ids):
    projections, embeddings = _hf_parts(hf, arch)
    inputs, handles = {}, []
    for layer, proj in enumerate(projections):
        handles.append(
            proj.register_forward_pre_hook(lambda _m, a, i=layer: inputs.__setitem__(i, a[0].clone()))
        )
    embedded = []
    handles.append(embeddings.register_forward_hook(lambda _m, _a, out: embedded.append(out.clone())))
    with torch.no_grad():
        logits = hf(ids).logits
    for handle in handles:
        handle.remove()
    return inputs, embedded[0], logits


def _reference_patch(hf, arch, clean_ids, corrupted_ids, heads, size, embeddings=False):
    """Logits of the corrupted run with `heads` (and maybe the embeddings) taken from the clean run."""
    clean_inputs, clean_embedded, _ = _capture(hf, arch, clean_ids)
    projections, embedding_module = _hf_parts(hf, arch)
    handles = []
    for layer, head in heads:

        def hook(_m, args, layer=layer, head=head):
            x = args[0].clone()
            s = slice(head * size, (head + 1) * size)
            x[..., s] = clean_inputs[layer][..., s]
            return (x,)

        handles.append(projections[layer].register_forward_pre_hook(hook))
    if embeddings:
        handles.append(embedding_module.register_forward_hook(lambda _m, _a, _o: clean_embedded))
    with torch.no_grad():
        logits = hf(corrupted_ids).logits
    for handle in handles:
        handle.remove()
    return logits


@pytest.mark.parametrize("arch", ["gpt", "bert"])
def test_patching_everything_gives_the_clean_logits_and_patching_nothing_the_corrupted(tmp_path, arch):
    ours, _, _ = saved_pair(tmp_path, arch)
    gen = torch.Generator().manual_seed(1)
    clean, corrupted = torch.randint(5, 30, (2, 1, 12), generator=gen)
    every = [(layer, head) for layer in range(3) for head in range(4)]
    with torch.no_grad():
        clean_logits, corrupted_logits = ours(clean).logits, ours(corrupted).logits
        with models.patched(ours, clean, every, embeddings=True):
            all_patched = ours(corrupted).logits
        with models.patched(ours, clean, []):
            none_patched = ours(corrupted).logits
        with models.patched(ours, clean, every):  # the heads alone: the residual stream still differs
            heads_only = ours(corrupted).logits
    torch.testing.assert_close(all_patched, clean_logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(none_patched, corrupted_logits, atol=0, rtol=0)
    assert (heads_only - clean_logits).abs().max() > 1e-3


@pytest.mark.parametrize("arch", ["gpt", "bert"])
def test_the_patching_sweep_matches_transformers_patched_one_head_at_a_time(tmp_path, arch, monkeypatch):
    ours, tok, hf = saved_pair(tmp_path, arch)
    monkeypatch.setattr(sweeps, "BATCH_TOKENS", 40)  # several batches, so batching is what is tested
    clean, corrupted = CLEAN, CORRUPTED
    if arch == "bert":
        clean, corrupted = (
            f"{tok.mask_token} Citizen: Before we proceed",
            f"{tok.mask_token} Citizen: Before you proceed",
        )
    results = list(models.patching_sweep(ours, tok, clean, corrupted))
    assert len(results) > 1 and [r.done for r in results] == sorted({r.done for r in results})
    assert np.isnan(results[0].values).sum() == 12 - results[0].done  # pending heads are NaN
    final = results[-1]
    assert final.complete and final.kind == "patching"
    clean_ids, corrupted_ids = (torch.tensor(t.ids[None]) for t in (final.tokens, final.corrupted))
    target, other = (tok.encode(t, special_tokens=False).ids[0] for t in (final.target, final.other))
    pos = final.position

    def ld(logits):
        return float(logits[0, pos, target] - logits[0, pos, other])

    ld_clean = ld(_reference_patch(hf, arch, clean_ids, clean_ids, [], 12 if arch == "gpt" else 8))
    ld_corrupted = ld(_reference_patch(hf, arch, clean_ids, corrupted_ids, [], 0))
    assert final.reference == pytest.approx(ld_clean, abs=1e-4)
    assert final.baseline == pytest.approx(ld_corrupted, abs=1e-4)
    size = 12 if arch == "gpt" else 8
    for layer in range(3):
        for head in range(4):
            patched = ld(_reference_patch(hf, arch, clean_ids, corrupted_ids, [(layer, head)], size))
            # compared as the logit difference the share stands for: the tiny BERT's clean and
            # corrupted differences are 5e-4 apart, so a share magnifies 1e-6 of rounding 2000-fold
            restored = final.values[layer, head] * (final.reference - final.baseline) + final.baseline
            assert restored == pytest.approx(patched, abs=1e-4), (layer, head)


@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_the_ablation_sweep_matches_transformers_ablated_one_head_at_a_time(tmp_path, mode, monkeypatch):
    ours, tok, hf = saved_pair(tmp_path, "gpt")
    monkeypatch.setattr(sweeps, "BATCH_TOKENS", 70)
    final = list(models.ablation_sweep(ours, tok, CLEAN, mode))[-1]
    ids = torch.tensor(final.tokens.ids[None])

    def loss(logits):
        return float(torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:]))

    with torch.no_grad():
        intact = loss(hf(ids).logits)
    assert final.baseline == pytest.approx(intact, abs=1e-5)
    for layer in range(3):
        for head in range(4):

            def hook(_m, args, head=head):
                x = args[0].clone()
                s = slice(head * 12, (head + 1) * 12)
                x[..., s] = 0.0 if mode == "zero" else x[..., s].mean(dim=1, keepdim=True)
                return (x,)

            handle = hf.transformer.h[layer].attn.c_proj.register_forward_pre_hook(hook)
            with torch.no_grad():
                knocked = loss(hf(ids).logits)
            handle.remove()
            assert final.values[layer, head] == pytest.approx(knocked - intact, abs=1e-4), (layer, head)


def test_a_sweep_runs_on_top_of_the_heads_already_out(tmp_path):
    ours, tok, _ = saved_pair(tmp_path, "gpt")
    plain = list(models.ablation_sweep(ours, tok, CLEAN))[-1]
    with models.ablated(ours, [(0, 0)]):
        on_top = list(models.ablation_sweep(ours, tok, CLEAN))[-1]
    assert on_top.values[0, 0] == pytest.approx(0.0, abs=1e-6)  # already out: knocking it again is nothing
    assert on_top.baseline != pytest.approx(plain.baseline)


def test_bad_sweeps_are_refused_before_anything_runs(tmp_path):
    ours, tok, _ = saved_pair(tmp_path, "gpt")
    with pytest.raises(ModelError, match="same number of tokens"):
        models.patching_sweep(ours, tok, CLEAN, CLEAN + " now")
    with pytest.raises(ModelError, match="nothing to restore"):
        models.patching_sweep(ours, tok, CLEAN, CLEAN)
    with pytest.raises(ModelError, match="pick a single token"):
        models.patching_sweep(ours, tok, CLEAN, CORRUPTED, target="two tokens")
    with pytest.raises(ModelError, match="the same"):
        models.patching_sweep(ours, tok, CLEAN, CORRUPTED, target="e", other="e")
    with pytest.raises(ModelError, match="at least two tokens"):
        models.ablation_sweep(ours, tok, "F")
    with pytest.raises(ModelError, match="unknown ablation"):
        models.ablation_sweep(ours, tok, CLEAN, "resample")
    bert, btok, _ = saved_pair(tmp_path / "bert", "bert")
    with pytest.raises(ModelError, match=r"\[MASK\] where the answer goes"):
        models.patching_sweep(bert, btok, "the king is here", "the queen is here")
