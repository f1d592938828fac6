"""Head sweeps: every head knocked out in turn, or patched from a clean run, batched along the batch.

Batch row b of a sweep's forward pass edits only head b of the batch, so one pass scores as many
heads of a layer as fit in memory; and a pass that edits layer l starts from the residual stream
entering block l, taken once from the unedited run (the blocks before it are the same in every
row), which halves a sweep's work. Each sweep yields its result after every batch (NaN where not
yet computed), so a caller can show progress, draw as it fills and stop between batches.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager

import numpy as np
import torch

from models.errors import ModelError, refuse_encoder_decoder
from models.inspect.ablation import MODES, HeadEdit, edited, head_rows
from models.inspect.analysis import _device, _encode
from models.inspect.lens import _one_token
from models.nn import Model
from models.results import HeadSweep, TokenizedText
from models.text.tokenizer import Tokenizer

BATCH_TOKENS = 2048  # positions per forward pass: a batch takes a fraction of a second on a CPU
LOGITS_BUDGET = 2**26  # logits per pass (256 MB of float32): a big vocabulary means smaller batches


def ablation_sweep(model: Model, tokenizer: Tokenizer, text: str, mode: str = "zero") -> Iterator[HeadSweep]:
    """Knock each head out on its own and measure how much the text's loss rises (nats per token).

    The loss is what the probability view shows: a GPT's next-token loss, a BERT's loss of each
    token seen unmasked. Heads already knocked out by an enclosing `ablated` stay out.
    """
    if mode not in MODES:
        raise ModelError(f"unknown ablation '{mode}' (choose from {', '.join(MODES)})")
    _need_head(model)
    tokens = _encode(model, tokenizer, text)
    if model.capabilities.causal and len(tokens) < 2:
        raise ModelError("the text needs at least two tokens: a GPT's loss scores each next token")
    return ablation_sweep_ids(model, tokens, mode)


def ablation_sweep_ids(model: Model, tokens: TokenizedText, mode: str = "zero") -> Iterator[HeadSweep]:
    """`ablation_sweep` on text already tokenized (the intact loss is computed at once)."""
    ids = torch.tensor(tokens.ids[None], device=_device(model))  # [1, T]
    with torch.inference_mode():
        out = model(ids, output_hidden_states=True)
        baseline = float(_losses(model, out.logits, ids)[0])
    return _ablation_batches(model, tokens, ids, out.hidden_states, mode, baseline)


def _ablation_batches(model, tokens: TokenizedText, ids: torch.Tensor, hidden, mode: str, baseline: float):
    values = np.full((model.config.n_layer, model.config.n_head), np.nan, np.float32)
    done = 0
    for layer, batch in _batches(model, len(tokens), last_only=False):
        with torch.inference_mode(), edited(model, _edits(model, batch, mode)):
            logits = model.run_from(layer, hidden[layer].expand(len(batch), -1, -1))
            losses = _losses(model, logits, ids.expand(len(batch), -1))  # [len(batch)]
        for (_, head), loss in zip(batch, losses.tolist(), strict=True):
            values[layer, head] = loss - baseline
        done += len(batch)
        yield HeadSweep("ablation", tokens, values.copy(), done, mode, baseline)


def patching_sweep(
    model: Model, tokenizer: Tokenizer, clean: str, corrupted: str, target: str = "", other: str = ""
) -> Iterator[HeadSweep]:
    """Patch each head's output from the clean run into the corrupted run, one head at a time, and
    measure the share of the clean logit difference it restores: (LD − LD_corrupted) /
    (LD_clean − LD_corrupted), LD = logit(target) − logit(other) where the answer is read.

    The answer is read at the last position (GPT) or at the clean text's first mask (BERT). The
    target defaults to the clean run's prediction, the other token to the corrupted run's best
    token that is not the target.
    """
    _need_head(model)
    clean_tokens = _encode(model, tokenizer, clean)
    corrupted_tokens = _encode(model, tokenizer, corrupted)
    if len(clean_tokens) != len(corrupted_tokens):
        raise ModelError(
            f"the clean text is {len(clean_tokens)} tokens and the corrupted one {len(corrupted_tokens)}: "
            "patching needs the same number of tokens (change a word for one of the same length)"
        )
    position = _answer_position(model, tokenizer, clean_tokens)
    picked = [_one_token(tokenizer, t) if t.strip() else None for t in (target, other)]
    return patching_sweep_ids(model, clean_tokens, corrupted_tokens, position, *picked, tokenizer=tokenizer)


def patching_sweep_ids(
    model: Model,
    clean: TokenizedText,
    corrupted: TokenizedText,
    position: int,
    target: int | None = None,
    other: int | None = None,
    tokenizer: Tokenizer | None = None,
) -> Iterator[HeadSweep]:
    """`patching_sweep` on texts already tokenized, reading the answer at `position` (the clean
    and corrupted runs happen at once, so a refusal comes before the first batch)."""
    device = _device(model)
    clean_ids = torch.tensor(clean.ids[None], device=device)
    corrupted_ids = torch.tensor(corrupted.ids[None], device=device)
    with torch.inference_mode():
        z, _, clean_logits = _clean_run(model, clean_ids)
        clean_logits = clean_logits[0, position].float()
        corrupted_run = model(corrupted_ids, output_hidden_states=True)
        corrupted_logits = corrupted_run.logits[0, position].float()
    if target is None:
        target = int(clean_logits.argmax())
    if other is None:
        other = int(corrupted_logits.masked_fill(_one_hot(target, corrupted_logits), -math.inf).argmax())
    if other == target:
        raise ModelError("the target and the other token are the same: the logit difference is always 0")
    ld_clean = float(clean_logits[target] - clean_logits[other])
    ld_corrupted = float(corrupted_logits[target] - corrupted_logits[other])
    if abs(ld_clean - ld_corrupted) < 1e-6:
        raise ModelError(
            "the clean and corrupted texts give the same logit difference: there is nothing to restore "
            "(corrupt the part of the text the answer depends on)"
        )
    name = tokenizer.token_text if tokenizer is not None else str
    return _patching_batches(
        model, clean, corrupted, corrupted_run.hidden_states, z, position, (target, other),
        (ld_corrupted, ld_clean), (name(target), name(other)),
    )  # fmt: skip


def _patching_batches(model, clean, corrupted, hidden, z, position, pair, lds, names):
    (target, other), (ld_corrupted, ld_clean) = pair, lds
    values = np.full((model.config.n_layer, model.config.n_head), np.nan, np.float32)
    done = 0
    last = model.capabilities.causal and position == len(clean) - 1  # only the last position's logits
    for layer, batch in _batches(model, len(clean), last_only=last):
        edits = _edits(model, batch, None, z)
        with torch.inference_mode(), edited(model, edits):
            logits = model.run_from(layer, hidden[layer].expand(len(batch), -1, -1), last_only=last)
            logits = logits[:, -1 if last else position].float()  # [B, vocab]
        restored = ((logits[:, target] - logits[:, other]) - ld_corrupted) / (ld_clean - ld_corrupted)
        for (_, head), value in zip(batch, restored.tolist(), strict=True):
            values[layer, head] = value
        done += len(batch)
        yield HeadSweep(
            "patching", clean, values.copy(), done, "", ld_corrupted, ld_clean,
            corrupted, *names, position,
        )  # fmt: skip


@contextmanager
def patched(
    model: Model, clean_ids: torch.Tensor, heads: Iterable[tuple[int, int]], embeddings: bool = False
) -> Iterator[None]:
    """Within the block, a forward pass over an input as long as `clean_ids` [1, T] takes each of
    `heads` (and, with `embeddings`, the embedded input) from the run on `clean_ids`."""
    with torch.inference_mode():
        z, embedded, _ = _clean_run(model, clean_ids)
    rows = head_rows(model, [heads])
    with ExitStack() as stack:
        stack.enter_context(edited(model, {layer: HeadEdit(r, z[layer]) for layer, r in rows.items()}))
        if embeddings:
            hook = model.embedding_output().register_forward_hook(lambda _m, _a, out: embedded.expand_as(out))
            stack.callback(hook.remove)
        yield


# ---- pieces ------------------------------------------------------------------------------------
def _need_head(model: Model) -> None:
    refuse_encoder_decoder(model, "A head sweep")
    if not model.capabilities.scores_tokens:
        raise ModelError("this BERT has no masked-LM head: there are no predictions to measure heads by")


def _batches(model: Model, T: int, last_only: bool) -> Iterator[tuple[int, list[tuple[int, int]]]]:
    """(layer, its (layer, head) pairs) in batches of one layer's heads, sized so a pass stays
    short and its logits fit in memory."""
    H, vocab = model.config.n_head, model.config.vocab_size
    per_row_logits = vocab * (1 if last_only else T)
    size = max(1, min(H, BATCH_TOKENS // T, LOGITS_BUDGET // per_row_logits))
    for layer in range(model.config.n_layer):
        for start in range(0, H, size):
            yield layer, [(layer, head) for head in range(start, min(H, start + size))]


def _edits(model: Model, batch: list[tuple[int, int]], mode: str | None, z=None) -> dict[int, HeadEdit]:
    """Row b of the batch edits head batch[b]: knocked out by `mode`, or taken from `z` (patching)."""
    rows = head_rows(model, [[head] for head in batch])
    return {layer: HeadEdit(r, mode if z is None else z[layer]) for layer, r in rows.items()}


def _clean_run(model: Model, ids: torch.Tensor):
    """One pass over `ids` [1, T]: every layer's merged heads [1, T, heads, size], the embedded
    input and the logits."""
    H = model.config.n_head
    z: dict[int, torch.Tensor] = {}
    embedded: list[torch.Tensor] = []

    def keep(layer: int):
        def hook(_module, args):
            B, T, C = args[0].shape
            z[layer] = args[0].view(B, T, H, C // H).clone()

        return hook

    handles = [model.head_projection(layer).register_forward_pre_hook(keep(layer))
               for layer in range(model.config.n_layer)]  # fmt: skip
    handles.append(
        model.embedding_output().register_forward_hook(lambda _m, _a, out: embedded.append(out.clone()))
    )
    try:
        logits = model(ids).logits
    finally:
        for handle in handles:
            handle.remove()
    return z, embedded[0], logits


def _losses(model: Model, logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Mean loss of each row [B] from its logits [B, T, vocab]: next-token (a decoder) or of each
    token seen unmasked (BERT)."""
    logits = logits.float()
    if model.capabilities.causal:
        logits, targets = logits[:, :-1], ids[:, 1:]
    else:
        targets = ids
    # cross-entropy as logsumexp − target logit: no copy or log-softmax of the [B, T, vocab] logits
    return (logits.logsumexp(-1) - logits.gather(2, targets[..., None])[..., 0]).mean(1)


def _answer_position(model: Model, tokenizer: Tokenizer, tokens: TokenizedText) -> int:
    if model.capabilities.causal:
        return len(tokens) - 1
    masks = np.flatnonzero(tokens.ids == tokenizer.mask_id) if tokenizer.mask_id is not None else []
    if not len(masks):
        raise ModelError(f"write {tokenizer.mask_token} where the answer goes in the clean text")
    return int(masks[0])


def _one_hot(index: int, like: torch.Tensor) -> torch.Tensor:
    hot = torch.zeros_like(like, dtype=torch.bool)
    hot[index] = True
    return hot
