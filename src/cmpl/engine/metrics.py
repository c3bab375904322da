"""Where training numbers go: one JSON object per line in ``metrics.jsonl`` (read back with
:func:`cmpl.run_files.read_metrics`) and TensorBoard scalars."""

from __future__ import annotations

import json
import math
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

from cmpl.run_files import METRICS_FILE, pooled_accuracy

__all__ = ["MetricWriter", "RunningMean", "pooled_pseudo_label_accuracy"]


class RunningMean:
    """Averages step logs between two writes, on the device: adding never waits for the GPU, and a logged
    value is not one noisy step."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, values: dict[str, torch.Tensor]) -> None:
        for k, v in values.items():
            v = v.detach().float()
            self.sums[k] = self.sums[k] + v if k in self.sums else v
            self.counts[k] += 1

    def pop(self) -> dict[str, torch.Tensor]:
        means = {k: self.sums[k] / self.counts[k] for k in self.sums}
        self.sums.clear()
        self.counts.clear()
        return means


def pooled_pseudo_label_accuracy(values: dict[str, float]) -> dict[str, float]:
    """Replace each ``pl_accuracy_<role>`` by ``pl_correct_<role> / pl_mask_<role>`` of the same averages.

    Both are means over equal-sized batches (steps of a log window, ranks), so their ratio is the accuracy of
    all pseudo-labels pooled; a mean of per-step ratios would weight a step with one confident clip like a step
    with fifty.
    """
    out = dict(values)
    for key in values:
        role = key.removeprefix("pl_accuracy_")
        if key.startswith("pl_accuracy_") and f"pl_mask_{role}" in values and f"pl_correct_{role}" in values:
            out[key] = pooled_accuracy(values[f"pl_correct_{role}"], values[f"pl_mask_{role}"])
    return out


class MetricWriter:
    """Appends to ``metrics.jsonl`` (resumed runs continue the same file) and mirrors scalars to TensorBoard.

    ``purge_step``: TensorBoard hides the events of this step and later that an earlier writer logged (the
    steps a resumed run logs again)."""

    def __init__(self, run_dir: Path, tensorboard: bool = True, purge_step: int | None = None) -> None:
        self.path = run_dir / METRICS_FILE
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:  # e.g. a bare GPU machine: metrics.jsonl still holds every figure
                warnings.warn(f"no TensorBoard events ({e}); metrics.jsonl only", stacklevel=2)
            else:
                self.tb = SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge_step)

    def write(self, step: int, values: dict[str, Any], prefix: str = "train") -> None:
        record = {"step": step, "split": prefix, **values}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)) and math.isfinite(v):
                    self.tb.add_scalar(f"{prefix}/{k}", v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
