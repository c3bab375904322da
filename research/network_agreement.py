"""Do CMPL's two networks stay two views, or does cross-labelling make them one?

CMPL's premise is that F and A see a video differently, so each can teach the other what it misses. Each
network learns to predict the other's confident labels, which also pulls their answers together; once they
agree on every clip, A's label for F is F's own and CMPL is self-training with a copy. This reads runs trained
with ``train.score_unlabeled_every > 0`` (``unlabeled_scores.jsonl``: each network's arg-max on every unlabeled
clip, eval mode) and prints, at every scoring, the share of clips on which a CMPL run's F and A give the same
class (mean over the runs and per run) and, of the confident labels A gives F (the ones that teach it), the share
that F already predicts itself, which FixMatch's labels are by construction. That share reads how far F has
absorbed what it is taught, not whether the networks merged: with an A that learns from the labels alone,
independent of F, it ends just as high (EVIDENCE w18: 98.7 %, against 100 % in full CMPL):

    python research/network_agreement.py runs/evidence/w16-*/cmpl_seed?

With ``--against`` (as many runs, in the same order: FixMatch's of the same seeds and subsets, scored at the same
steps) the last lines give the yardstick, two networks trained apart on the same labels: at the last common
scoring, how often CMPL's F agrees with the other run's F, and how many of the other run's confident labels
CMPL's F already predicts.

    python research/network_agreement.py runs/evidence/w16-*/cmpl_seed? --against runs/evidence/w16-*/fixmatch_seed?
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cmpl.errors import MissingFileError
from cmpl.run_files import read_unlabeled_scores


def agreement(first: Sequence[int], second: Sequence[int]) -> float:
    """Percent of clips on which two lists of predicted classes are equal."""
    if len(first) != len(second) or not first:
        raise ValueError(
            f"need two equal, non-empty lists of predictions, got {len(first)} and {len(second)}"
        )
    return 100.0 * float(np.mean(np.asarray(first) == np.asarray(second)))


def labels_already_known(scoring: dict, learner: Sequence[int] | None = None) -> float:
    """Percent of the confident labels a scoring's F is taught that the ``learner``'s predictions (by default
    that F's own) already give, NaN if none is confident: how little of what A tells F is news to it."""
    primary = scoring["roles"]["primary"]
    learner = primary["prediction"] if learner is None else learner
    taught = [
        (label, own)
        for label, confidence, own in zip(
            primary["pseudo_label"], primary["pseudo_confidence"], learner, strict=True
        )
        if confidence >= scoring["threshold"]
    ]
    return 100.0 * float(np.mean([label == own for label, own in taught])) if taught else float("nan")


def agreement_over_training(run_dir: Path) -> dict[int, tuple[float, float]]:
    """Per scoring step: how often a CMPL run's F and A predict the same class on its unlabeled clips, and
    :func:`labels_already_known`."""
    scorings = read_unlabeled_scores(run_dir)
    if any("auxiliary" not in s["roles"] for s in scorings):
        raise SystemExit(f"error: {run_dir} scored no auxiliary network: not a CMPL run")
    return {
        s["step"]: (
            agreement(s["roles"]["primary"]["prediction"], s["roles"]["auxiliary"]["prediction"]),
            labels_already_known(s),
        )
        for s in scorings
    }


def agreement_between_runs(run_dir: Path, other_dir: Path) -> tuple[int, float, float]:
    """The last step both runs scored, how often their primary networks agree there, and how many of the
    confident labels the other run's F is taught there this run's F already gives."""
    ours = {s["step"]: s for s in read_unlabeled_scores(run_dir)}
    theirs = {s["step"]: s for s in read_unlabeled_scores(other_dir)}
    common = sorted(ours.keys() & theirs.keys())
    if not common:
        raise SystemExit(f"error: {run_dir} and {other_dir} share no scoring step")
    step = common[-1]
    if ours[step]["truth"] != theirs[step]["truth"]:
        raise SystemExit(f"error: {run_dir} and {other_dir} scored different clips")
    own = ours[step]["roles"]["primary"]["prediction"]
    return (
        step,
        agreement(own, theirs[step]["roles"]["primary"]["prediction"]),
        labels_already_known(theirs[step], own),
    )


def _mean_of_taught(values: Sequence[float]) -> float:
    """Mean over the runs whose F was taught anything (NaN marks one that was not), NaN if none was."""
    taught = [v for v in values if not np.isnan(v)]
    return float(np.mean(taught)) if taught else float("nan")


def _percent(value: float, width: int) -> str:
    """``value`` as "12.3 %" right-aligned in ``width``, or "-" where no run taught F anything."""
    return f"{value:>{width}.1f} %" if not np.isnan(value) else f"{'-':>{width}}  "


def print_agreement(runs: list[Path], against: list[Path]) -> None:
    """F = A at every step all ``runs`` scored, then (with ``against``) each run's F against its partner's."""
    per_run = [agreement_over_training(run) for run in runs]
    steps = sorted(set.intersection(*(set(r) for r in per_run)))
    print(f"{'step':>6}{'F = A, mean':>13}{'known to F, mean':>18}   F = A per run (%)")
    for step in steps:
        values = [r[step][0] for r in per_run]
        known = _mean_of_taught([r[step][1] for r in per_run])
        print(
            f"{step:>6}{np.mean(values):>11.1f} %{_percent(known, 16)}   "
            + " ".join(f"{v:5.1f}" for v in values)
        )
    if against:
        pairs = [agreement_between_runs(run, other) for run, other in zip(runs, against, strict=True)]
        steps_read = ", ".join(map(str, sorted({s for s, _, _ in pairs})))
        print(f"at the last common scoring (step {steps_read}), mean   per run (%)")
        for column, what in ((1, "F = the other run's F"), (2, "its confident labels known to F")):
            values = [pair[column] for pair in pairs]
            print(
                f"  {what:<33}{_percent(_mean_of_taught(values), 5)}   "
                + " ".join(f"{v:5.1f}" for v in values)
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "runs", type=Path, nargs="+", help="CMPL runs trained with train.score_unlabeled_every > 0"
    )
    p.add_argument(
        "--against", type=Path, nargs="+", default=[], help="as many runs of another method, same order"
    )
    args = p.parse_args()
    if args.against and len(args.against) != len(args.runs):
        p.error(f"--against needs one run per CMPL run: {len(args.runs)} runs, {len(args.against)} against")
    try:
        print_agreement(args.runs, args.against)
    except MissingFileError as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
