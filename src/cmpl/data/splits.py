"""Labeled subsets (k videos per class, or the class distribution's share of a total; seeded) and the unlabeled
remainder.

The paper samples 1 or 10 videos per class on UCF-101 and 6 or 60 on Kinetics-400, and averages three seeds,
so a split must be a pure function of (records, k, seed): records are sorted by path before any random choice,
which makes the input order and the machine irrelevant (only numpy's PCG64 stream matters).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from cmpl.data.annotations import VideoRecord
from cmpl.errors import BadValueError


def balanced_split(
    records: Sequence[VideoRecord],
    per_class: int,
    seed: int,
    group_of: Callable[[VideoRecord], str] | None = None,
    keep_labeled_in_unlabeled: bool = False,
    *,
    class_names: Sequence[str] | None = None,
) -> tuple[list[VideoRecord], list[VideoRecord]]:
    """Choose `per_class` labeled videos per class; the rest (labels kept) form the unlabeled set.

    One `np.random.default_rng(seed)` permutes each class's groups in turn, classes in label order. With
    `group_of`, videos sharing a key (e.g. a clip and its mirrored copy) are one group, always on the same
    side: groups are taken in the permuted order until the class has >= `per_class` videos, a group counting
    as its size. So a class gets between k and k + (largest group - 1) videos; taking groups in plain seeded
    order (rather than hunting for an exact fit) keeps every group equally likely whatever its size.

    A class with fewer than `per_class` videos raises ValueError naming it; with `class_names`, classes that
    have no video at all are caught too. Unlabeled records (label -1) and duplicate paths are errors.
    Both lists come back sorted by path; `keep_labeled_in_unlabeled` returns every record as unlabeled.
    """
    if per_class < 1:
        raise BadValueError(f"per_class must be >= 1, got {per_class}")
    by_class = _by_class(sorted(records, key=lambda r: r.path.as_posix()))
    labels = range(len(class_names)) if class_names is not None else sorted(by_class)
    for label in labels:
        found = len(by_class.get(label, []))
        if found < per_class:
            name = f"{class_names[label]!r} ({label})" if class_names is not None else str(label)
            raise BadValueError(f"class {name} has {found} videos, fewer than per_class={per_class}")
    counts = dict.fromkeys(labels, per_class)
    return _split(records, counts, seed, group_of, keep_labeled_in_unlabeled)


def category_wise_split(
    records: Sequence[VideoRecord],
    total: int,
    seed: int,
    group_of: Callable[[VideoRecord], str] | None = None,
    keep_labeled_in_unlabeled: bool = False,
) -> tuple[list[VideoRecord], list[VideoRecord]]:
    """The paper's Table A3 "category-wise" scheme: `total` labeled videos whose per-class counts follow the
    class distribution of `records` (largest-remainder rounding of total x class share, so the counts sum to
    `total`; ties go to the lower label). Videos are drawn within each class as in :func:`balanced_split`."""
    by_class = _by_class(sorted(records, key=lambda r: r.path.as_posix()))
    size = sum(len(v) for v in by_class.values())
    if not 1 <= total <= size:
        raise BadValueError(f"total must be in [1, {size}] (the number of videos), got {total}")
    shares = {label: total * len(members) / size for label, members in sorted(by_class.items())}
    counts = {label: int(share) for label, share in shares.items()}
    by_remainder = sorted(shares, key=lambda label: (counts[label] - shares[label], label))
    for label in by_remainder[: total - sum(counts.values())]:
        counts[label] += 1
    return _split(records, counts, seed, group_of, keep_labeled_in_unlabeled)


def _split(
    records: Sequence[VideoRecord],
    counts: dict[int, int],
    seed: int,
    group_of: Callable[[VideoRecord], str] | None,
    keep_labeled_in_unlabeled: bool,
) -> tuple[list[VideoRecord], list[VideoRecord]]:
    """At least `counts[label]` videos of every class, whole groups taken in seeded order, classes in label
    order with one generator; both lists sorted by path."""
    ordered = sorted(records, key=lambda r: r.path.as_posix())
    by_class = _by_class(ordered)
    key = group_of if group_of is not None else (lambda r: r.path.as_posix())
    _check_groups_within_classes(ordered, key)
    rng = np.random.default_rng(seed)
    chosen: set[str] = set()
    for label in sorted(counts):
        if counts[label] > 0:
            chosen.update(_take_groups(_groups(by_class[label], key), counts[label], rng))
    labeled = [r for r in ordered if r.path.as_posix() in chosen]
    unlabeled = (
        ordered if keep_labeled_in_unlabeled else [r for r in ordered if r.path.as_posix() not in chosen]
    )
    return labeled, unlabeled


def stratified_holdout(
    records: Sequence[VideoRecord],
    fraction: float,
    seed: int,
    group_of: Callable[[VideoRecord], str] | None = None,
) -> tuple[list[VideoRecord], list[VideoRecord]]:
    """Split a collection without a test set into (train, test): about `fraction` of every class's videos,
    at least one group and never all of them, held out for testing, groups kept whole as in
    :func:`balanced_split` (so a video and its mirrored copy, or one actor's clips, never straddle the line).
    Both lists come back sorted by path."""
    if not 0 < fraction < 1:
        raise BadValueError(f"test fraction must be in (0, 1), got {fraction}")
    ordered = sorted(records, key=lambda r: r.path.as_posix())
    key = group_of if group_of is not None else (lambda r: r.path.as_posix())
    _check_groups_within_classes(ordered, key)
    rng = np.random.default_rng(seed)
    held: set[str] = set()
    for label, members in sorted(_by_class(ordered).items()):
        groups = _groups(members, key)
        if len(groups) < 2:
            raise BadValueError(f"class {label} has one group of videos; it cannot give both train and test")
        wanted = max(1, round(fraction * len(members)))
        taken = _take_groups(groups, wanted, rng)
        if len(taken) == len(members):  # the last group overshot: keep at least one group for training
            taken = _take_groups(groups, 1, np.random.default_rng([seed, label]))
        held.update(taken)
    return (
        [r for r in ordered if r.path.as_posix() not in held],
        [r for r in ordered if r.path.as_posix() in held],
    )


def subject_holdout(
    records: Sequence[VideoRecord],
    fraction: float,
    seed: int,
    subject_of: Callable[[VideoRecord], str],
) -> tuple[list[VideoRecord], list[VideoRecord]]:
    """Split a collection into (train, test) by subject, the actor or performer whose clips appear in every
    class: round(`fraction` x subjects) of them, at least one and never all, are held out with all their videos,
    so that no test subject is seen in training under any label. With subjects held out per class instead
    (:func:`stratified_holdout`), a test actor's clips of other actions are trained on, and a network that
    learned who performs which labeled action names that action. A class left without a
    train or test video is an error. Both lists come back sorted by path."""
    if not 0 < fraction < 1:
        raise BadValueError(f"test fraction must be in (0, 1), got {fraction}")
    ordered = sorted(records, key=lambda r: r.path.as_posix())
    classes = set(_by_class(ordered))
    subjects = sorted({subject_of(r) for r in ordered})
    if len(subjects) < 2:
        raise BadValueError(f"{len(subjects)} subject(s) found; a test split by subject needs at least two")
    count = min(max(1, round(fraction * len(subjects))), len(subjects) - 1)
    permuted = np.random.default_rng(seed).permutation(len(subjects))
    held = {subjects[i] for i in permuted[:count]}
    train = [r for r in ordered if subject_of(r) not in held]
    test = [r for r in ordered if subject_of(r) in held]
    for side, name in ((train, "train"), (test, "test")):
        missing = sorted(classes - {r.label for r in side})
        if missing:
            raise BadValueError(
                f"holding out subjects {', '.join(sorted(held))} leaves class {missing[0]} no {name} video; "
                "draw another test seed or fraction"
            )
    return train, test


def subject_by_pattern(pattern: str) -> Callable[[VideoRecord], str]:
    """Subject key: the first match of the regex `pattern` in the file name without extension, whatever the
    folder. ``"actor\\d+"`` names Weizmann's actors, ``"person\\d+"`` KTH's. A name without a match is an
    error, since its video could land on either side."""
    if not pattern:
        raise BadValueError("pattern must not be empty")
    regex = re.compile(pattern)

    def subject_of(record: VideoRecord) -> str:
        found = regex.search(record.path.stem)
        if found is None:
            raise BadValueError(f"subject pattern '{pattern}' finds nothing in {record.path}")
        return found.group(0)

    return subject_of


def _take_groups(groups: Sequence[Sequence[VideoRecord]], count: int, rng: np.random.Generator) -> set[str]:
    """Paths of whole groups, taken in seeded random order until they hold at least `count` videos."""
    chosen: set[str] = set()
    taken = 0
    for i in rng.permutation(len(groups)):
        chosen.update(r.path.as_posix() for r in groups[i])
        taken += len(groups[i])
        if taken >= count:
            break
    return chosen


def group_by_stem_pattern(pattern: str) -> Callable[[VideoRecord], str]:
    """Group key: the file name without extension, minus the first match of the regex `pattern`, in its
    folder. ``"_flip$"`` joins Weizmann's actorNN_flip.mp4 with actorNN.mp4; ``"_c\\d+$"`` joins UCF-101's
    clips cut from one source video (v_X_g01_c01 ... v_X_g01_c05)."""
    if not pattern:
        raise BadValueError("pattern must not be empty")
    regex = re.compile(pattern)

    def group_of(record: VideoRecord) -> str:
        return (record.path.parent / regex.sub("", record.path.stem, count=1)).as_posix()

    return group_of


def _by_class(ordered: Sequence[VideoRecord]) -> dict[int, list[VideoRecord]]:
    by_class: dict[int, list[VideoRecord]] = defaultdict(list)
    previous = None
    for record in ordered:
        if record.label < 0:
            raise BadValueError(f"{record.path} has no label ({record.label}); a balanced split needs labels")
        if record.path == previous:
            raise BadValueError(f"{record.path} is listed twice")
        previous = record.path
        by_class[record.label].append(record)
    return by_class


def _check_groups_within_classes(ordered: Sequence[VideoRecord], key: Callable[[VideoRecord], str]) -> None:
    """A group split over two classes could not stay on one side of the split, so it is an error."""
    label_of: dict[str, int] = {}
    for record in ordered:
        group = key(record)
        if label_of.setdefault(group, record.label) != record.label:
            raise BadValueError(f"group {group!r} spans classes {label_of[group]} and {record.label}")


def _groups(members: Sequence[VideoRecord], key: Callable[[VideoRecord], str]) -> list[list[VideoRecord]]:
    """Groups in order of their first member's path (members are already sorted), so stable across machines."""
    groups: dict[str, list[VideoRecord]] = {}
    for record in members:
        groups.setdefault(key(record), []).append(record)
    return list(groups.values())
