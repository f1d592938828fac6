"""Greedy translation with an encoder–decoder: the source read once, the target decoded with the cache."""

from __future__ import annotations

import torch

from models.errors import ModelError
from models.nn.seq2seq import Seq2Seq
from models.text.tokenizer import Tokenizer

EOS = "</s>"  # ends every source and every target of the encoder–decoders trained here


def encode_source(tokenizer: Tokenizer, text: str, context: int) -> tuple[list[int], bool]:
    """The source's ids ending in </s>, cut to the context; and whether it was cut."""
    eos = tokenizer.token_id(EOS)
    if eos is None:
        raise ModelError(f"this tokenizer has no {EOS} token: it is not an encoder–decoder's")
    ids = tokenizer.encode(text, special_tokens=False).ids.tolist()
    return ids[: context - 1] + [eos], len(ids) > context - 1


def pad_rows(rows: list[list[int]], pad: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, T] ids padded to the longest row, and the mask (1 = token, 0 = padding)."""
    T = max(len(r) for r in rows)
    ids = torch.full((len(rows), T), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids.to(device), mask.to(device)


@torch.inference_mode()
def translate(model: Seq2Seq, tokenizer: Tokenizer, sources: list[str], max_new_tokens: int = 0) -> list[str]:
    """The greedy translation of each source (a batch decoded together, each until its </s>)."""
    cfg = model.config
    device = next(model.parameters()).device
    eos = tokenizer.token_id(EOS)
    rows = [encode_source(tokenizer, s, cfg.context)[0] for s in sources]
    src, mask = pad_rows(rows, cfg.pad_token_id, device)
    memory, _ = model.encode(src, mask)
    steps = min(max_new_tokens or cfg.context, cfg.context)
    cache = model.new_cache(len(rows), steps)
    token = torch.full((len(rows), 1), cfg.decoder_start_token_id, dtype=torch.long, device=device)
    done = torch.zeros(len(rows), dtype=torch.bool, device=device)
    out: list[list[int]] = [[] for _ in rows]
    for _ in range(steps):
        logits = model.decode(token, memory, mask, cache=cache, last_only=True).logits[:, -1]  # [B, V]
        token = logits.argmax(-1, keepdim=True)  # [B, 1]
        for b in (~done).nonzero().flatten().tolist():
            if token[b, 0].item() == eos:
                done[b] = True
            else:
                out[b].append(int(token[b, 0]))
        if bool(done.all()):
            break
    return [tokenizer.decode(ids, skip_special=True) for ids in out]
