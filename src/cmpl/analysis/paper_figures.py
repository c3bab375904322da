"""The paper's figures (Sec. 1 and 4.3-4.4) from finished runs: the numbers first, then the PNG.

* Fig. 1, :func:`class_gap`: per-class accuracy of a small minus a large network, both supervised;
  :func:`paired_class_gaps` and :func:`group_gaps` read it over several labeled subsets (a pair of runs
  each), per class and per group of classes, so that a gap can be told from the subsets' spread.
* Fig. 2, :func:`scored_pseudo_labels`: the share of unlabeled clips whose pseudo-label for the primary
  network is correct, from the eval-mode scorings of the unlabeled set every few epochs, as the paper
  measures it (:func:`correct_pseudo_labels` is the per-batch, train-mode view the demo plots).
* Fig. 6, :func:`cross_accuracy`: on the clips CMPL's auxiliary network labels, the accuracy of those labels,
  of the primary network's own prediction and of a FixMatch run's network scored on the same videos.
* Fig. 4, :func:`sweep`: top-1 against one config value across runs (threshold, B_u/B_l, loss weight).
* Fig. 5, :func:`hold_frames` and :func:`drop_ratios`: how much a network loses when its clip's temporal
  dynamics are removed by re-sampling the frames with a growing stride.
* Fig. 7, :func:`binned_gain`: per-class gain of CMPL's primary over FixMatch's, against the per-class
  accuracy of the supervised auxiliary network, in bins of 0.05, with a least-squares line.

Per-class accuracies come from a run's ``results.json`` (percent, NaN for a class without test videos).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from cmpl.analysis.canvas import plt, save_figure
from cmpl.analysis.seed_differences import summarize_differences
from cmpl.errors import BadValueError, MissingFileError
from cmpl.run_files import read_metrics, read_unlabeled_scores, score_summary

__all__ = [
    "BinnedGain",
    "ClassAccuracy",
    "ClassGaps",
    "binned_gain",
    "class_gap",
    "correct_pseudo_labels",
    "cross_accuracy",
    "draw_correct_pseudo_labels",
    "drop_ratios",
    "group_gaps",
    "hold_frames",
    "paired_class_gaps",
    "plot_class_gap",
    "plot_correct_pseudo_labels",
    "plot_cross_accuracy",
    "plot_drop_ratios",
    "plot_gain",
    "plot_scored_pseudo_labels",
    "plot_sweep",
    "read_class_accuracy",
    "scored_pseudo_labels",
    "sweep",
]


@dataclass(frozen=True)
class ClassAccuracy:
    """One run's per-class top-1 accuracy (percent) on its test set."""

    class_names: list[str]
    accuracy: list[float]


def _results(run_dir: Path, name: str = "results.json") -> dict[str, Any]:
    path = Path(run_dir) / name
    if not path.is_file():
        raise MissingFileError(f"{path}: no results; is {run_dir} a finished run?")
    return json.loads(path.read_text())


def _top1(run_dir: Path) -> float:
    return float(_results(run_dir)["top1"])


def read_class_accuracy(run_dir: Path, results: str = "results.json") -> ClassAccuracy:
    """The per-class accuracy a run wrote into ``results.json`` at the end of training (or into another
    results file of the run, e.g. one that ``cmpl evaluate --test-list`` wrote)."""
    saved = _results(run_dir, results)
    return ClassAccuracy(saved["class_names"], saved["per_class_accuracy"])


def _paired(a: ClassAccuracy, b: ClassAccuracy) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Classes both runs scored (same class list required), with their accuracies as arrays."""
    if a.class_names != b.class_names:
        raise BadValueError("the runs were trained on different class lists; compare runs of one dataset")
    keep = [
        i
        for i, (x, y) in enumerate(zip(a.accuracy, b.accuracy, strict=True))
        if not (math.isnan(x) or math.isnan(y))
    ]
    return [a.class_names[i] for i in keep], np.array(a.accuracy)[keep], np.array(b.accuracy)[keep]


def class_gap(small: ClassAccuracy, large: ClassAccuracy) -> list[tuple[str, float]]:
    """(class, Acc_small - Acc_large) sorted from the small network's largest lead to its largest deficit."""
    return [(name, gap) for name, gap, _ in paired_class_gaps({"": (small, large)}).mean()]


