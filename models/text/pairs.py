"""Source → target pairs for the encoder–decoder: built-in translation-like tasks, or a user's TSV file."""

from __future__ import annotations

import csv
import hashlib
import io
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from models.errors import ModelError
from models.text.corpus import read_text

ARROW = " → "  # "source → target": a pair to inspect (a source alone is inspected with its translation)
START = "<start>"  # how the decoder's first input (Marian's pad token) is shown


def split_pair(text: str) -> tuple[str, str | None]:
    """ "source → target" (or "source -> target", easier to type) -> (source, target); a text
    without an arrow is a source alone."""
    for arrow in (ARROW.strip(), "->"):
        source, found, target = text.partition(arrow)
        if found:
            return source.strip(), target.strip()
    return text.strip(), None


def pair_problem(text: str) -> str:
    """Why `text` is not a pair to probe ("" when it is): both sides must say something."""
    source, target = split_pair(text)
    if target is None:
        return f"the probe text of an encoder–decoder is a pair: “source{ARROW}target” (or source -> target)"
    if not source or not target:
        return "the probe pair needs a source and a target on either side of its arrow"
    return ""


@dataclass(frozen=True)
class Pairs:
    """Sources and the targets they translate to."""

    name: str  # the file, or "task:NAME"
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    task: str | None = None  # a built-in task's name: made again from it, so never stored

    def __len__(self) -> int:
        return len(self.sources)

    @cached_property
    def text(self) -> str:
        """The pairs as a TSV with a header: how a run keeps its data for resuming."""
        out = io.StringIO()
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(["source", "target"])
        writer.writerows(zip(self.sources, self.targets, strict=True))
        return out.getvalue()

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def split(self, val_fraction: float, seed: int) -> tuple[Pairs, Pairs]:
        """Held-out pairs whose sources are never learned from (copies of a source stay together)."""
        groups: dict[str, list[int]] = {}
        for i, s in enumerate(self.sources):
            groups.setdefault(s, []).append(i)
        keys = list(groups)
        random.Random(f"split:{seed}").shuffle(keys)
        n = min(len(keys) - 1, max(1, round(len(keys) * val_fraction)))
        val = sorted(i for k in keys[:n] for i in groups[k])
        train = sorted(i for k in keys[n:] for i in groups[k])
        return self.subset(train), self.subset(val)

    def subset(self, rows: list[int]) -> Pairs:
        return Pairs(
            self.name, tuple(self.sources[i] for i in rows), tuple(self.targets[i] for i in rows), self.task
        )


def read_pairs(path: str | Path, source_column: str = "source", target_column: str = "target") -> Pairs:
    """A TSV file with a header naming its source and target columns; faults name the row."""
    path = Path(path).expanduser()
    text = read_text(path)
    reader = csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    try:
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as e:
        raise ModelError(f"{path}: line {reader.line_num} cannot be read as TSV ({e})") from e
    names = reader.fieldnames or []
    for wanted, role in ((source_column, "source"), (target_column, "target")):
        if wanted not in names:
            raise ModelError(f"{path}: no {role} column '{wanted}' (the columns are: {', '.join(names)})")
    if not rows:
        raise ModelError(f"{path}: no pairs (a header and at least one row are needed)")
    sources, targets = [], []
    for line, row in rows:
        for column in (source_column, target_column):
            if not (row.get(column) or "").strip():
                raise ModelError(f"{path}: row {line} has an empty '{column}'")
        sources.append(row[source_column].strip())
        targets.append(row[target_column].strip())
    if len(set(sources)) < 2:
        raise ModelError(f"{path}: fewer than two different sources: nothing could be held out to check")
    return Pairs(str(path), tuple(sources), tuple(targets))


# ---- built-in tasks ----------------------------------------------------------------------------
ONES = "zero one two three four five six seven eight nine".split()
TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
CHINESE = "零一二三四五六七八九"


