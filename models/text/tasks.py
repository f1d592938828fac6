"""Built-in task corpora (copy, reverse, sort, addition, induction), each with the attention to look for."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass

from models.errors import ModelError


@dataclass(frozen=True)
class Task:
    name: str
    description: str  # what a line of the corpus is
    look_for: str  # one sentence: the attention pattern that shows the model learned it
    make: Callable[[random.Random], tuple[str, str]]  # -> (question, answer); line = q + a
    prompt_hint: str = ""  # how to ask a trained model: the inputs it has seen

    def example(self, rng: random.Random) -> str:
        question, answer = self.make(rng)
        return question + answer

    def corpus(self, examples: int = 20_000, seed: int = 0) -> str:
        """`examples` lines, one example per line; the same seed gives the same text."""
        if examples < 1:
            raise ModelError(f"a task corpus needs at least 1 example (got {examples})")
        rng = random.Random(f"{self.name}:{seed}")
        return "".join(self.example(rng) + "\n" for _ in range(examples))

    def prompt(self, seed: int = 0) -> tuple[str, str]:
        """A held-out question (ending where the answer starts) and its answer."""
        return self.make(random.Random(f"{self.name}:prompt:{seed}"))


def _letters(rng: random.Random, low: int, high: int, alphabet: str = string.ascii_lowercase) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


COPY_LENGTH = 8  # fixed, so copying is one constant offset: a 2-layer model finds it in ~150 steps on CPU


def _copy(rng: random.Random) -> tuple[str, str]:
    s = _letters(rng, COPY_LENGTH, COPY_LENGTH)
    return f"{s}=", s


def _reverse(rng: random.Random) -> tuple[str, str]:
    s = _letters(rng, 3, 10)
    return f"{s}=", s[::-1]


def _sort(rng: random.Random) -> tuple[str, str]:
    s = _letters(rng, 3, 10, "abcdefghij")  # a small alphabet, so repeats happen
    return f"{s}=", "".join(sorted(s))


def _addition(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(0, 999), rng.randint(0, 999)
    return f"{a}+{b}=", str(a + b)


def _induction(rng: random.Random) -> tuple[str, str]:
    # random letters, then the same letters again: only copying from context predicts the repeat
    s = _letters(rng, 6, 12)  # a whole line (at most 26 characters) fits the task preset's context
    return f"{s}|", s


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            "copy",
            "8 random letters, '=', the same letters again (abcdefgh=abcdefgh)",
            "from '=' on, each character attends to the input character it is about to copy: "
            "a diagonal stripe 8 places left of the main diagonal",
            _copy,
            "exactly 8 letters, then '=' (qwertyui=): the model only ever saw 8-letter inputs",
        ),
        Task(
            "reverse",
            "a random string, '=', the string reversed (abc=cba)",
            "answer characters attend to the input mirrored: an anti-diagonal stripe",
            _reverse,
            "3 to 10 lower-case letters, then '=' (hello=)",
        ),
        Task(
            "sort",
            "random letters, '=', the same letters sorted (cab=abc)",
            "each answer character looks up where the next letter in alphabetical order sits "
            "in the input: scattered, content-based attention rather than a fixed offset",
            _sort,
            "3 to 10 letters from a to j, then '=' (jabbed=)",
        ),
        Task(
            "addition",
            "two numbers up to 999, their sum (12+345=357)",
            "answer digits attend to the digits of the same place value in both operands "
            "(and to the lower place for the carry)",
            _addition,
            "two numbers from 0 to 999 and '=' (12+345=)",
        ),
        Task(
            "induction",
            "a random string, '|', the same string again (kqzp|kqzp)",
            "induction heads: in the repeat, a head attends to the token just after the "
            "previous occurrence of the current token — a stripe one step right of the "
            "repeat diagonal, helped by a previous-token head in an earlier layer",
            _induction,
            "6 to 12 lower-case letters, '|', then a few of them again (kqzpab|kq)",
        ),
    )
}


def get_task(name: str) -> Task:
    key = name.removeprefix("task:").strip().lower()
    if key not in TASKS:
        raise ModelError(f"unknown task '{name}' (choose from {', '.join(TASKS)})")
    return TASKS[key]
