"""Where a demo setting's accuracy comes from: each method's per-class top-1, averaged over its seeds, and the
means over the synthetic data's kinds of class (v2: motion, appearance; v3: tempo, motion, appearance) and
each twin pair (v2's motion twins, v3's tempo twins), as the runs' generator version defines them.

The paper's premise is that the auxiliary network, on more frames, helps most where motion decides and the
primary network where appearance does. The synthetic classes are each one or the other, so splitting the
per-class accuracy by group shows which kind of class a method's gain (or loss) lies in. Reads the
``results.json`` of finished runs named ``<method>_seed<N>`` (the layout of ``cmpl demo`` and
``research/evidence.py``). With ``--networks`` it instead scores every network of each run from its last
checkpoint on the run's test set (the eval config's views), each on its own frames: CMPL's auxiliary network
too, which inference never uses, so that one can see whether F and A are good at different kinds of class.
With ``--results FILE`` it reads that results file of each run instead of ``results.json`` (e.g. the
scoring of 2400 new test videos that ``cmpl evaluate --test-list`` wrote, e17), leaving out runs without it.
Seeds of one recipe logged in several folders (e06's and e16's) are read together when every folder is named;
a folder given as ``FOLDER=LABEL`` lists its methods as ``METHOD LABEL``.
With ``--pseudo-labels`` it scores each semi-supervised run's unlabeled clips from its last checkpoint, as
``train.score_unlabeled_every`` does during training (eval mode, one weak view), and says per group and per
twin pair how many clips get a confident pseudo-label for the primary network, how many of those are right,
how many are called another class of the same set, and what share of all confident labels name a class of
the set: where the unlabeled loss pulls the network; then, per twin pair, which classes its wrong labels
name. Per seed it then gives each set's precision and right labels per clip, with the methods' per-seed
differences (e23). With ``--over-training`` it reads the same
figures from the scorings a run recorded while it trained (``train.score_unlabeled_every``), step by step,
and pools a run's scorings for the per-seed figures. With ``--pairs`` it lists, per method and twin pair
(rotate_cw and rotate_ccw, ...), the seeds in which more than half of one class's test videos were
taken for its twin: a pair collapsed into one class, and which way, with the sign test of the two ways'
counts (EVIDENCE.md, e21).

    python research/class_groups.py runs/demo_long
    python research/class_groups.py runs/demo_long --networks
    python research/class_groups.py runs/demo_long runs/evidence/e16-long-seeds-3-7 --results results_2x1_heldout_test.json
    python research/class_groups.py runs/demo_long --pseudo-labels
    python research/class_groups.py runs/evidence/e13-fig6-scored-long --over-training
    python research/class_groups.py runs/demo_long --pairs
    python research/class_groups.py runs/demo_long runs/evidence/e24-supervised-on-16x4-frames=16x4
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from common import in_demo_order, sign_test_p

from cmpl.analysis.paper_figures import ClassAccuracy, read_class_accuracy
from cmpl.analysis.seed_differences import format_differences, seed_differences
from cmpl.config import load_saved_config
from cmpl.data.annotations import read_class_names
from cmpl.data.synthetic import synthetic_class_groups
from cmpl.engine.run_data import SPLIT_FILES
from cmpl.errors import MissingFileError
from cmpl.inference import load_method, load_run, score_run_unlabeled, score_test_set
from cmpl.methods import method_class
from cmpl.run_files import read_unlabeled_scores

COUNTS = ("clips", "used", "right", "named", "confident", "twin")
"""What :func:`group_counts` counts per class set, in this order."""

_RUN_NAME = re.compile(r"(?P<method>\w+)_seed(?P<seed>\d+)")


def twin_pairs(names: list[str]) -> dict[str, tuple[str, str]]:
    """The twin pairs among the class sets of the generator version whose classes ``names`` are (``a/b``)."""
    return {name: tuple(members) for name, members in synthetic_class_groups(names).items() if "/" in name}


def finished_runs(*roots: Path, results: str = "results.json") -> dict[str, list[Path]]:
    """The ``<method>_seed<N>`` runs of every folder of ``roots`` that hold the ``results`` file (finished, or
    scored on the list it names), per method in the demo's method order, each method's runs in seed order; a
    seed found twice is an error. A root given as ``FOLDER=LABEL`` lists its methods as ``METHOD LABEL`` (as
    ``pool_seeds.py`` does with settings), so that a variant of a method reads beside the method itself (e24's
    supervised on 16x4 frames, e25's CMPL)."""
    runs: dict[str, dict[int, Path]] = {}
    for root in roots:
        folder, _, label = str(root).partition("=")
        for path in sorted(Path(folder).iterdir()):
            match = _RUN_NAME.fullmatch(path.name)
            if match and (path / results).is_file():
                method = f"{match['method']} {label}" if label else match["method"]
                seeds = runs.setdefault(method, {})
                seed = int(match["seed"])
                if seed in seeds:
                    raise SystemExit(f"error: {method} seed {seed} is in {seeds[seed].parent} and {folder}")
                seeds[seed] = path
    if not runs:
        raise SystemExit(f"error: {', '.join(map(str, roots))}: no <method>_seed<N> runs with {results}")
    return {method: [runs[method][seed] for seed in sorted(runs[method])] for method in in_demo_order(runs)}


def run_seed(run_dir: Path) -> int:
    """The seed in a ``<method>_seed<N>`` run folder's name."""
    return int(_RUN_NAME.fullmatch(run_dir.name)["seed"])


def score_networks(run_dir: Path) -> dict[str, ClassAccuracy]:
    """Per-class accuracy of each network of a finished run (last checkpoint), each on its own frames."""
    loaded = load_method(run_dir)
    config, names, method = loaded
    scores = {}
    for role in method.networks:
        run = load_run(run_dir, role=role, loaded=loaded)
        result = score_test_set(run, config.eval.num_clips, config.eval.num_crops, progress=False)
        scores[role] = ClassAccuracy(names, result.per_class_accuracy)
    return scores


def group_counts(scoring: dict, names: list[str]) -> dict[str, np.ndarray]:
    """Per class set of the runs' generator version (:func:`synthetic_class_groups`), in one scoring of the
    unlabeled clips (``run_files`` layout), the :data:`COUNTS`: the set's clips, those with a confident
    pseudo-label for the primary, those of them right, the confident labels that name a class of the set, all
    confident labels, and the set's clips confidently labeled as another class of the set (a twin's clip
    called its twin). Counts, so that seeds pool."""
    truth = np.array(scoring["truth"])
    label = np.array(scoring["roles"]["primary"]["pseudo_label"])
    confident = np.array(scoring["roles"]["primary"]["pseudo_confidence"]) >= scoring["threshold"]
    result = {}
    for name, members in synthetic_class_groups(names).items():
        ids = [names.index(c) for c in members]
        in_set, names_set = np.isin(truth, ids), np.isin(label, ids)
        used, right = confident & in_set, label == truth
        counts = [in_set, used, used & right, confident & names_set, confident, used & names_set & ~right]
        result[name] = np.array([c.sum() for c in counts])
    return result


Scorings = tuple[list[str], dict[str, dict]]
"""A run's class names and its scorings of the unlabeled clips (``run_files`` layout), by when they were taken."""


def pseudo_labels_at_checkpoint(run_dir: Path) -> Scorings:
    """The run's unlabeled clips scored from its last checkpoint."""
    names, _, scoring = score_run_unlabeled(run_dir)
    return names, {"last checkpoint": scoring}


def pseudo_labels_over_training(run_dir: Path) -> Scorings:
    """Every scoring ``train.score_unlabeled_every`` recorded, by step."""
    try:
        scorings = read_unlabeled_scores(run_dir)
    except MissingFileError as error:
        raise SystemExit(f"error: {error}") from None
    names = read_class_names(run_dir / SPLIT_FILES["classes"])
    return names, {f"step {scoring['step']}": scoring for scoring in scorings}


Counts = dict[str, dict[int, dict[str, dict[str, np.ndarray]]]]
"""Per method, seed and scoring (by when it was taken), each class set's :func:`group_counts`."""


def counted_sets(runs: Counts) -> list[str]:
    """The class sets that the counts of ``runs`` are split by: those of the runs' generator version."""
    per_seed = next(iter(runs.values()))
    per_scoring = next(iter(per_seed.values()))
    return list(next(iter(per_scoring.values())))


def print_pseudo_labels(roots: list[Path], over_training: bool = False) -> None:
    """The ``--pseudo-labels`` (or ``--over-training``) table of every semi-supervised run of ``roots``, its
    seeds pooled (clips labeled and right are percents of the seeds' clips together), the classes that the
    wrong labels on each twin pair name (:func:`print_wrong_labels`), then each class set's figures per seed
    and the methods' per-seed differences (:func:`print_pseudo_label_differences`)."""
    read = pseudo_labels_over_training if over_training else pseudo_labels_at_checkpoint
    scored = {
        method: {run_seed(path): read(path) for path in paths}
        for method, paths in finished_runs(*roots).items()
        if method_class(load_saved_config(paths[0] / "config.yaml")).uses_unlabeled
    }
    if not scored:
        raise SystemExit(
            f"error: {', '.join(map(str, roots))}: no finished semi-supervised <method>_seed<N> runs"
        )
    runs = {
        method: {
            seed: {when: group_counts(scoring, names) for when, scoring in scorings.items()}
            for seed, (names, scorings) in per_seed.items()
        }
        for method, per_seed in scored.items()
    }
    class_sets = counted_sets(runs)
    width = max(map(len, class_sets)) + 2
    print("pseudo-labels for the primary (eval mode, one weak view), seeds pooled (%)")
    print(
        f"{'method':<12}{'when':<18}{'classes':<{width}}{'clips labeled':>15}{'right':>8}"
        f"{'share of labels':>17}{'wrong, in set':>15}"
    )
    for method, per_seed in runs.items():
        scorings = list(per_seed.values())
        for when in [w for w in scorings[0] if all(w in run for run in scorings)]:
            for name in class_sets:
                c = dict(zip(COUNTS, sum(run[when][name] for run in scorings), strict=True))
                right, twin = (
                    f"{100 * c[k] / c['used']:8.1f}" if c["used"] else f"{'-':>8}" for k in ("right", "twin")
                )
                print(
                    f"{method:<12}{when:<18}{name:<{width}}{100 * c['used'] / max(1, c['clips']):15.1f}{right}"
                    f"{100 * c['named'] / max(1, c['confident']):17.1f}{twin:>15}   ({len(scorings)} seeds)"
                )
    print_wrong_labels(scored)
    print_pseudo_label_differences(runs)


def wrong_labels(scoring: dict, names: list[str], members: Iterable[str]) -> Counter[tuple[str, str]]:
    """The confident wrong pseudo-labels for the primary on the clips of ``members``, in one scoring:
    ``(true class, class named)`` -> count."""
    head, members = scoring["roles"]["primary"], set(members)
    return Counter(
        (names[true], names[said])
        for true, said, confidence in zip(
            scoring["truth"], head["pseudo_label"], head["pseudo_confidence"], strict=True
        )
        if names[true] in members and said != true and confidence >= scoring["threshold"]
    )


def print_wrong_labels(scored: dict[str, dict[int, Scorings]], shown: int = 12) -> None:
    """Per method and twin pair, every seed and scoring pooled: how many clips of the pair got a confident
    label, how many a wrong one, and the ``shown`` commonest wrong ``true -> named`` classes (e23)."""
    print(
        "\nconfident labels on each twin pair's clips, seeds and scorings pooled: labeled, wrong, commonest errors"
    )
    for method, per_seed in scored.items():
        every = [(names, s) for names, scorings in per_seed.values() for s in scorings.values()]
        for name, pair in twin_pairs(every[0][0]).items():
            wrong = sum((wrong_labels(s, names, pair) for names, s in every), Counter())
            labeled = sum(int(group_counts(s, names)[name][COUNTS.index("used")]) for names, s in every)
            errors = ", ".join(f"{true} -> {said} {n}" for (true, said), n in wrong.most_common(shown))
            print(f"  {method:<12}{name:<23}{labeled:7d}{wrong.total():7d}   {errors}")


def print_pseudo_label_differences(runs: Counts) -> None:
    """Per class set, each method's *precision* (right / labeled) and *right per clip* (right / clips, Fig. 2's
    quantity) per seed, every scoring of a run pooled, and the methods' per-seed differences: e23's paired
    reading of whose pseudo-labels are better where. ``runs``: method -> seed -> when -> class set -> counts."""
    print("\nper seed, each run's scorings pooled (%)")
    for name in counted_sets(runs):
        for measure, denominator in (("precision", "used"), ("right per clip", "clips")):
            by_seed: dict[str, dict[int, float]] = {}
            print(f"{name}, {measure}: mean, then per seed")
            for method, per_seed in runs.items():
                pooled = {
                    seed: dict(zip(COUNTS, sum(s[name] for s in scorings.values()), strict=True))
                    for seed, scorings in per_seed.items()
                }
                by_seed[method] = {
                    seed: 100 * c["right"] / c[denominator] for seed, c in pooled.items() if c[denominator]
                }
                print(_seed_line(method, by_seed[method], list(per_seed)))
            differences = format_differences(seed_differences(by_seed), quantity=measure)
            print("\n".join(f"  {line}" for line in differences))


def _seed_line(row: str, values: dict[int, float], seeds: list[int]) -> str:
    """A row's mean and its value for each of ``seeds`` in order, ``-`` where it has none."""
    mean = f"{statistics.fmean(values.values()):6.1f}" if values else f"{'-':>6}"
    return f"  {row:<20}{mean}   " + " / ".join(f"{values[s]:.1f}" if s in values else "-" for s in seeds)


def pair_collapses(run_dir: Path, results: str = "results.json") -> dict[tuple[str, str], float]:
    """The twin classes ``(lost, taken for)`` of a run, with the percent of ``lost``'s test videos
    still right: those where more than half of them were called its twin, read from the confusion matrix
    (rows: true class) of the run's ``results`` file."""
    scored = json.loads((run_dir / results).read_text())
    names, confusion = scored["class_names"], np.array(scored["confusion"])
    collapses = {}
    for pair in twin_pairs(names).values():
        for lost, twin in (pair, pair[::-1]):
            i, j = names.index(lost), names.index(twin)
            if confusion[i, j] > confusion[i].sum() / 2:
                collapses[lost, twin] = 100.0 * confusion[i, i] / confusion[i].sum()
    return collapses


def print_pair_collapses(roots: list[Path], results: str = "results.json") -> None:
    """Per method and twin pair, the seeds in which one class of the pair was taken for the other, each with
    the percent of that class's test videos still right, and whether the collapses lean one way more than a
    coin would (:func:`sign_test_p`; a seed that collapsed both ways counts for neither)."""
    print("seeds in which more than half of a class's test videos were called its twin (seed: % still right)")
    for method, paths in finished_runs(*roots, results=results).items():
        seeds = [run_seed(path) for path in paths]
        found = [pair_collapses(path, results) for path in paths]
        names = json.loads((paths[0] / results).read_text())["class_names"]
        for pair in twin_pairs(names).values():
            ways, counts = [], []
            for way in (pair, pair[::-1]):
                hits = ", ".join(
                    f"{s}: {c[way]:.0f} %" for s, c in zip(seeds, found, strict=True) if way in c
                )
                ways.append(f"{way[0]} -> {way[1]}: [{hits}]")
                counts.append(sum(1 for c in found if way in c and way[::-1] not in c))
            lean = f"sign test p = {sign_test_p(counts[0], sum(counts)):.3g}"
            print(f"  {method:<12}" + "   ".join(ways) + f"   (of {len(paths)} seeds; {lean})")


def per_class_by_method(
    runs: dict[str, list[Path]], networks: bool = False, results: str = "results.json"
) -> tuple[list[str], dict[str, np.ndarray]]:
    """Class names and, per method (or per method/network with ``networks``), its runs' per-class accuracy
    ``(seeds, classes)`` in seed order, read from each run's ``results`` file (``runs``: :func:`finished_runs`)."""
    names: list[str] = []
    table: dict[str, np.ndarray] = {}
    for method, paths in runs.items():
        if networks:
            per_run = [score_networks(path) for path in paths]
            rows = {f"{method}/{role}": [scored[role] for scored in per_run] for role in per_run[0]}
        else:
            rows = {method: [read_class_accuracy(path, results) for path in paths]}
        for row, scores in rows.items():
            names = names or scores[0].class_names
            if any(s.class_names != names for s in scores):
                raise SystemExit("error: the runs were trained on different class lists")
            table[row] = np.array([s.accuracy for s in scores])
    return names, table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "roots",
        type=Path,
        nargs="+",
        help="folders of <method>_seed<N> runs on the synthetic data; FOLDER=LABEL names its methods 'METHOD LABEL'",
    )
    p.add_argument(
        "--results",
        default="results.json",
        help="each run's results file to read (default: %(default)s; not with --networks)",
    )
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--networks", action="store_true", help="score every network from its checkpoint")
    shown.add_argument(
        "--pseudo-labels",
        action="store_true",
        help="per group and twin pair, the pseudo-labels each run's checkpoint gives",
    )
    shown.add_argument(
        "--over-training",
        action="store_true",
        help="per group and twin pair, the pseudo-labels of every scoring recorded during training",
    )
    shown.add_argument(
        "--pairs",
        action="store_true",
        help="per twin pair, the seeds in which one class was taken for the other",
    )
    args = p.parse_args()
    if args.pseudo_labels or args.over_training:
        print_pseudo_labels(args.roots, args.over_training)
        return
    if args.pairs:
        print_pair_collapses(args.roots, args.results)
        return
    if args.networks and args.results != "results.json":
        p.error("--networks scores each checkpoint on the run's own test set; --results does not apply")
    runs = finished_runs(*args.roots, results=args.results)
    names, table = per_class_by_method(runs, args.networks, args.results)
    counts = {method: len(a) for method, a in table.items()}
    print(f"per-class top-1 (%), mean over seeds {counts}")
    print(f"{'class':<14}" + "".join(f"{m:>20}" for m in table))
    for i, name in enumerate(names):
        print(f"{name:<14}" + "".join(f"{np.nanmean(a[:, i]):20.1f}" for a in table.values()))
    seeds = {method: [run_seed(path) for path in paths] for method, paths in runs.items()}
    print_groups(names, table, seeds)


def print_groups(names: list[str], table: dict[str, np.ndarray], seeds: dict[str, list[int]]) -> None:
    """Per class set (group or twin pair) of the generator version whose classes ``names`` are, each row's mean
    over the set's classes, per seed and over seeds, and every pair of rows' per-seed difference (rows are
    methods, or ``method/network``; ``seeds``: per method, in seed order)."""
    for group, members in synthetic_class_groups(names).items():
        idx = [names.index(c) for c in members]
        print(f"\n{group} classes ({len(idx)}): mean, then per seed")
        by_seed = {}
        for row, a in table.items():
            row_seeds = seeds[row.split("/")[0]]
            by_seed[row] = dict(zip(row_seeds, np.nanmean(a[:, idx], axis=1).tolist(), strict=True))
            print(_seed_line(row, by_seed[row], row_seeds))
        print("\n".join(f"  {line}" for line in format_differences(seed_differences(by_seed))))


if __name__ == "__main__":
    main()
