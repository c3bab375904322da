"""Balanced labeled splits: counts, determinism, groups kept together, errors that name the class."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from cmpl.data.annotations import VideoRecord, load_annotations
from cmpl.data.splits import (
    balanced_split,
    category_wise_split,
    group_by_stem_pattern,
    stratified_holdout,
    subject_by_pattern,
    subject_holdout,
)
from tests.helpers import SHARED_DATA

ROOT = Path("/data/set")


def make_records(counts: dict[int, int]) -> list[VideoRecord]:
    return [
        VideoRecord(ROOT / f"c{label}" / f"v{i:03d}.mp4", label)
        for label, n in counts.items()
        for i in range(n)
    ]


def make_pairs(counts: dict[int, int], flip_missing: frozenset[str] = frozenset()) -> list[VideoRecord]:
    """Weizmann-like: actorNN.mp4 and actorNN_flip.mp4 per class (a flip may be absent)."""
    records = []
    for label, actors in counts.items():
        for a in range(1, actors + 1):
            records.append(VideoRecord(ROOT / f"c{label}" / f"actor{a:02d}.mp4", label))
            if f"c{label}/actor{a:02d}" not in flip_missing:
                records.append(VideoRecord(ROOT / f"c{label}" / f"actor{a:02d}_flip.mp4", label))
    return records


def test_per_class_counts_disjoint_union() -> None:
    records = make_records({0: 10, 1: 7, 2: 3})
    labeled, unlabeled = balanced_split(records, per_class=3, seed=0)
    assert Counter(r.label for r in labeled) == {0: 3, 1: 3, 2: 3}
    assert set(labeled).isdisjoint(unlabeled)
    assert sorted(labeled + unlabeled, key=str) == sorted(records, key=str)
    assert Counter(r.label for r in unlabeled) == {0: 7, 1: 4}  # labels kept for pseudo-label accuracy


def test_deterministic_and_independent_of_input_order() -> None:
    records = make_records({0: 20, 1: 20, 2: 20})
    shuffled = records[:]
    random.Random(1).shuffle(shuffled)
    first = balanced_split(records, per_class=2, seed=7)
    assert balanced_split(shuffled, per_class=2, seed=7) == first
    assert first[0] == sorted(first[0], key=lambda r: r.path.as_posix())


def test_different_seeds_differ() -> None:
    records = make_records({0: 30, 1: 30})
    picks = {tuple(r.path.name for r in balanced_split(records, 3, seed)[0]) for seed in range(5)}
    assert len(picks) == 5


def test_golden_selection_pins_the_random_stream() -> None:
    """Published splits must not change with the machine or numpy version; if this fails, splits changed."""
    labeled, _ = balanced_split(make_records({0: 10, 1: 10}), per_class=2, seed=0)
    assert [(r.path.parent.name, r.path.name) for r in labeled] == GOLDEN


GOLDEN = [("c0", "v004.mp4"), ("c0", "v006.mp4"), ("c1", "v002.mp4"), ("c1", "v009.mp4")]


def test_short_class_names_class_and_counts() -> None:
    records = make_records({0: 5, 1: 2})
    with pytest.raises(ValueError, match=r"class 1 has 2 videos, fewer than per_class=3"):
        balanced_split(records, per_class=3, seed=0)
    with pytest.raises(ValueError, match=r"class 'jump' \(2\) has 0 videos, fewer than per_class=1"):
        balanced_split(records, per_class=1, seed=0, class_names=["walk", "run", "jump"])


def test_invalid_inputs() -> None:
    records = make_records({0: 3})
    with pytest.raises(ValueError, match="per_class must be >= 1"):
        balanced_split(records, per_class=0, seed=0)
    with pytest.raises(ValueError, match="listed twice"):
        balanced_split([*records, records[1]], per_class=1, seed=0)
    with pytest.raises(ValueError, match=r"has no label \(-1\)"):
        balanced_split([*records, VideoRecord(ROOT / "u.mp4", -1)], per_class=1, seed=0)


def test_groups_stay_together() -> None:
    records = make_pairs({0: 9, 1: 9})
    group_of = group_by_stem_pattern("_flip$")
    for seed in range(10):
        labeled, unlabeled = balanced_split(records, per_class=3, seed=seed, group_of=group_of)
        # k=3 cannot be hit with pairs: 2 groups (4 videos) per class
        assert Counter(r.label for r in labeled) == {0: 4, 1: 4}
        groups_l, groups_u = {group_of(r) for r in labeled}, {group_of(r) for r in unlabeled}
        assert groups_l.isdisjoint(groups_u)
        assert len(labeled) + len(unlabeled) == len(records)


def test_group_counts_its_size_and_stops_at_k() -> None:
    """With singles and pairs mixed, a class gets k or k+1 videos, never more, and every video is placed."""
    missing = frozenset(f"c0/actor{a:02d}" for a in (1, 3, 5))
    records = make_pairs({0: 6}, flip_missing=missing)
    sizes = set()
    for seed in range(30):
        labeled, _ = balanced_split(records, per_class=2, seed=seed, group_of=group_by_stem_pattern("_flip$"))
        sizes.add(len(labeled))
        assert {r.path.stem.removesuffix("_flip") for r in labeled} <= {f"actor{a:02d}" for a in range(1, 7)}
    assert sizes == {2, 3}


def test_short_class_counts_videos_not_groups() -> None:
    records = make_pairs({0: 2})  # 2 groups, 4 videos
    labeled, _ = balanced_split(records, per_class=4, seed=0, group_of=group_by_stem_pattern("_flip$"))
    assert len(labeled) == 4
    with pytest.raises(ValueError, match="class 0 has 4 videos, fewer than per_class=5"):
        balanced_split(records, per_class=5, seed=0, group_of=group_by_stem_pattern("_flip$"))


def test_group_spanning_classes_is_an_error() -> None:
    records = make_records({0: 3, 1: 3})
    with pytest.raises(ValueError, match="spans classes 0 and 1"):
        balanced_split(records, per_class=1, seed=0, group_of=lambda r: r.path.name)


def test_keep_labeled_in_unlabeled() -> None:
    records = make_records({0: 4, 1: 4})
    labeled, unlabeled = balanced_split(records, per_class=1, seed=3, keep_labeled_in_unlabeled=True)
    assert len(labeled) == 2 and set(labeled) <= set(unlabeled) and len(unlabeled) == len(records)
    assert balanced_split(records, per_class=1, seed=3)[0] == labeled


def test_group_by_stem_pattern_key() -> None:
    key = group_by_stem_pattern("_flip$")
    assert key(VideoRecord(ROOT / "bend" / "actor01_flip.mp4", 0)) == key(
        VideoRecord(ROOT / "bend" / "actor01.mp4", 0)
    )
    assert key(VideoRecord(ROOT / "bend" / "actor01.mp4", 0)) != key(
        VideoRecord(ROOT / "bend" / "actor10.mp4", 0)
    )
    assert key(VideoRecord(ROOT / "bend" / "actor01.mp4", 0)) != key(
        VideoRecord(ROOT / "jack" / "actor01.mp4", 0)
    )
    assert key(VideoRecord(ROOT / "bend" / "flip_actor01.mp4", 0)) != key(
        VideoRecord(ROOT / "bend" / "actor01.mp4", 0)
    )  # anchored: only a trailing _flip is removed
    ucf = group_by_stem_pattern(r"_c\d+$")
    assert ucf(VideoRecord(ROOT / "v_Punch_g03_c01.avi", 0)) == ucf(
        VideoRecord(ROOT / "v_Punch_g03_c07.avi", 0)
    )
    assert ucf(VideoRecord(ROOT / "v_Punch_g03_c01.avi", 0)) != ucf(
        VideoRecord(ROOT / "v_Punch_g04_c01.avi", 0)
    )
    with pytest.raises(ValueError, match="pattern"):
        group_by_stem_pattern("")


def test_weizmann_pairs_on_one_side() -> None:
    data = SHARED_DATA / "weizmann4"
    if not data.is_dir():
        pytest.skip(f"shared test data not found at {data}")
    ann = load_annotations("folder", data, "train")
    labeled, unlabeled = balanced_split(ann.records, 1, seed=0, group_of=group_by_stem_pattern("_flip$"))
    assert Counter(r.label for r in labeled) == dict.fromkeys(range(len(ann.class_names)), 2)
    for record in labeled:
        twin = record.path.with_name(record.path.stem.removesuffix("_flip") + ".mp4")
        flip = twin.with_name(twin.stem + "_flip.mp4")
        assert {twin, flip} <= {r.path for r in labeled}
    assert len(unlabeled) == len(ann.records) - len(labeled)


def test_stratified_holdout_takes_each_class_fraction_in_whole_groups() -> None:
    records = make_pairs({0: 9, 1: 6, 2: 3})
    group_of = group_by_stem_pattern("_flip$")
    train, test = stratified_holdout(records, 0.34, seed=5, group_of=group_of)
    assert sorted(train + test, key=str) == sorted(records, key=str) and not set(train) & set(test)
    assert Counter(r.label for r in test) == {0: 6, 1: 4, 2: 2}  # round(0.34 * n) videos, in pairs
    assert not {group_of(r) for r in train} & {group_of(r) for r in test}
    assert stratified_holdout(records[::-1], 0.34, seed=5, group_of=group_of) == (train, test)
    assert stratified_holdout(records, 0.34, seed=6, group_of=group_of) != (train, test)


def test_stratified_holdout_keeps_training_videos_and_refuses_bad_input() -> None:
    train, test = stratified_holdout(make_records({0: 2, 1: 5}), 0.9, seed=0)
    assert Counter(r.label for r in train) == {0: 1, 1: 1} and Counter(r.label for r in test) == {0: 1, 1: 4}
    with pytest.raises(ValueError, match="one group"):
        stratified_holdout(make_pairs({0: 1, 1: 4}), 0.5, seed=0, group_of=group_by_stem_pattern("_flip$"))
    with pytest.raises(ValueError, match="test fraction"):
        stratified_holdout(make_records({0: 4}), 0.0, seed=0)


def test_subject_holdout_keeps_every_test_subject_out_of_training_in_every_class() -> None:
    """Weizmann-like, 9 actors in each of 3 classes: 3 actors are held out with all their videos, so no test
    actor is trained on under another label, which stratified_holdout (per class) allows."""
    records = make_pairs({0: 9, 1: 9, 2: 9})
    subject_of = subject_by_pattern(r"actor\d+")
    train, test = subject_holdout(records, 0.34, seed=5, subject_of=subject_of)
    assert sorted(train + test, key=str) == sorted(records, key=str)
    held = {subject_of(r) for r in test}
    assert len(held) == 3 and not held & {subject_of(r) for r in train}
    assert Counter(r.label for r in test) == {0: 6, 1: 6, 2: 6}  # every class: the 3 actors, each in pairs
    assert subject_holdout(records[::-1], 0.34, seed=5, subject_of=subject_of) == (train, test)
    assert subject_holdout(records, 0.34, seed=6, subject_of=subject_of) != (train, test)
    per_class, _ = stratified_holdout(records, 0.34, seed=5, group_of=group_by_stem_pattern("_flip$"))
    assert {subject_of(r) for r in per_class} == {f"actor{a:02d}" for a in range(1, 10)}  # the flaw it avoids


def test_subject_holdout_refuses_a_class_left_without_a_side_and_names_without_a_subject() -> None:
    subject_of = subject_by_pattern(r"actor\d+")
    lone = [*make_pairs({0: 3}), VideoRecord(ROOT / "c1" / "actor01.mp4", 1)]  # class 1: one actor only
    # one of 3 actors is held out: actor01 leaves class 1 no train video, either other one no test video
    with pytest.raises(ValueError, match=r"leaves class 1 no (train|test) video; draw another test seed"):
        subject_holdout(lone, 0.34, seed=0, subject_of=subject_of)
    with pytest.raises(ValueError, match="a test split by subject needs at least two"):
        subject_holdout(make_pairs({0: 1, 1: 1}), 0.5, seed=0, subject_of=subject_of)
    with pytest.raises(ValueError, match=r"pattern 'actor\\d\+' finds nothing in /data/set/c0/v000\.mp4"):
        subject_holdout(make_records({0: 4}), 0.5, seed=0, subject_of=subject_of)


def test_category_wise_split_follows_the_class_distribution_with_the_same_total() -> None:
    """Table A3: 30 labeled of 300 videos in classes of 150/100/37/13 -> 15/10/4/1 (largest remainders)."""
    records = make_records({0: 150, 1: 100, 2: 37, 3: 13})
    labeled, unlabeled = category_wise_split(records, total=30, seed=0)
    assert Counter(r.label for r in labeled) == {0: 15, 1: 10, 2: 4, 3: 1}
    assert len(labeled) + len(unlabeled) == 300 and not {r.path for r in labeled} & {
        r.path for r in unlabeled
    }
    assert category_wise_split(list(reversed(records)), total=30, seed=0)[0] == labeled
    assert category_wise_split(records, total=30, seed=1)[0] != labeled
    with pytest.raises(ValueError, match="total"):
        category_wise_split(records, total=301, seed=0)
