"""``cmpl train``: one training run of the configured method (one process per device under torchrun)."""

from __future__ import annotations

from typing import Any

from cmpl.config import Config
from cmpl.engine import distributed
from cmpl.engine.trainer import Trainer

__all__ = ["is_main", "train"]


def train(config: Config, resume: bool = False) -> dict[str, Any]:
    """Train, evaluate and write ``results.json``; the process group is closed however the run ends."""
    try:
        return Trainer(config, resume=resume).fit()
    finally:
        distributed.cleanup()


def is_main() -> bool:
    """Whether this process speaks for the run (rank 0, or the only process)."""
    return distributed.is_main()
