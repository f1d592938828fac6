"""Torch-free results that cross into the GUI: frozen dataclasses of numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.capabilities import Capabilities


@dataclass(frozen=True)
class TokenizedText:
    """A text split into tokens, each with its display text and its character span."""

    ids: np.ndarray  # int64 [T]
    texts: tuple[str, ...]  # what each token shows, taken from the input by its offsets
    offsets: np.ndarray  # int64 [T, 2]: start and end character of each token in the input
    notes: tuple[str, ...] = ()  # e.g. "2 characters unknown to the tokenizer: ☃ ✓"

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class GenerationStep:
    """One generated token, with what the model thought of it."""

    index: int  # 0-based among the generated tokens
    token_id: int
    text: str  # the newly decodable text ("" while a multi-byte character is incomplete)
    token_text: str  # the token on its own, for labels (may show a replacement character)
    prob: float  # probability the model gave the chosen token (after temperature)
    entropy: float  # of the next-token distribution, in nats
    top_ids: np.ndarray  # int64 [k], most likely first
    top_probs: np.ndarray  # float32 [k]
    top_texts: tuple[str, ...]
    # float32 [layers, heads, keys]: the attention row of the query that predicted this token,
    # over every token before it (prompt and generated); None unless asked for.
    attention: np.ndarray | None = None
    finish_reason: str | None = None  # set on the last step: "length", "stop", "eos", "context"
    # with attention asked for: on the first step, the prompt's own attention [layers, heads, P, P];
    # on the last, the row of the last token as query (one more decode step) [layers, heads, keys]
    prompt_attention: np.ndarray | None = None
    final_attention: np.ndarray | None = None
    # an encoder–decoder's: the new token's cross-attention row over the source [layers, heads, S]
    # (`attention` is then its row of the decoder's own, causal, attention)
    cross_attention: np.ndarray | None = None


@dataclass(frozen=True)
class PooledAttention:
    """A long text's attention on a big model, as its probe's caller kept it (`models.probe`'s
    `each_layer`): the overview pooled; a layer's weights come on request."""

    text: str  # what was read (to read it again, pooled in other colours)
    layers: int
    heads: int
    mosaics: dict[str, tuple[np.ndarray, int]]  # colour scale -> (overview [layers*s, heads*s], tile s)
    sink_share: float  # the first token's mean share of every row after the first (see attention_scale)


@dataclass(frozen=True)
class Probe:
    """One forward pass over a text: everything the inspection views draw."""

    capabilities: Capabilities  # of the model that read it: what its scores mean
    tokens: TokenizedText  # an encoder–decoder's: the decoder's inputs, its start token first
    # [layers, heads, T, T]: query rows, key columns (decoder self); float32, or float16 for a long
    # text on a big model (models.inspect.analysis keeps it under a memory budget)
    attentions: np.ndarray
    top_ids: np.ndarray  # int64 [T, k]: predictions at each position (a decoder's: of the next token)
    top_probs: np.ndarray  # float32 [T, k]
    top_texts: tuple[tuple[str, ...], ...]
    entropy: np.ndarray  # float32 [T], nats
    # float32 [T]: a decoder: probability of the actual next token (NaN at the last position);
    # an encoder (BERT): of the token itself at that position; an encoder–decoder: of the next
    # target token, the last position's being the closing </s>.
    target_prob: np.ndarray
    # with heads knocked out: those heads, their mode, and the intact model's target_prob
    knocked_out: tuple[tuple[int, int], ...] = ()
    knock_mode: str = ""
    intact_prob: np.ndarray | None = None  # (also with a steering vector on: the model without it)
    steering: str = ""  # the steering vector added while it was read, described; "" for none
    # an encoder–decoder's: the source as read (ending in </s>), the encoder's self-attention
    # [layers, heads, S, S] and the decoder's cross-attention over the source [layers, heads, T, S]
    source: TokenizedText | None = None
    encoder_attentions: np.ndarray | None = None
    cross_attentions: np.ndarray | None = None
    # a long text on a big model, read layer by layer: what the attention view draws (`attentions`
    # is then [0, 0, T, T]); None when `attentions` holds every layer
    pooled: PooledAttention | None = None

    @property
    def outputs(self) -> tuple[str, ...]:
        """What each position predicts, as text: the next token (an encoder–decoder's last is </s>;
        a decoder's last is unknown, ""); an encoder's, the token itself."""
        texts = self.tokens.texts
        if not self.capabilities.next_token:
            return texts
        return (*texts[1:], "</s>" if self.capabilities.encoder_decoder else "")

    @property
    def loss(self) -> float:
        """Mean negative log-probability of the scored tokens (nats); NaN when none are scored."""
        return _mean_nll(self.target_prob)

    @property
    def intact_loss(self) -> float:
        """`loss` of the intact model (NaN unless heads are knocked out)."""
        return _mean_nll(self.intact_prob) if self.intact_prob is not None else float("nan")

    @property
    def perplexity(self) -> float:
        """exp(loss); NaN when no token is scored."""
        return float(np.exp(self.loss))


