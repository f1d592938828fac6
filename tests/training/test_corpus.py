"""Corpora: files, folders, bad input named by file, the split, and the built-in task generators."""

from pathlib import Path

import pytest

from models.errors import ModelError
from models.text.corpus import check_size, load_corpus
from models.text.tasks import TASKS, get_task
from models.training.settings import preset


def test_file_and_folder(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("second file\n", encoding="utf-8")
    (tmp_path / "a.txt").write_text("\ufefffirst file\n", encoding="utf-8")  # BOM is dropped
    (tmp_path / "skip.md").write_text("not text corpus", encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert corpus.text == "first file\n\nsecond file\n"
    assert load_corpus(tmp_path / "b.txt").text == "second file\n"


def test_split_is_first_and_last_part() -> None:
    corpus = load_corpus("task:copy")
    train, val = corpus.split(0.1)
    assert train + val == corpus.text
    assert len(val) == len(corpus.text) - int(len(corpus.text) * 0.9)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (b"  \n\t\n", "only whitespace"),
        (b"PK\x03\x04\x00\x00binary", "binary"),
        ("caf\u00e9 au lait".encode("latin-1"), "not UTF-8"),
    ],
)
def test_bad_files_are_named(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=expected) as info:
        load_corpus(path)
    assert str(path) in str(info.value)


def test_missing_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such file or folder"):
        load_corpus(tmp_path / "nope.txt")
    with pytest.raises(ModelError, match="no .txt files"):
        load_corpus(tmp_path)
    with pytest.raises(ModelError, match="unknown task"):
        load_corpus("task:juggle")


def test_too_small_names_the_minimum() -> None:
    with pytest.raises(ModelError, match=r"too small.*context of 64.*at least about 651"):
        check_size("x.txt", 500, 50, 64, 0.1)
    check_size("x.txt", 600, 65, 64, 0.1)  # exactly one window in each split is enough


def test_tasks_are_seeded_and_correct() -> None:
    for task in TASKS.values():
        assert task.look_for and task.description
        a, b = task.corpus(200, seed=1), task.corpus(200, seed=2)
        assert a == task.corpus(200, seed=1) and a != b
        assert a.count("\n") == 200
    for line in get_task("reverse").corpus(50).splitlines():
        q, ans = line.split("=")
        assert ans == q[::-1]
    for line in get_task("sort").corpus(50).splitlines():
        q, ans = line.split("=")
        assert ans == "".join(sorted(q))
    for line in get_task("addition").corpus(50).splitlines():
        q, ans = line.split("=")
        x, y = q.split("+")
        assert int(ans) == int(x) + int(y)
    for line in get_task("induction").corpus(50).splitlines():
        first, second = line.split("|")
        assert first == second and len(first) >= 6
    context = preset("task").context  # a whole line and its newline fit one training window
    assert max(len(line) + 1 for t in TASKS.values() for line in t.corpus(500).splitlines()) <= context


def test_task_prompt_is_held_out_question() -> None:
    corpus = load_corpus("addition")
    assert corpus.task is not None and corpus.sample_prompt().endswith("=")
    assert corpus.probe_text().startswith(corpus.sample_prompt())


def test_the_probe_line_is_written_like_the_corpus(tmp_path: Path) -> None:
    """A Chinese corpus with a little code in it probes a Chinese line, even where the held-out
    part starts with code (the first held-out line was picked before)."""
    poem = "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。\n"
    code = "for (int i = 0; i < n; i++) { total += i; }\n"
    text = poem * 300 + code * 40 + poem * 20
    held_out = text[int(len(text) * 0.9) :].splitlines()[1]
    assert held_out == code.strip()  # the case that went wrong
    path = tmp_path / "mixed.txt"
    path.write_text(text, encoding="utf-8")
    assert load_corpus(path).probe_text() in poem
    english = load_corpus("shakespeare").probe_text()
    assert english.isascii() and len(english) >= 8
