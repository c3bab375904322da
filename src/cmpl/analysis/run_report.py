"""``cmpl report RUN``: the plots one run can tell about itself, written into ``RUN/report/``.

* ``training.png``: every loss term, the pseudo-labels per network (share used, share correct, their
  accuracy: the paper's Fig. 2 quantities) and the learning rate, against the iteration;
* ``per_class.png``: test accuracy per class, sorted, with the mean;
* ``confusion.png``: the confusion matrix, each row normalised by its class's test videos.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cmpl.analysis.canvas import plt, save_figure
from cmpl.errors import MissingFileError
from cmpl.run_files import read_metrics

__all__ = ["write_run_report"]

_ROLES = ("primary", "auxiliary")


def write_run_report(run_dir: Path) -> list[Path]:
    """Write the run's plots into ``run_dir/report`` and return their paths. Needs ``metrics.jsonl``;
    the test-set plots are added once ``results.json`` exists (training finished)."""
    run_dir = Path(run_dir)
    rows = read_metrics(run_dir, "train")
    if not rows:
        raise MissingFileError(f"{run_dir / 'metrics.jsonl'}: no training metrics; is {run_dir} a run?")
    out = run_dir / "report"
    out.mkdir(exist_ok=True)
    written = [_training(rows, out / "training.png")]
    results = run_dir / "results.json"
    if results.is_file():
        saved = json.loads(results.read_text())
        written.append(_per_class(saved["class_names"], saved["per_class_accuracy"], out / "per_class.png"))
        written.append(_confusion(saved["class_names"], np.array(saved["confusion"]), out / "confusion.png"))
    return written


def _series(rows: list[dict], key: str) -> tuple[list[int], list[float]]:
    picked = [r for r in rows if key in r]
    return [r["step"] for r in picked], [r[key] for r in picked]


def _training(rows: list[dict], path: Path) -> Path:
    has_pseudo_labels = any(k.startswith("pl_") for k in rows[-1])
    panels = 3 if has_pseudo_labels else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.8))
    losses = sorted(k for k in rows[-1] if k.startswith("loss"))
    for key in losses:
        axes[0].plot(*_series(rows, key), label=key, linewidth=2 if key == "loss" else 1)
    axes[0].set_title("losses")
    axes[0].legend(fontsize=7)
    if has_pseudo_labels:
        for role, style in zip(_ROLES, ("-", "--"), strict=True):
            for key, color in (("mask", "tab:gray"), ("correct", "tab:green"), ("accuracy", "tab:blue")):
                steps, values = _series(rows, f"pl_{key}_{role}")
                if steps:
                    label = f"{key} (targets of {role})"
                    axes[1].plot(steps, [100 * v for v in values], style, color=color, label=label)
        axes[1].set_title("pseudo-labels: used, correct (of all), accuracy (of used)")
        axes[1].set_ylabel("%")
        axes[1].legend(fontsize=7)
    axes[-1].plot(*_series(rows, "lr"))
    axes[-1].set_title("learning rate")
    for ax in axes:
        ax.set_xlabel("iteration")
    return save_figure(fig, path)


def _per_class(names: list[str], accuracy: list[float], path: Path) -> Path:
    scored = sorted((a, n) for n, a in zip(names, accuracy, strict=True) if not np.isnan(a))
    fig, ax = plt.subplots(figsize=(max(6.0, min(20.0, 0.22 * len(scored))), 4))
    ax.bar(range(len(scored)), [a for a, _ in scored], color="tab:blue")
    ax.axhline(float(np.mean([a for a, _ in scored])), color="k", linestyle="--", label="mean over classes")
    if len(scored) <= 60:
        ax.set_xticks(range(len(scored)), [n for _, n in scored], rotation=90, fontsize=7)
    ax.set_ylabel("top-1 (%)")
    ax.set_title("test accuracy per class (primary network)")
    ax.legend()
    return save_figure(fig, path)


def _confusion(names: list[str], confusion: np.ndarray, path: Path) -> Path:
    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    size = max(5.0, min(20.0, 0.25 * len(names)))
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    if len(names) <= 60:
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(image, ax=ax, fraction=0.046)
    return save_figure(fig, path)
