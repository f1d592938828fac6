"""Labelled examples for classification: a CSV, TSV or JSON Lines file, or a built-in labelled task."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from models import assets
from models.errors import ModelError
from models.text.corpus import read_text

TEXT_COLUMNS = ("text", "sentence", "review", "content", "document")  # guessed when none is named
LABEL_COLUMNS = ("label", "labels", "class", "category", "target")


@dataclass(frozen=True)
class Labelled:
    """Texts and their label ids; `labels[i]` names class i."""

    name: str  # the file, or "task:NAME" for a built-in one
    texts: tuple[str, ...]
    ids: tuple[int, ...]  # the class of each text
    labels: tuple[str, ...]
    task: str | None = None  # a built-in task's name: made again from it, so never stored

    def __len__(self) -> int:
        return len(self.texts)

    @cached_property
    def text(self) -> str:
        """The examples as JSON Lines ({"text", "label"}): how a run keeps its data for resuming."""
        rows = (
            json.dumps({"text": t, "label": self.labels[i]}, ensure_ascii=False)
            for t, i in zip(self.texts, self.ids, strict=True)
        )
        return "".join(r + "\n" for r in rows)

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def split(self, val_fraction: float, seed: int) -> tuple[Labelled, Labelled]:
        """Held-out examples from every class (at least one each), the same for the same seed.
        Copies of one text stay on one side: a held-out example is never also learned from."""
        rng = random.Random(f"split:{seed}")
        groups: dict[str, list[int]] = {}
        for i, text in enumerate(self.texts):
            groups.setdefault(text, []).append(i)
        train, val = [], []
        for c in range(len(self.labels)):
            texts = [t for t, rows in groups.items() if self.ids[rows[0]] == c]
            rng.shuffle(texts)
            n = min(len(texts) - 1, max(1, round(len(texts) * val_fraction)))
            val += [i for t in texts[:n] for i in groups[t]]
            train += [i for t in texts[n:] for i in groups[t]]
        return self.subset(sorted(train)), self.subset(sorted(val))

    def subset(self, rows: list[int]) -> Labelled:
        return Labelled(
            self.name,
            tuple(self.texts[i] for i in rows),
            tuple(self.ids[i] for i in rows),
            self.labels,
            self.task,
        )


def columns(path: str | Path) -> list[str]:
    """The column names of a labelled file (its header, or the keys of its first JSON line)."""
    path = Path(path)
    text = read_text(path)
    if _is_jsonl(path):
        first = _json_rows(path, text[: text.find("\n") + 1 or len(text)])
        return list(first[0][1]) if first else []
    return next(csv.reader(io.StringIO(text), delimiter=_delimiter(path, text)), [])


def read_labelled(path: str | Path, text_column: str = "", label_column: str = "") -> Labelled:
    """Read a labelled file; every fault is a ModelError naming the file, the row and the column."""
    path = Path(path).expanduser()
    text = read_text(path)  # names the file if it is missing, empty, binary or not UTF-8
    if _is_jsonl(path):
        rows = _json_rows(path, text)
    else:
        reader = csv.DictReader(io.StringIO(text), delimiter=_delimiter(path, text))
        try:
            rows = [(reader.line_num, row) for row in reader]
        except csv.Error as e:
            raise ModelError(f"{path}: line {reader.line_num} cannot be read as CSV ({e})") from e
        for line, row in rows:
            if None in row:  # more cells than the header names
                raise ModelError(
                    f"{path}: row {line} has more fields than the header ({len(row) - 1 + len(row[None])} "
                    f"vs {len(row) - 1}): quote a text that holds the delimiter"
                )
    if not rows:
        raise ModelError(f"{path}: no examples (a header and at least one row are needed)")
    names = list(rows[0][1])
    text_column = text_column or _guess(names, TEXT_COLUMNS, 0)
    label_column = label_column or _guess(names, LABEL_COLUMNS, -1)
    for wanted, role in ((text_column, "text"), (label_column, "label")):
        if wanted not in names:
            raise ModelError(f"{path}: no {role} column '{wanted}' (the columns are: {', '.join(names)})")
    if text_column == label_column:
        raise ModelError(f"{path}: the text and the label cannot be the same column ('{text_column}')")
    texts, labels = [], []
    for line, row in rows:
        value, label = row.get(text_column), row.get(label_column)
        for cell, column in ((value, text_column), (label, label_column)):
            if cell is None or str(cell).strip() == "":
                raise ModelError(f"{path}: row {line} has an empty '{column}'")
            if isinstance(cell, (list, dict)):
                raise ModelError(f"{path}: row {line}: '{column}' is a list or an object, not one value")
        texts.append(str(value).strip())
        labels.append(_label_name(label))
    return make_labelled(str(path), texts, labels)


def _label_name(label) -> str:
    """One spelling per class: JSON's 1 and 1.0 are the same label "1"."""
    if isinstance(label, bool):
        return str(label).lower()
    if isinstance(label, float) and label.is_integer():
        return str(int(label))
    return str(label).strip()


