"""``cmpl make-synthetic``: write the embedded synthetic action-video dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from cmpl.data.synthetic import SYNTHETIC_VERSIONS, make_synthetic

__all__ = ["make_synthetic_dataset"]


def make_synthetic_dataset(
    root: Path, train_per_class: int, test_per_class: int, seed: int, version: str = "v2"
) -> Path:
    """The dataset under ``root`` (nothing is rewritten when it is already there), with a progress bar."""
    return make_synthetic(
        root,
        train_per_class=train_per_class,
        test_per_class=test_per_class,
        seed=seed,
        version=version,
        progress=True,
    )


COMMAND = "make-synthetic"
HELP = "write the embedded synthetic action-video dataset"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", type=Path, help="output folder")
    parser.add_argument("--train-per-class", type=int, default=60, help="default: %(default)s")
    parser.add_argument("--test-per-class", type=int, default=20, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    parser.add_argument(
        "--version",
        choices=list(SYNTHETIC_VERSIONS),
        default="v2",
        help="v2: the demo's classes; v3: classes built to model the paper's Fig. 1, where only A's frame rate "
        "tells some motions apart (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> None:
    root = make_synthetic_dataset(
        args.root, args.train_per_class, args.test_per_class, args.seed, args.version
    )
    print(f"synthetic dataset ready in {root} (train.txt, test.txt, classes.txt)")
