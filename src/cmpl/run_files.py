"""What a run folder's files mean, for whoever reads them: the engine writes ``metrics.jsonl``, the analysis
and the commands read it back. It imports nothing of the package, so every layer may use it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cmpl.errors import MissingFileError

__all__ = [
    "METRICS_FILE",
    "UNLABELED_SCORES_FILE",
    "pooled_accuracy",
    "read_metrics",
    "read_unlabeled_scores",
    "score_summary",
]

METRICS_FILE = "metrics.jsonl"
"""One JSON object per line: ``{"step": ..., "split": "train" | "eval", ...values}``."""
UNLABELED_SCORES_FILE = "unlabeled_scores.jsonl"
"""One line per scoring of the unlabeled set (``train.score_unlabeled_every``): ``step``, ``threshold``,
``videos`` (their paths, on the first line only), ``truth`` (-1: unknown) and, per role, the network's own
``prediction`` and ``confidence`` and the ``pseudo_label`` and ``pseudo_confidence`` its teacher gives it."""


def read_metrics(run_dir: Path, split: str | None = None) -> list[dict[str, Any]]:
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if split is None or r.get("split") == split]


def pooled_accuracy(correct: float, used: float) -> float:
    """Accuracy of all pseudo-labels of equal-sized batches, from the mean fractions correct and used."""
    return correct / used if used > 0 else 0.0


def read_unlabeled_scores(run_dir: Path) -> list[dict[str, Any]]:
    """Every scoring of a run's unlabeled set, in step order; an error names a run that never scored it."""
    path = Path(run_dir) / UNLABELED_SCORES_FILE
    if not path.is_file():
        raise MissingFileError(f"{path}: no scores; train the run with train.score_unlabeled_every > 0")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def score_summary(scores: dict[str, Any], role: str) -> dict[str, float]:
    """A role's pseudo-labels in one scoring: ``quantity`` (share of clips above the threshold) and, with
    ground truth, ``correct`` (share of clips with a correct confident label, Fig. 2) and ``accuracy`` (of
    the confident ones)."""
    threshold, r = scores["threshold"], scores["roles"][role]
    used = [c >= threshold for c in r["pseudo_confidence"]]
    summary = {"quantity": sum(used) / max(len(used), 1)}
    if scores["truth"] and min(scores["truth"]) >= 0:
        right = sum(u and p == t for u, p, t in zip(used, r["pseudo_label"], scores["truth"], strict=True))
        summary.update(correct=right / len(used), accuracy=pooled_accuracy(right, sum(used)))
    return summary
