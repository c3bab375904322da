"""Fixtures shared by the end-to-end tests: one tiny synthetic dataset and a fast training config."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmpl.data.synthetic import make_synthetic

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 classes x (4 train + 2 test) videos of 40x40, 72 frames: seconds to write and to decode."""
    return make_synthetic(tmp_path_factory.mktemp("synthetic"), train_per_class=4, test_per_class=2)


def fast_overrides(data_root: Path, run_dir: Path, method: str = "cmpl", iterations: int = 4) -> list[str]:
    """A run small enough for a 2-core CPU in a few seconds, through the same code as a real one."""
    return [
        f"data.root={data_root}",
        f"train.output_dir={run_dir}",
        f"method.name={method}",
        "data.synthetic_train_per_class=4",
        "data.synthetic_test_per_class=2",
        "data.labeled_per_class=1",
        "data.short_side_range=[32,40]",
        "data.crop_size=32",
        "data.weak_short_side=36",
        "data.num_workers=0",
        "model.primary=r10_w0.125",
        "model.auxiliary=r10_w0.125",
        "train.labeled_batch=2",
        "method.unlabeled_ratio=2",
        f"schedule.iterations={iterations}",
        "schedule.warmup_iterations=1",
        "train.log_every=1",
        "train.checkpoint_every=2",
        "train.progress=false",
        "eval.num_clips=2",
        "eval.num_crops=1",
        "eval.short_side=36",
        "eval.crop_size=32",
        "eval.batch_size=8",
    ]
