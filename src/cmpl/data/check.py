"""``cmpl check-videos``: find the files that will not decode before a long run meets them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cmpl.data.annotations import VIDEO_EXTENSIONS, read_path_label_list
from cmpl.data.decode import scan_video
from cmpl.data.workers import run_jobs
from cmpl.errors import MissingFileError

__all__ = ["find_bad_videos", "videos_to_check"]


def videos_to_check(target: Path) -> list[Path]:
    """A folder (every video file below it) or a list file ("path label" lines, as in a run directory)."""
    if target.is_dir():
        return sorted(p for p in target.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())
    if target.is_file():
        return [r.path for r in read_path_label_list(target).records]
    raise MissingFileError(f"{target}: no such folder or list file")


def find_bad_videos(
    paths: Sequence[Path], workers: int | None = None, progress: bool = True
) -> list[tuple[Path, str]]:
    """Every file whose first or last frame does not decode, with the reason, scanned on all cores."""
    reasons = run_jobs(scan_video, paths, workers, desc="check videos", progress=progress, chunksize=16)
    return [(path, reason) for path, reason in zip(paths, reasons, strict=True) if reason is not None]
