"""`playground` itself: options, and --screenshot end to end on a tiny model (in a subprocess,
like a user's run: the app owns its QApplication, worker thread and exit code)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from playground.cli.app import parse_args

ROOT = Path(__file__).resolve().parents[2]


def _playground(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYQTGRAPH_QT_LIB": "PySide6", **(env or {})}
    code = "import sys; from playground.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_screenshot_runs_the_prompt_and_writes_a_png(tmp_path, tiny_gpt_dir):
    out = tmp_path / "shot.png"
    run = _playground(
        "--model",
        str(tiny_gpt_dir),
        "--device",
        "cpu",
        "--screenshot",
        str(out),
        "--prompt",
        "the cat",
        "--view",
        "attention",
        "--size",
        "1400x800",
    )
    assert run.returncode == 0, run.stderr[-2000:]
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1400, 800)


def test_screenshot_of_a_bad_folder_fails_cleanly(tmp_path):
    run = _playground(
        "--model", str(tmp_path / "missing"), "--device", "cpu", "--screenshot", str(tmp_path / "x.png")
    )
    assert run.returncode == 1
    assert "no such folder" in run.stderr and "A model folder holds config.json" in run.stderr
    assert not (tmp_path / "x.png").exists()


def test_unknown_view_is_refused():
    with pytest.raises(SystemExit):
        parse_args(["--view", "nonsense"])


@pytest.mark.slow
def test_the_training_screenshot_leaves_no_run_behind(tmp_path):
    """The demo run behind `--view training` is not the user's: no run folder stays."""
    data, scratch = tmp_path / "data", tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "training.png"
    run = _playground(
        "--device", "cpu", "--screenshot", str(out), "--view", "training",
        env={"XDG_DATA_HOME": str(data), "HOME": str(tmp_path), "TMPDIR": str(scratch)},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert QImage(str(out)).width() > 0
    assert not list(data.rglob("runs")) and not list(scratch.glob("playground-*"))


@pytest.mark.slow
@pytest.mark.parametrize("view", ["finetune", "lens", "heads", "fill-mask"])
def test_every_picture_in_the_readme_can_be_made_again(tmp_path, view):
    """The README's pictures come from `--screenshot --view NAME`: each view's demo still runs
    to its end (one that waited for a probe by an old name timed out)."""
    out = tmp_path / f"{view}.png"
    model = ("--model", "builtin:bert") if view in ("finetune", "fill-mask") else ()
    run = _playground(
        *model, "--device", "cpu", "--screenshot", str(out), "--view", view, "--prompt", "ROMEO:",
        env={"HOME": str(tmp_path)},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert QImage(str(out)).width() > 0
