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

    python research/subject_shortcut.py --subject-pattern 'actor\\d+' runs/evidence/w06a-*/*_seed*

A run whose test set holds subjects out of every class (``data.subject_pattern``) has no shared videos.

With ``--concentration`` it asks the same of subjects that are never labeled: does a network name a new
subject's videos by who performs them? Per run, for the confident pseudo-labels its primary network gets on the
unlabeled clips (scored from the last checkpoint as during training: eval mode, one weak view; a supervised
run's are the labels it would have given) and for its top-1 answers on the test videos:

- *one class*: the share of labels that name the commonest one (25 % for right labels over 4 balanced
  classes, 100 % for a network that names one class whatever it sees);
- *by subject*: the share of labels that equal their subject's commonest label (in Weizmann, where every actor
  performs each of the 4 actions twice, 25 % for right labels, 100 % for one label per actor);
- *shuffled*: the same with the labels dealt to the clips at random, each subject keeping its number of clips:
  what it would be if the labels had nothing to do with who performs. Above it, labels cluster by subject.

    python research/subject_shortcut.py --subject-pattern 'actor\\d+' --concentration runs/evidence/w07b-*/*_seed*

With ``--over-training`` it reads the confident pseudo-labels of every scoring during training instead (runs
trained with ``train.score_unlabeled_every > 0``), the runs pooled step by step: do they crowd onto one class
early and spread later (EVIDENCE w14)?

    python research/subject_shortcut.py --subject-pattern 'actor\\d+' --over-training runs/evidence/w14b-*/*_seed*
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from cmpl.data.annotations import VideoRecord, read_path_label_list
from cmpl.data.splits import subject_by_pattern
from cmpl.engine.run_data import SPLIT_FILES, run_test_records
from cmpl.inference import load_method, load_run, score_run_unlabeled
from cmpl.run_files import read_unlabeled_scores


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
    answers = run.predict([r.path for r in test], views=views, top_k=1)
    counts = dict.fromkeys(("shared", "shared_right", "named_by_subject", "other", "other_right"), 0)
    for record, answer in zip(test, answers, strict=True):
        truth, named = run.class_names[record.label], answer.top[0][0]
        seen_as = labels_of.get(subject_of(record), set())
        kind = "shared" if seen_as and truth not in seen_as else "other"
        counts[kind] += 1
        counts[f"{kind}_right"] += named == truth
        counts["named_by_subject"] += kind == "shared" and named in seen_as
    return counts


def subject_concentration(labels: Sequence[int], subjects: Sequence[str]) -> int:
    """How many ``labels`` equal their subject's commonest label."""
    by_subject: dict[str, Counter[int]] = {}
    for label, subject in zip(labels, subjects, strict=True):
        by_subject.setdefault(subject, Counter())[label] += 1
    return sum(counts.most_common(1)[0][1] for counts in by_subject.values())


def shuffled_concentration(labels: Sequence[int], subjects: Sequence[str], draws: int = 200) -> float:
    """:func:`subject_concentration`'s mean over ``draws`` random deals of the labels to the clips (fixed
    seed, so a reading repeats to the digit)."""
    rng = np.random.default_rng(0)
    return sum(subject_concentration(rng.permutation(labels), subjects) for _ in range(draws)) / draws


def label_counts(
    kind: str, labels: Sequence[int], truths: Sequence[int], subjects: Sequence[str]
) -> dict[str, float]:
    """``kind``'s counts of :func:`concentration_counts`: of ``labels``, how many are right, how many name the
    commonest one, how many equal their subject's commonest and that count's shuffled mean."""
    return {
        f"{kind}_right": sum(a == b for a, b in zip(labels, truths, strict=True)),
        f"{kind}_one_class": subject_concentration(labels, [""] * len(labels)),  # all one "subject"
        f"{kind}_by_subject": subject_concentration(labels, subjects),
        f"{kind}_shuffled": shuffled_concentration(labels, subjects),
    }


def confident_label_counts(scoring: dict, subjects: Sequence[str]) -> dict[str, float]:
    """One scoring of the unlabeled clips (``run_files`` layout; ``subjects`` in its clip order): how many
    clips, how many get a confident pseudo-label for the primary network, and :func:`label_counts` of those."""
    head = scoring["roles"]["primary"]
    kept = [i for i, c in enumerate(head["pseudo_confidence"]) if c >= scoring["threshold"]]
    return {
        "clips": len(subjects),
        "confident": len(kept),
        **label_counts(
            "pseudo",
            [head["pseudo_label"][i] for i in kept],
            [scoring["truth"][i] for i in kept],
            [subjects[i] for i in kept],
        ),
    }


def concentration_counts(run_dir: Path, pattern: str, device: str = "auto") -> dict[str, float]:
    """The run's confident pseudo-labels on its unlabeled clips (scored from its last checkpoint) and its
    top-1 answers on its test videos, each with :func:`label_counts`."""
    subject_of = subject_by_pattern(pattern)
    loaded = load_method(run_dir)
    names, records, scoring = score_run_unlabeled(run_dir, device, loaded)
    run = load_run(run_dir, device, loaded=loaded)
    test = run_test_records(run.config, run_dir)
    views = run.config.eval.num_clips, run.config.eval.num_crops
    answers = run.predict([r.path for r in test], views=views, top_k=1)
    return {
        **confident_label_counts(scoring, list(map(subject_of, records))),
        "tested": len(test),
        **label_counts(
            "test",
            [names.index(a.top[0][0]) for a in answers],
            [r.label for r in test],
            list(map(subject_of, test)),
        ),
    }


def concentration_over_training(run_dir: Path, pattern: str) -> dict[int, dict[str, float]]:
    """Per scoring of a run trained with ``train.score_unlabeled_every``, by step: its confident pseudo-labels'
    :func:`confident_label_counts` (EVIDENCE w14: do the labels crowd onto one class early and spread later?)."""
    subject_of = subject_by_pattern(pattern)
    scorings = read_unlabeled_scores(run_dir)
    subjects = [subject_of(VideoRecord(Path(video), -1)) for video in scorings[0]["videos"]]
    return {s["step"]: confident_label_counts(s, subjects) for s in scorings}


_SHARES = ("right", "one class", "by subject", "shuffled")


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f} %" if whole else "    -  "


def _row(name: str, c: dict[str, int]) -> str:
    shared, other = c["shared"], c["other"]
    return (
        f"{name:<44}{shared:>8}{_share(c['shared_right'], shared):>9}"
        f"{_share(c['named_by_subject'], shared):>12}{other:>7}{_share(c['other_right'], other):>9}"
    )


def _concentration_row(name: str, c: dict[str, float]) -> str:
    keys = [share.replace(" ", "_") for share in _SHARES]
    pseudo = (_share(c[f"pseudo_{k}"], c["confident"]) for k in keys)
    test = (_share(c[f"test_{k}"], c["tested"]) for k in keys) if "tested" in c else ()
    return f"{name:<44}{_share(c['confident'], c['clips']):>9}" + "".join(
        f"{s:>11}" for s in (*pseudo, *test)
    )


def _added(total: dict[str, float], counts: dict[str, float]) -> dict[str, float]:
    return {k: total.get(k, 0) + v for k, v in counts.items()}


def print_over_training(run_dirs: list[Path], pattern: str) -> None:
    """The confident pseudo-labels of every scoring during training, the runs pooled step by step."""
    by_step: dict[int, dict[str, float]] = {}
    for run_dir in tqdm(run_dirs, desc="runs", unit="run"):
        for step, counts in concentration_over_training(run_dir, pattern).items():
            by_step[step] = _added(by_step.get(step, {}), counts)
    print(f"{'':<44}{'unlabeled clips, confident labels':>53}")
    print(f"{'step (runs pooled)':<44}{'labeled':>9}" + "".join(f"{h:>11}" for h in _SHARES))
    for step, counts in sorted(by_step.items()):
        print(_concentration_row(f"{step}", counts))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--subject-pattern", required=True, help="regex whose first match in a file name is its subject"
    )
    p.add_argument(
        "--concentration",
        action="store_true",
        help="instead: how far pseudo-labels and test answers cluster by subject (see above)",
    )
    p.add_argument(
        "--over-training",
        action="store_true",
        help="--concentration of the confident labels at every scoring during training, read from runs trained "
        "with train.score_unlabeled_every > 0 (unlabeled_scores.jsonl), pooled step by step",
    )
    p.add_argument("--device", default="auto", help="where the networks run (default: %(default)s)")
    p.add_argument("run_dirs", type=Path, nargs="+", help="finished runs")
    args = p.parse_args()
    if args.over_training:
        print_over_training(args.run_dirs, args.subject_pattern)
        return
    count, row = (concentration_counts, _concentration_row) if args.concentration else (shortcut_counts, _row)
    if args.concentration:
        print(f"{'':<44}{'unlabeled clips, confident labels':>53}{'test videos, top-1 answers':>44}")
        print(f"{'run':<44}{'labeled':>9}" + "".join(f"{h:>11}" for h in _SHARES * 2))
    else:
        print(f"{'run':<44}{'shared':>8}{'top-1':>9}{'by subject':>12}{'other':>7}{'top-1':>9}")
    total: dict[str, float] = {}
    for run_dir in tqdm(args.run_dirs, desc="runs", unit="run"):
        counts = count(run_dir, args.subject_pattern, args.device)
        total = _added(total, counts)
        tqdm.write(row(f"{run_dir.parent.name[:24]}/{run_dir.name}", counts))
    print(row("all runs", total))


if __name__ == "__main__":
    main()
