"""Generation as a stream of steps: each token with its probability, alternatives and attention."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import torch

from models.errors import ModelError
from models.inspect.sampling import SamplingSettings, choose, entropy, top_k
from models.inspect.stepwise import stepwise_inference
from models.nn import Model
from models.nn.attention import KVCache
from models.results import GenerationStep, TokenizedText
from models.text.tokenizer import Tokenizer


class Generation:
    """Iterate to receive `GenerationStep`s; `cancel()` (any thread) stops between two steps."""

    def __init__(
        self,
        model: Model,
        tokenizer: Tokenizer,
        prompt: str,
        settings: SamplingSettings | None = None,
    ) -> None:
        if not model.capabilities.causal:
            raise ModelError("generation needs a GPT model; BERT fills masks instead")
        self.model, self.tokenizer = model, tokenizer
        self.settings = settings or SamplingSettings()
        if self.settings.chat:
            prompt = tokenizer.apply_chat(prompt)
        tokens = tokenizer.encode_for_decoder(prompt)
        notes = list(tokens.notes)
        if len(tokens) == 0:
            if tokenizer.eos_id is None:
                raise ModelError("the prompt is empty: type some text to continue")
            tokens = tokenizer.encode(tokenizer.hf.id_to_token(tokenizer.eos_id))
        ctx = model.config.n_positions
        if len(tokens) > ctx:
            notes.append(
                f"the prompt has {len(tokens)} tokens, more than the context of {ctx}: "
                f"generation continues from its last {ctx} tokens"
            )
            tokens = TokenizedText(tokens.ids[-ctx:], tokens.texts[-ctx:], tokens.offsets[-ctx:])
        self.prompt = TokenizedText(tokens.ids, tokens.texts, tokens.offsets, tuple(notes))
        self.notes = tuple(notes)
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def __iter__(self) -> Iterator[GenerationStep]:
        return stepwise_inference(self._steps())

    def _steps(self) -> Iterator[GenerationStep]:
        s, model, tok = self.settings, self.model, self.tokenizer
        device = next(model.parameters()).device
        ctx = model.config.n_positions
        eos = model.config.eos_token_id if model.config.eos_token_id is not None else tok.eos_id
        stops = {eos, *getattr(model.config, "stop_token_ids", ())} - {None}  # instruct models end turns
        # the cache holds what this run can reach, not the whole context (a 128k-token context
        # would be gigabytes); +1 for the last token's own row
        cache_len = min(ctx, len(self.prompt.ids) + s.max_new_tokens + 1)
        gen = None
        if s.seed is not None:
            gen = torch.Generator(device=device).manual_seed(s.seed)
        ids = [int(i) for i in self.prompt.ids]
        cache = model.new_cache(max_len=cache_len)
        logits, attn = self._forward(ids, cache, device)
        prompt_attention = self._prompt_attention
        stream = tok.stream()
        for i in range(len(self.prompt.ids)):  # prime the stream decoder with the prompt
            stream.step(ids[i])
        text_so_far = ""
        for index in range(s.max_new_tokens):
            if self._cancel.is_set():
                return
            token, shown = choose(logits, s, gen)
            piece = stream.step(token)
            text_so_far += piece
            finish = None
            if token in stops:
                finish = "eos"
            elif any(stop in text_so_far for stop in s.stop):
                finish = "stop"
            elif index == s.max_new_tokens - 1:
                finish = "length"
            step = self._step(index, token, piece, shown, attn, finish)
            if index == 0 and prompt_attention is not None:
                step = replace(step, prompt_attention=prompt_attention)
            if finish and s.attention and cache.length < cache.max_len:  # the last token's own row, so the
                # whole text's attention is known without running it again
                _, last = self._forward([token], cache, device)
                step = replace(step, final_attention=last.float().cpu().numpy())
            yield step
            if finish:
                return
            ids.append(token)
            if cache.length + 1 > cache.max_len:  # context full: slide to the last window, recompute
                cache = model.new_cache(max_len=cache_len)
                logits, attn = self._forward(ids[-(ctx - 1) :], cache, device)
            else:
                logits, attn = self._forward(ids[-1:], cache, device)

    def _forward(self, ids: list[int], cache: KVCache, device) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = torch.tensor([ids], dtype=torch.long, device=device)  # [1, T]
        out = self.model(x, cache=cache, output_attentions=self.settings.attention, last_only=True)
        attn = None
        self._prompt_attention = None
        if out.attentions is not None:
            attn = torch.stack([a[0, :, -1, :] for a in out.attentions])  # [layers, heads, keys]
            if cache.length == x.shape[1]:  # a fresh cache: this pass read the whole prompt
                self._prompt_attention = torch.stack([a[0] for a in out.attentions]).float().cpu().numpy()
        return out.logits[0, -1].float(), attn

    def _step(
        self,
        index: int,
        token: int,
        piece: str,
        probs: torch.Tensor,
        attn: torch.Tensor | None,
        finish: str | None,
    ) -> GenerationStep:
        k = self.settings.alternatives
        ids, top_probs, texts = top_k(probs, k, self.tokenizer)
        return GenerationStep(
            index=index,
            token_id=token,
            text=piece,
            token_text=self.tokenizer.token_text(token),
            prob=float(probs[token]),
            entropy=float(entropy(probs)),
            top_ids=ids,
            top_probs=top_probs,
            top_texts=texts[0],
            attention=None if attn is None else attn.float().cpu().numpy(),
            finish_reason=finish,
        )


def generate(
    model: Model,
    tokenizer: Tokenizer,
    prompt: str,
    settings: SamplingSettings | None = None,
    **kwargs,
) -> Generation:
    """`generate(model, tok, "To be", max_new_tokens=50)` — settings or keyword arguments."""
    if kwargs:
        settings = SamplingSettings(**{**(settings or SamplingSettings()).__dict__, **kwargs})
    if model.capabilities.encoder_decoder:  # the prompt is the source; the steps are its translation
        from models.inspect.translate import Translation

        return Translation(model, tokenizer, prompt, settings)
    return Generation(model, tokenizer, prompt, settings)
