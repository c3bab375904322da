"""``cmpl train``: one training run of the configured method (one process per device under torchrun)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from cmpl.commands.arguments import add_config_arguments
from cmpl.config import Config, load_config
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


COMMAND = "train"
HELP = "train a method; writes everything into train.output_dir"
DESCRIPTION = "Train the configured method. Launch with torchrun for several GPUs."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, required=False)
    parser.add_argument(
        "--resume", action="store_true", help="continue from <train.output_dir>/checkpoints/last.pt"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="start over in a folder holding another run (deletes it); with --resume, accept a model, "
        "method or data config that differs from the checkpoint's",
    )


def run(args: argparse.Namespace) -> None:
    config_name, overrides = args.config, list(args.overrides)
    if config_name is not None and "=" in config_name and not Path(config_name).exists():
        config_name, overrides = None, [config_name, *overrides]  # no config file, overrides only
    config = load_config(config_name, overrides)
    results = train(config, resume=args.resume, force=args.force)
    if is_main():
        print(
            f"top-1 {results['top1']:.2f}  top-5 {results['top5']:.2f}  "
            f"({results['num_videos']} videos) -> {config.train.output_dir}/results.json"
        )
