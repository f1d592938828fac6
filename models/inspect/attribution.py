"""Which input tokens made a token: input × gradient and integrated gradients (captum's, on the
embedded input) and attention rollout, for the tokens of a decoder's text.

The explained quantity for token t is f = log p(token t | tokens before it), or, with a contrast
token c, log p(token t) − log p(c): how much more the model preferred its token to the alternative.
The gradient methods attribute f to each earlier position's embedded input (the residual stream
where it starts: `Model.embedding_output`), summed over its width. Integrated gradients integrate
from a baseline text: by default every token replaced by a neutral one (padding, else the end or
start token, else a space), embedded as the model embeds it (GPT-2's positions stay); a zero
embedding is the other choice, but a first norm makes the path from zero steep near its start
(the built-in GPT: |delta| 1.2 at 128 steps from zero, 0.0001 from spaces). The convergence delta,
Σ attributions − (f(x) − f(baseline)), is reported: far from 0, more steps are needed. Rollout
(Abnar & Zuidema 2020) multiplies each layer's head-averaged attention, mixed half and half with the
identity for the residual stream, and reads the row of the position that predicted token t.

An encoder–decoder's text is "source → target" (a source alone: with its greedy translation). Each
target token is explained by the source, every token of it (read by the encoder), and by the
target's tokens before it (read by the decoder): both embedded inputs are attributed at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from models.errors import ModelError
from models.nn import Model
from models.results import ATTRIBUTION_METHODS as METHODS
from models.results import Attribution, TokenizedText
from models.text.tokenizer import Tokenizer

CHUNK = 8  # targets per batch: a progress report (and a chance to stop) after each


def attribute(
    model: Model,
    tokenizer: Tokenizer,
    text: str,
    method: str = "input_x_gradient",
    targets: list[int] | None = None,
    contrast: int | str | None = None,
    steps: int = 32,
    baseline: str = "neutral",
) -> Iterator[Attribution]:
    """Attribute each target token (its position in the text; by default every token after the
    first) to the tokens before it. Yields the result so far after each chunk of targets, the last
    one complete. `steps`: integrated gradients' points along the path (its cost is steps ×
    targets forward and backward passes); `baseline`: "neutral" (a neutral token everywhere) or
    "zero" (a zero embedding)."""
    from models.inspect.analysis import _encode

    if not model.capabilities.next_token:
        raise ModelError(
            f"a {model.config.label} does not predict tokens from the ones before: attributions are "
            "for decoders"
        )
    if method not in METHODS:
        raise ModelError(f"method must be one of {', '.join(METHODS)} (got '{method}')")
    pair = model.capabilities.encoder_decoder
    if pair and method == "rollout":
        raise ModelError(
            "attention rollout follows one stack of self-attention: for an encoder–decoder, explain "
            "with input × gradient or integrated gradients"
        )
    tokens, first = _pair_tokens(model, tokenizer, text) if pair else (_encode(model, tokenizer, text), 1)
    if len(tokens) < 2:
        raise ModelError("the text has one token: there is nothing before it to attribute to")
    targets = list(range(first, len(tokens)) if targets is None else targets)
    if not targets:
        raise ModelError("no token to explain: give at least one position after the first")
    bad = [t for t in targets if not first <= t < len(tokens)]
    if bad:
        raise ModelError(
            f"position {bad[0]} is not a predicted token of this text (positions {first} to "
            f"{len(tokens) - 1})"
        )
    if isinstance(contrast, str):
        contrast = alternative_token(tokenizer, contrast)
    if contrast is not None and not 0 <= contrast < model.config.vocab_size:
        raise ModelError(f"the alternative token id {contrast} is not in the vocabulary")
    if baseline not in ("neutral", "zero"):
        raise ModelError(f"baseline must be 'neutral' or 'zero' (got '{baseline}')")
    neutral = neutral_token(tokenizer) if baseline == "neutral" else None
    if pair:
        yield from _run_pair(model, tokens, first - 1, method, targets, contrast, steps, neutral)
    else:
        yield from _run(model, tokens, method, targets, contrast, steps, neutral)


def _pair_tokens(model, tokenizer: Tokenizer, text: str) -> tuple[TokenizedText, int]:
    """An encoder–decoder's text as one row: the source, then the decoder's [start, t1 … tn, </s>];
    and the first predicted position (t1's)."""
    from models.inspect.translate import teacher_forced

    source, target, inputs = teacher_forced(model, tokenizer, text)
    end = target.offsets[-1:]  # </s> shown where the target ends
    tokens = TokenizedText(
        np.concatenate([source.ids, inputs.ids, target.ids[-1:]]),
        (*source.texts, *inputs.texts, target.texts[-1]),
        np.vstack([source.offsets, inputs.offsets, end]),
        inputs.notes,
    )
    return tokens, len(source) + 1


def alternative_token(tokenizer: Tokenizer, text: str) -> int:
    """The id of the one token `text` is (as typed, or as it reads after a space); ModelError if
    it is more than one."""
    for candidate in (text, " " + text) if not text.startswith(" ") else (text,):
        ids = tokenizer.encode(candidate, special_tokens=False).ids
        if len(ids) == 1:
            return int(ids[0])
    ids = tokenizer.encode(text, special_tokens=False).ids
    raise ModelError(
        f"the alternative “{text}” is {len(ids)} tokens for this model: give one token (a word piece "
        "the model has whole)"
    )


def neutral_token(tokenizer: Tokenizer) -> int:
    """The token a neutral baseline text is made of: padding, else the end or start token, else a
    space, else the unknown token, else id 0."""
    texts = tokenizer.special_texts
    for name in ("pad_token", "eos_token", "bos_token"):
        if texts.get(name) is not None and tokenizer.token_id(texts[name]) is not None:
            return tokenizer.token_id(texts[name])
    for found in (tokenizer.eos_id, tokenizer.token_id(" "), tokenizer.token_id("Ġ"), tokenizer.unk_id):
        if found is not None:
            return found
    return 0


def _run(model, tokens: TokenizedText, method, targets, contrast, steps, neutral) -> Iterator[Attribution]:
    T, G = len(tokens), len(targets)
    scores = np.zeros((G, T), np.float32)
    values = np.zeros(G, np.float32)
    delta = np.zeros(G, np.float32) if method == "integrated_gradients" else None
    ids = torch.tensor(tokens.ids, device=next(model.parameters()).device)
    if method == "rollout":
        rows = rollout(_attentions(model, ids))  # [T, T]
        for g, t in enumerate(targets):
            scores[g, :t] = rows[t - 1, :t]
        values[:] = _target_values(model, ids, targets, contrast)
        yield Attribution(tokens, method, np.array(targets), scores, values, None, contrast, 0, G)
        return
    for start in range(0, G, CHUNK):
        chunk = targets[start : start + CHUNK]
        a, f, d = _gradients(model, ids, chunk, contrast, method, steps, neutral)
        scores[start : start + len(chunk), : a.shape[1]] = a
        values[start : start + len(chunk)] = f
        if delta is not None:
            delta[start : start + len(chunk)] = d
        done = start + len(chunk)
        kept_delta = None if delta is None else delta.copy()
        ig_steps = steps if delta is not None else 0
        yield Attribution(tokens, method, np.array(targets), scores.copy(), values.copy(), kept_delta,
                          contrast, ig_steps, done)  # fmt: skip


def _run_pair(
    model, tokens: TokenizedText, S: int, method, targets, contrast, steps, neutral
) -> Iterator[Attribution]:
    """`_run` for an encoder–decoder: `tokens` is the source (its first S) and the decoder's row."""
    T, G = len(tokens), len(targets)
    scores = np.zeros((G, T), np.float32)
    values = np.zeros(G, np.float32)
    delta = np.zeros(G, np.float32) if method == "integrated_gradients" else None
    device = next(model.parameters()).device
    source = torch.tensor(tokens.ids[:S], device=device)
    decoder = torch.tensor(tokens.ids[S:], device=device)
    for start in range(0, G, CHUNK):
        chunk = targets[start : start + CHUNK]
        (a_source, a_target), f, d = _pair_gradients(
            model, source, decoder, [t - S for t in chunk], contrast, method, steps, neutral
        )
        scores[start : start + len(chunk), :S] = a_source
        scores[start : start + len(chunk), S : S + a_target.shape[1]] = a_target
        values[start : start + len(chunk)] = f
        if delta is not None:
            delta[start : start + len(chunk)] = d
        kept_delta = None if delta is None else delta.copy()
        yield Attribution(tokens, method, np.array(targets), scores.copy(), values.copy(), kept_delta,
                          contrast, steps if delta is not None else 0, start + len(chunk), S)  # fmt: skip


class _Embedded(torch.nn.Module):
    """f(E) for a batch of embedded inputs E [n, T, C]: the model run with its embedding output
    replaced by E, then each row's explained quantity at its target."""

    def __init__(self, model: Model, ids: torch.Tensor, contrast: int | None) -> None:
        super().__init__()
        self.model, self.ids, self.contrast = model, ids, contrast
        self.replacement: torch.Tensor | None = None
        self.handle = model.embedding_output().register_forward_hook(self._replace)

    def _replace(self, _module, _args, output):
        return self.replacement if self.replacement is not None else output

    def forward(self, embedded: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        self.replacement = embedded
        try:  # the output head only where a row's target is predicted: never rows × positions × vocabulary
            out = self.model(
                self.ids[: embedded.shape[1]].expand(embedded.shape[0], -1),
                output_hidden_states=True,
                last_only=True,
            )
        finally:
            self.replacement = None
        rows = torch.arange(len(positions), device=embedded.device)
        logits = self.model.logits_from(out.hidden_states[-1][rows, positions - 1][:, None], last=True)[:, 0]
        logp = torch.log_softmax(logits.float(), -1)
        f = logp[rows, self.ids[positions]]
        return f - logp[rows, self.contrast] if self.contrast is not None else f


class _PairEmbedded(torch.nn.Module):
    """f(S, D) for a batch of an encoder–decoder's embedded source S [n, s, C] and embedded decoder
    inputs D [n, t, C]: the model run with both replaced, then each row's explained quantity."""

    def __init__(self, model, source: torch.Tensor, decoder: torch.Tensor, contrast: int | None) -> None:
        super().__init__()
        self.model, self.source, self.decoder, self.contrast = model, source, decoder, contrast
        self.replacements: list[torch.Tensor] = []  # the source's, then the decoder's: their order
        self.handle = model.embedding_output().register_forward_hook(self._replace)

    def _replace(self, _module, _args, output):
        return self.replacements.pop(0) if self.replacements else output

    def forward(self, source: torch.Tensor, decoder: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        n, length = decoder.shape[:2]
        self.replacements = [source, decoder]
        try:  # (the head only where a row's target is predicted: never rows × positions × vocabulary)
            memory, _ = self.model.encode(self.source.expand(n, -1))
            hidden = self.model.decode(self.decoder[:length].expand(n, -1), memory, head=False).decoder_hidden
        finally:
            self.replacements = []
        rows = torch.arange(n, device=decoder.device)
        logits = self.model.logits_from(hidden[rows, positions - 1][:, None], last=True)[:, 0]
        logp = torch.log_softmax(logits.float(), -1)
        f = logp[rows, self.decoder[positions]]
        return f - logp[rows, self.contrast] if self.contrast is not None else f


def _pair_embedded(model, source: torch.Tensor, decoder: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The embedding outputs of an encoder–decoder's source [1, s, C] and decoder inputs [1, t, C]."""
    captured = []
    handle = model.embedding_output().register_forward_hook(lambda _m, _a, out: captured.append(out))
    try:
        with torch.no_grad():
            memory, _ = model.encode(source[None])
            model.decode(decoder[None], memory, head=False)
    finally:
        handle.remove()
    return captured[0].detach(), captured[1].detach()


def _pair_gradients(model, source, decoder, targets, contrast, method, steps, neutral):
    """((source attributions [G, s], decoder attributions [G, t_max]), f(x) [G], IG's delta [G] or
    None) for one chunk of targets, given as positions in the decoder's row."""

    length = max(targets)  # token t of the target reads the decoder's inputs before it
    positions = torch.tensor(targets, device=decoder.device)
    G = len(targets)
    embedded = tuple(e.expand(G, -1, -1).clone().requires_grad_(True)
                     for e in _pair_embedded(model, source, decoder[:length]))  # fmt: skip
    if neutral is None:
        base = tuple(torch.zeros_like(e) for e in embedded)
    else:
        blank = _pair_embedded(
            model, torch.full_like(source, neutral), torch.full_like(decoder[:length], neutral)
        )
        base = tuple(e.expand(G, -1, -1).clone() for e in blank)
    forward = _PairEmbedded(model, source, decoder, contrast)
    a, f, d = _attributed(model, forward, embedded, base, positions, method, steps)
    return tuple(x.detach().float().sum(-1).cpu().numpy() for x in a), f, d


def embedded_input(model: Model, ids: torch.Tensor) -> torch.Tensor:
    """The embedding output for `ids` [T] as the model makes it: [1, T, C]."""
    captured = []
    handle = model.embedding_output().register_forward_hook(lambda _m, _a, out: captured.append(out))
    try:
        with torch.no_grad():
            model(ids[None], last_only=True)  # (only the embedding is wanted: the head runs once)
    finally:
        handle.remove()
    return captured[0].detach()


def _gradients(model, ids, targets, contrast, method, steps, neutral):
    """(attributions [G, t_max], f(x) [G], IG's delta [G] or None) for one chunk of targets."""

    length = max(targets)  # a causal model's token t reads only the t before it
    positions = torch.tensor(targets, device=ids.device)
    G = len(targets)
    # [G, t_max, C], a leaf that takes gradients (captum asks for them)
    embedded = embedded_input(model, ids[:length]).expand(G, -1, -1).clone().requires_grad_(True)
    if neutral is None:
        base = torch.zeros_like(embedded)
    else:
        base = embedded_input(model, torch.full_like(ids[:length], neutral)).expand(G, -1, -1).clone()
    forward = _Embedded(model, ids, contrast)
    a, f, d = _attributed(model, forward, embedded, base, positions, method, steps)
    return a.detach().float().sum(-1).cpu().numpy(), f, d


def _target_values(model, ids, targets, contrast) -> np.ndarray:
    """f for each target, the output head run only where a target is predicted."""
    values = []
    with torch.no_grad():
        hidden = model(ids[None], output_hidden_states=True, last_only=True).hidden_states[-1][0]
        for start in range(0, len(targets), CHUNK):  # a chunk of rows × vocabulary at a time
            t = torch.tensor(targets[start : start + CHUNK], device=ids.device)
            logp = torch.log_softmax(model.logits_from(hidden[t - 1][:, None], last=True)[:, 0].float(), -1)
            rows = torch.arange(len(t), device=ids.device)
            f = logp[rows, ids[t]]
            values.append(f - logp[rows, contrast] if contrast is not None else f)
    return torch.cat(values).cpu().numpy()


def _attentions(model, ids: torch.Tensor) -> np.ndarray:
    from models.inspect.analysis import _with_attentions

    with torch.inference_mode():
        _, attentions = _with_attentions(model, ids[None], last_only=True)  # (the attention is wanted)
    return attentions.astype(np.float32)


def rollout(attentions: np.ndarray) -> np.ndarray:
    """Attention rollout [T, T] from every layer's attention [L, H, T, T]: each layer's heads
    averaged, plus the identity (the residual stream), rows renormalised, multiplied first layer
    first (Abnar & Zuidema 2020)."""
    T = attentions.shape[-1]
    result = np.eye(T, dtype=np.float64)
    for layer in attentions:
        mixed = 0.5 * layer.mean(0) + 0.5 * np.eye(T)
        mixed /= mixed.sum(-1, keepdims=True)
        result = mixed @ result
    return result.astype(np.float32)


def _attributed(model, forward, embedded, base, positions, method, steps):
    """captum's attributions of `forward` to `embedded` (a tensor or a tuple of them), f(x) and
    integrated gradients' delta (None for input × gradient); the model in eval mode meanwhile, and
    `forward`'s hook removed after, however it ends."""
    from captum.attr import InputXGradient, IntegratedGradients

    inputs = embedded if isinstance(embedded, tuple) else (embedded,)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            if method == "input_x_gradient":
                a = InputXGradient(forward).attribute(embedded, additional_forward_args=(positions,))
                d = None
            else:
                a, d = IntegratedGradients(forward).attribute(
                    embedded, baselines=base, additional_forward_args=(positions,),
                    n_steps=steps, internal_batch_size=steps * len(positions), return_convergence_delta=True,
                )  # fmt: skip
                d = d.detach().float().cpu().numpy()
            with torch.no_grad():
                f = forward(*inputs, positions).float().cpu().numpy()
    finally:
        forward.handle.remove()
        model.train(was_training)
    return a, f, d
