"""Logit lens: what each layer would already predict, read through the model's own final norm and head.

On a real model the whole lens is layers × positions × vocabulary (30 × 512 × 49,152 floats is 3 GB):
it is computed a block of positions at a time, the last positions first, keeping per cell only the
top-k and the probability of the followed token, and a caller may show each block as it is done.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from models.errors import ModelError, refuse_encoder_decoder
from models.inspect.analysis import _device, _encode
from models.inspect.stepwise import stepwise_inference
from models.nn import Model
from models.results import LogitLens
from models.text.tokenizer import Tokenizer

BLOCK_CELLS = 16 * 1024 * 1024  # a block's logits, layers × positions × vocabulary: 64 MB of float32


def logit_lens(
    model: Model, tokenizer: Tokenizer, text: str, k: int = 5, token: str | None = None
) -> LogitLens:
    """Every layer's prediction at every position of `text` (see `lens_blocks`), whole."""
    *_, lens = lens_blocks(model, tokenizer, text, k, token)
    return lens


def lens_blocks(
    model: Model, tokenizer: Tokenizer, text: str, k: int = 5, token: str | None = None
) -> Iterator[LogitLens]:
    """The logit lens of `text`, again after each block of positions, the last block first (NaN
    and no guesses where a position is not read yet; `done` counts the positions read).

    The residual stream after each layer goes through what the last layer's goes through: a
    decoder's final norm and output head, a BERT's masked-LM head. `prob` follows, at each
    position, the token the model finally predicts there, or `token` (one token of the
    vocabulary) if given. The text is read once; each block then costs its share of the output
    head, and its memory stays under `BLOCK_CELLS` whatever the model and text.
    """
    refuse_encoder_decoder(model, "The logit lens")
    if not model.capabilities.scores_tokens:
        raise ModelError("this BERT has no masked-LM head: there is nothing to read its layers with")
    tokens = _encode(model, tokenizer, text)
    picked = _one_token(tokenizer, token) if token is not None else None
    ids = torch.tensor(tokens.ids[None], device=_device(model))  # [1, T]
    # a decoder's own head runs on the last position only: every position's logits over a real
    # vocabulary (T × 152k floats, 1.2 GB at 2,048 tokens) are made a block at a time below
    head_once = {"last_only": True} if model.capabilities.causal else {}
    with torch.inference_mode():
        layers = model(ids, output_hidden_states=True, **head_once).hidden_states[1:]  # [1, T, C] each
    return stepwise_inference(_blocks(model, tokenizer, tokens, layers, k, picked))


def _blocks(model, tokenizer, tokens, layers, k: int, picked: int | None) -> Iterator[LogitLens]:
    L, T, vocab = len(layers), len(tokens), model.config.vocab_size
    k = min(k, vocab)
    prob = np.full((L, T), np.nan, np.float32)
    top_ids = np.zeros((L, T, k), np.int64)
    top_probs = np.zeros((L, T, k), np.float32)
    texts: list[list[tuple[str, ...]]] = [[() for _ in range(T)] for _ in range(L)]
    target_ids = np.full(T, -1 if picked is None else picked, np.int64)
    width = max(1, min(T, BLOCK_CELLS // (L * vocab)))  # positions per block
    done = 0
    for end in range(T, 0, -width):
        span = slice(max(0, end - width), end)
        # every layer's rows through the head in one product: the head's weights are read once a
        # block (layer by layer, a real vocabulary's head is read from memory 30 times over)
        rows = torch.cat([*(model.final_norm(h[0, span]) for h in layers[:-1]), layers[-1][0, span]])
        logits = model.logits_from(rows, last=True).float().view(L, span.stop - span.start, -1)
        norm = torch.logsumexp(logits, -1, keepdim=True)  # [L, P, 1]: the whole vocabulary, once
        if picked is None:
            target_ids[span] = logits[-1].argmax(-1).cpu().numpy()
        target = torch.as_tensor(target_ids[span], device=logits.device)
        chosen = logits.gather(2, target[None, :, None].expand(L, -1, 1))
        prob[:, span] = (chosen - norm)[..., 0].exp().cpu().numpy()
        best, where = logits.topk(k, dim=-1)  # [L, P, k]
        top_ids[:, span] = where.cpu().numpy()
        top_probs[:, span] = (best - norm).exp().cpu().numpy()
        for layer in range(L):
            for t in range(span.start, span.stop):
                texts[layer][t] = tuple(tokenizer.token_text(int(i)) for i in top_ids[layer, t])
        done += span.stop - span.start
        shown = tuple(tokenizer.token_text(int(t)) if t >= 0 else "" for t in target_ids)
        yield LogitLens(
            tokens, target_ids.copy(), shown, prob.copy(), top_ids.copy(), top_probs.copy(),
            tuple(tuple(row) for row in texts), done,
        )  # fmt: skip


def _one_token(tokenizer: Tokenizer, token: str) -> int:
    ids = tokenizer.encode(token, special_tokens=False).ids
    if len(ids) != 1:
        raise ModelError(f"“{token}” is {len(ids)} tokens for this tokenizer: pick a single token")
    return int(ids[0])
