"""``cmpl split``: draw a config's labeled subset (uniform or category-wise) and write it into the run folder as lists."""

from __future__ import annotations

import argparse
from pathlib import Path

from cmpl.commands.arguments import add_config_arguments
from cmpl.config import Config, load_config
from cmpl.engine.run_data import SPLIT_FILES, RunData, prepare_run_data

__all__ = ["split"]


def split(config: Config) -> tuple[RunData, dict[str, Path]]:
    """The drawn split and the files it went to (``classes``, ``labeled``, ``unlabeled``)."""
    run_dir = Path(config.train.output_dir)
    data = prepare_run_data(config, run_dir)
    return data, {name: run_dir / file for name, file in SPLIT_FILES.items()}


COMMAND = "split"
HELP = "draw the labeled subset of a config (data.labeled_sampling) and write it as lists"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> None:
    data, files = split(load_config(args.config, args.overrides))
    print(
        f"{len(data.labeled)} labeled and {len(data.unlabeled)} unlabeled videos over {data.num_classes} "
        f"classes -> {files['labeled']}, {files['unlabeled']}"
    )
