"""Translation with an encoder–decoder: the source read once, the target decoded with the cache; greedy
in batches, or as the same stream of steps (probabilities, alternatives, attention) as GPT generation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import torch

from models.errors import ModelError
from models.inspect.sampling import SamplingSettings, choose, entropy, top_k
from models.inspect.stepwise import stepwise_inference
from models.nn.seq2seq import Seq2Seq
from models.results import GenerationStep, Probe, TokenizedText
from models.text.pairs import ARROW, START, split_pair
from models.text.tokenizer import Tokenizer
from models.training.batches import pad_rows

EOS = "</s>"  # ends every source and every target of the encoder–decoders trained here


def source_tokens(tokenizer: Tokenizer, text: str, context: int) -> tuple[TokenizedText, bool]:
    """The text's tokens ending in </s>, cut to the context; and whether it was cut."""
    eos = tokenizer.token_id(EOS)
    if eos is None:
        raise ModelError(f"this tokenizer has no {EOS} token: it is not an encoder–decoder's")
    enc = tokenizer.encode(text, special_tokens=False)
    n = min(len(enc), context - 1)
    end = len(text)
    tokens = TokenizedText(
        np.append(enc.ids[:n], eos),
        (*enc.texts[:n], EOS),
        np.vstack([enc.offsets[:n], [[end, end]]]),
        enc.notes,
    )
    return tokens, len(enc) > n


def encode_source(tokenizer: Tokenizer, text: str, context: int) -> tuple[list[int], bool]:
    """The source's ids ending in </s>, cut to the context; and whether it was cut."""
    tokens, cut = source_tokens(tokenizer, text, context)
    return tokens.ids.tolist(), cut


def teacher_forced(
    model: Seq2Seq, tokenizer: Tokenizer, text: str
) -> tuple[TokenizedText, TokenizedText, TokenizedText]:
    """The tokens of "source → target" read teacher-forced (a source alone: with its greedy
    translation): (the source ending in </s>, the target ending in </s>, the decoder's inputs
    [start, t1 … tn] with their spans in the text and every note)."""
    source_text, target_text = split_pair(text)
    if not source_text:
        raise ModelError(f"the source is empty: type a text to translate (or “source{ARROW}target”)")
    cfg = model.config
    source, source_cut = source_tokens(tokenizer, source_text, cfg.context)
    if target_text is None:
        target_text = translate(model, tokenizer, [source_text])[0]
    target, target_cut = source_tokens(tokenizer, target_text, cfg.context)  # ends in </s> too
    base = len(source_text) + len(ARROW)  # where the target starts in "source → target" (as written
    # with this arrow; the views use the spans only to space the tokens)
    inputs = TokenizedText(  # the decoder reads [start, t1 … tn] and predicts [t1 … tn, </s>]
        np.concatenate([[cfg.decoder_start_token_id], target.ids[:-1]]),
        (START, *target.texts[:-1]),
        np.vstack([[[base, base]], target.offsets[:-1] + base]),
        (*source.notes, *target.notes, *(
            f"the {what} is longer than the context of {cfg.context}: its start is read"
            for what, cut in (("source", source_cut), ("target", target_cut)) if cut
        )),
    )  # fmt: skip
    return source, replace(target, offsets=target.offsets + base), inputs


@torch.inference_mode()
def probe_pair(
    model: Seq2Seq, tokenizer: Tokenizer, text: str, k: int = 10, attentions: bool = True
) -> Probe:
    """A `Probe` of "source → target" read teacher-forced (a source alone: with its greedy
    translation): the decoder's inputs as tokens, its self-attention, the encoder's and the cross."""
    source, target, tokens = teacher_forced(model, tokenizer, text)
    T = len(tokens)
    device = next(model.parameters()).device
    out = model(
        torch.tensor(source.ids[None], device=device),
        torch.tensor(tokens.ids[None], device=device),
        output_attentions=attentions,
    )
    probs = torch.softmax(out.logits[0].float(), -1)  # [T, vocab]
    top_ids, top_probs, top_texts = top_k(probs, k, tokenizer)
    following = torch.as_tensor(target.ids, device=device)  # [t1 … tn, </s>]
    empty = np.zeros((0, 0, T, T), np.float32)
    return Probe(
        model.capabilities,
        tokens,
        _stacked(out.decoder_attentions) if attentions else empty,
        top_ids,
        top_probs,
        tuple(top_texts),
        entropy(probs).cpu().numpy().astype(np.float32),
        probs.gather(1, following[:, None])[:, 0].cpu().numpy(),
        source=source,
        encoder_attentions=_stacked(out.encoder_attentions) if attentions else None,
        cross_attentions=_stacked(out.cross_attentions) if attentions else None,
    )


