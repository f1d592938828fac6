"""Grokking's task (Power et al. 2022): (a + b) mod p for every pair of residues, written "a+b=c",
a fraction of the pairs trained on and the rest held out.

The split is over unordered pairs: (a, b) and (b, a) are on the same side, so no held-out answer
can be read off its mirror image (with a random split over ordered pairs a model that merely
memorises and ignores the order already scores about the training fraction on the held-out ones).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from tokenizers import Regex, decoders, models, pre_tokenizers
from tokenizers import Tokenizer as HFTokenizer

from models.errors import ModelError
from models.text.tokenizer import CHAR_UNK, Tokenizer

NAME = "task:modadd"
LOOK_FOR = (
    "grokking: train accuracy reaches 100% within a few hundred steps while test accuracy stays at "
    "chance, then, long after, it jumps to ~100% as weight decay shrinks the memorising weights; "
    "the embedding's Fourier spectrum collapses onto a few key frequencies as it does"
)
DESCRIPTION = "every a+b=c with c = (a + b) mod p; a fraction of the pairs trained on, the rest held out"


def is_modadd(data: object) -> bool:
    """Whether a run's data names this task ("task:modadd" or "modadd") or is its pairs."""
    if isinstance(data, ModularData):
        return True
    return isinstance(data, str) and data.strip().lower().removeprefix("task:") == "modadd"


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


def check(modulus: int, fraction: float) -> None:
    """Refuse a modulus that is not a prime (residues then share factors: the task changes) and a
    training fraction outside (0, 1)."""
    if not is_prime(modulus) or not 3 <= modulus <= 257:
        primes = [q for q in range(max(3, modulus - 10), modulus + 12) if is_prime(q)][:3]
        raise ModelError(
            f"the modulus p must be a prime from 3 to 257 (got {modulus}); e.g. "
            f"{', '.join(map(str, primes or [59, 97, 113]))}"
        )
    if not 0.0 < fraction < 1.0:
        raise ModelError(f"the training fraction must be between 0 and 1, exclusive (got {fraction:g})")


@dataclass(frozen=True)
class ModularData:
    """Every pair (a, b) of residues mod `modulus` and its answer, split by `fraction` and `seed`."""

    modulus: int
    fraction: float
    seed: int
    name: str = NAME
    task: str = "modadd"  # (a built-in: made again from the settings, never written to a run's folder)

    def __post_init__(self) -> None:
        check(self.modulus, self.fraction)

    @cached_property
    def pairs(self) -> np.ndarray:
        """int64 [p², 2]: (a, b) in order a-major."""
        p = self.modulus
        return np.stack(np.divmod(np.arange(p * p), p), axis=1).astype(np.int64)

    @property
    def answers(self) -> np.ndarray:
        return self.pairs.sum(1) % self.modulus

    @cached_property
    def train_mask(self) -> np.ndarray:
        """bool [p²]: the pairs trained on (each unordered pair on one side, chosen by the seed)."""
        p = self.modulus
        unordered = [(a, b) for a in range(p) for b in range(a, p)]
        random.Random(f"modadd:{p}:{self.seed}").shuffle(unordered)
        chosen = unordered[: max(1, round(self.fraction * len(unordered)))]
        mask = np.zeros((p, p), bool)
        for a, b in chosen:
            mask[a, b] = mask[b, a] = True
        return mask.reshape(-1)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(f"{self.modulus}:{self.fraction}:{self.seed}".encode()).hexdigest()

    def line(self, index: int) -> str:
        (a, b), c = self.pairs[index], self.answers[index]
        return f"{a}+{b}={c}"

    def held_out(self, k: int = 0) -> int:
        """The index of the k-th held-out pair."""
        test = np.flatnonzero(~self.train_mask)
        return int(test[k % len(test)])


def modadd_tokenizer(modulus: int) -> Tokenizer:
    """One token per residue ("0" … "p-1"), "+", "=" and a newline: "12+34=46" is five tokens."""
    names = [CHAR_UNK, *map(str, range(modulus)), "+", "=", "\n"]
    hf = HFTokenizer(models.WordLevel({n: i for i, n in enumerate(names)}, unk_token=CHAR_UNK))
    hf.pre_tokenizer = pre_tokenizers.Split(Regex(r"\d+|[\s\S]"), behavior="isolated")
    hf.decoder = decoders.Fuse()
    return Tokenizer(hf)
