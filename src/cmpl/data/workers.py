"""How many processes the data tools (synthetic videos, check-videos, prepare) start by default."""

from __future__ import annotations

import os

__all__ = ["usable_cpus"]


def usable_cpus() -> int:
    """CPUs this process may run on: the affinity mask where the OS has one (it honours taskset and container
    cpusets, which ``os.cpu_count`` ignores), else the machine's count; at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
