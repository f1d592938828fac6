"""The copy task's copying head is causal: knocking it out breaks copying; the weakest head does not."""

import numpy as np
import pytest

import models
from models.inspect.exact import exact_answers
from models.inspect.head_scores import head_scores
from models.training.settings import preset
from models.training.trainer import Trainer


@pytest.mark.slow
def test_ablating_the_head_the_scores_name_breaks_copying() -> None:
    # measured: 100% exact answers; 0% with the best induction-scoring head out, 100% with the weakest out
    cfg = preset(
        "task", steps=600, n_layer=2, n_head=2, n_embd=64,
        eval_every=0, sample_every=0, probe_every=0, device="cpu",
    )  # fmt: skip
    trainer = Trainer(cfg, "task:copy")
    for _ in trainer:
        pass
    trainer.model.eval()
    intact = exact_answers(trainer.model, trainer.tokenizer, "copy")
    text = "\nqwertyui=qwertyui\nasdfghjk=asdfghjk"
    probe = models.probe(trainer.model, trainer.tokenizer, text)
    scores = head_scores(probe.attentions, probe.tokens.ids)["induction"]  # copying = after the last match
    best = tuple(int(i) for i in np.unravel_index(np.nanargmax(scores), scores.shape))
    weakest = tuple(int(i) for i in np.unravel_index(np.nanargmin(scores), scores.shape))
    with models.ablated(trainer.model, [best]):
        without_best = exact_answers(trainer.model, trainer.tokenizer, "copy")
    with models.ablated(trainer.model, [weakest]):
        without_weakest = exact_answers(trainer.model, trainer.tokenizer, "copy")
    # the gallery, on the task's text, names the copying head its top induction head (on random
    # repeated characters no head of this model copies: its heads learned the task's format)
    gallery = models.head_types(trainer.model, trainer.tokenizer, text).text["induction"]
    top = tuple(int(i) for i in np.unravel_index(np.nanargmax(gallery), gallery.shape))
    assert top == best, (gallery, scores)
    assert intact >= 0.9
    assert intact - without_best >= 0.5, (intact, without_best, scores)
    assert abs(intact - without_weakest) < 0.1, (intact, without_weakest, scores)
