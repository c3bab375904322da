"""``cmpl prepare``: a one-time re-encoded copy of a dataset that trains faster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cmpl.data.prepare import FAILED_FILE, PrepareReport, PrepareSettings, prepare_dataset

__all__ = ["prepare"]


def prepare(
    source: Path, dest: Path, short_side: int, keyframe_interval: int, crf: int, workers: int | None
) -> tuple[PrepareReport, Path]:
    """Mirror ``source`` into ``dest``; returns the counts and the file that lists failed videos."""
    settings = PrepareSettings(short_side, keyframe_interval, crf)
    return prepare_dataset(source, dest, settings, workers=workers), dest / FAILED_FILE


COMMAND = "prepare"
HELP = "one-time copy of a dataset, re-encoded to train faster"
DESCRIPTION = (
    "Mirrors SOURCE into DEST: videos re-encoded at a short side of at most --short-side pixels with a key "
    "frame every --keyframe-interval frames (timestamps kept, audio dropped), other files copied, same "
    "relative paths. Then train with data.root=DEST. Files already done are kept, so an interrupted run "
    "continues; videos that fail are listed in DEST/prepare_failed.txt (exit 1)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help="dataset folder (videos and annotation files)")
    parser.add_argument("dest", type=Path, help="output folder, outside the source")
    parser.add_argument("--short-side", type=int, default=320, help="0 keeps the size (default: %(default)s)")
    parser.add_argument("--keyframe-interval", type=int, default=16, help="in frames (default: %(default)s)")
    parser.add_argument(
        "--crf", type=int, default=23, help="x264 quality, lower is better (default: %(default)s)"
    )
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")


def run(args: argparse.Namespace) -> int:
    report, failed_list = prepare(
        args.source, args.dest, args.short_side, args.keyframe_interval, args.crf, args.workers
    )
    print(
        f"{report.encoded} videos encoded, {report.copied} files copied, {report.up_to_date} up to date, "
        f"{len(report.failed)} failed -> {args.dest}"
    )
    if report.failed:
        print(f"failed videos are listed in {failed_list}", file=sys.stderr)
    return 1 if report.failed else 0
