"""``cmpl check-videos``: every video of a folder, a list file or a config that will not decode."""

from __future__ import annotations

from pathlib import Path

from cmpl.config import Config
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
