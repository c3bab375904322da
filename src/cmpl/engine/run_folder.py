"""Claiming a run folder: one process at a time, never over another run by accident, writable before any
training starts; and, on resume, logs cut back to the checkpoint so no iteration is logged twice."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import IO

from cmpl.errors import RunFolderError
from cmpl.run_files import METRICS_FILE

__all__ = ["LOCK_FILE", "RUN_FILES", "claim_run_folder", "truncate_metrics"]

LOCK_FILE = ".lock"
# what a run writes; --force removes these (and only these) before starting over
RUN_FILES = (
    "config.yaml",
    "classes.txt",
    "labeled.txt",
    "unlabeled.txt",
    "test.txt",
    METRICS_FILE,
    "results.json",
    "bad_videos.txt",
    "tensorboard",
    "checkpoints",
)


def claim_run_folder(run_dir: Path, resume: bool, force: bool) -> IO[str]:
    """Lock ``run_dir`` for this process and check it may train there; returns the open lock file.

    The lock is ``flock`` on ``run_dir/.lock``: the kernel drops it when the holder exits, however it
    exits, so a crashed run never leaves the folder stuck. Without ``resume``, a folder holding another run
    is refused unless ``force``, which removes that run's files first."""
    lock = _open_lock(run_dir)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise RunFolderError(
            f"{run_dir}: another process is training into this folder (it holds {run_dir / LOCK_FILE})"
        ) from None
    if not resume and _holds_a_run(run_dir):
        if not force:
            lock.close()
            raise RunFolderError(
                f"{run_dir}: holds another run; --resume continues it, --force starts over (deletes it)"
            )
        _remove_run_files(run_dir)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def _open_lock(run_dir: Path) -> IO[str]:
    """Create the folder and the lock file: an unwritable output folder is found here, before training."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        return (run_dir / LOCK_FILE).open("a")
    except OSError as e:
        raise RunFolderError(f"{run_dir}: cannot write there ({e.strerror or e})") from None


def _holds_a_run(run_dir: Path) -> bool:
    return any((run_dir / name).exists() for name in ("config.yaml", METRICS_FILE, "checkpoints"))


def _remove_run_files(run_dir: Path) -> None:
    for name in RUN_FILES:
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def truncate_metrics(run_dir: Path, last_step: int, keep_eval_at_last: bool = True) -> None:
    """Drop the ``metrics.jsonl`` lines logged after ``last_step``: a resumed run logs those steps again.
    ``keep_eval_at_last=False`` also drops the evaluation at ``last_step`` (a finished run evaluated again)."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)

    def keep(row: dict) -> bool:
        if row["step"] == last_step and row.get("split") == "eval":
            return keep_eval_at_last
        return row["step"] <= last_step

    kept = [line for line in lines if line.strip() and keep(json.loads(line))]
    if len(kept) != len(lines):
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(kept))
        os.replace(tmp, path)
