"""The process pool of the data tools (synthetic videos, check-videos, prepare): how many processes by
default, and one way to run jobs on them behind a progress bar."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from tqdm import tqdm

__all__ = ["run_jobs", "usable_cpus"]

J = TypeVar("J")
R = TypeVar("R")


def usable_cpus() -> int:
    """CPUs this process may run on: the affinity mask where the OS has one (it honours taskset and container
    cpusets, which ``os.cpu_count`` ignores), else the machine's count; at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def run_jobs(
    fn: Callable[[J], R],
    jobs: Sequence[J],
    workers: int | None = None,
    *,
    desc: str,
    unit: str = "file",
    progress: bool = True,
    chunksize: int = 1,
    max_default: int | None = None,
) -> list[R]:
    """``[fn(job) for job in jobs]``, in order, on ``workers`` processes behind a progress bar.

    ``workers`` None or 0 means every usable CPU (at most ``max_default``). With one worker, or one job, the
    jobs run in this process: no pool to start, and an error keeps its traceback. ``fn`` and the jobs must
    be picklable (a module-level function, plain data)."""
    if not workers:
        workers = min(usable_cpus(), max_default or usable_cpus())
    workers = min(workers, len(jobs))
    with tqdm(total=len(jobs), desc=desc, unit=unit, disable=not progress) as bar:
        if workers <= 1:
            return [_advance(bar, fn(job)) for job in jobs]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return [_advance(bar, result) for result in pool.map(fn, jobs, chunksize=chunksize)]


def _advance(bar: tqdm, result: R) -> R:
    bar.update()
    return result
