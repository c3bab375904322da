"""Matplotlib without a display, and the one way this package writes a figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["plt", "save_figure"]


def save_figure(fig: plt.Figure, path: Path, dpi: int = 120) -> Path:
    """Lay out, write as PNG (creating the folder), free the figure; returns `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
