"""cmpl: Cross-Model Pseudo-Labeling for semi-supervised video action recognition.

``cmpl.load(run_dir_or_checkpoint)`` is the Python API (``cmpl.inference``, docs/api.md); it is imported on
first use, so that ``import cmpl`` stays cheap."""

from typing import Any

__version__ = "0.2.0"
__all__ = ["__version__", "load"]


def __getattr__(name: str) -> Any:
    if name == "load":
        from cmpl.inference import load

        return load
    raise AttributeError(f"module 'cmpl' has no attribute {name!r}")
