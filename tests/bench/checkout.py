"""Lets a bench script run from a plain checkout (as on a lent GPU machine, nothing pip-installed):
puts the repository on sys.path and maps assets/ to `models.assets`, as the install's package-dir
does. Does nothing more where the package is installed. Import it before `models`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _map_assets() -> None:
    try:
        import models.assets  # noqa: F401
    except ImportError:
        import models

        folder = ROOT / "assets"
        spec = importlib.util.spec_from_file_location(
            "models.assets", folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["models.assets"] = module
        spec.loader.exec_module(module)
        models.assets = module


_map_assets()
