"""Pool the seeds of several settings of the evidence log and say whether any method is ranked.

Settings logged apart (e06's seeds 0-2 and e16's seeds 3-7 of one recipe) are read as one: per method its
top-1 per seed, mean ± sample standard deviation (as ``cmpl demo`` prints it), and for every pair of
methods the per-seed difference as mean ± standard error (sample standard deviation over √n, over the seeds
both ran). Seeds pair runs that share their initialisation and augmentation stream, so the differences are
less noisy than the means. Each pair gets its two-sided p-value (Student's t, seeds - 1 degrees of freedom)
and is called ranked when p < 0.05, i.e. its 95 % interval excludes zero: a stricter reading than e16's two
standard errors at few seeds; on e16's eight seeds both give "not ranked".
EVIDENCE.md's e16 table is

    python research/pool_seeds.py e06-long-auxiliary-r10-w0.25 e16-long-seeds-3-7

Where every pooled run of a method logged its pseudo-labels (``mask`` and ``correct``, the primary network's
over the last quarter of training), its line also gives their mean over the runs: the share of unlabeled clips
that got one, the share that got a right one (the paper's Fig. 2 quantity) and the precision of all of them.

A setting named as ``NAME=LABEL`` lists its methods as ``METHOD LABEL``, so that a variant of one method is
paired with the method itself on the same seeds (e20: CMPL with a lighter auxiliary network, "cmpl light-A",
against the shipped CMPL).

With ``--own-test-set``, settings logged by ``rescore.py`` are read on each run's own test set (its
``top1_own``), so that runs scored together on new videos also pair on the videos they were trained beside
(e25: demo runs and evidence runs, logged as one rescored setting).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import in_demo_order

from cmpl.analysis.seed_differences import RANKED_BELOW, format_differences, seed_differences
from cmpl.commands.demo import summarize

LOG = Path(__file__).with_name("evidence_log.jsonl")


def pooled_runs(names: list[str], log: Path = LOG) -> dict[str, dict[int, dict]]:
    """Per method, its logged runs by seed over the named settings (``NAME`` or ``NAME=LABEL``, which appends
    LABEL to that setting's method names); a seed logged twice for one method is an error."""
    settings = {}
    for line in log.read_text().splitlines():
        if line.strip():
            entry = json.loads(line)
            settings[entry["name"]] = entry
    labelled = [name.partition("=")[::2] for name in names]
    missing = [n for n, _ in labelled if n not in settings]
    if missing:
        raise SystemExit(f"error: {log}: no setting named {', '.join(missing)}")
    pooled: dict[str, dict[int, dict]] = {}
    for name, label in labelled:
        for method, runs in settings[name]["runs"].items():
            key = f"{method} {label}" if label else method
            seeds = pooled.setdefault(key, {})
            for run in runs:
                if run["seed"] in seeds:
                    raise SystemExit(f"error: {key} seed {run['seed']} is logged twice ({name})")
                seeds[run["seed"]] = run
    return {method: dict(sorted(pooled[method].items())) for method in in_demo_order(pooled)}


def pooled_top1(names: list[str], log: Path = LOG) -> dict[str, dict[int, float]]:
    """Per method, top-1 by seed over the named settings (as :func:`pooled_runs`)."""
    return top1_by_seed(pooled_runs(names, log))


def own_test_set(runs: dict[str, dict[int, dict]]) -> dict[str, dict[int, dict]]:
    """The runs of rescored settings (``rescore.py``) with their top-1 on their own test set as ``top1``."""
    missing = sorted({m for m, seeds in runs.items() for run in seeds.values() if "top1_own" not in run})
    if missing:
        raise SystemExit(f"error: --own-test-set: {', '.join(missing)} has runs not logged by rescore.py")
    return {m: {s: {**run, "top1": run["top1_own"]} for s, run in seeds.items()} for m, seeds in runs.items()}


def top1_by_seed(runs: dict[str, dict[int, dict]]) -> dict[str, dict[int, float]]:
    """Per method, each seed's top-1 from :func:`pooled_runs`' runs."""
    return {method: {seed: run["top1"] for seed, run in seeds.items()} for method, seeds in runs.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "names", nargs="+", help="settings of the log, by their --name; NAME=LABEL labels its methods"
    )
    p.add_argument("--log", type=Path, default=LOG)
    p.add_argument(
        "--alpha",
        type=float,
        default=RANKED_BELOW,
        help="rank a pair when its p-value is below this (default %(default)s; e19, a third look, set 0.022)",
    )
    p.add_argument(
        "--own-test-set",
        action="store_true",
        help="rescored settings: read each run's top-1 on its own test set (top1_own), not on the new list",
    )
    args = p.parse_args()
    if not 0 < args.alpha < 1:
        p.error(f"--alpha must lie between 0 and 1, got {args.alpha}")
    runs = pooled_runs(args.names, args.log)
    if args.own_test_set:
        runs = own_test_set(runs)
    pooled = top1_by_seed(runs)
    methods = summarize({method: list(seeds.values()) for method, seeds in runs.items()})
    width = max([12, *(len(method) + 1 for method in pooled)])
    for method, seeds in pooled.items():
        m = methods[method]
        per_seed = " / ".join(f"{v:.1f}" for v in seeds.values())
        spread = f" ± {m['top1_std']:.1f}" if m["top1_std"] is not None else ""
        print(f"{method:<{width}}{m['top1_mean']:6.1f}{spread}   seeds {list(seeds)}: {per_seed}")
        if "pseudo_label_accuracy" in m:
            print(
                f"{'':<{width}}pseudo-labels: {m['pseudo_label_mask']:.1f} % of clips, "
                f"{m['pseudo_label_correct']:.1f} % right (precision {m['pseudo_label_accuracy']:.1f} %)"
            )
    print("\n".join(format_differences(seed_differences(pooled), args.alpha)))


if __name__ == "__main__":
    main()
