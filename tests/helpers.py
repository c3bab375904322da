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


def random_state(manifest: list[tuple[str, list[int]]], seed: int = 0) -> dict:
    """Seeded random weights for a state dict of these keys and shapes, the same on every machine: Kaiming-
    scaled kernels, BatchNorm scales near 1 with positive running variances, small biases and means. The
    pretrained-format tests rebuild a source network's weights from its manifest with this."""
    import math

    import torch

    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in manifest:
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=g) + 0.5
        elif len(shape) == 1 and key.endswith(".weight"):
            state[key] = torch.rand(shape, generator=g) * 0.5 + 0.5
        elif len(shape) == 1:  # biases, running means
            state[key] = torch.randn(shape, generator=g) * 0.1
        else:
            fan_in = math.prod(shape[1:])
            state[key] = torch.randn(shape, generator=g) * math.sqrt(2.0 / fan_in)
    return state