def english(n: int) -> str:
    """0..999 in words, British style: 312 -> "three hundred and twelve"."""
    hundreds, rest = divmod(n, 100)
    words = [ONES[hundreds], "hundred"] if hundreds else []
    if rest or not hundreds:
        if hundreds:
            words.append("and")
        if rest < 10:
            words.append(ONES[rest])
        elif rest < 20:
            words.append(TEENS[rest - 10])
        else:
            words += [TENS[rest // 10]] + ([ONES[rest % 10]] if rest % 10 else [])
    return " ".join(words)


def chinese(n: int) -> str:
    """0..999 in Chinese numerals: 312 -> "三百一十二", 205 -> "二百零五", 15 -> "十五"."""
    if n == 0:
        return CHINESE[0]
    hundreds, tens, ones = n // 100, n // 10 % 10, n % 10
    out = f"{CHINESE[hundreds]}百" if hundreds else ""
    if tens:
        out += ("" if tens == 1 and not hundreds else CHINESE[tens]) + "十"
    elif hundreds and ones:
        out += CHINESE[0]  # 205: 二百零五
    if ones:
        out += CHINESE[ones]
    return out


@dataclass(frozen=True)
class PairTask:
    name: str
    description: str
    look_for: str  # the cross-attention pattern that shows the model learned it
    make: Callable[[random.Random, int], list[tuple[str, str]]]


def _letters(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 10))) for _ in range(n)]


def _numbers(rng: random.Random, n: int, words: Callable[[int], str]) -> list[tuple[str, str]]:
    numbers = list(range(1000))
    rng.shuffle(numbers)
    return [(words(k), str(k)) for k in numbers[:n]]


def _addition(rng: random.Random, n: int) -> list[tuple[str, str]]:
    out = []
    for _ in range(n):
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        out.append((f"{a}+{b}", str(a + b)))
    return out


PAIR_TASKS = {
    t.name: t
    for t in (
        PairTask("copy", "letters → the same letters",
                 "a diagonal: each output letter reads its source letter",
                 lambda rng, n: [(s, s) for s in _letters(rng, n)]),
        PairTask("reverse", "letters → the letters backwards",
                 "an anti-diagonal: the first output letter reads the last source letter",
                 lambda rng, n: [(s, s[::-1]) for s in _letters(rng, n)]),
        PairTask("sort", "letters → the letters in alphabetical order",
                 "each output letter reads wherever that letter stands in the source",
                 lambda rng, n: [(s, "".join(sorted(s))) for s in _letters(rng, n)]),
        PairTask("addition", "two numbers → their sum (12+345 → 357)",
                 "the sum's digits read the digits of the same place in both numbers", _addition),
        PairTask("numbers", "English number words → digits (three hundred and twelve → 312)",
                 "not monotonic: in 'fourteen' the 1 reads 'teen' and the 4 reads 'four'",
                 lambda rng, n: _numbers(rng, n, english)),
        PairTask("chinese", "Chinese numerals → digits (三百一十二 → 312)",
                 "each digit reads its numeral; 十 with no digit before it becomes a 1",
                 lambda rng, n: _numbers(rng, n, chinese)),
    )
}  # fmt: skip


def pair_task(name: str, examples: int = 2000, seed: int = 0) -> Pairs:
    """`examples` pairs of a built-in task ("task:reverse" or "reverse"); the number tasks have at
    most their 1000 numbers, each once."""
    key = name.removeprefix("task:").strip().lower()
    if key not in PAIR_TASKS:
        raise ModelError(f"unknown encoder–decoder task '{name}' (choose from {', '.join(PAIR_TASKS)})")
    rows = PAIR_TASKS[key].make(random.Random(f"{key}:{seed}"), examples)
    return Pairs(f"task:{key}", tuple(s for s, _ in rows), tuple(t for _, t in rows), task=key)


def load_pairs(source: str | Path, seed: int = 0) -> Pairs:
    """A built-in task by name ("task:numbers") or a TSV file with source and target columns."""
    spec = str(source)
    key = spec.removeprefix("task:").strip().lower()
    if spec.startswith("task:") or (key in PAIR_TASKS and not Path(spec).exists()):
        return pair_task(spec, seed=seed)
    return read_pairs(spec)