@dataclass(frozen=True)
class ClassGaps:
    """Fig. 1 over several labeled subsets: Acc_small - Acc_large (points) per pair of runs and class."""

    class_names: list[str]
    pairs: list[str]
    gaps: np.ndarray  # (pairs, classes); NaN where a class has no test videos

    def mean(self) -> list[tuple[str, float, float]]:
        """(class, mean gap, its standard error over the pairs; NaN from one pair), from the small network's
        largest lead to its largest deficit; classes no pair scored are left out."""
        scored = ~np.isnan(self.gaps).all(axis=0)
        means = np.nanmean(self.gaps[:, scored], axis=0)
        errors = [_stderr(column[~np.isnan(column)]) for column in self.gaps[:, scored].T]
        names = [n for n, keep in zip(self.class_names, scored, strict=True) if keep]
        order = sorted(range(len(names)), key=lambda i: (-means[i], names[i]))
        return [(names[i], float(means[i]), errors[i]) for i in order]


def _stderr(values: np.ndarray) -> float:
    """The paired differences' standard error as the seed tables give it; NaN from one value."""
    stderr = summarize_differences(values.tolist())["stderr"]
    return math.nan if stderr is None else stderr


def paired_class_gaps(pairs: Mapping[str, tuple[ClassAccuracy, ClassAccuracy]]) -> ClassGaps:
    """Per-class gaps of each (small, large) pair, e.g. one pair per labeled subset; every run must have
    been tested on one class list."""
    if not pairs:
        raise BadValueError("no pair of runs to compare")
    first = next(iter(pairs.values()))[0].class_names
    rows = []
    for small, large in pairs.values():
        if small.class_names != first or large.class_names != first:
            raise BadValueError("the runs were trained on different class lists; compare runs of one dataset")
        rows.append(np.array(small.accuracy) - np.array(large.accuracy))
    return ClassGaps(list(first), list(pairs), np.stack(rows))


def group_gaps(gaps: ClassGaps, groups: Mapping[str, Sequence[str]]) -> dict[str, list[float]]:
    """Per group of classes, each pair's mean gap over the group's scored classes: how a gap of a kind of
    class (e.g. motion against appearance, Sec. 4.4) varies from one labeled subset to the next."""
    index = {name: i for i, name in enumerate(gaps.class_names)}
    unknown = sorted({c for members in groups.values() for c in members} - set(index))
    if unknown:
        raise BadValueError(f"classes {unknown} of the groups are not among the runs' classes")
    return {
        group: [float(np.nanmean(row[[index[c] for c in members]])) for row in gaps.gaps]
        for group, members in groups.items()
    }


def correct_pseudo_labels(run_dir: Path) -> tuple[list[int], list[float]]:
    """Per-batch, train-mode view of Fig. 2's quantity (the demo's live curve): training steps and the
    percent of a window's unlabeled clips with a correct pseudo-label for the primary network (empty for a
    supervised run)."""
    rows = [r for r in read_metrics(Path(run_dir), "train") if "pl_correct_primary" in r]
    return [r["step"] for r in rows], [100.0 * r["pl_correct_primary"] for r in rows]


def scored_pseudo_labels(run_dir: Path) -> dict[str, list[float]]:
    """Fig. 2 as the paper measures it, from the eval-mode scorings of the unlabeled set
    (``train.score_unlabeled_every``): per scoring, the percent of clips whose pseudo-label for the primary is
    confident (``quantity``) and confident and correct (``correct``)."""
    scorings = read_unlabeled_scores(Path(run_dir))
    summaries = [score_summary(s, "primary") for s in scorings]
    if "correct" not in summaries[0]:
        raise BadValueError(f"{run_dir}: its unlabeled clips carry no ground truth to score pseudo-labels by")
    return {
        "step": [s["step"] for s in scorings],
        "quantity": [100 * x["quantity"] for x in summaries],
        "correct": [100 * x["correct"] for x in summaries],
    }


