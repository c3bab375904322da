"""Where a demo setting's accuracy comes from: each method's per-class top-1, averaged over its seeds, and the
means over the synthetic data's motion classes and its appearance classes.

The paper's premise is that the auxiliary network, on more frames, helps most where motion decides and the
primary network where appearance does. The synthetic classes are each one or the other, so splitting the
per-class accuracy by group shows which kind of class a method's gain (or loss) lies in. Reads the
``results.json`` of finished runs named ``<method>_seed<N>`` (the layout of ``cmpl demo`` and
``benchmarks/evidence.py``). With ``--networks`` it instead scores every network of each run from its last
checkpoint on the run's test set (the eval config's views), each on its own frames: CMPL's auxiliary network
too, which inference never uses, so that one can see whether F and A are good at different kinds of class.
With ``--pseudo-labels`` it scores each semi-supervised run's unlabeled clips from its last checkpoint, as
``train.score_unlabeled_every`` does during training (eval mode, one weak view), and says per group how many
clips get a confident pseudo-label for the primary network, how many of those are right, and what share of
all confident labels name a class of the group: where the unlabeled loss pulls the network.

    python benchmarks/class_groups.py runs/demo_long
    python benchmarks/class_groups.py runs/demo_long --networks
    python benchmarks/class_groups.py runs/demo_long --pseudo-labels
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from cmpl.analysis.paper_figures import ClassAccuracy, read_class_accuracy
from cmpl.commands.demo import DEMO_METHODS
from cmpl.commands.evaluate import TrainedRun, load_method, score_test_set
from cmpl.config import load_config
from cmpl.data.annotations import read_path_label_list
from cmpl.data.augment import ClipAugment
from cmpl.data.synthetic import APPEARANCE_CLASSES, MOTION_CLASSES
from cmpl.engine.runtime import resolve_device
from cmpl.engine.unlabeled_scores import score_unlabeled
from cmpl.methods import method_class

GROUPS = {"motion": MOTION_CLASSES, "appearance": APPEARANCE_CLASSES}

_RUN_NAME = re.compile(r"(?P<method>\w+)_seed(?P<seed>\d+)")


def finished_runs(root: Path) -> dict[str, list[Path]]:
    """The finished ``<method>_seed<N>`` runs of ``root`` (a ``results.json``), per method in the demo's
    method order, each method's runs in seed order."""
    runs: dict[str, list[tuple[int, Path]]] = {}
    for path in sorted(root.iterdir()):
        match = _RUN_NAME.fullmatch(path.name)
        if match and (path / "results.json").is_file():
            runs.setdefault(match["method"], []).append((int(match["seed"]), path))
    if not runs:
        raise SystemExit(f"error: {root}: no finished <method>_seed<N> runs")
    order = [m for m in DEMO_METHODS if m in runs] + sorted(set(runs) - set(DEMO_METHODS))
    return {method: [path for _, path in sorted(runs[method])] for method in order}


def score_networks(run_dir: Path) -> dict[str, ClassAccuracy]:
    """Per-class accuracy of each network of a finished run (last checkpoint), each on its own frames."""
    config, names, method = load_method(run_dir)
    device = resolve_device("auto")
    scores = {}
    for role, network in method.networks.items():
        run = TrainedRun(config, names, network.to(device).eval(), device, run_dir, role)
        result = score_test_set(run, config.eval.num_clips, config.eval.num_crops, progress=False)
        scores[role] = ClassAccuracy(names, result.per_class_accuracy)
    return scores


