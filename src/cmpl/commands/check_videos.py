"""``cmpl check-videos``: every video of a folder, a list file or a config that will not decode."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cmpl.config import Config, config_names, load_config
from cmpl.data.annotations import MissingVideosError
from cmpl.data.check import find_bad_videos, videos_to_check
from cmpl.engine.run_data import load_dataset

__all__ = ["check_videos"]


def check_videos(
    target: Path | Config, workers: int | None = None
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(videos checked, (path, reason) of each bad one); a config's target is its train and test sets,
    missing files included (they are reported as not found, not raised)."""
    if isinstance(target, Config):
        paths = []
        for subset in ("train", "test"):
            try:
                paths += [r.path for r in load_dataset(target, subset).records]
            except MissingVideosError as e:
                paths += e.listed
        paths = list(dict.fromkeys(paths))  # a video listed in both subsets is checked once
    else:
        paths = videos_to_check(target)
    return paths, find_bad_videos(paths, workers)


COMMAND = "check-videos"
HELP = "list every video that will not decode (all cores)"
DESCRIPTION = (
    "Opens every video and decodes its first and last frame, in parallel. TARGET is a folder, a "
    "'path label' list file, or a config (its train and test sets)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", help="folder, list file, or config file / shipped config name")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides (with a config)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")


def run(args: argparse.Namespace) -> int:
    target = Path(args.target)
    if target.suffix in (".yaml", ".yml") or (not target.exists() and args.target in config_names()):
        paths, bad = check_videos(load_config(args.target, args.overrides), args.workers)
    else:
        paths, bad = check_videos(target, args.workers)
    for path, reason in bad:
        print(f"{path}\t{reason.removeprefix(f'{path}: ')}")
    print(f"{len(bad)} of {len(paths)} videos will not decode", file=sys.stderr)
    return 1 if bad else 0
