"""``cmpl demo``: supervised vs FixMatch vs CMPL on the synthetic videos, same split, budget and backbone.

Every run is an ordinary ``Trainer`` run in its own sub-folder, so the demo exercises exactly the code paths
of real training. Seeds are training seeds; the labeled subset (``data.split_seed``) is the same for all.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cmpl.analysis.plots import plot_demo
from cmpl.config import load_config
from cmpl.engine.metrics import pooled_pseudo_label_accuracy, read_metrics
from cmpl.engine.trainer import Trainer

__all__ = ["DEMO_METHODS", "QUICK_OVERRIDES", "format_table", "run_demo"]

DEMO_METHODS = ("supervised", "fixmatch", "cmpl")
QUICK_OVERRIDES = [
    "data.synthetic_train_per_class=4",
    "data.synthetic_test_per_class=2",
    "data.labeled_per_class=1",
    "schedule.iterations=4",
    "schedule.warmup_iterations=1",
    "train.log_every=2",
    "eval.num_clips=1",
    "data.num_workers=0",
]


def _pseudo_label_summary(run_dir: Path, tail: float = 0.25) -> dict[str, float]:
    """Pseudo-label quantity (mask) and accuracy of the primary network's targets, pooled over the last
    ``tail`` of training, where the numbers have settled."""
    rows = read_metrics(run_dir, "train")
    rows = rows[int(len(rows) * (1 - tail)) :] or rows
    means = {}
    for key in ("pl_mask_primary", "pl_accuracy_primary", "pl_correct_primary"):
        values = [r[key] for r in rows if key in r]
        if values:
            means[key] = statistics.fmean(values)
    pooled = pooled_pseudo_label_accuracy(means)
    return {key.removeprefix("pl_").removesuffix("_primary"): 100.0 * v for key, v in pooled.items()}


def run_demo(
    preset: Path, output: Path, seeds: Iterable[int], quick: bool = False, overrides: Iterable[str] = ()
) -> dict[str, Any]:
    """Train every method for every seed, then write ``results.json`` and ``demo.png`` into ``output``."""
    extra = [*(QUICK_OVERRIDES if quick else []), *overrides]
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in DEMO_METHODS}
    for seed in seeds:
        for method in DEMO_METHODS:
            run_dir = output / f"{method}_seed{seed}"
            config = load_config(
                preset, [*extra, f"method.name={method}", f"train.seed={seed}", f"train.output_dir={run_dir}"]
            )
            result = Trainer(config).fit()
            runs[method].append(
                {
                    "seed": seed,
                    "top1": result["top1"],
                    "top5": result["top5"],
                    "run_dir": str(run_dir),
                    **_pseudo_label_summary(run_dir),
                }
            )
    summary: dict[str, Any] = {"methods": {}, "runs": runs, "overrides": extra}
    for method, rows in runs.items():
        top1 = [r["top1"] for r in rows]
        entry = {"top1_mean": statistics.fmean(top1), "top1_std": statistics.pstdev(top1), "seeds": len(rows)}
        for key in ("mask", "accuracy", "correct"):
            values = [r[key] for r in rows if key in r]
            if values:
                entry[f"pseudo_label_{key}"] = statistics.fmean(values)
        summary["methods"][method] = entry
    output.mkdir(parents=True, exist_ok=True)
    (output / "results.json").write_text(json.dumps(summary, indent=1))
    plot_demo(summary, output / "demo.png")
    return summary


def format_table(summary: dict[str, Any]) -> str:
    lines = [
        f"{'method':<11} {'top-1 (mean ± std)':>19} {'pseudo-labels used':>19} {'their accuracy':>15}",
        "-" * 67,
    ]
    for method, e in summary["methods"].items():
        used = f"{e['pseudo_label_mask']:.1f} %" if "pseudo_label_mask" in e else "-"
        acc = f"{e['pseudo_label_accuracy']:.1f} %" if "pseudo_label_accuracy" in e else "-"
        top1 = f"{e['top1_mean']:.1f} ± {e['top1_std']:.1f}"
        lines.append(f"{method:<11} {top1:>19} {used:>19} {acc:>15}")
    return "\n".join(lines)
