"""The strip of a long video's predicted classes over time (``cmpl predict --timeline``)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

from cmpl.analysis.canvas import plt, save_figure

__all__ = ["plot_timeline"]


def plot_timeline(
    windows: Sequence[tuple[float, float, str, float]],
    segments: Sequence[tuple[float, float, str]],
    path: Path,
    title: str = "",
) -> Path:
    """Two rows over time: the smoothed track (``segments``: start, end, class) with its class names, and
    each window's top-1 class (``windows``: start, end, class, probability; opacity = probability; each drawn
    over the time nearer its centre than its neighbours'). One
    colour per class, the legend lists those shown."""
    order = list(dict.fromkeys([s[2] for s in segments] + [w[2] for w in windows]))
    cmap = plt.get_cmap("tab20" if len(order) > 10 else "tab10")
    colour = {name: cmap(i % cmap.N) for i, name in enumerate(order)}
    end = max([s[1] for s in segments] + [w[1] for w in windows] + [1e-9])
    fig, ax = plt.subplots(figsize=(max(8.0, min(24.0, 4 + end / 20)), 2.6))
    for start, stop, name in segments:
        ax.broken_barh([(start, stop - start)], (1.1, 0.8), color=colour[name])
        if stop - start > end / 40:
            ax.text((start + stop) / 2, 1.5, name, ha="center", va="center", fontsize=8, clip_on=True)
    centres = [(a + b) / 2 for a, b, _, _ in windows]  # overlapping windows: each draws its own share
    cuts = [0.0, *((x + y) / 2 for x, y in itertools.pairwise(centres)), end]
    for (_, _, name, prob), a, b in zip(windows, cuts, cuts[1:], strict=False):
        ax.broken_barh([(a, b - a)], (0.1, 0.8), color=colour[name], alpha=max(0.15, min(1.0, prob)))
    ax.set_yticks([0.5, 1.5], ["windows (top-1)", "track"])
    ax.set_ylim(0, 2)
    ax.set_xlim(0, end)
    ax.set_xlabel("time (s)")
    if title:
        ax.set_title(title, fontsize=10)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour[n]) for n in order[:20]]
    ax.legend(handles, order[:20], loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    return save_figure(fig, path, dpi=110)
