"""``cmpl make-synthetic``: write the embedded synthetic action-video dataset."""

from __future__ import annotations

from pathlib import Path

from cmpl.data.synthetic import make_synthetic

__all__ = ["make_synthetic_dataset"]


def make_synthetic_dataset(root: Path, train_per_class: int, test_per_class: int, seed: int) -> Path:
    """The dataset under ``root`` (nothing is rewritten when it is already there), with a progress bar."""
    return make_synthetic(
        root, train_per_class=train_per_class, test_per_class=test_per_class, seed=seed, progress=True
    )
