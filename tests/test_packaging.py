"""A normal (non-editable) install works: the wheel carries every package and the built-in assets."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _declared_packages() -> list[str]:
    # (tomllib would need Python 3.11; the package supports 3.10)
    text = (ROOT / "pyproject.toml").read_text()
    found = re.search(r"^packages = (\[.*?\])", text, re.MULTILINE | re.DOTALL)
    return ast.literal_eval(found.group(1))


def test_every_package_folder_is_declared() -> None:
    """`packages` is an explicit list (assets/ is mapped in): a new subpackage must be added to it."""
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("models", "playground")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk | {"models.assets"} == set(_declared_packages())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (whl,) = out.glob("*.whl")
    return whl


@pytest.mark.slow
def test_the_wheel_carries_the_packages_and_assets(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in _declared_packages():
        assert f"{package.replace('.', '/')}/__init__.py" in names, package
    for asset in ("tinyshakespeare.txt", "default-gpt/model.safetensors", "default-bert/tokenizer.json"):
        assert f"models/assets/{asset}" in names, asset
    assert not [n for n in names if "screenshots" in n]  # the README's pictures stay out


def borrowed_site_packages() -> list[str]:
    """The running interpreter's package folders (a venv's, conda's or the system's): what a new
    venv is pointed at. `--system-site-packages` would borrow the *base* interpreter's instead,
    which in a venv lacks everything installed into it."""
    import site
    import sysconfig

    paths = [sysconfig.get_paths()[key] for key in ("purelib", "platlib")]
    paths += site.getsitepackages() + [site.getusersitepackages()]
    return [p for p in dict.fromkeys(paths) if Path(p).is_dir()]


def test_borrowed_packages_are_the_running_interpreters() -> None:
    """From inside a venv the borrowed folders are the venv's own (where torch and PySide6 are)."""
    import torch

    torch_home = Path(torch.__file__).resolve().parents[1]
    assert str(torch_home) in [str(Path(p).resolve()) for p in borrowed_site_packages()]


@pytest.mark.slow
def test_the_installed_wheel_opens_the_builtin_model(wheel: Path, tmp_path: Path) -> None:
    """Installed into a new virtual environment (its dependencies borrowed from the running
    interpreter through a .pth file), run from elsewhere: `playground --screenshot` opens the
    built-in GPT, not a starter model."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    own = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    # plain paths in a .pth file join sys.path after the venv's own folder, and the .pth files
    # inside them are not run: this checkout's editable install stays out, the wheel is found first
    (Path(own) / "borrowed.pth").write_text("\n".join(borrowed_site_packages()) + "\n")
    pip = [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"HOME": str(tmp_path)}
    where = subprocess.run(
        [python, "-c", "import models.assets as a; print(a.path())"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(venv)), where  # the wheel's copy, not this checkout
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [str(venv / "bin" / "playground"), "--screenshot", str(shot), "--prompt", "ROMEO:"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "model: built-in GPT" in run.stdout and "starter" not in run.stdout, run.stdout
    assert shot.stat().st_size > 10_000
