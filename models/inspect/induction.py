"""The induction-head phase change (Olsson et al. 2022), measured on a model as it trains: each head's
induction score on a held-out passage written twice, the in-context-learning score on held-out text
(the loss late in the context minus the loss early in it), and that score again with the best
induction heads knocked out, and with the weakest head knocked out (the control)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from models.results import InductionEval

if TYPE_CHECKING:  # (the window reads THRESHOLD and phase_change and must not load torch)
    import torch

    from models.nn import Model

LOOK_FOR = (
    "the loss falling fastest where the best head's induction score passes 0.2 (the dashed line); "
    "from then on a layer-1 head draws a stripe one step right of the repeat in the probe line read "
    "twice, and knocking it out takes the in-context learning away"
)
PASSAGES = 4  # held-out passages, each written twice: their scores are averaged
KNOCKED = 2  # the best-scoring heads, knocked out together
THRESHOLD = 0.2  # the best head's score at which they are said to have formed (uniform: ~1/context)


def induction_scores(model: Model, passages: Sequence[torch.Tensor]) -> np.ndarray:
    """float32 [layers, heads]: each head's attention, in the second copy of a passage written
    twice, on the token just after the same place in the first copy (TransformerLens's induction
    score on a repeated sequence), averaged over the passages (token ids [m] each, 2m ≤ context).

    Passages of the model's own kind of text: a character model reads random characters as noise,
    and natural text repeats characters so often that "any earlier copy" would credit every head."""
    import torch

    from models.inspect.analysis import _with_attentions

    device = next(model.parameters()).device
    scores = []
    with torch.inference_mode():
        for passage in passages:
            m = len(passage)
            _, attentions = _with_attentions(model, passage.repeat(2)[None].to(device))
            queries = np.arange(m, 2 * m)
            scores.append(attentions[:, :, queries, queries - m + 1].mean(-1))
    return np.mean(scores, 0).astype(np.float32)


def held_out_passages(ids: torch.Tensor, context: int, count: int = PASSAGES) -> list[torch.Tensor]:
    """`count` passages of half the context, evenly spread over held-out token ids [N]."""
    m = context // 2
    starts = np.linspace(0, max(0, len(ids) - m), count).astype(int)
    return [ids[s : s + m] for s in starts]


def position_losses(model: Model, windows: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> np.ndarray:
    """float32 [T]: the next-token loss at each position of the windows (x, y [B, T]), averaged."""
    import torch
    import torch.nn.functional as F

    total = None
    with torch.inference_mode():
        for x, y in windows:
            logits = model(x).logits.float()
            loss = F.cross_entropy(logits.transpose(1, 2), y, reduction="none").sum(0)  # [T]
            total = loss if total is None else total + loss
    count = sum(len(x) for x, _ in windows)
    return (total / count).cpu().numpy().astype(np.float32)


def compared_positions(context: int) -> tuple[slice, slice]:
    """(early, late): the positions the in-context-learning score compares, Olsson's "token 50 and
    token 500" scaled to the context: a band around a tenth of it, and its last tenth."""
    width = max(2, context // 50)
    tenth = max(width, context // 10)
    return slice(tenth - width, tenth + width), slice(context - max(2, context // 10), context)


def icl_score(losses: np.ndarray) -> float:
    """The loss late in the context minus the loss early in it: negative when the model uses what
    it has read (Olsson et al.'s in-context-learning score)."""
    early, late = compared_positions(len(losses))
    return float(losses[late].mean() - losses[early].mean())


def measure_induction(
    model: Model, windows: Sequence[tuple[torch.Tensor, torch.Tensor]], passages: Sequence[torch.Tensor]
) -> InductionEval:
    """The scores, the in-context-learning score, and that score with the `KNOCKED` best heads out
    and with the weakest head out (`model` in eval mode; the caller's windows are held-out text)."""
    from models.inspect.ablation import ablated

    scores = induction_scores(model, passages)
    H = scores.shape[1]
    order = np.argsort(np.nan_to_num(scores, nan=-1.0).ravel())[::-1]
    best = tuple((int(i) // H, int(i) % H) for i in order[:KNOCKED])
    weakest = (int(order[-1]) // H, int(order[-1]) % H)
    losses = position_losses(model, windows)
    with ablated(model, best):
        heads_out = position_losses(model, windows)
    with ablated(model, [weakest]):
        weakest_out = position_losses(model, windows)
    return InductionEval(
        scores=scores,
        heads=best,
        weakest=weakest,
        icl=icl_score(losses),
        icl_heads_out=icl_score(heads_out),
        icl_weakest_out=icl_score(weakest_out),
        losses=losses,
    )


def phase_change(history: Sequence[tuple[int, InductionEval]], threshold: float = THRESHOLD) -> int | None:
    """The first step whose best head scores at least `threshold`, None before."""
    return next((step for step, ev in history if ev.best >= threshold), None)
