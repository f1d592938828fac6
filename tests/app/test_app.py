"""`playground` itself: options, and --screenshot end to end on a tiny model."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QImage

from playground.app import main, parse_args


def test_screenshot_runs_the_prompt_and_writes_a_png(qapp, tmp_path, tiny_gpt_dir):
    out = tmp_path / "shot.png"
    rc = main(
        [
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
        ]
    )
    assert rc == 0
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1400, 800)


def test_screenshot_of_a_bad_folder_fails_cleanly(qapp, tmp_path):
    rc = main(
        ["--model", str(tmp_path / "missing"), "--device", "cpu", "--screenshot", str(tmp_path / "x.png")]
    )
    assert rc == 1
    assert not (tmp_path / "x.png").exists()


def test_unknown_view_is_refused():
    with pytest.raises(SystemExit):
        parse_args(["--view", "nonsense"])
