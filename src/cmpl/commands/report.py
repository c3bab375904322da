"""``cmpl report``: one run's plots, and the paper's figures (1, 2, 4, 5, 6, 7) drawn from finished runs.

Each figure writes its PNG and the numbers behind it (same name, ``.json``) and returns the lines to show.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

from cmpl.analysis import paper_figures as pf
from cmpl.analysis.run_report import write_run_report
from cmpl.commands.evaluate import load_run, score_test_set

__all__ = ["class_gap", "cross_accuracy", "gain", "pseudo_labels", "run", "sweep", "temporal"]


def _save_numbers(output: Path, numbers: Any) -> str:
    output.with_suffix(".json").write_text(json.dumps(numbers, indent=1))
    return f"wrote {output} and {output.with_suffix('.json')}"


def run(run_dir: Path) -> list[str]:
    """One run's training curves, per-class accuracy and confusion matrix, into ``run_dir/report``."""
    return [f"wrote {path}" for path in write_run_report(run_dir)]


def class_gap(small_run: Path, large_run: Path, output: Path) -> list[str]:
    """Fig. 1: per-class accuracy of a small minus a large network, both supervised."""
    gaps = pf.class_gap(pf.read_class_accuracy(small_run), pf.read_class_accuracy(large_run))
    pf.plot_class_gap(gaps, output)
    ahead = sum(gap > 0 for _, gap in gaps)
    return [
        f"the small network is ahead on {ahead} of {len(gaps)} classes",
        _save_numbers(output, [{"class": name, "gap": gap} for name, gap in gaps]),
    ]


def pseudo_labels(runs: list[Path], output: Path) -> list[str]:
    """Fig. 2: correct pseudo-labels / unlabeled clips over training, per run, from its eval-mode scorings."""
    numbers = {run_dir.name: pf.scored_pseudo_labels(run_dir) for run_dir in runs}
    pf.plot_scored_pseudo_labels(numbers, output)
    lines = [
        f"{name}: {curve['correct'][-1]:.1f} % correct, {curve['quantity'][-1]:.1f} % labeled at step "
        f"{curve['step'][-1]}"
        for name, curve in numbers.items()
    ]
    return [*lines, _save_numbers(output, numbers)]


def cross_accuracy(run_dir: Path, output: Path, fixmatch_run: Path | None = None) -> list[str]:
    """Fig. 6: accuracy on the clips CMPL's auxiliary labels: its labels, the primary's and FixMatch's."""
    curves = pf.cross_accuracy(run_dir, fixmatch_run)
    pf.plot_cross_accuracy(curves, output)
    share_steps, share = curves.pop("labeled")
    lines = [
        f"last scoring (step {share_steps[-1]}): the auxiliary labels {share[-1]:.1f} % of the scored clips",
        *(
            f"on those at step {steps[-1]}: {name} {values[-1]:.1f} % right"
            for name, (steps, values) in curves.items()
            if values
        ),
    ]
    numbers = {name: {"step": steps, "accuracy": values} for name, (steps, values) in curves.items()}
    numbers["labeled"] = {"step": share_steps, "share": share}
    return [*lines, _save_numbers(output, numbers)]


def sweep(key: str, runs: list[Path], output: Path) -> list[str]:
    """Fig. 4: top-1 against one config value across runs."""
    points = pf.sweep(runs, key)
    pf.plot_sweep(points, key, output)
    return [
        "  ".join(f"{value}: {top1:.1f}" for value, top1 in points),
        _save_numbers(output, [{key: value, "top1": top1} for value, top1 in points]),
    ]


def temporal(
    runs: list[Path], strides: list[int], views: tuple[int, int] | None, device: str, output: Path
) -> list[str]:
    """Fig. 5: each run's primary network scored with frames re-sampled at a growing stride (1 always)."""
    strides = sorted({1, *strides})
    numbers, lines = {}, []
    for run_dir in runs:
        trained = load_run(run_dir, device)
        clips, crops = views or (trained.config.eval.num_clips, trained.config.eval.num_crops)
        top1 = {
            s: score_test_set(trained, clips, crops, transform=partial(pf.hold_frames, stride=s)).top1
            for s in strides
        }
        numbers[f"{run_dir.name} ({trained.config.model.primary.name})"] = {
            "top1": top1,
            "drop": pf.drop_ratios(top1),
        }
        lines.append(f"{run_dir}: " + "  ".join(f"stride {s}: {acc:.1f}" for s, acc in top1.items()))
    pf.plot_drop_ratios({name: v["drop"] for name, v in numbers.items()}, output)
    return [*lines, _save_numbers(output, numbers)]


def gain(
    cmpl_run: Path, fixmatch_run: Path, auxiliary_run: Path, bin_width: float, output: Path
) -> list[str]:
    """Fig. 7: CMPL's per-class gain over FixMatch against the auxiliary's accuracy."""
    result = pf.binned_gain(
        pf.read_class_accuracy(cmpl_run),
        pf.read_class_accuracy(fixmatch_run),
        pf.read_class_accuracy(auxiliary_run),
        bin_width,
    )
    pf.plot_gain(result, output)
    return [
        f"least-squares slope {result.slope:.1f} points of gain per unit of auxiliary accuracy",
        _save_numbers(output, asdict(result)),
    ]
