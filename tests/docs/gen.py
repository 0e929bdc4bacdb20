"""Import a module of the docs builder (`docs/_gen/`): a folder of scripts, not a package."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
GEN_DIR = REPO / "docs" / "_gen"


def load(name: str) -> ModuleType:
    if str(GEN_DIR) not in sys.path:
        sys.path.insert(0, str(GEN_DIR))
    return importlib.import_module(name)
