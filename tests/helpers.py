"""Helpers shared by the end-to-end tests (fixtures stay in conftest.py; import these from here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from cmpl.config import QUICK_OVERRIDES

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def fast_overrides(data_root: Path, run_dir: Path, method: str = "cmpl", iterations: int = 4) -> list[str]:
    """The quick pipeline-check budget (``cmpl demo --quick``) on ``data_root``, written into ``run_dir``."""
    return [
        *QUICK_OVERRIDES,
        f"data.root={data_root}",
        f"train.output_dir={run_dir}",
        f"method.name={method}",
        f"schedule.iterations={iterations}",
        "train.progress=false",
    ]


def load_script(name: str, folder: str = "research") -> ModuleType:
    """A script of research/ or benchmarks/ as a module (they are scripts, not a package). Its folder goes on
    ``sys.path`` first, as ``python research/NAME.py`` puts it, so that ``import common`` works."""
    path = Path(__file__).resolve().parents[1] / folder / f"{name}.py"
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
