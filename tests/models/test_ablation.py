"""Head ablation against a reference: `transformers` with a hook that zeroes the same head's slice."""

import pytest
import torch

import models
from models.errors import ModelError
from tests.models.helpers import saved_pair

IDS = torch.randint(0, 30, (2, 12), generator=torch.Generator().manual_seed(3))


def _slice_hook(layer_heads: list[int], size: int, mode: str):
    """The reference, written independently: change the merged heads' input of the projection."""

    def hook(_module, args):
        x = args[0].clone()
        for h in layer_heads:
            s = slice(h * size, (h + 1) * size)
            x[..., s] = 0.0 if mode == "zero" else x[..., s].mean(dim=1, keepdim=True)
        return (x,)

    return hook


@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_gpt_ablation_matches_a_transformers_hook(tmp_path, mode):
    ours, _, hf = saved_pair(tmp_path, "gpt")
    heads = [(0, 1), (2, 3), (2, 0)]
    handles = [
        hf.transformer.h[layer].attn.c_proj.register_forward_pre_hook(_slice_hook(hs, 12, mode))
        for layer, hs in ((0, [1]), (2, [3, 0]))
    ]
    with torch.no_grad():
        reference = hf(IDS).logits
        for handle in handles:
            handle.remove()
        intact = ours(IDS).logits
        with models.ablated(ours, heads, mode):
            knocked = ours(IDS).logits
        after = ours(IDS).logits
    torch.testing.assert_close(knocked, reference, atol=1e-4, rtol=0)
    assert (knocked - intact).abs().max() > 1e-3  # it did something
    torch.testing.assert_close(after, intact)  # and nothing once the block ends


def test_bert_ablation_matches_a_transformers_hook(tmp_path):
    ours, _, hf = saved_pair(tmp_path, "bert")
    dense = hf.bert.encoder.layer[1].attention.output.dense
    handle = dense.register_forward_pre_hook(_slice_hook([2], 8, "zero"))
    with torch.no_grad():
        reference = hf(IDS).logits
        handle.remove()
        with models.ablated(ours, [(1, 2)]):
            knocked = ours(IDS).logits
    torch.testing.assert_close(knocked, reference, atol=1e-4, rtol=0)


def test_ablation_applies_to_every_analysis(tmp_path):
    ours, tok, _ = saved_pair(tmp_path, "gpt")
    text = "First Citizen: Before we proceed"
    plain = models.probe(ours, tok, text)
    with models.ablated(ours, [(h_layer, h) for h_layer in range(3) for h in range(4)]):
        none_left = models.probe(ours, tok, text)
    assert not torch.allclose(torch.tensor(plain.target_prob[:-1]), torch.tensor(none_left.target_prob[:-1]))


def test_heads_outside_the_model_and_unknown_modes_are_refused(tmp_path):
    ours, _, _ = saved_pair(tmp_path, "gpt")
    with pytest.raises(ModelError, match="no head L3H0"):
        with models.ablated(ours, [(3, 0)]):
            pass
    with pytest.raises(ModelError, match="unknown ablation"):
        with models.ablated(ours, [(0, 0)], mode="resample"):
            pass
