"""Logit lens: what each layer would already predict, read through the model's own final norm and head."""

from __future__ import annotations

import numpy as np
import torch

from models.errors import ModelError, refuse_encoder_decoder
from models.inspect.analysis import _device, _encode
from models.inspect.sampling import top_k
from models.nn import Model
from models.results import LogitLens
from models.text.tokenizer import Tokenizer


def logit_lens(
    model: Model, tokenizer: Tokenizer, text: str, k: int = 5, token: str | None = None
) -> LogitLens:
    """Every layer's prediction at every position of `text`.

    The residual stream after each layer goes through what the last layer's goes through: a GPT's
    final LayerNorm and output head, a BERT's masked-LM head. `prob` follows, at each position,
    the token the model finally predicts there, or `token` (one token of the vocabulary) if given.
    """
    refuse_encoder_decoder(model, "The logit lens")
    if not model.capabilities.scores_tokens:
        raise ModelError("this BERT has no masked-LM head: there is nothing to read its layers with")
    tokens = _encode(model, tokenizer, text)
    ids = torch.tensor(tokens.ids[None], device=_device(model))  # [1, T]
    picked = _one_token(tokenizer, token) if token is not None else None
    with torch.inference_mode():
        out = model(ids, output_hidden_states=True)
        layers = out.hidden_states[1:]  # after each block
        probs = torch.stack([torch.softmax(model.logits_from(h, i == len(layers) - 1)[0].float(), -1)
                             for i, h in enumerate(layers)])  # fmt: skip  # [L, T, vocab]
        if picked is None:
            target = probs[-1].argmax(-1)  # [T]: the model's own prediction at each position
        else:
            target = torch.full((len(tokens),), picked, device=probs.device)
        prob = probs.gather(2, target[None, :, None].expand(len(layers), -1, 1))[..., 0]  # [L, T]
        L, T = prob.shape
        top_ids, top_probs, top_texts = top_k(probs.reshape(L * T, -1), k, tokenizer)
    kk = top_ids.shape[-1]
    target_ids = target.cpu().numpy().astype(np.int64)
    return LogitLens(
        tokens,
        target_ids,
        tuple(tokenizer.token_text(int(t)) for t in target_ids),
        prob.cpu().numpy().astype(np.float32),
        top_ids.reshape(L, T, kk),
        top_probs.reshape(L, T, kk),
        tuple(tuple(top_texts[layer * T : (layer + 1) * T]) for layer in range(L)),
    )


def _one_token(tokenizer: Tokenizer, token: str) -> int:
    ids = tokenizer.encode(token, special_tokens=False).ids
    if len(ids) != 1:
        raise ModelError(f"“{token}” is {len(ids)} tokens for this tokenizer: pick a single token")
    return int(ids[0])
