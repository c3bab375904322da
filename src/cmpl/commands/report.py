"""``cmpl report``: one run's plots, and the paper's figures (1, 2, 4, 5, 6, 7) drawn from finished runs.

Each figure writes its PNG and the numbers behind it (same name, ``.json``) and returns the lines to show.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from cmpl.analysis import paper_figures as pf
from cmpl.analysis.run_report import write_run_report
from cmpl.analysis.seed_differences import summarize_differences
from cmpl.commands.arguments import add_device_argument, add_views_argument
from cmpl.data.synthetic import synthetic_class_groups
from cmpl.errors import BadValueError, MissingFileError
from cmpl.inference import load_run, score_test_set

__all__ = ["class_gap", "cross_accuracy", "gain", "one_run", "pseudo_labels", "sweep", "temporal"]


def _save_numbers(output: Path, numbers: Any) -> str:
    output.with_suffix(".json").write_text(json.dumps(numbers, indent=1))
    return f"wrote {output} and {output.with_suffix('.json')}"


def one_run(run_dir: Path) -> list[str]:
    """One run's training curves, per-class accuracy and confusion matrix, into ``run_dir/report``."""
    return [f"wrote {path}" for path in write_run_report(run_dir)]


def _run_pairs(small: Path, large: Path, results: str) -> dict[str, tuple[Path, Path]]:
    """One pair when both folders are runs; otherwise the runs under each folder, paired by name (e.g.
    ``supervised_seed3`` with ``supervised_seed3``: one pair per labeled subset)."""
    if (small / results).is_file() or (large / results).is_file():
        return {small.name: (small, large)}
    names = sorted(
        d.name for d in small.iterdir() if (d / results).is_file() and (large / d.name / results).is_file()
    ) if small.is_dir() and large.is_dir() else []  # fmt: skip
    if not names:
        raise MissingFileError(f"neither {small} and {large} nor runs of one name under them hold {results}")
    return {name: (small / name, large / name) for name in names}


def _class_groups(spec: str, class_names: list[str]) -> dict[str, list[str]]:
    """``--groups``: a YAML file of ``group: [class, ...]``, or ``synthetic`` for the synthetic data's own."""
    if spec == "synthetic":
        return synthetic_class_groups(class_names)
    path = Path(spec)
    if not path.is_file():
        raise MissingFileError(
            f"--groups {spec}: no such file (or 'synthetic' for the synthetic data's groups)"
        )
    groups = yaml.safe_load(path.read_text())
    if not isinstance(groups, dict) or not all(isinstance(v, list) for v in groups.values()):
        raise BadValueError(f"{spec}: expected a mapping of group names to lists of class names")
    return {str(k): [str(c) for c in v] for k, v in groups.items()}


def class_gap(
    small: Path, large: Path, output: Path, results: str = "results.json", groups: str | None = None
) -> list[str]:
    """Fig. 1: per-class accuracy of a small minus a large network, both supervised; over several labeled
    subsets, the mean gap per class and per group with its spread."""
    pairs = _run_pairs(small, large, results)
    accuracy = {
        name: (pf.read_class_accuracy(s, results), pf.read_class_accuracy(lg, results))
        for name, (s, lg) in pairs.items()
    }
    gaps = pf.paired_class_gaps(accuracy)
    means = gaps.mean()
    several = len(pairs) > 1
    pf.plot_class_gap(
        [(c, m) for c, m, _ in means], output, errors=[e for *_, e in means] if several else None
    )
    ahead = sum(mean > 0 for _, mean, _ in means)
    lines = [f"the small network is ahead on {ahead} of {len(means)} classes" + (
        f" (mean of {len(pairs)} pairs of runs)" if several else ""
    )]  # fmt: skip
    numbers: dict[str, Any] = {
        "pairs": {name: [str(s), str(lg)] for name, (s, lg) in pairs.items()},
        "classes": [
            {"class": c, "gap": m, "stderr": None if np.isnan(e) else e, "per_pair": _column(gaps, c)}
            for c, m, e in means
        ],
    }
    if groups:
        per_group = pf.group_gaps(gaps, _class_groups(groups, gaps.class_names))
        numbers["groups"] = {}
        for group, values in per_group.items():
            summary = {**summarize_differences(values), "small_ahead": sum(v > 0 for v in values)}
            numbers["groups"][group] = {**summary, "per_pair": values}
            lines.append(_group_line(group, summary))
    return [*lines, _save_numbers(output, numbers)]


def _column(gaps: pf.ClassGaps, class_name: str) -> list[float | None]:
    values = gaps.gaps[:, gaps.class_names.index(class_name)]
    return [None if np.isnan(v) else float(v) for v in values]


def _group_line(group: str, s: dict[str, Any]) -> str:
    if s["stderr"] is None:
        return f"{group}: {s['mean']:+.1f} points"
    p = "p < 0.001" if s["p"] < 0.001 else f"p = {s['p']:.3f}"
    ahead = f"small ahead in {s['small_ahead']} of {s['seeds']} pairs"
    return f"{group}: {s['mean']:+.1f} ± {s['stderr']:.1f} points (mean ± s.e.), {ahead}, {p}"


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


