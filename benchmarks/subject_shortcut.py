"""Does a held-out test set share its subjects with the labeled videos, and do the runs name them by who they are?

In Weizmann (and KTH, NTU and the like) one actor performs every action. A test split drawn per class
(``data.test_fraction`` without ``data.subject_pattern``) can hold an actor out of one class and label the same
actor in another; a network that learned from one labeled actor per class who performs which action then
names, for a test video of that actor, the action the actor was labeled with. This reads finished runs
(folders with ``checkpoints/last.pt``, ``labeled.txt`` and ``test.txt``), predicts every test video with the
run's primary network at its eval views (as ``cmpl predict``), and counts per run:

- *shared*: test videos whose subject is labeled, in the labeled set, only as other classes;
- their top-1, and how many of them get one of the labels their subject carries there (*named by subject*);
- the top-1 of the other test videos.

    python benchmarks/subject_shortcut.py --subject-pattern 'actor\\d+' runs/evidence/w06a-*/*_seed*

A run whose test set holds subjects out of every class (``data.subject_pattern``) has no shared videos.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from cmpl.commands.evaluate import load_run
from cmpl.commands.predict import predict_videos
from cmpl.data.annotations import read_path_label_list
from cmpl.data.splits import subject_by_pattern
from cmpl.engine.run_data import SPLIT_FILES, run_test_records


def shortcut_counts(run_dir: Path, pattern: str, device: str = "auto") -> dict[str, int]:
    """The run's test videos split by whether their subject is labeled only as other classes, with how many
    of each kind its primary network gets right and how many shared ones it names by their subject's labels."""
    run = load_run(run_dir, device)
    subject_of = subject_by_pattern(pattern)
    labeled = read_path_label_list(run_dir / SPLIT_FILES["labeled"], run_dir, run.class_names).records
    labels_of: dict[str, set[str]] = {}
    for record in labeled:
        labels_of.setdefault(subject_of(record), set()).add(run.class_names[record.label])
    test = run_test_records(run.config, run_dir)
    views = run.config.eval.num_clips, run.config.eval.num_crops
    answers = predict_videos(run, [r.path for r in test], *views, top_k=1)
    counts = dict.fromkeys(("shared", "shared_right", "named_by_subject", "other", "other_right"), 0)
    for record, answer in zip(test, answers, strict=True):
        truth, named = run.class_names[record.label], answer.top[0][0]
        seen_as = labels_of.get(subject_of(record), set())
        kind = "shared" if seen_as and truth not in seen_as else "other"
        counts[kind] += 1
        counts[f"{kind}_right"] += named == truth
        counts["named_by_subject"] += kind == "shared" and named in seen_as
    return counts


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f} %" if whole else "    -  "


def _row(name: str, c: dict[str, int]) -> str:
    shared, other = c["shared"], c["other"]
    return (
        f"{name:<44}{shared:>8}{_share(c['shared_right'], shared):>9}"
        f"{_share(c['named_by_subject'], shared):>12}{other:>7}{_share(c['other_right'], other):>9}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--subject-pattern", required=True, help="regex whose first match in a file name is its subject"
    )
    p.add_argument("--device", default="auto", help="where the networks run (default: %(default)s)")
    p.add_argument("run_dirs", type=Path, nargs="+", help="finished runs")
    args = p.parse_args()
    total: dict[str, int] = {}
    print(f"{'run':<44}{'shared':>8}{'top-1':>9}{'by subject':>12}{'other':>7}{'top-1':>9}")
    for run_dir in tqdm(args.run_dirs, desc="runs", unit="run"):
        counts = shortcut_counts(run_dir, args.subject_pattern, args.device)
        total = {k: total.get(k, 0) + v for k, v in counts.items()}
        tqdm.write(_row(f"{run_dir.parent.name[:24]}/{run_dir.name}", counts))
    print(_row("all runs", total))


if __name__ == "__main__":
    main()
