"""The videos of one run: train/test annotations, the labeled subset and the unlabeled remainder.

The split is drawn once, at the start of a run, and written into the run directory as list files, so a
resumed or re-evaluated run uses exactly the same videos on any machine.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from cmpl.config import Config
from cmpl.data.annotations import (
    Annotations,
    VideoRecord,
    find_videos,
    load_annotations,
    read_class_names,
    read_path_label_list,
    write_class_names,
    write_path_label_list,
)
from cmpl.data.check import find_bad_videos
from cmpl.data.decode import VideoDecodeError
from cmpl.data.extra_labels import apply_extra_labels
from cmpl.data.splits import (
    balanced_split,
    category_wise_split,
    group_by_stem_pattern,
    stratified_holdout,
    subject_by_pattern,
    subject_holdout,
)
from cmpl.data.synthetic import make_synthetic
from cmpl.engine import distributed
from cmpl.errors import BadValueError

__all__ = ["RunData", "load_dataset", "prepare_run_data", "run_test_records"]

SPLIT_FILES = {"classes": "classes.txt", "labeled": "labeled.txt", "unlabeled": "unlabeled.txt"}
HELD_OUT_TEST_FILE = (
    "test.txt"  # written only when data.test_fraction holds the test set out of the train set
)


@dataclass
class RunData:
    class_names: list[str]
    labeled: list[VideoRecord]
    unlabeled: list[VideoRecord]
    test: list[VideoRecord]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def load_dataset(config: Config, subset: str) -> Annotations:
    """Annotations of the configured dataset; the synthetic one is generated on first use."""
    d = config.data
    root = Path(d.root)
    if d.format != "synthetic":
        return _read(d.format, root, subset, d.split)
    if distributed.is_main():
        make_synthetic(
            root,
            train_per_class=d.synthetic_train_per_class,
            test_per_class=d.synthetic_test_per_class,
            seed=d.synthetic_seed,
            version=d.synthetic_version,
            progress=config.train.progress,
        )
    distributed.barrier()
    return load_annotations("list", root, subset)


def _read(fmt: str, root: Path, subset: str, split: int) -> Annotations:
    kwargs = {"split": split} if fmt in ("ucf101", "hmdb51") else {}
    return load_annotations(fmt, root, subset, drop_missing=fmt == "kinetics400", **kwargs)


def _outside_unlabeled(config: Config) -> list[VideoRecord]:
    """``data.unlabeled_format``'s videos, labels dropped: another collection's class indices mean nothing
    here, and without ground truth the trainer logs no pseudo-label accuracy."""
    d = config.data
    if d.unlabeled_format == "videos":
        return find_videos(Path(d.unlabeled_root))
    records = _read(d.unlabeled_format, Path(d.unlabeled_root), "train", d.split).records
    return [VideoRecord(r.path, -1) for r in records]


def _check_videos(labeled: list[VideoRecord], test: list[VideoRecord]) -> None:
    """Decode the first and last frame of every labeled and test video once, before training, on all cores
    of rank 0 (seconds: the labeled subset is small, and so are most test sets).

    A broken labeled video would silently remove its class's only examples: refuse to start. A broken test
    video is left out of the final scores and listed in results.json: say so now, not after training."""
    paths = [r.path for r in labeled] + [r.path for r in test]
    bad = find_bad_videos(paths, progress=False) if distributed.is_main() else None
    bad = distributed.broadcast_from_main(bad)
    is_labeled = {r.path for r in labeled}
    bad_labeled = [(path, reason) for path, reason in bad if path in is_labeled]
    bad_test = [(path, reason) for path, reason in bad if path not in is_labeled]
    if bad_labeled:
        raise VideoDecodeError(
            f"{len(bad_labeled)} labeled videos do not decode: {_names(bad_labeled)}. Repair or remove them "
            "(`cmpl check-videos` lists every bad file), or draw another data.split_seed"
        )
    if bad_test and distributed.is_main():
        print(
            f"warning: {len(bad_test)} of {len(test)} test videos will not decode: {_names(bad_test)}; they "
            "will be left out of the test scores and listed in results.json (unreadable_videos)",
            file=sys.stderr,
        )


def _names(bad: list[tuple[Path, str]]) -> str:
    return "; ".join(f"{path} ({reason.removeprefix(f'{path}: ')})" for path, reason in bad[:10])


def _check_classes(records: list[VideoRecord], class_names: list[str], root: str) -> None:
    """A classifier of one class scores 100 % by construction: refuse to train it."""
    present = sorted({r.label for r in records})
    if len(present) < 2:
        names = ", ".join(repr(class_names[i]) if 0 <= i < len(class_names) else str(i) for i in present)
        raise BadValueError(
            f"{root}: the training videos hold {len(present)} class ({names}); a classifier needs at least 2"
        )


def run_test_records(config: Config, run_dir: Path) -> list[VideoRecord]:
    """The test videos of a run: the dataset's test set, or the one held out into ``run_dir``."""
    if config.data.test_fraction > 0:
        names = read_class_names(run_dir / SPLIT_FILES["classes"])
        return read_path_label_list(run_dir / HELD_OUT_TEST_FILE, run_dir, names).records
    return load_dataset(config, "test").records


