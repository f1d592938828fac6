"""The engine never pulls in Qt; its result types never pull in torch."""

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


def test_models_does_not_import_qt():
    loaded = _modules_after("import models; models.load; models.generate; models.probe")
    assert "torch" in loaded  # the lazy names really were resolved
    assert not {"PySide6", "pyqtgraph", "playground"} & loaded


def test_results_import_without_torch():
    loaded = _modules_after(
        "import models; from models.results import Probe; from models import SamplingSettings, ModelError"
    )
    assert "torch" not in loaded


def test_ruff_bans_qt_in_models(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import PySide6\nimport pyqtgraph\nfrom playground import app\n")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--config",
            "models/.ruff.toml",
            "--select",
            "TID251",
            str(bad),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    assert out.stdout.count("TID251") == 3, out.stdout
