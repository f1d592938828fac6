"""Exact answers on a built-in task: how often greedy decoding writes a fresh question's whole answer."""

from __future__ import annotations

import random

from models.errors import ModelError
from models.inspect.generation import generate
from models.inspect.sampling import SamplingSettings
from models.nn import Model
from models.text.tasks import Task, get_task
from models.text.tokenizer import Tokenizer


def exact_answers(
    model: Model, tokenizer: Tokenizer, task: str | Task, n: int = 50, seed: int = 999
) -> float:
    """The share of `n` fresh questions (the same ones for the same seed) whose greedy
    continuation, up to the end of its line, is exactly the answer."""
    if not model.capabilities.causal:
        raise ModelError("exact answers are a GPT's: the built-in tasks continue a question")
    task = get_task(task) if isinstance(task, str) else task
    rng = random.Random(f"{task.name}:exact:{seed}")
    right = 0
    for _ in range(n):
        question, answer = task.make(rng)
        settings = SamplingSettings(
            max_new_tokens=len(answer) + 1, temperature=0.0, stop=("\n",), alternatives=0
        )
        text = "".join(step.text for step in generate(model, tokenizer, "\n" + question, settings))
        right += text.split("\n")[0] == answer
    return right / n
