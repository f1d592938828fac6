"""Before Qt starts: missing xcb libraries and a missing display are named, never a Qt abort."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from playground import platform_check

LDD = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /site/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-cursor.so.0 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f)
"""


def test_ldd_output_names_each_missing_library_once() -> None:
    assert platform_check.parse_ldd(LDD) == ["libxcb-cursor.so.0", "libxcb-icccm.so.4"]


def test_the_message_names_the_packages_to_install() -> None:
    message = platform_check.missing_message(["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libfoo-bar.so.3"])
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libfoo-bar3" in message
    assert "--screenshot" in message


def test_offscreen_and_wayland_need_no_check(tmp_path: Path) -> None:
    nowhere = tmp_path / "libqxcb.so"  # would be reported if it were looked at
    assert platform_check.check({"QT_QPA_PLATFORM": "offscreen"}, nowhere) == ""
    env = {"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}
    assert platform_check.check(env, nowhere) == ""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a C compiler to build the plugin stand-in")
def test_a_real_library_with_a_missing_dependency_is_caught(tmp_path: Path) -> None:
    """A shared library linked against libxcb-fakecursor.so.0, which is then deleted: the
    same situation as Qt's plugin on a minimal Debian."""
    stub = tmp_path / "libxcb-fakecursor.so.0"
    src = tmp_path / "x.c"
    src.write_text("int f(void) { return 0; }\n")
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-Wl,-soname,libxcb-fakecursor.so.0", "-o", stub, src], check=True
    )
    plugin = tmp_path / "libqfake.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-Wl,--no-as-needed", "-o", plugin, src, str(stub)], check=True
    )
    env = {"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}
    os.environ["LD_LIBRARY_PATH"] = str(tmp_path)
    try:
        assert platform_check.check(env, plugin) == ""  # all there: nothing to say
    finally:
        del os.environ["LD_LIBRARY_PATH"]
    message = platform_check.check(env, plugin)  # the stub is no longer on the search path
    assert "libxcb-fakecursor.so.0" in message and "apt-get install libxcb-fakecursor0" in message


def test_launching_without_a_usable_display_explains_instead_of_aborting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env |= {"QT_QPA_PLATFORM": "xcb", "HOME": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "playground.cli"], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == platform_check.EXIT_CODE, run.stderr
    assert run.stderr.startswith("playground: ") and (
        "apt-get install" in run.stderr or "DISPLAY" in run.stderr
    )
