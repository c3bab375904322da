"""Fixtures shared by the end-to-end tests: one tiny synthetic dataset. Helpers live in tests/helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmpl.data.synthetic import make_synthetic


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 classes x (4 train + 2 test) videos of 40x40, 72 frames: seconds to write and to decode."""
    return make_synthetic(tmp_path_factory.mktemp("synthetic"), train_per_class=4, test_per_class=2)
