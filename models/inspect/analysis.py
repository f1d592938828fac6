"""Probe (one forward pass with everything the views draw) and BERT fill-mask."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
import torch

from models.errors import ModelError
from models.inspect.sampling import top_k
from models.nn import Model
from models.results import FillMaskResult, MaskFill, Probe, TokenizedText
from models.text.tokenizer import Tokenizer

# a probe's attentions are kept in float32 up to this size (the built-in models, short texts: views
# and exports exact), in 16 bits past it (a real model: 512 tokens of SmolLM2 are 142 MB, not 283)
FULL_BYTES = 64 * 2**20
HALF_BYTES = 2560 * 2**20  # float16 up to this (2,048 tokens of SmolLM2), and refused beyond
# read a layer at a time (`each_layer`), one layer's float32 weights up to this: the eager pass makes
# them and its scores side by side (SmolLM2's 9 heads: 5,461 tokens; Llama-3.2-1B's 32: 2,896)
LAYER_BYTES = 2**30


def probe(
    model: Model,
    tokenizer: Tokenizer,
    text: str,
    k: int = 10,
    attentions: bool = True,
    each_layer: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
) -> Probe:
    """Tokens, all attentions (unless not wanted: then [0, 0, T, T]), and per position the top-k
    predictions, target prob and entropy. An encoder–decoder reads "source → target" (or a source
    alone, with its greedy translation): see `models.inspect.translate.probe_pair`.

    With `each_layer`, a text whose attention would pass `FULL_BYTES` in float32 keeps none of it
    (the probe's attentions are then [0, 0, T, T]): each layer's weights [H, T, T] and the residual
    stream its block read [T, C] go to `each_layer(layer, weights, stream)` as the block makes
    them, to pool what a view draws and keep the stream, from which `layer_attention` makes any
    layer again (2,048 tokens of SmolLM2: 141 MB of stream where the attention is 2.2 GB)."""
    caps = model.capabilities
    if caps.encoder_decoder:
        from models.inspect.translate import probe_pair

        return probe_pair(model, tokenizer, text, k, attentions)
    tokens = _encode(model, tokenizer, text)
    device = _device(model)
    ids = torch.tensor(tokens.ids[None], device=device)  # [1, T]
    T = len(tokens)
    # the head runs a block of positions at a time below (`predictions`): every position's
    # logits at once are positions × vocabulary, 4 such tensors of 1.2 GB at 2,048 tokens of Qwen
    with torch.inference_mode():
        if attentions:
            out, attentions = _with_attentions(
                model, ids, last_only=True, output_hidden_states=True, each_layer=each_layer
            )
        else:
            out = model(ids, output_hidden_states=True, last_only=True)
            attentions = np.zeros((0, 0, T, T), np.float32)
        if not caps.scores_tokens:  # an encoder without its masked-LM head: no predictions
            empty = np.zeros((T, 0))
            return Probe(
                caps,
                tokens,
                attentions,
                empty.astype(np.int64),
                empty.astype(np.float32),
                ((),) * T,
                np.full(T, np.nan, np.float32),
                np.full(T, np.nan, np.float32),
            )
        top_ids, top_probs, top_texts, entropies, target = predictions(
            model, ids, out.hidden_states[-1], tokenizer, k
        )
        return Probe(caps, tokens, attentions, top_ids, top_probs, tuple(top_texts), entropies, target)


BLOCK_CELLS = 16 * 1024 * 1024  # positions × vocabulary per block of a probe's logits: 64 MB of float32


def predictions(model: Model, ids: torch.Tensor, final: torch.Tensor, tokenizer: Tokenizer, k: int):
    """(top-k ids [T, k], their probabilities, their texts, entropy [T], target probability [T])
    from the final hidden state [1, T, C] (normed, as the head reads it), through the output head
    a block of positions at a time: what is kept per position is k + 2 numbers, never the
    vocabulary. The target: a decoder's, how likely the actual next token was (NaN at the end);
    an encoder's, how likely the token at each position is, seen unmasked."""
    T, vocab = final.shape[1], model.config.vocab_size
    k = min(k, vocab)
    top_ids, top_probs = np.zeros((T, k), np.int64), np.zeros((T, k), np.float32)
    entropies, target = np.zeros(T, np.float32), np.full(T, np.nan, np.float32)
    texts: list[tuple[str, ...]] = []
    width = max(1, BLOCK_CELLS // vocab)
    for start in range(0, T, width):
        span = slice(start, min(T, start + width))
        logp = torch.log_softmax(model.logits_from(final[0, span], last=True).float(), -1)  # [P, vocab]
        p, i = logp.topk(k, dim=-1)
        top_ids[span], top_probs[span] = i.cpu().numpy(), p.exp().cpu().numpy()
        texts += [tuple(tokenizer.token_text(t) for t in row) for row in top_ids[span]]
        entropies[span] = -(logp.exp() * logp).nan_to_num().sum(-1).cpu().numpy()  # (0 log 0 = 0)
        if model.capabilities.next_token:  # how likely the actual next token was (none at the end)
            follow = slice(span.start + 1, min(T, span.stop + 1))
            got = logp[: follow.stop - follow.start].gather(1, ids[0, follow, None])[:, 0]
            target[span.start : span.start + len(got)] = got.exp().cpu().numpy()
        else:  # an encoder: how likely the token at each position is, seen unmasked
            target[span] = logp.gather(1, ids[0, span, None])[:, 0].exp().cpu().numpy()
    return top_ids, top_probs, texts, entropies, target


def _with_attentions(
    model: Model,
    ids: torch.Tensor,
    last_only: bool = False,
    output_hidden_states: bool = False,
    each_layer: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
):
    """The forward pass over `ids` [1, T] and every layer's attention [L, H, T, T], each layer's
    copied out as its block makes it (none is kept in the model's output): float32 up to
    `FULL_BYTES`, float16 up to `HALF_BYTES` (a long text on a real model), and refused beyond,
    before anything runs, with the text's length that fits. With `each_layer` (see `probe`), past
    `FULL_BYTES` each layer goes there instead, and the attention returned is [0, 0, T, T]."""
    L, H, T = model.config.n_layer, model.config.n_head, ids.shape[1]
    cells = L * H * T * T
    layered = each_layer is not None and cells * 4 > FULL_BYTES
    if layered and H * T * T * 4 > LAYER_BYTES:
        fits = int((LAYER_BYTES / (4 * H)) ** 0.5)
        raise ModelError(
            f"one layer's attention over {T} tokens would take {H * T * T * 4 / 2**30:.1f} GiB "
            f"({H} heads, twice over while it is made): shorten the text to about {fits} tokens"
        )
    if cells * 2 > HALF_BYTES and not layered:
        fits = int((HALF_BYTES / (2 * L * H)) ** 0.5)
        raise ModelError(
            f"every head's attention over {T} tokens would take {cells * 2 / 2**30:.1f} GiB "
            f"({L} layers × {H} heads): shorten the text to about {fits} tokens"
        )
    shape = (0, 0, T, T) if layered else (L, H, T, T)
    kept = np.empty(shape, np.float32 if cells * 4 <= FULL_BYTES else np.float16)
    this_thread = threading.get_ident()

    def keep(layer: int):
        def hook(_block, args, output):
            x, probs = output
            if threading.get_ident() != this_thread or probs is None:
                return None  # another caller's pass over the same model: left as it is
            if layered:  # (the stream as the block read it: a steering vector added already)
                each_layer(layer, probs[0], args[0][0])
            else:  # torch converts to float16 on every core; numpy's one-thread conversion had
                # taken half of a 2,048-token probe of SmolLM2 (8 of 16 s)
                torch.from_numpy(kept[layer]).copy_(probs[0])
            return x, None  # (the model's output holds no attention: one layer's at a time lives)

        return hook

    hooks = [block.register_forward_hook(keep(i)) for i, block in enumerate(model.blocks())]
    try:
        out = model(
            ids,
            output_attentions=True,
            output_hidden_states=output_hidden_states,
            **({"last_only": True} if last_only else {}),
        )
    finally:
        for hook in hooks:
            hook.remove()
    return out, kept


def layer_attention(model: Model, layer: int, stream: torch.Tensor) -> np.ndarray:
    """Block `layer`'s attention [H, T, T] again, from the stream [T, C] a layered probe handed to
    its `each_layer` (read with no hook on: a steering vector is in the stream already, and heads
    knocked out change only what comes after the weights): float32, float16 past `FULL_BYTES`."""
    with torch.inference_mode():
        probs = model.block_attention(layer, stream[None])[0]
    kept = np.empty(tuple(probs.shape), np.float32 if probs.numel() * 4 <= FULL_BYTES else np.float16)
    torch.from_numpy(kept).copy_(probs)
    return kept


def target_prob(model: Model, tokenizer: Tokenizer, text: str) -> np.ndarray:
    """A probe's `target_prob` alone (one pass, no attentions): float32 [T]."""
    return probe(model, tokenizer, text, k=1, attentions=False).target_prob


def fill_mask(
    model: Model,
    tokenizer: Tokenizer,
    text: str,
    k: int = 10,
    mask_positions: Sequence[int] = (),
    attentions: bool = False,
) -> FillMaskResult:
    """Top-k fills for every masked position: `[MASK]` in the text, or token indices to mask."""
    if not model.capabilities.encoder_only:
        raise ModelError(
            "fill-mask needs a BERT model; a GPT continues text and an encoder–decoder translates"
        )
    if not model.capabilities.masked_lm:
        raise ModelError(
            "this BERT checkpoint has no masked-LM head: fill-mask is unavailable "
            "(attention can still be inspected)"
        )
    tokens = _encode(model, tokenizer, text)
    mask_id = tokenizer.mask_id
    if mask_id is None:
        raise ModelError("the tokenizer has no mask token")
    ids = tokens.ids.copy()
    for p in mask_positions:
        if not 0 <= p < len(ids):
            raise ModelError(f"token position {p} is outside the text ({len(ids)} tokens)")
        ids[p] = mask_id
    positions = np.flatnonzero(ids == mask_id)
    if positions.size == 0:
        raise ModelError(
            f"nothing to fill: write {tokenizer.mask_token} in the text or choose a token to mask"
        )
    masked = TokenizedText(
        ids,
        tuple(tokenizer.mask_token if ids[i] == mask_id else t for i, t in enumerate(tokens.texts)),
        tokens.offsets,
        tokens.notes,
    )
    with torch.inference_mode():
        out = model(torch.tensor(ids[None], device=_device(model)), output_attentions=attentions)
        probs = torch.softmax(out.logits[0, torch.as_tensor(positions)].float(), -1)  # [M, vocab]
        top_ids, top_probs, top_texts = top_k(probs, k, tokenizer)
        att = None
        if attentions:
            att = torch.stack([a[0] for a in out.attentions]).float().cpu().numpy()
    fills = tuple(MaskFill(int(p), top_ids[j], top_probs[j], top_texts[j]) for j, p in enumerate(positions))
    return FillMaskResult(masked, fills, att)


def _encode(model: Model, tokenizer: Tokenizer, text: str) -> TokenizedText:
    if not text.strip():
        raise ModelError("the text is empty: type something to inspect")
    encoder = model.capabilities.encoder_only  # reads [CLS] text [SEP]
    tokens = tokenizer.encode(text, special_tokens=True) if encoder else tokenizer.encode_for_decoder(text)
    ctx = model.config.context
    if len(tokens) > ctx and encoder:  # as BERT reads a long text: its start,
        # with [CLS] first and [SEP] last (what a classifier was trained on), and say so
        note = f"the text has {len(tokens)} tokens, more than the context of {ctx}: showing its first {ctx}"
        keep = [*range(ctx - 1), len(tokens) - 1]
        return TokenizedText(
            tokens.ids[keep],
            tuple(tokens.texts[i] for i in keep),
            tokens.offsets[keep],
            (*tokens.notes, note),
        )
    if len(tokens) > ctx:  # keep the last window, and say so
        note = f"the text has {len(tokens)} tokens, more than the context of {ctx}: showing its last {ctx}"
        return TokenizedText(
            tokens.ids[-ctx:], tokens.texts[-ctx:], tokens.offsets[-ctx:], (*tokens.notes, note)
        )
    return tokens


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device
