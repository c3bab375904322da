"""``cmpl prepare``: a one-time re-encoded copy of a dataset that trains faster."""

from __future__ import annotations

from pathlib import Path

from cmpl.data.prepare import FAILED_FILE, PrepareReport, PrepareSettings, prepare_dataset

__all__ = ["prepare"]


def prepare(
    source: Path, dest: Path, short_side: int, keyframe_interval: int, crf: int, workers: int | None
) -> tuple[PrepareReport, Path]:
    """Mirror ``source`` into ``dest``; returns the counts and the file that lists failed videos."""
    settings = PrepareSettings(short_side, keyframe_interval, crf)
    return prepare_dataset(source, dest, settings, workers=workers), dest / FAILED_FILE
