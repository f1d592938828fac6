"""Two models on one text, side by side: attention, head scores and token probabilities, and their change."""

from __future__ import annotations

from models.errors import ModelError, refuse_encoder_decoder
from models.inspect.analysis import probe
from models.inspect.head_scores import head_scores
from models.nn import Model
from models.results import Comparison
from models.text.tokenizer import Tokenizer


def compare(
    a: tuple[Model, Tokenizer],
    b: tuple[Model, Tokenizer],
    text: str,
    names: tuple[str, str] = ("A", "B"),
) -> Comparison:
    """Probe both models on `text`; they must split it into the same tokens and have the same
    layers and heads (e.g. a model before and after fine-tuning, or two checkpoints of one run)."""
    (model_a, tok_a), (model_b, tok_b) = a, b
    for model in (model_a, model_b):
        refuse_encoder_decoder(model, "Comparing two models head by head")
    shape_a = (model_a.config.n_layer, model_a.config.n_head)
    shape_b = (model_b.config.n_layer, model_b.config.n_head)
    if shape_a != shape_b:
        raise ModelError(
            f"the models have different shapes ({names[0]}: {shape_a[0]} layers × {shape_a[1]} heads, "
            f"{names[1]}: {shape_b[0]} × {shape_b[1]}): only models of one architecture compare head by head"
        )
    if model_a.capabilities.causal != model_b.capabilities.causal:  # one reads left to right, one not
        raise ModelError(f"{names[0]} is a {model_a.config.label} and {names[1]} a {model_b.config.label}")
    pa = probe(model_a, tok_a, text)
    pb = probe(model_b, tok_b, text)
    if list(pa.tokens.ids) != list(pb.tokens.ids):
        raise ModelError(
            f"the two tokenizers split the text differently ({len(pa.tokens)} vs {len(pb.tokens)} tokens, "
            "or other ids): compare models that share a tokenizer"
        )
    return Comparison(
        names, pa, pb, head_scores(pa.attentions, pa.tokens.ids), head_scores(pb.attentions, pb.tokens.ids)
    )
