"""``cmpl split``: draw a config's labeled subset (uniform or category-wise) and write it into the run folder as lists."""

from __future__ import annotations

from pathlib import Path

from cmpl.config import Config
from cmpl.engine.run_data import SPLIT_FILES, RunData, prepare_run_data

__all__ = ["split"]


def split(config: Config) -> tuple[RunData, dict[str, Path]]:
    """The drawn split and the files it went to (``classes``, ``labeled``, ``unlabeled``)."""
    run_dir = Path(config.train.output_dir)
    data = prepare_run_data(config, run_dir)
    return data, {name: run_dir / file for name, file in SPLIT_FILES.items()}
