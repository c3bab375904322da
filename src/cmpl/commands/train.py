"""``cmpl train``: one training run of the configured method (one process per device under torchrun)."""

from __future__ import annotations

import os
from typing import Any

from cmpl.config import Config
from cmpl.engine import distributed
from cmpl.engine.trainer import Trainer

__all__ = ["is_main", "train"]


def train(config: Config, resume: bool = False, force: bool = False) -> dict[str, Any]:
    """Train, evaluate and write ``results.json``; the process group is closed however the run ends.

    A process that torchrun restarted (``TORCHELASTIC_RESTART_COUNT`` > 0, after a rank died) resumes
    from the last checkpoint by itself: its folder holds the run it is part of."""
    resume = resume or int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0
    try:
        return Trainer(config, resume=resume, force=force).fit()
    finally:
        distributed.cleanup()


def is_main() -> bool:
    """Whether this process speaks for the run (rank 0, or the only process)."""
    return distributed.is_main()
