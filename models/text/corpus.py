"""Corpora: a UTF-8 text file, a folder of .txt files, or a built-in task; checked, then split."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from models import assets
from models.errors import ModelError
from models.text.tasks import TASKS, Task, get_task

# Corpora shipped with the app, by the name a user types: `--corpus shakespeare`.
BUILTIN_CORPORA = {"shakespeare": assets.SHAKESPEARE}

_SNIFF = 8192  # bytes looked at for NULs: text files essentially never contain one


@dataclass(frozen=True)
class Corpus:
    """The whole text of a corpus and where it came from."""

    name: str  # the file or folder path, a built-in corpus's name, or "task:NAME"
    text: str
    task: Task | None = None

    @cached_property  # a checkpoint's state records it; hashing a large corpus takes a while
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def split(self, val_fraction: float = 0.1) -> tuple[str, str]:
        """First (1 - f) of the characters for training, the last f for validation (as nanoGPT)."""
        cut = int(len(self.text) * (1.0 - val_fraction))
        return self.text[:cut], self.text[cut:]

    def probe_text(self, val_fraction: float = 0.1, max_chars: int = 60) -> str:
        """A short held-out text whose attention the run shows as it learns."""
        if self.task is not None:
            question, answer = self.task.prompt()
            return question + answer
        return _first_line(self.split(val_fraction)[1], max_chars)

    def sample_prompt(self, val_fraction: float = 0.1) -> str:
        """How generated samples start: a task question, or the start of a held-out line."""
        if self.task is not None:
            return self.task.prompt()[0]
        return _first_line(self.split(val_fraction)[1], 24)


def load_corpus(source: str | Path, examples: int = 20_000, seed: int = 0) -> Corpus:
    """A file, a folder (every .txt below it, in name order), a built-in corpus ("shakespeare")
    or a task ("task:copy" or "copy")."""
    spec = str(source)
    path = Path(spec).expanduser()
    if spec.startswith("task:") or (not path.exists() and spec.strip().lower() in TASKS):
        task = get_task(spec)
        return Corpus(f"task:{task.name}", task.corpus(examples, seed), task)
    if not path.exists() and spec.strip().lower() in BUILTIN_CORPORA:
        name = spec.strip().lower()
        return Corpus(name, read_text(assets.path(BUILTIN_CORPORA[name])))
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise ModelError(f"{path}: the folder contains no .txt files")
        return Corpus(str(path), "\n".join(read_text(p) for p in files))
    if path.is_file():
        return Corpus(str(path), read_text(path))
    raise ModelError(
        f"{path}: no such file or folder (built-in corpora: {', '.join(BUILTIN_CORPORA)}; "
        f"tasks: {', '.join(TASKS)})"
    )


def read_text(path: Path) -> str:
    """The file as text, or a ModelError naming the file and what is wrong with it."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModelError(f"{path}: cannot be read ({e.strerror})") from e
    if not data.strip():
        raise ModelError(
            f"{path}: the file is empty" if not data else f"{path}: the file contains only whitespace"
        )
    if b"\x00" in data[:_SNIFF]:
        raise ModelError(f"{path}: looks like a binary file (it contains NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")  # a leading byte-order mark is not part of the text
    except UnicodeDecodeError as e:
        raise ModelError(
            f"{path}: is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); save it as UTF-8"
        ) from e
    return text


def check_size(name: str, train_tokens: int, val_tokens: int, context: int, val_fraction: float) -> None:
    """Both splits must hold at least one training window (context + 1 tokens)."""
    need = context + 1
    if train_tokens >= need and val_tokens >= need:
        return
    minimum = int(need / val_fraction) + 1
    raise ModelError(
        f"{name}: the corpus is too small — {train_tokens + val_tokens} tokens after "
        f"tokenizing, but a context of {context} needs at least about {minimum} tokens (the "
        f"last {val_fraction:.0%} is held out for validation and must hold {need} tokens). "
        "Add text or choose a shorter context."
    )


def _first_line(text: str, max_chars: int) -> str:
    """An early line of at least 8 characters written like the text as a whole: in a Chinese
    corpus with some code in it, a Chinese line, not an ASCII one (their share of non-ASCII
    characters is the closest to the text's)."""
    lines = text.splitlines()
    lines = lines[1:] if len(lines) > 1 else lines  # the first held-out line may start mid-line
    lines = [ln.strip() for ln in lines[:2000] if len(ln.strip()) >= 8][:200]
    if not lines:
        return text.strip()[:max_chars] or "the"
    target = _non_ascii_share(text)
    line = min(lines, key=lambda ln: abs(_non_ascii_share(ln) - target))  # the first of the closest
    return line[:max_chars]


def _non_ascii_share(text: str) -> float:
    chars = [c for c in text if not c.isspace()]
    return sum(not c.isascii() for c in chars) / len(chars) if chars else 0.0
