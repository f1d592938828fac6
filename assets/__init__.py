"""The built-in checkpoints and corpus, installed inside the wheel as the package `models.assets`."""

from importlib.resources import files
from pathlib import Path

SHAKESPEARE = "tinyshakespeare.txt"  # public domain, 1.1 MB: the built-in corpus


def path(name: str = "") -> Path:
    """Where a shipped asset lies on disk (wheels install unzipped, so it is a real file)."""
    return Path(str(files(__name__).joinpath(name))) if name else Path(str(files(__name__)))


def builtin_model(arch: str, root: Path | None = None) -> Path | None:
    """The shipped checkpoint folder for `arch` ("gpt" or "bert"), if this install has it.

    `root` replaces the installed assets (tests use it to make the built-in model absent).
    """
    folder = (root or path()) / f"default-{arch}"
    return folder if (folder / "config.json").is_file() else None
