"""What a model can do: the flags every tool and view asks instead of an architecture's name (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Capabilities:
    """A model's abilities, from its config. A new family sets these flags and nothing outside
    `models/nn` and `models/hf` needs to know its name."""

    causal: bool = False  # a decoder alone: continues a text token by token (GPT-2, Llama, Qwen…)
    masked_lm: bool = False  # has a masked-LM head: predicts a hidden token from both sides (BERT)
    encoder_decoder: bool = False  # an encoder reads a source, a decoder writes a target (Marian)
    classifier: bool = False  # has a sequence-classification head (its class names are the labels)
    grouped_kv: bool = False  # query heads share fewer key/value heads (grouped-query attention)
    local_window: bool = False  # attention sees only a window of recent keys (Mistral's sliding one)

    @property
    def encoder_only(self) -> bool:
        """An encoder alone (BERT): it reads a whole text at once, [CLS] … [SEP], and predicts no
        next token; its scores are of each token itself."""
        return not (self.causal or self.encoder_decoder)

    @property
    def next_token(self) -> bool:
        """Each position predicts the token after it (a decoder, alone or with an encoder)."""
        return self.causal or self.encoder_decoder

    @property
    def scores_tokens(self) -> bool:
        """It gives every position a distribution over the vocabulary (an encoder without its
        masked-LM head gives none: its attention can still be read)."""
        return self.next_token or self.masked_lm

    @property
    def one_stack(self) -> bool:
        """Its heads form one stack, layers × heads: what the logit lens, knocking heads out,
        head sweeps and comparing two models read (an encoder–decoder has three kinds of heads)."""
        return not self.encoder_decoder