def cross_accuracy(
    run_dir: Path, fixmatch_run: Path | None = None
) -> dict[str, tuple[list[int], list[float]]]:
    """Fig. 6 from the eval-mode scorings of a CMPL run: on the clips its auxiliary network labels for the
    primary (confident), the accuracy of those labels (``auxiliary``), of the primary's own prediction
    (``primary``) and, with ``fixmatch_run`` scored on the same videos at the same steps, of FixMatch's
    network (``fixmatch``). Scorings where A labels no clip are left out of those three. ``labeled`` is the
    size of that set: the percent of scored clips A labels, at every scoring."""
    scorings = read_unlabeled_scores(Path(run_dir))
    if "auxiliary" not in scorings[0]["roles"]:
        raise BadValueError(f"{run_dir}: not a CMPL run (no auxiliary network scored)")
    if min(scorings[0]["truth"], default=-1) < 0:
        raise BadValueError(f"{run_dir}: its unlabeled clips carry no ground truth")
    other = {}
    if fixmatch_run is not None:
        theirs = read_unlabeled_scores(Path(fixmatch_run))
        if theirs[0].get("videos") != scorings[0].get("videos"):
            raise BadValueError(
                f"{fixmatch_run} scored other videos than {run_dir}; use one split and sample"
            )
        other = {s["step"]: s["roles"]["primary"]["prediction"] for s in theirs}
    curves: dict[str, tuple[list[int], list[float]]] = {
        "labeled": ([], []),
        "auxiliary": ([], []),
        "primary": ([], []),
    }
    if other:
        curves["fixmatch"] = ([], [])
    for scoring in scorings:
        primary, truth = scoring["roles"]["primary"], scoring["truth"]
        chosen = [i for i, c in enumerate(primary["pseudo_confidence"]) if c >= scoring["threshold"]]
        curves["labeled"][0].append(scoring["step"])
        curves["labeled"][1].append(100 * len(chosen) / len(truth))
        if not chosen:
            continue
        predictions = {"auxiliary": primary["pseudo_label"], "primary": primary["prediction"]}
        if other and scoring["step"] in other:
            predictions["fixmatch"] = other[scoring["step"]]
        for name, predicted in predictions.items():
            curves[name][0].append(scoring["step"])
            curves[name][1].append(100 * sum(predicted[i] == truth[i] for i in chosen) / len(chosen))
    return curves


def sweep(runs: Sequence[Path], key: str) -> list[tuple[Any, float]]:
    """(value of the dotted config `key` in each run's saved config, its top-1), sorted by value."""
    points = []
    for run_dir in runs:
        config_path = Path(run_dir) / "config.yaml"
        if not config_path.is_file():
            raise MissingFileError(f"{config_path}: no saved config; is {run_dir} a run?")
        value: Any = yaml.safe_load(config_path.read_text())
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                raise BadValueError(f"{key}: not a config key of {run_dir}")
            value = value[part]
        points.append((value, _top1(Path(run_dir))))
    return sorted(points, key=lambda p: p[0])


