"""``cmpl evaluate``: load a finished run's primary network and score test sets with it (``cmpl predict`` and
``cmpl report temporal`` use the same loaded run; analyses may load the auxiliary network the same way)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from cmpl.config import Config, load_config
from cmpl.data.annotations import VideoRecord, find_missing, read_class_names, read_path_label_list
from cmpl.data.augment import ClipAugment
from cmpl.data.datasets import TestClips
from cmpl.engine.checkpoint import load_checkpoint
from cmpl.engine.evaluate import EvalResult, accuracy_metrics, predict_dataset, unreadable_note
from cmpl.engine.run_data import SPLIT_FILES, run_test_records
from cmpl.engine.runtime import resolve_device, test_clips, test_records, use_amp
from cmpl.engine.unlabeled_scores import score_unlabeled
from cmpl.errors import BadValueError
from cmpl.methods import Method, build_method

__all__ = [
    "LoadedMethod",
    "TrainedRun",
    "evaluate_run",
    "load_method",
    "load_run",
    "read_test_list",
    "score_run_unlabeled",
    "score_test_set",
]


@dataclass
class TrainedRun:
    config: Config
    class_names: list[str]
    network: nn.Module  # the primary network unless loaded with another role
    device: torch.device
    run_dir: Path
    role: str = "primary"

    @property
    def amp(self) -> bool:
        return use_amp(self.config, self.device)

    def test_clips(self, records: list[VideoRecord], num_clips: int, num_crops: int) -> TestClips:
        return test_clips(self.config, records, num_clips, num_crops, self.role)


LoadedMethod = tuple[Config, list[str], Method]
"""A finished run's config, class names and method, as :func:`load_method` returns them."""


def load_method(run_dir: Path) -> LoadedMethod:
    """A finished run's config, class names and method (every network) from ``checkpoints/last.pt``."""
    config = load_config(run_dir / "config.yaml")
    names = read_class_names(run_dir / "classes.txt")
    method = build_method(config, len(names))
    method.load_state_dict(load_checkpoint(run_dir / "checkpoints" / "last.pt")["method"])
    return config, names, method


def score_run_unlabeled(
    run_dir: Path, device: str = "auto", loaded: LoadedMethod | None = None
) -> tuple[list[str], list[VideoRecord], dict]:
    """A finished run's class names, unlabeled clips and their scoring from its last checkpoint, as
    ``train.score_unlabeled_every`` scores them during training (eval mode, one weak view; ``run_files``
    layout). A supervised run is scored too: its pseudo-labels are the ones it would have given. ``loaded``:
    the run's :func:`load_method`, where the caller loads it once for several readings."""
    config, names, method = loaded or load_method(run_dir)
    records = read_path_label_list(run_dir / SPLIT_FILES["unlabeled"], run_dir, names).records
    dev = resolve_device(device)
    scoring = score_unlabeled(
        method.to(dev),
        records,
        config,
        num_classes=len(names),
        device=dev,
        normalize=ClipAugment().normalize,
        amp=False,
    )
    return names, records, scoring


def load_run(
    run_dir: Path, device: str = "auto", role: str = "primary", loaded: LoadedMethod | None = None
) -> TrainedRun:
    """The network ``role`` of ``run_dir/checkpoints/last.pt`` in eval mode: the primary by default, since
    inference never needs A; ``"auxiliary"`` loads CMPL's A (on its own frames) for analysis. ``loaded``: as
    for :func:`score_run_unlabeled`."""
    config, names, method = loaded or load_method(run_dir)
    if role not in method.roles:
        raise BadValueError(f"{run_dir}: a {config.method.name} run has no {role!r} network ({method.roles})")
    dev = resolve_device(device)
    return TrainedRun(config, names, method.networks[role].to(dev).eval(), dev, run_dir, role)


def read_test_list(run: TrainedRun, test_list: Path) -> list[VideoRecord]:
    """Another labelled test set for ``run``: "path label" lines, paths relative to the list's folder and
    labels in the run's class order. A ``classes.txt`` beside the list must name the run's classes, since a
    list in another order would be scored without an error and come out wrong."""
    test_list = Path(test_list)
    if not test_list.is_file():
        raise BadValueError(f"{test_list}: no such test list")
    beside = test_list.parent / "classes.txt"
    if beside.is_file() and read_class_names(beside) != run.class_names:
        raise BadValueError(f"{beside}: its classes are not the run's ({run.run_dir / 'classes.txt'})")
    records = read_path_label_list(test_list, class_names=run.class_names).records
    if any(r.label < 0 for r in records):
        raise BadValueError(f"{test_list}: a test list needs a label on every line, not -1")
    missing = find_missing(records)
    if missing:
        raise BadValueError(
            f"{test_list}: {len(missing)} of {len(records)} listed videos are missing ({missing[0]})"
        )
    return records


def score_test_set(
    run: TrainedRun,
    num_clips: int,
    num_crops: int,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    progress: bool = True,
    records: list[VideoRecord] | None = None,
) -> EvalResult:
    """The primary network on ``records`` (default: the run's configured test set); `transform` edits the
    uint8 clips ``(N, T, C, H, W)`` before normalisation (e.g. the temporal re-sampling of the paper's Fig. 5)."""
    if records is None:
        records = test_records(run.config, run_test_records(run.config, run.run_dir))
    normalize = ClipAugment().normalize
    num_classes = len(run.class_names)
    unreadable: list[str] = []
    predictions = predict_dataset(
        run.network,
        run.test_clips(records, num_clips, num_crops),
        num_classes=num_classes,
        device=run.device,
        normalize=normalize if transform is None else (lambda clips: normalize(transform(clips))),
        batch_size=run.config.eval.batch_size,
        num_workers=run.config.data.num_workers,
        amp=run.amp,
        progress=progress,
        unreadable=unreadable,
    )
    return accuracy_metrics(*predictions, num_classes, unreadable)


def evaluate_run(
    run: TrainedRun,
    run_dir: Path,
    num_clips: int,
    num_crops: int,
    progress: bool = True,
    test_list: Path | None = None,
) -> tuple[EvalResult, Path]:
    """Evaluate on the configured test set and write ``results_<clips>x<crops>.json`` beside the run; with
    ``test_list`` (see `read_test_list`) score that list instead and write
    ``results_<clips>x<crops>_<list's folder>_<list's stem>.json``, so that the run's own figures stay."""
    name, records, extra = f"results_{num_clips}x{num_crops}", None, {}
    if test_list is not None:
        test_list = Path(test_list).resolve()
        records = read_test_list(run, test_list)
        name, extra = f"{name}_{test_list.parent.name}_{test_list.stem}", {"test_list": str(test_list)}
    result = score_test_set(run, num_clips, num_crops, progress=progress, records=records)
    out = run_dir / f"{name}.json"
    if result.unreadable_videos:
        print(unreadable_note(result, str(out)), file=sys.stderr)
    out.write_text(
        json.dumps(
            {
                "class_names": run.class_names,
                "num_clips": num_clips,
                "num_crops": num_crops,
                **extra,
                **result.to_dict(),
            },
            indent=1,
        )
    )
    return result, out
