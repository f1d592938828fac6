"""Training batches: token ids of a corpus, random windows (GPT), masked windows (BERT, 80/10/10), padding."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from models.text.tokenizer import BERT_SPECIALS, Tokenizer

_CHUNK = 1 << 16  # characters per encode_batch item: lets the Rust side use every core


def encode_ids(tokenizer: Tokenizer, text: str) -> torch.Tensor:
    """The whole text as one int64 tensor of token ids, without special tokens."""
    chunks, start = [], 0
    while start < len(text):  # cut after a newline so no word is split between chunks
        end = text.find("\n", start + _CHUNK)
        end = len(text) if end < 0 else end + 1
        chunks.append(text[start:end])
        start = end
    encodings = tokenizer.hf.encode_batch(chunks, add_special_tokens=False)
    ids = np.fromiter(itertools.chain.from_iterable(e.ids for e in encodings), dtype=np.int64)
    return torch.from_numpy(ids)


def gpt_batch(
    data: torch.Tensor, batch: int, context: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows: inputs [B, T] and the same windows shifted by one as targets [B, T]."""
    starts = torch.randint(len(data) - context, (batch,), generator=gen)  # [B]
    idx = starts[:, None] + torch.arange(context + 1)  # [B, T + 1]
    chunk = data[idx]
    return chunk[:, :-1], chunk[:, 1:]


def repeat_passages(
    data: torch.Tensor, x: torch.Tensor, y: torch.Tensor, share: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace about `share` of the windows (x, y [B, T]) by a passage of `data` written over and
    over: T/8 to T/2 tokens long, so the copy is found by content (the token after the last time
    this one was read: an induction head) and not at a fixed distance back."""
    B, T = x.shape
    x, y = x.clone(), y.clone()
    for row in torch.nonzero(torch.rand(B, generator=gen) < share).flatten().tolist():
        length = int(torch.randint(max(1, T // 8), max(2, T // 2 + 1), (), generator=gen))
        start = int(torch.randint(len(data) - length, (), generator=gen))
        repeated = data[start : start + length].repeat(T // length + 2)[: T + 1]
        x[row], y[row] = repeated[:-1], repeated[1:]
    return x, y


class Masker:
    """BERT's masked-LM corruption: pick `prob` of the tokens; of those 80% [MASK], 10% random, 10% kept."""

    def __init__(self, tokenizer: Tokenizer, vocab_size: int, prob: float) -> None:
        specials = [i for t in BERT_SPECIALS if (i := tokenizer.token_id(t)) is not None]
        self.cls, self.sep = tokenizer.token_id("[CLS]"), tokenizer.token_id("[SEP]")
        self.mask = tokenizer.mask_id
        self.low = max(specials) + 1  # random replacements are ordinary tokens, never specials
        self.vocab_size = vocab_size
        self.prob = prob

    def batch(
        self, data: torch.Tensor, batch: int, context: int, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows as [CLS] text [SEP] ([B, T]) and labels: the original id where masked, else -100."""
        inner = context - 2
        starts = torch.randint(len(data) - inner + 1, (batch,), generator=gen)  # [B]
        body = data[starts[:, None] + torch.arange(inner)]  # [B, T - 2]
        chosen = torch.rand(body.shape, generator=gen) < self.prob
        # at least one prediction per window, so the loss is never an average over nothing
        forced = torch.randint(inner, (batch,), generator=gen)
        chosen[torch.arange(batch), forced] = True
        labels = torch.where(chosen, body, torch.full_like(body, -100))
        roll = torch.rand(body.shape, generator=gen)
        random_ids = torch.randint(self.low, self.vocab_size, body.shape, generator=gen)
        inputs = torch.where(chosen & (roll < 0.8), torch.full_like(body, self.mask), body)
        inputs = torch.where(chosen & (roll >= 0.8) & (roll < 0.9), random_ids, inputs)
        cls = torch.full((batch, 1), self.cls, dtype=body.dtype)
        sep = torch.full((batch, 1), self.sep, dtype=body.dtype)
        ignore = torch.full((batch, 1), -100, dtype=body.dtype)
        return torch.cat([cls, inputs, sep], 1), torch.cat([ignore, labels, ignore], 1)


def pad_rows(rows: list[list[int]], pad: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids [B, T] padded to the longest row, and the attention mask (1 = token, 0 = padding)."""
    T = max(len(r) for r in rows)
    ids = torch.full((len(rows), T), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids.to(device), mask.to(device)