def hold_frames(clips: torch.Tensor, stride: int) -> torch.Tensor:
    """Re-sample a clip's T frames with `stride`, holding each kept frame so that T stays the same.

    ``(B, T, C, H, W)``; frame ``t`` becomes frame ``(t // stride) * stride``. Stride 1 is the clip itself;
    stride T leaves one still frame. The paper (Fig. 5) re-samples the 8 frames with a stride to remove
    temporal dynamics but does not say how the clip keeps its length; holding frames is this project's reading,
    and it keeps the input shape the network was trained on.
    """
    if stride < 1:
        raise BadValueError(f"stride must be >= 1, got {stride}")
    t = clips.shape[1]
    index = (torch.arange(t, device=clips.device) // stride) * stride
    return clips.index_select(1, index)


def drop_ratios(top1_by_stride: Mapping[int, float]) -> dict[int, float]:
    """Accuracy drop relative to stride 1, ``(acc_1 - acc_s) / acc_1``, per stride (NaN, undefined, when the
    unchanged clips score 0 %)."""
    if 1 not in top1_by_stride:
        raise BadValueError("stride 1 (the unchanged clip) is the reference and must be measured")
    reference = top1_by_stride[1]
    return {
        s: (reference - acc) / reference if reference > 0 else math.nan
        for s, acc in sorted(top1_by_stride.items())
    }


@dataclass(frozen=True)
class BinnedGain:
    """Fig. 7's points (bin centre of auxiliary accuracy, mean primary gain, classes in the bin) and line."""

    centres: list[float]
    mean_gain: list[float]
    counts: list[int]
    slope: float
    intercept: float


def binned_gain(
    cmpl: ClassAccuracy, fixmatch: ClassAccuracy, auxiliary: ClassAccuracy, width: float = 0.05
) -> BinnedGain:
    """Mean per-class gain of CMPL's primary over FixMatch's (points) in bins of the supervised auxiliary
    network's per-class accuracy (a fraction), and the least-squares line through the points."""
    if not 0 < width <= 1:
        raise BadValueError(f"bin width must be in (0, 1], got {width}")
    names, acc_c, acc_f = _paired(cmpl, fixmatch)
    aux = dict(zip(auxiliary.class_names, auxiliary.accuracy, strict=True))
    if set(names) - set(aux):
        raise BadValueError("the auxiliary run lacks classes of the CMPL and FixMatch runs")
    keep = [i for i, n in enumerate(names) if not math.isnan(aux[n])]
    gain = (acc_c - acc_f)[keep]
    fraction = np.array([aux[names[i]] / 100.0 for i in keep])
    last_bin = math.ceil(1 / width) - 1
    bins = np.minimum(np.floor(fraction / width + 1e-9).astype(int), last_bin)  # accuracy 1.0 joins the last
    centres, means, counts = [], [], []
    for b in sorted(set(bins.tolist())):
        members = bins == b
        centres.append((b + 0.5) * width)
        means.append(float(gain[members].mean()))
        counts.append(int(members.sum()))
    slope, intercept = (
        np.polyfit(centres, means, 1) if len(centres) > 1 else (0.0, means[0] if means else 0.0)
    )
    return BinnedGain(centres, means, counts, float(slope), float(intercept))


# ---------------------------------------------------------------------------------------------- plots


def plot_class_gap(
    gaps: Sequence[tuple[str, float]],
    path: Path,
    labels_each_side: int = 10,
    errors: Sequence[float] | None = None,
) -> None:
    """Fig. 1: one bar per class (with ``errors``, error bars: the mean's standard error over labeled
    subsets); the classes at both ends are named (all of them for small datasets)."""
    values = [g for _, g in gaps]
    fig, ax = plt.subplots(figsize=(max(6.0, min(16.0, 0.25 * len(gaps))), 4))
    colours = ["tab:orange" if v > 0 else "tab:blue" for v in values]
    ax.bar(range(len(gaps)), values, color=colours, width=0.9, yerr=errors, ecolor="k", capsize=2)
    ax.axhline(0, color="k", linewidth=0.8)
    named = (
        range(len(gaps))
        if len(gaps) <= 2 * labels_each_side
        else [*range(labels_each_side), *range(len(gaps) - labels_each_side, len(gaps))]
    )
    ax.set_xticks(list(named), [gaps[i][0] for i in named], rotation=90, fontsize=7)
    ax.set_ylabel("Acc_small - Acc_large (points)")
    ax.set_title("per-class accuracy gap, both networks supervised")
    save_figure(fig, path)


def draw_correct_pseudo_labels(ax: plt.Axes, run_dir: Path, **style: Any) -> bool:
    """Fig. 2's curve of one run on `ax`; False (nothing drawn) for a run without pseudo-labels."""
    steps, values = correct_pseudo_labels(run_dir)
    if steps:
        ax.plot(steps, values, **style)
    ax.set_xlabel("iteration")
    ax.set_ylabel("correct pseudo-labels / unlabeled clips (%)")
    return bool(steps)


def plot_correct_pseudo_labels(runs: Sequence[Path], path: Path) -> None:
    """Fig. 2: one curve per run, named by its folder."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for run_dir in runs:
        draw_correct_pseudo_labels(ax, run_dir, label=Path(run_dir).name)
    ax.set_title("ratio of correct pseudo-labels")
    if ax.lines:
        ax.legend()
    save_figure(fig, path)


def plot_scored_pseudo_labels(curves: Mapping[str, Mapping[str, list[float]]], path: Path) -> None:
    """Fig. 2: per run (named by its folder), the percent of unlabeled clips with a correct pseudo-label."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        ax.plot(curve["step"], curve["correct"], marker="o", label=name)
    ax.set_xlabel("iteration")
    ax.set_ylabel("correct pseudo-labels / unlabeled clips (%)")
    ax.set_title("ratio of correct pseudo-labels (eval mode)")
    if ax.lines:
        ax.legend()
    save_figure(fig, path)


def plot_cross_accuracy(curves: Mapping[str, tuple[list[int], list[float]]], path: Path) -> None:
    """Fig. 6: the primary's (blue), the auxiliary's (orange) and FixMatch's (green) accuracy on the clips
    the auxiliary labels."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, color in (("primary", "tab:blue"), ("auxiliary", "tab:orange"), ("fixmatch", "tab:green")):
        if name in curves:
            ax.plot(*curves[name], color=color, marker="o", label=f"{name} network")
    ax.set_xlabel("iteration")
    ax.set_ylabel("accuracy on clips the auxiliary labels (%)")
    ax.set_title("cross-model supervision")
    ax.legend()
    save_figure(fig, path)


def plot_sweep(points: Sequence[tuple[Any, float]], key: str, path: Path) -> None:
    """Fig. 4: top-1 against one hyperparameter."""
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([str(v) for v, _ in points], [top1 for _, top1 in points], marker="o")
    ax.set_xlabel(key)
    ax.set_ylabel("top-1 (%)")
    ax.set_title(f"effect of {key}")
    save_figure(fig, path)


def plot_drop_ratios(curves: Mapping[str, Mapping[int, float]], path: Path) -> None:
    """Fig. 5: accuracy drop ratio against re-sampling stride, one line per network."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, ratios in curves.items():
        strides = sorted(ratios)
        ax.plot(strides, [100 * ratios[s] for s in strides], marker="o", label=name)
    ax.set_xscale("log", base=2)
    strides = sorted({s for ratios in curves.values() for s in ratios})
    ax.set_xticks(strides, [str(s) for s in strides])
    ax.set_xlabel("re-sampling stride (frames held)")
    ax.set_ylabel("accuracy drop ratio (%)")
    ax.set_title("sensitivity to temporal dynamics")
    ax.legend()
    save_figure(fig, path)


def plot_gain(result: BinnedGain, path: Path) -> None:
    """Fig. 7: red points per bin, blue least-squares line."""
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(result.centres, result.mean_gain, color="tab:red", zorder=3)
    xs = np.array([0.0, 1.0])
    ax.plot(xs, result.slope * xs + result.intercept, color="tab:blue")
    ax.axhline(0, color="k", linewidth=0.8)
    ax.set_xlabel("auxiliary accuracy (supervised, per class)")
    ax.set_ylabel("primary gain, CMPL - FixMatch (points)")
    ax.set_title("primary gain vs auxiliary accuracy")
    save_figure(fig, path)
