"""Helpers shared by the end-to-end tests (fixtures stay in conftest.py; import these from here)."""

from __future__ import annotations

from pathlib import Path

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
