"""A gallery of head types: every head scored as previous-token, duplicate-token, induction,
first-token (an attention sink), local and diffuse, on random repeated tokens and on a text.

The first three are TransformerLens's head detectors (`transformer_lens.head_detector`): a 0/1
pattern over (query, key) — the key just before; earlier keys holding the query's token; keys just
after an earlier copy of the query's token — and a head's score is the share of its attention on
the pattern, Σ A·P / Σ A over the lower triangle ("mul", nothing excluded). The others: the mean
attention on the first token (queries after it); the mean attention on the `LOCAL` latest keys
(the query's own included); and the mean entropy of a query's attention over its most (log of its
keys), queries after the first. A head's type is the most specific one it scores at least
`THRESHOLD` on, in the order of `TYPES`; "mixed" when none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from models.errors import ModelError

if TYPE_CHECKING:  # (the window reads this module's names and must not load torch)
    from models.nn import Model
    from models.text.tokenizer import Tokenizer

TYPES = {
    "induction": "to the token just after an earlier copy of its own token",
    "duplicate-token": "to earlier copies of its own token",
    "previous-token": "to the token just before",
    "first-token": "to the first token (an attention sink)",
    "local": "to the latest few tokens",
    "diffuse": "spread over everything before (high entropy)",
}
LOCAL = 4  # keys the local score counts: the query's own and the 3 before it
THRESHOLD = 0.4
RANDOM_LENGTH = 48  # random tokens, then the same tokens again


@dataclass(frozen=True)
class HeadTypes:
    """Every head's score on every type, on random repeated tokens and (if given) on a text."""

    random: dict[str, np.ndarray]  # type -> float32 [layers, heads]
    text: dict[str, np.ndarray] | None  # the same on the text, None without one
    tokens: int  # length of the random sequence (repeated once)

    def dominant(self, on: str = "random") -> tuple[np.ndarray, np.ndarray]:
        """(type name [layers, heads] — "mixed" where none reaches THRESHOLD, its score)."""
        scores = self.random if on == "random" else self.text
        shape = next(iter(scores.values())).shape
        names = np.full(shape, "mixed", dtype=object)
        best = np.zeros(shape, np.float32)
        for name in TYPES:  # the most specific first: a later type does not take a head already named
            s = np.nan_to_num(scores[name], nan=0.0)
            take = (names == "mixed") & (s >= THRESHOLD)
            names[take], best[take] = name, s[take]
        return names, best


def patterns(ids: np.ndarray) -> dict[str, np.ndarray]:
    """TransformerLens's detection patterns [T, T] for `ids`."""
    T = len(ids)
    previous = np.zeros((T, T), np.float32)
    previous[np.arange(1, T), np.arange(T - 1)] = 1
    duplicate = (ids[:, None] == ids[None, :]).astype(np.float32)
    np.fill_diagonal(duplicate, 0)
    duplicate = np.tril(duplicate)
    induction = np.zeros((T, T), np.float32)
    induction[:, 1:] = duplicate[:, :-1]  # shifted one to the right, the first column empty
    return {"previous-token": previous, "duplicate-token": duplicate, "induction": np.tril(induction)}


def type_scores(attentions: np.ndarray, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Every head's score on every type; attentions [layers, heads, T, T], ids [T]."""
    A = np.tril(attentions.astype(np.float32))
    T = A.shape[-1]
    total = A.sum((-1, -2))
    scores = {name: (A * P).sum((-1, -2)) / total for name, P in patterns(np.asarray(ids)).items()}
    rows = np.arange(1, T)
    if T < 2:
        nothing = np.full(A.shape[:2], np.nan, np.float32)
        return scores | {"first-token": nothing, "local": nothing, "diffuse": nothing}
    scores["first-token"] = A[:, :, 1:, 0].mean(-1)
    near = np.tril(np.ones((T, T), bool)) & ~np.tril(np.ones((T, T), bool), -LOCAL)
    scores["local"] = (A * near).sum(-1).mean(-1)
    p = A[:, :, 1:, :]
    entropy = -(p * np.log(np.where(p > 0, p, 1.0))).sum(-1)  # [L, H, T-1]
    scores["diffuse"] = (entropy / np.log(rows + 1)).mean(-1)
    return {name: scores[name].astype(np.float32) for name in TYPES}


def head_types(model: Model, tokenizer: Tokenizer, text: str = "", seed: int = 0) -> HeadTypes:
    """Score every head on `RANDOM_LENGTH` random tokens repeated once (the pattern induction
    and duplicate-token heads show on any model) and on `text`, if given."""
    import torch  # (this module's names are read by the window, which never loads torch itself)

    from models.inspect.analysis import _encode, _with_attentions, probe

    if not model.capabilities.one_stack:
        raise ModelError("head types are for one stack of heads: an encoder–decoder has three kinds")
    n = min(RANDOM_LENGTH, model.config.context // 2)
    if n < 2:
        raise ModelError(f"the context ({model.config.context}) is too short for repeated random tokens")
    rng = np.random.default_rng(seed)
    specials = {i for i in (tokenizer.eos_id, tokenizer.unk_id, tokenizer.bos_prefix) if i is not None}
    vocab = [i for i in range(min(tokenizer.vocab_size, model.config.vocab_size)) if i not in specials]
    half = rng.choice(vocab, size=n, replace=len(vocab) < n)
    ids = np.concatenate([half, half]).astype(np.int64)
    if tokenizer.bos_prefix is not None:  # as the model reads a text: its start token first
        ids = np.concatenate([[tokenizer.bos_prefix], ids])
    device = next(model.parameters()).device
    with torch.inference_mode():
        _, attentions = _with_attentions(model, torch.tensor(ids[None], device=device))
    random = type_scores(attentions, ids)
    on_text = None
    if text.strip():  # a long text on a big model is scored a layer at a time, as its pass goes
        ids, layers = _encode(model, tokenizer, text).ids, []

        def score(_layer: int, weights, _stream) -> None:
            layers.append(type_scores(weights[None].float().cpu().numpy(), ids))

        p = probe(model, tokenizer, text, k=1, each_layer=score)
        on_text = (
            type_scores(p.attentions, p.tokens.ids)
            if p.attentions.size
            else {name: np.concatenate([scores[name] for scores in layers]) for name in TYPES}
        )
    return HeadTypes(random, on_text, n)