COMMAND = "report"
HELP = "plots of a run, and the paper's figures (1, 2, 4, 5, 6, 7) from finished runs"
DESCRIPTION = (
    "Draws one of the paper's figures from finished runs and writes the PNG and its numbers (same name, "
    ".json). docs/configs.md lists the runs each figure needs. 'cmpl report RUN' is 'cmpl report run RUN'."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    figures = parser.add_subparsers(dest="figure", required=True, metavar="FIGURE")
    f = figures.add_parser(
        "run", help="one run's training curves, per-class accuracy and confusion matrix (also: report RUN)"
    )
    f.set_defaults(draw=lambda a: one_run(a.run_dir))
    f.add_argument("run_dir", type=Path)
    f = figures.add_parser(
        "class-gap", help="Fig. 1: per-class accuracy of a small minus a large network, both supervised"
    )
    f.set_defaults(draw=lambda a: class_gap(a.small, a.large, a.output, a.results, a.groups))
    f.add_argument(
        "small",
        type=Path,
        help="supervised run of the small network (e.g. r50_w0.25), or a folder of such runs, one per "
        "labeled subset, paired by name with LARGE's",
    )
    f.add_argument(
        "large", type=Path, help="supervised run of the large network (e.g. r50), or a folder of them"
    )
    f.add_argument(
        "--results",
        default="results.json",
        help="the runs' results file to read, e.g. one that 'cmpl evaluate --test-list' wrote "
        "(default: %(default)s)",
    )
    f.add_argument(
        "--groups",
        help="also the gap per group of classes: a YAML file of 'group: [class, ...]', or 'synthetic' for "
        "the synthetic data's groups",
    )
    f.add_argument("-o", "--output", type=Path, default=Path("fig1_class_gap.png"))
    f = figures.add_parser(
        "pseudo-labels", help="Fig. 2: correct pseudo-labels / unlabeled clips over training, per run"
    )
    f.set_defaults(draw=lambda a: pseudo_labels(a.runs, a.output))
    f.add_argument(
        "runs",
        type=Path,
        nargs="+",
        help="CMPL or FixMatch runs trained with train.score_unlabeled_every > 0",
    )
    f.add_argument("-o", "--output", type=Path, default=Path("fig2_pseudo_labels.png"))
    f = figures.add_parser(
        "cross-accuracy", help="Fig. 6: accuracy on the clips CMPL's auxiliary labels (eval-mode scorings)"
    )
    f.set_defaults(draw=lambda a: cross_accuracy(a.run, a.output, a.fixmatch_run))
    f.add_argument("run", type=Path, help="a CMPL run trained with train.score_unlabeled_every > 0")
    f.add_argument(
        "fixmatch_run",
        type=Path,
        nargs="?",
        help="a FixMatch run of the same split, scored at the same steps",
    )
    f.add_argument("-o", "--output", type=Path, default=Path("fig6_cross_accuracy.png"))
    f = figures.add_parser("sweep", help="Fig. 4: top-1 against one config value across runs")
    f.set_defaults(draw=lambda a: sweep(a.key, a.runs, a.output))
    f.add_argument("key", help="dotted config key, e.g. method.threshold")
    f.add_argument("runs", type=Path, nargs="+", help="finished runs that differ in KEY")
    f.add_argument("-o", "--output", type=Path, default=Path("fig4_sweep.png"))
    f = figures.add_parser(
        "temporal", help="Fig. 5: accuracy drop when the frames are re-sampled with a growing stride"
    )
    f.set_defaults(draw=lambda a: temporal(a.runs, a.strides, a.views, a.device, a.output))
    f.add_argument("runs", type=Path, nargs="+", help="finished runs; each one's primary network is scored")
    f.add_argument("--strides", type=int, nargs="+", default=[1, 2, 4, 8], help="default: %(default)s")
    add_views_argument(f)
    add_device_argument(f)
    f.add_argument("-o", "--output", type=Path, default=Path("fig5_temporal.png"))
    f = figures.add_parser(
        "gain", help="Fig. 7: CMPL's per-class gain over FixMatch against the auxiliary's accuracy"
    )
    f.set_defaults(draw=lambda a: gain(a.cmpl_run, a.fixmatch_run, a.auxiliary_run, a.bin_width, a.output))
    f.add_argument("cmpl_run", type=Path)
    f.add_argument("fixmatch_run", type=Path)
    f.add_argument("auxiliary_run", type=Path, help="supervised run whose primary is the auxiliary network")
    f.add_argument("--bin-width", type=float, default=0.05, help="default: %(default)s")
    f.add_argument("-o", "--output", type=Path, default=Path("fig7_gain.png"))


FIGURES = ("run", "class-gap", "pseudo-labels", "cross-accuracy", "sweep", "temporal", "gain")
"""The figure names ``add_arguments`` registers, for ``shorthand``."""


def shorthand(argv: Sequence[str]) -> list[str]:
    """``report RUN`` means ``report run RUN``: one run needs no figure name."""
    if argv and not argv[0].startswith("-") and argv[0] not in FIGURES:
        return ["run", *argv]
    return list(argv)


def run(args: argparse.Namespace) -> None:
    for line in args.draw(args):
        print(line)