def make_labelled(name: str, texts: list[str], labels: list[str], task: str | None = None) -> Labelled:
    """Check the classes and number them (numbers in numeric order, other names alphabetically)."""
    names = sorted(set(labels), key=_label_order)
    if len(names) < 2:
        raise ModelError(f"{name}: every example has the label '{names[0]}'; a classifier needs two or more")
    counts = {n: labels.count(n) for n in names}
    rare = [n for n, c in counts.items() if c < 2]
    if rare:
        raise ModelError(
            f"{name}: {len(names)} classes in {len(labels)} examples; each class needs at least two "
            f"(one to learn from, one to check), but {', '.join(repr(r) for r in rare[:5])} "
            f"{'has' if len(rare) == 1 else 'have'} only one"
        )
    index = {n: i for i, n in enumerate(names)}
    return Labelled(name, tuple(texts), tuple(index[x] for x in labels), tuple(names), task)


def _label_order(label: str) -> tuple:
    """Numbers in numeric order, then names; ties ("1" and "01") by spelling, so every process
    numbers the classes alike."""
    return (0, float(label), label) if re.fullmatch(r"-?\d+(\.\d+)?", label) else (1, 0.0, label)


def _guess(names: list[str], usual: tuple[str, ...], fallback: int) -> str:
    lower = {n.lower(): n for n in names}
    return next((lower[u] for u in usual if u in lower), names[fallback] if len(names) > 1 else "")


def _is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in (".jsonl", ".json", ".ndjson")


def _delimiter(path: Path, text: str) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    if path.suffix.lower() == ".csv":
        return ","
    return "\t" if text.split("\n", 1)[0].count("\t") > text.split("\n", 1)[0].count(",") else ","


def _json_rows(path: Path, text: str) -> list[tuple[int, dict]]:
    rows = []
    # split on newlines only: a text may hold U+2028 or U+0085, which splitlines() would cut at
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            raise ModelError(f"{path}: line {n} is not JSON ({e.msg})") from e
        if not isinstance(row, dict):
            raise ModelError(f"{path}: line {n} is not a JSON object with named fields")
        rows.append((n, row))
    return rows


# ---- built-in labelled tasks, made from the held-out tenth of Shakespeare ----------------------
@dataclass(frozen=True)
class LabelledTask:
    name: str
    description: str  # what an example is and what the labels mean
    make: Callable[[list[str], random.Random, int], tuple[list[str], list[str]]]


def _held_out_lines(min_words: int, max_words: int) -> list[str]:
    """Lines of the last tenth of the corpus: the built-in BERT never trained on them."""
    text = read_text(assets.path(assets.SHAKESPEARE))
    lines = text[int(len(text) * 0.9) :].splitlines()[1:]
    return [ln.strip() for ln in lines if min_words <= len(ln.split()) <= max_words and not ln.endswith(":")]


def _word_order(lines: list[str], rng: random.Random, n: int) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for line in rng.sample(lines, min(n, len(lines))):
        # words only, lower case: punctuation in mid-line or a capital in the middle would give a
        # shuffled line away without any knowledge of the language
        words = re.findall(r"[a-z']+", line.lower())
        line = " ".join(words)
        if len(set(words)) < 2:  # no order to break ("ha ha ha ha ha")
            continue
        if rng.random() < 0.5:
            texts.append(line)
            labels.append("in order")
            continue
        shuffled = words[:]
        while shuffled == words:
            rng.shuffle(shuffled)
        texts.append(" ".join(shuffled))
        labels.append("shuffled")
    return texts, labels


def _question(lines: list[str], rng: random.Random, n: int) -> tuple[list[str], list[str]]:
    """Half questions, half statements, each line at most once (the held-out tenth has a few
    hundred questions: a larger n gives fewer examples, never a repeated one)."""
    asks = sorted({ln for ln in lines if ln.endswith("?")})
    tells = sorted({ln for ln in lines if ln.endswith((".", "!"))})
    half = min(n // 2, len(asks), len(tells))
    rows = [(ln, "question") for ln in rng.sample(asks, half)] + [
        (ln, "statement") for ln in rng.sample(tells, half)
    ]
    rng.shuffle(rows)
    return [ln.rstrip("?.!").rstrip() for ln, _ in rows], [y for _, y in rows]  # the mark would tell


LABELLED_TASKS = {
    t.name: t
    for t in (
        LabelledTask(
            "word-order",
            "a line of Shakespeare, in order or with its words shuffled: knowing the language "
            "is what tells them apart",
            _word_order,
        ),
        LabelledTask(
            "question",
            "a line of Shakespeare without its final mark: was it a question or a statement?",
            _question,
        ),
    )
}


def labelled_task(name: str, examples: int = 1000, seed: int = 0) -> Labelled:
    """`examples` examples of a built-in task ("task:word-order" or "word-order")."""
    key = name.removeprefix("task:").strip().lower()
    if key not in LABELLED_TASKS:
        raise ModelError(f"unknown labelled task '{name}' (choose from {', '.join(LABELLED_TASKS)})")
    lines = _held_out_lines(5, 14)
    texts, labels = LABELLED_TASKS[key].make(lines, random.Random(f"{key}:{seed}"), examples)
    return make_labelled(f"task:{key}", texts, labels, task=key)


def is_labelled_task(spec: str) -> bool:
    return spec.removeprefix("task:").strip().lower() in LABELLED_TASKS and (
        spec.startswith("task:") or not Path(spec).exists()
    )


def load_labelled(
    source: str | Path, text_column: str = "", label_column: str = "", seed: int = 0
) -> Labelled:
    """A built-in task by name ("task:word-order") or a labelled file."""
    spec = str(source)
    if spec.startswith("task:") or is_labelled_task(spec):
        return labelled_task(spec, seed=seed)
    return read_labelled(spec, text_column, label_column)