def _mean_nll(prob: np.ndarray) -> float:
    p = prob[np.isfinite(prob)]
    return float(-np.mean(np.log(np.clip(p, 1e-12, 1.0)))) if p.size else float("nan")


@dataclass(frozen=True)
class LogitLens:
    """What each layer would predict at each position (layer L-1 is the model's own output)."""

    tokens: TokenizedText
    target_ids: np.ndarray  # int64 [T]: the token `prob` follows: the final prediction, or a picked one
    target_texts: tuple[str, ...]
    prob: np.ndarray  # float32 [layers, T]: the probability each layer gives the target
    top_ids: np.ndarray  # int64 [layers, T, k]
    top_probs: np.ndarray  # float32 [layers, T, k]
    top_texts: tuple[tuple[tuple[str, ...], ...], ...]  # [layers][T][k]
    done: int = -1  # positions read so far (the last ones first; NaN and no guesses elsewhere); -1: all

    @property
    def complete(self) -> bool:
        return self.done < 0 or self.done >= len(self.tokens)


@dataclass(frozen=True)
class HeadSweep:
    """Every head's effect, one at a time: knocked out ("ablation"), or patched from a clean run
    into a corrupted one ("patching"). A running sweep arrives again after each batch of heads."""

    kind: str  # "ablation" or "patching"
    tokens: TokenizedText  # the text (patching: the clean text)
    # float32 [layers, heads], NaN until computed. ablation: how much the text's loss rises
    # (nats per token); patching: the share of the clean logit difference the head restores
    values: np.ndarray
    done: int  # heads computed so far
    mode: str = ""  # ablation: "zero" or "mean"
    baseline: float = float("nan")  # ablation: the loss with every head in; patching: corrupted LD
    reference: float = float("nan")  # patching: the clean logit difference (target − other)
    corrupted: TokenizedText | None = None  # patching: the corrupted text
    target: str = ""  # patching: the clean answer's token
    other: str = ""  # patching: the token it is measured against
    position: int = -1  # patching: the position whose prediction is read

    @property
    def total(self) -> int:
        return int(self.values.size)

    @property
    def complete(self) -> bool:
        return self.done == self.total


@dataclass(frozen=True)
class HeadCheck:
    """Exact answers on fresh questions of a built-in task, with each set of heads knocked out."""

    task: str
    questions: int
    heads: tuple[tuple[tuple[int, int], ...], ...]  # the sets knocked out; () is the intact model
    accuracy: tuple[float, ...]  # the share answered exactly, one per set
    mode: str = "zero"  # how the heads were knocked out
    request: int = 0  # the request it answers


@dataclass(frozen=True)
class MaskFill:
    """The top fills for one masked position."""

    position: int  # token index in the text
    top_ids: np.ndarray  # int64 [k]
    top_probs: np.ndarray  # float32 [k]
    top_texts: tuple[str, ...]


@dataclass(frozen=True)
class FillMaskResult:
    tokens: TokenizedText
    fills: tuple[MaskFill, ...]
    attentions: np.ndarray | None = None  # float32 [layers, heads, T, T] when asked for


@dataclass(frozen=True)
class Comparison:
    """Two models on the same text (A before, B after): what changed, head by head and token by token."""

    names: tuple[str, str]
    a: Probe
    b: Probe
    scores_a: dict[str, np.ndarray]  # pattern -> float32 [layers, heads]
    scores_b: dict[str, np.ndarray]

    @property
    def attention_change(self) -> np.ndarray:
        """float32 [layers, heads, T, T]: B's attention minus A's."""
        return self.b.attentions - self.a.attentions

    @property
    def head_change(self) -> np.ndarray:
        """float32 [layers, heads]: how much each head's attention moved (mean absolute change of
        its weights, summed over keys: 0 = unchanged, 2 = moved all its weight elsewhere)."""
        return np.abs(self.attention_change).sum(-1).mean(-1)

    @property
    def score_change(self) -> dict[str, np.ndarray]:
        return {k: self.scores_b[k] - self.scores_a[k] for k in self.scores_a}

    @property
    def token_probs(self) -> tuple[np.ndarray, np.ndarray]:
        """float32 [T] each: A's and B's probability of each token, where the token stands (a
        GPT's from the tokens before it, so its first token has none; a BERT's of the token itself)."""
        return _at_tokens(self.a), _at_tokens(self.b)

    @property
    def prob_change(self) -> np.ndarray:
        """float32 [T]: B's probability of each token minus A's (NaN where neither scores it)."""
        a, b = self.token_probs
        return b - a


def _at_tokens(probe: Probe) -> np.ndarray:
    if not probe.capabilities.causal:
        return probe.target_prob
    return np.concatenate([[np.nan], probe.target_prob[:-1]]).astype(np.float32)


@dataclass(frozen=True)
class ClassEval:
    """A sequence classifier scored on its validation examples."""

    labels: tuple[str, ...]  # class names, by id
    accuracy: float  # share of examples whose most likely label is the true one
    loss: float  # mean cross-entropy, nats
    confusion: np.ndarray  # int64 [true, predicted] counts
    texts: tuple[str, ...]  # the validation examples
    true: np.ndarray  # int64 [N] label ids
    predicted: np.ndarray  # int64 [N] the most likely label
    prob: np.ndarray  # float32 [N] its probability
    truncated: int = 0  # examples cut to the context


