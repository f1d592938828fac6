"""The code's shape stays sound: no import circle, small engine modules, and tools that ask a model's
capabilities instead of its architecture's name (a new family touches only models/nn and models/hf)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "playground")
ARCH_CHECK = re.compile(r"arch *(==|!=|in\b)")  # what the before-stop hook counts too


def _modules() -> dict[str, Path]:
    found = {}
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules `path` imports, at its top or inside a function (a lazy import is still a
    dependency: the circle found in the trainer went through its factories' lazy imports)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        out |= {n for n in names if n in modules}
    return out


def test_no_import_circle() -> None:
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    # a package imports its own submodules to re-export them: that edge is the package's, not a circle
    graph = {name: {d for d in deps if not d.startswith(name + ".")} for name, deps in graph.items()}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                circle = path[path.index(dep) :] + [dep]
                raise AssertionError("import circle: " + " -> ".join(circle))
            if dep not in state:
                visit(dep, [*path, dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_engine_modules_stay_small() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "models").rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert not long, f"split these (a module is a screenful or a few): {long}"


def test_tools_and_views_ask_capabilities_not_architecture_names() -> None:
    checks = [
        f"{path.relative_to(ROOT)}:{i}"
        for top in PACKAGES
        for path in (ROOT / top).rglob("*.py")
        if not str(path.relative_to(ROOT)).startswith(("models/nn/", "models/hf/"))
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ARCH_CHECK.search(line)
    ]
    assert len(checks) <= 5, checks


def test_the_window_never_loads_torch_itself() -> None:
    """The window's modules import no torch: the worker loads it (saying so) while the window is
    already up. A view that read a name from a torch module (the attribution methods, the head
    types) made the window wait a second for torch, and a failed launch then crashed on exit a
    third of the time (a segfault while the worker still ran torch code)."""
    import subprocess
    import sys

    code = "import sys, playground.main_window; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