def prepare_run_data(config: Config, run_dir: Path, reuse_split: bool = False) -> RunData:
    """Draw (or, when resuming, re-read) the labeled split, and with ``data.test_fraction`` the test split,
    and write them into ``run_dir``."""
    d = config.data
    held_out = d.test_fraction > 0
    files = {k: run_dir / v for k, v in SPLIT_FILES.items()}
    if held_out:
        files["test"] = run_dir / HELD_OUT_TEST_FILE
    if reuse_split and all(p.is_file() for p in files.values()):
        names = read_class_names(files["classes"])
        labeled, unlabeled = (
            read_path_label_list(files[k], run_dir, names).records for k in ("labeled", "unlabeled")
        )
        return RunData(names, labeled, unlabeled, run_test_records(config, run_dir))
    group_of = group_by_stem_pattern(d.split_group_pattern) if d.split_group_pattern else None
    train = load_dataset(config, "train")
    train_records = train.records
    _check_classes(train_records, train.class_names, d.root)
    if held_out and d.subject_pattern:
        subject_of = subject_by_pattern(d.subject_pattern)
        train_records, test_records = subject_holdout(train_records, d.test_fraction, d.test_seed, subject_of)
    elif held_out:
        train_records, test_records = stratified_holdout(
            train_records, d.test_fraction, d.test_seed, group_of
        )
    else:
        test_records = load_dataset(config, "test").records
    if d.labeled_per_class == 0:
        labeled = sorted(train_records, key=lambda r: r.path.as_posix())
        unlabeled = labeled if d.keep_labeled_in_unlabeled else []
    elif d.labeled_sampling == "category_wise":
        labeled, unlabeled = category_wise_split(
            train_records,
            d.labeled_per_class * len(train.class_names),
            d.split_seed,
            group_of=group_of,
            keep_labeled_in_unlabeled=d.keep_labeled_in_unlabeled,
        )
    else:
        labeled, unlabeled = balanced_split(
            train_records,
            d.labeled_per_class,
            d.split_seed,
            group_of=group_of,
            keep_labeled_in_unlabeled=d.keep_labeled_in_unlabeled,
            class_names=train.class_names,
        )
    if d.unlabeled_format:
        unlabeled = _outside_unlabeled(config)
    if d.extra_labels:
        labeled, unlabeled = apply_extra_labels(
            d.extra_labels, train.class_names, [*train_records, *unlabeled], labeled, unlabeled
        )
    _check_videos(labeled, test_records[: config.eval.max_videos or None])
    if distributed.is_main():
        run_dir.mkdir(parents=True, exist_ok=True)
        write_class_names(train.class_names, files["classes"])
        write_path_label_list(labeled, files["labeled"], run_dir)
        write_path_label_list(unlabeled, files["unlabeled"], run_dir)
        if held_out:
            write_path_label_list(test_records, files["test"], run_dir)
    return RunData(train.class_names, labeled, unlabeled, test_records)
