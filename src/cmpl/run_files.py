"""What a run folder's files mean, for whoever reads them: the engine writes ``metrics.jsonl``, the analysis
and the commands read it back. It imports nothing of the package, so every layer may use it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["METRICS_FILE", "pooled_accuracy", "read_metrics"]

METRICS_FILE = "metrics.jsonl"
"""One JSON object per line: ``{"step": ..., "split": "train" | "eval", ...values}``."""


def read_metrics(run_dir: Path, split: str | None = None) -> list[dict[str, Any]]:
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if split is None or r.get("split") == split]


def pooled_accuracy(correct: float, used: float) -> float:
    """Accuracy of all pseudo-labels of equal-sized batches, from the mean fractions correct and used."""
    return correct / used if used > 0 else 0.0