def pseudo_labels_by_group(run_dir: Path) -> dict[str, tuple[float, float, float]]:
    """Per class group, at the run's last checkpoint: percent of the group's unlabeled clips with a confident
    pseudo-label for the primary, percent of those right, and the group's percent of all confident labels."""
    config, names, method = load_method(run_dir)
    records = read_path_label_list(run_dir / "unlabeled.txt", run_dir, names).records
    device = resolve_device("auto")
    scores = score_unlabeled(
        method.to(device),
        records,
        config,
        num_classes=len(names),
        device=device,
        normalize=ClipAugment().normalize,
        amp=False,
    )
    truth = np.array(scores["truth"])
    label = np.array(scores["roles"]["primary"]["pseudo_label"])
    confident = np.array(scores["roles"]["primary"]["pseudo_confidence"]) >= scores["threshold"]
    result = {}
    for group, members in GROUPS.items():
        ids = [names.index(c) for c in members]
        in_group, named = np.isin(truth, ids), np.isin(label, ids) & confident
        used = confident & in_group
        result[group] = (
            100 * used.sum() / max(1, in_group.sum()),
            100 * (used & (label == truth)).sum() / max(1, used.sum()),
            100 * named.sum() / max(1, confident.sum()),
        )
    return result


def print_pseudo_labels(root: Path) -> None:
    """The ``--pseudo-labels`` table: every semi-supervised run of ``root``, mean over its seeds."""
    runs = {
        method: [pseudo_labels_by_group(path) for path in paths]
        for method, paths in finished_runs(root).items()
        if method_class(load_config(paths[0] / "config.yaml")).uses_unlabeled
    }
    if not runs:
        raise SystemExit(f"error: {root}: no finished semi-supervised <method>_seed<N> runs")
    print("pseudo-labels for the primary at the last checkpoint (eval mode), mean over seeds (%)")
    print(f"{'method':<12}{'group':<12}{'clips labeled':>15}{'right':>8}{'share of labels':>17}")
    for method, per_seed in runs.items():
        for group in GROUPS:
            labeled, right, share = np.mean([seed[group] for seed in per_seed], axis=0)
            print(
                f"{method:<12}{group:<12}{labeled:15.1f}{right:8.1f}{share:17.1f}   ({len(per_seed)} seeds)"
            )


def per_class_by_method(root: Path, networks: bool = False) -> tuple[list[str], dict[str, np.ndarray]]:
    """Class names and, per method (or per method/network with ``networks``), its runs' per-class accuracy
    ``(seeds, classes)`` in seed order."""
    names: list[str] = []
    table: dict[str, np.ndarray] = {}
    for method, paths in finished_runs(root).items():
        if networks:
            per_run = [score_networks(path) for path in paths]
            rows = {f"{method}/{role}": [scored[role] for scored in per_run] for role in per_run[0]}
        else:
            rows = {method: [read_class_accuracy(path) for path in paths]}
        for row, scores in rows.items():
            names = names or scores[0].class_names
            if any(s.class_names != names for s in scores):
                raise SystemExit(f"error: {root}: the runs were trained on different class lists")
            table[row] = np.array([s.accuracy for s in scores])
    return names, table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", type=Path, help="folder of <method>_seed<N> runs on the synthetic data")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--networks", action="store_true", help="score every network from its checkpoint")
    shown.add_argument(
        "--pseudo-labels",
        action="store_true",
        help="per group, the pseudo-labels each run's checkpoint gives",
    )
    args = p.parse_args()
    if args.pseudo_labels:
        print_pseudo_labels(args.root)
        return
    names, table = per_class_by_method(args.root, args.networks)
    seeds = {m: len(a) for m, a in table.items()}
    print(f"per-class top-1 (%), mean over seeds {seeds}")
    print(f"{'class':<14}" + "".join(f"{m:>20}" for m in table))
    for i, name in enumerate(names):
        print(f"{name:<14}" + "".join(f"{np.nanmean(a[:, i]):20.1f}" for a in table.values()))
    for group, members in GROUPS.items():
        idx = [names.index(c) for c in members if c in names]
        print(f"\n{group} classes ({len(idx)}): mean, then per seed")
        for method, a in table.items():
            per_seed = np.nanmean(a[:, idx], axis=1)
            print(f"  {method:<20}{per_seed.mean():6.1f}   " + " / ".join(f"{v:.1f}" for v in per_seed))


if __name__ == "__main__":
    main()
