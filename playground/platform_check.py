"""Before Qt starts: can it open a window here? Names missing system libraries instead of an abort."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# Libraries Qt's xcb platform plugin loads (soname -> Debian/Ubuntu package). A minimal Debian or
# Ubuntu lacks the first three; Qt then aborts with "xcb-cursor0 or libxcb-cursor0 is needed".
XCB_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}
EXIT_CODE = 3  # the app could not start on this desktop; nothing was changed


def check(env: dict[str, str] | None = None, plugin: Path | None = None) -> str:
    """ "" when Qt can open a window; otherwise what is wrong and how to fix it."""
    env = dict(os.environ if env is None else env)
    if not sys.platform.startswith("linux") or _platform(env) != "xcb":
        return ""  # offscreen, wayland, macOS, Windows: Qt's own plugins need nothing extra
    plugin = plugin or _xcb_plugin()
    if plugin is None:
        return ""  # an unusual Qt layout: let Qt speak for itself
    missing = missing_libraries(plugin)
    if missing:
        return missing_message(missing)
    if not env.get("DISPLAY"):
        return (
            "there is no X display to open a window on (DISPLAY is not set). Start it from a "
            "desktop session, or render without a window: playground --screenshot FILE.png"
        )
    return ""


def missing_libraries(plugin: Path) -> list[str]:
    """Sonames the plugin (or a library it needs) cannot find: from ldd, else by loading them."""
    ldd = shutil.which("ldd")
    if ldd:
        try:
            out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=20).stdout
            return parse_ldd(out)
        except (OSError, subprocess.SubprocessError):
            pass
    missing = []
    for soname in XCB_PACKAGES:
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(soname)
    return missing


def parse_ldd(output: str) -> list[str]:
    """`ldd` lines like "libxcb-cursor.so.0 => not found", in order, each once."""
    found = re.findall(r"^\s*(\S+)\s*=>\s*not found", output, flags=re.MULTILINE)
    return list(dict.fromkeys(found))


def missing_message(missing: list[str]) -> str:
    packages = [XCB_PACKAGES.get(s) or _guess_package(s) for s in missing]
    return (
        "Qt cannot open a window: its xcb platform plugin needs system libraries that are not "
        f"installed ({', '.join(missing)}).\n"
        f"On Debian or Ubuntu:  sudo apt-get install {' '.join(dict.fromkeys(packages))}\n"
        "On Fedora:  sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms\n"
        "Or render without a window:  playground --screenshot FILE.png"
    )


def _guess_package(soname: str) -> str:
    """libfoo-bar.so.3 -> libfoo-bar3 (Debian's naming rule for shared libraries)."""
    m = re.match(r"^(lib[\w+.-]+?)\.so\.(\d+)", soname)
    if not m:
        return soname
    name, major = m.group(1).lower(), m.group(2)
    return f"{name}-{major}" if name[-1].isdigit() else f"{name}{major}"


def _platform(env: dict[str, str]) -> str:
    chosen = env.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(":", 1)[0].split(";", 1)[0]
    if env.get("XDG_SESSION_TYPE") == "wayland" and env.get("WAYLAND_DISPLAY"):
        return "wayland"
    return "xcb"


def _xcb_plugin() -> Path | None:
    try:
        import PySide6
    except ImportError:
        return None
    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None