@dataclass(frozen=True)
class TranslationEval:
    """An encoder–decoder scored on its held-out pairs."""

    loss: float  # teacher-forced cross-entropy per target token, nats
    token_accuracy: float  # share of target tokens (and the final </s>) predicted right, teacher-forced
    exact: float  # share of sources whose greedy translation is exactly the target
    examples: tuple[tuple[str, str, str], ...]  # (source, greedy output, target) of the first few


@dataclass(frozen=True)
class GrokkingEval:
    """A modular-addition run scored on every pair (Nanda et al. 2023's progress measures)."""

    train_loss: float
    train_accuracy: float
    test_loss: float  # on the held-out pairs
    test_accuracy: float
    weight_norm: float  # the L2 norm of every weight together
    spectrum: np.ndarray  # float32 [(p - 1) / 2]: the embedding's share of power at frequency 1, 2, …
    key_frequencies: tuple[int, ...]  # the frequencies holding most of it, strongest first
    restricted_loss: float  # every pair, with the logits kept to the key frequencies' directions
    excluded_loss: float  # the training pairs, with those directions taken out of the logits


@dataclass(frozen=True)
class InductionEval:
    """A text run's induction heads at one validation (Olsson et al. 2022): `models.inspect.induction`."""

    scores: np.ndarray  # float32 [layers, heads]: induction score on held-out passages written twice
    heads: tuple[tuple[int, int], ...]  # the best-scoring heads, (layer, head), knocked out together
    weakest: tuple[int, int]  # the lowest-scoring head, knocked out alone: the control
    icl: float  # in-context-learning score: late-context loss minus early-context loss
    icl_heads_out: float  # the same with `heads` knocked out
    icl_weakest_out: float  # the same with `weakest` knocked out
    losses: np.ndarray  # float32 [context]: the held-out loss at each position

    @property
    def best(self) -> float:
        return float(np.nanmax(self.scores)) if np.isfinite(self.scores).any() else float("nan")


@dataclass(frozen=True)
class Baseline:
    """A fine-tune's base model measured before the first step, to show what training changed."""

    val_loss: float
    sample: str | None = None  # a GPT's sample from the run's prompt and seed
    classes: ClassEval | None = None  # a classifier's validation scores (its head is untrained)


@dataclass(frozen=True)
class TrainingReport:
    """One optimizer step of a training run, as the views and the CLI show it."""

    step: int  # steps done so far (1-based after the first step)
    max_steps: int
    loss: float
    lr: float
    tokens_per_s: float
    elapsed_s: float
    eta_s: float
    val_loss: float | None = None  # set on validation steps
    sample: str | None = None  # generated text (GPT) or a fill-mask line (BERT)
    probe: Probe | None = None  # attention of the probe text, on probe steps
    head_scores: dict[str, np.ndarray] | None = None  # on probe steps: pattern -> float32 [layers, heads]
    checkpoint: str | None = None  # folder written on this step, if any
    classes: ClassEval | None = None  # a classifier's validation scores, on validation steps
    before: Baseline | None = None  # a fine-tune's base model, on its first report
    translations: TranslationEval | None = None  # an encoder–decoder's scores, on validation steps
    grokking: GrokkingEval | None = None  # a modular-addition run's progress measures, on validation steps
    induction: InductionEval | None = None  # a text run's induction heads, on validation steps (if tracked)
    events: tuple[str, ...] = field(default=())  # messages: "paused", "stopped: NaN loss", ...
    # "running", or how the run stands after this report: "paused", "stopped" (on request,
    # resumable), "finished" (all steps done) or "failed" (NaN/Inf loss, unwritable checkpoint)
    status: str = "running"


ATTRIBUTION_METHODS = {  # models.inspect.attribution's methods, and their names for people
    "input_x_gradient": "input × gradient",
    "integrated_gradients": "integrated gradients",
    "rollout": "attention rollout",
}


@dataclass(frozen=True)
class Attribution:
    """How much each earlier token made each target token (models.inspect.attribution)."""

    tokens: TokenizedText  # the whole text
    method: str  # "input_x_gradient", "integrated_gradients" or "rollout"
    targets: np.ndarray  # int [G]: the positions whose tokens are explained
    scores: np.ndarray  # float32 [G, T]: each earlier position's share (0 at and after the target)
    values: np.ndarray  # float32 [G]: what is explained, log p(token) (minus log p(contrast))
    delta: np.ndarray | None  # float32 [G]: integrated gradients' convergence delta
    contrast: int | None  # the alternative token id, if the difference is explained
    steps: int  # integrated gradients' steps along the path (0 for the others)
    done: int  # targets finished (fewer than G while it runs)
    source_length: int = 0  # an encoder–decoder's: the first tokens are its source (read by the
    # encoder), the rest the decoder's [start, t1 … tn, </s>]; each target is shared between both