def _stacked(layers: tuple[torch.Tensor, ...]) -> np.ndarray:
    """Per-layer attentions of the first row of a batch -> float32 [layers, heads, rows, keys]."""
    return torch.stack([a[0] for a in layers]).float().cpu().numpy()


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
    chosen = []  # [B, 1] per step; each row is cut at its first </s> once, at the end
    for _ in range(steps):
        logits = model.decode(token, memory, mask, cache=cache, last_only=True).logits[:, -1]  # [B, V]
        token = logits.argmax(-1, keepdim=True)  # [B, 1]
        chosen.append(token)
        done |= token[:, 0] == eos
        if bool(done.all()):
            break
    out = [row[: row.index(eos)] if eos in row else row for row in torch.cat(chosen, 1).tolist()]
    return [tokenizer.decode(ids, skip_special=True) for ids in out]


class Translation:
    """Iterate to receive a `GenerationStep` per target token, given a source text; `cancel()`
    (any thread) stops between two steps. Sampling as GPT's: greedy, temperature, top-k, top-p, seed."""

    def __init__(
        self, model: Seq2Seq, tokenizer: Tokenizer, source: str, settings: SamplingSettings | None = None
    ) -> None:
        if not source.strip():
            raise ModelError("the source is empty: type a text to translate")
        self.model, self.tokenizer = model, tokenizer
        self.settings = settings or SamplingSettings()
        tokens, cut = source_tokens(tokenizer, source, model.config.context)
        ctx = model.config.context
        notes = (
            *tokens.notes,
            *((f"the source is longer than the context of {ctx}: its start is read",) if cut else ()),
        )
        self.prompt = replace(tokens, notes=notes)  # the source as read, ending in </s>
        self.notes = notes
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def __iter__(self) -> Iterator[GenerationStep]:
        return stepwise_inference(self._steps())

    def _steps(self) -> Iterator[GenerationStep]:
        s, model, tok = self.settings, self.model, self.tokenizer
        cfg = model.config
        device = next(model.parameters()).device
        src = torch.tensor([self.prompt.ids.tolist()], device=device)
        memory, encoder_attention = model.encode(src, output_attentions=s.attention)
        steps = min(s.max_new_tokens, cfg.context)
        cache = model.new_cache(1, steps)
        gen = torch.Generator(device=device).manual_seed(s.seed) if s.seed is not None else None
        stream = tok.stream()
        eos = tok.token_id(EOS)
        token, text = cfg.decoder_start_token_id, ""
        for index in range(steps):
            if self._cancel.is_set():
                return
            x = torch.tensor([[token]], device=device)
            out = model.decode(x, memory, cache=cache, output_attentions=s.attention, last_only=True)
            token, probs = choose(out.logits[0, -1].float(), s, gen)
            piece = "" if token == eos else stream.step(token)
            text += piece
            finish = "eos" if token == eos else None
            if finish is None and any(stop in text for stop in s.stop):
                finish = "stop"
            elif finish is None and index == steps - 1:
                finish = "length" if steps == s.max_new_tokens else "context"
            ids, top_probs, texts = top_k(probs, s.alternatives, tok)
            rows = (  # the new token's own rows: [layers, heads, keys]
                (_stacked(out.decoder_attentions)[:, :, -1], _stacked(out.cross_attentions)[:, :, -1])
                if s.attention else (None, None)
            )  # fmt: skip
            yield GenerationStep(
                index=index, token_id=token, text=piece, token_text=tok.token_text(token),
                prob=float(probs[token]), entropy=float(entropy(probs)), top_ids=ids, top_probs=top_probs,
                top_texts=texts[0], attention=rows[0], cross_attention=rows[1], finish_reason=finish,
                prompt_attention=(
                    _stacked(encoder_attention) if index == 0 and encoder_attention is not None else None
                ),
            )  # fmt: skip
            if finish:
                return
