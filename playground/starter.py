"""Small starter models made at first start when the built-in checkpoints are missing (torch)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F

import models

# A few public-domain lines: enough for a char-level model to learn spelling and spacing.
TEXT = """\
To be, or not to be, that is the question:
Whether 'tis nobler in the mind to suffer
The slings and arrows of outrageous fortune,
Or to take arms against a sea of troubles
And by opposing end them. To die, to sleep;
No more; and by a sleep to say we end
The heart-ache and the thousand natural shocks
That flesh is heir to: 'tis a consummation
Devoutly to be wish'd. To die, to sleep;
To sleep, perchance to dream: ay, there's the rub.
The quick brown fox jumps over the lazy dog.
The cat sat on the mat. The dog sat on the log.
"""

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def builtin_folder(arch: str, assets: Path = ASSETS) -> Path | None:
    """The shipped checkpoint for `arch` ("gpt" or "bert"), if it exists."""
    folder = assets / f"default-{arch}"
    return folder if (folder / "config.json").is_file() else None


def make_model(arch: str, seed: int = 0):
    """A fresh small model and tokenizer for `arch`, untrained."""
    torch.manual_seed(seed)
    if arch == "gpt":
        tok = models.Tokenizer.train([TEXT], "char")
        cfg = models.GPTConfig(vocab_size=tok.vocab_size, n_positions=128, n_embd=64, n_layer=4, n_head=4)
        return models.GPT(cfg).eval(), tok
    tok = models.Tokenizer.train([TEXT], "wordpiece", vocab_size=300)
    cfg = models.BertConfig(
        vocab_size=tok.vocab_size,
        max_position_embeddings=64,
        hidden_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=256,
    )
    return models.Bert(cfg).eval(), tok


@torch.no_grad()
def _adam(params, moments, step: int, lr: float, b1: float = 0.9, b2: float = 0.99) -> None:
    for p, (m, v) in zip(params, moments, strict=True):
        if p.grad is None:
            continue
        m.mul_(b1).add_(p.grad, alpha=1 - b1)
        v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
        denom = (v / (1 - b2**step)).sqrt_().add_(1e-8)
        p.addcdiv_(m, denom, value=-lr / (1 - b1**step))


def train_steps(model, tok, steps: int = 300, seconds: float = 8.0) -> Iterator[float]:
    """Train briefly on TEXT, yielding the loss after each step (a chunkable job)."""
    ids = torch.tensor(tok.encode(TEXT, special_tokens=False).ids)
    ctx = min(64, model.config.context - 2)
    # a hand-written Adam: constructing torch.optim.AdamW on a worker thread imports
    # torch._dynamo lazily, which was seen to hang there (tests/app, torch 2.13)
    params = [p for p in model.parameters() if p.requires_grad]
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    model.train()
    step = 0
    try:
        for _ in range(steps):
            starts = torch.randint(0, len(ids) - ctx - 1, (16,), generator=gen)
            x = torch.stack([ids[s : s + ctx] for s in starts])  # [B, ctx]
            if model.config.arch == "gpt":
                y = torch.stack([ids[s + 1 : s + ctx + 1] for s in starts])
                logits = model(x).logits
            else:  # masked LM: hide 15% of the tokens and predict them
                hide = torch.rand(x.shape, generator=gen) < 0.15
                y = torch.where(hide, x, torch.full_like(x, -100))
                logits = model(torch.where(hide, torch.full_like(x, tok.mask_id), x)).logits
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100)
            for p in params:
                p.grad = None
            loss.backward()
            step += 1
            _adam(params, moments, step, lr=3e-3)
            yield float(loss.detach())
            if time.perf_counter() - start > seconds:
                return
    finally:
        model.eval()
