"""The demo's figure: accuracy per method and the paper's Fig. 2 curves of its runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cmpl.analysis.canvas import plt, save_figure
from cmpl.analysis.paper_figures import draw_correct_pseudo_labels

__all__ = ["plot_demo"]


def plot_demo(summary: dict[str, Any], path: Path) -> None:
    """Left: top-1 per method (mean and sample SD over seeds, dots per seed). Right: the ratio of correct
    pseudo-labels among all unlabeled clips over training, the paper's Fig. 2 quantity, per seed."""
    fig, (ax_acc, ax_pl) = plt.subplots(1, 2, figsize=(11, 4))
    methods = list(summary["methods"])
    colors = {"supervised": "tab:gray", "fixmatch": "tab:green", "cmpl": "tab:blue"}
    for i, m in enumerate(methods):
        e = summary["methods"][m]
        ax_acc.bar(i, e["top1_mean"], yerr=e["top1_std"], color=colors.get(m, "tab:orange"), capsize=4)
        ax_acc.scatter([i] * e["seeds"], [r["top1"] for r in summary["runs"][m]], color="k", s=10, zorder=3)
    ax_acc.set_xticks(range(len(methods)), methods)
    ax_acc.set_ylabel("top-1 accuracy on the test videos (%)")
    ax_acc.set_title("primary network, same labeled subset")
    for m in methods:
        for r in summary["runs"][m]:
            first = r is summary["runs"][m][0]
            style = {"color": colors.get(m, "tab:orange"), "alpha": 0.7, "label": m if first else None}
            draw_correct_pseudo_labels(ax_pl, Path(r["run_dir"]), **style)
    ax_pl.set_title("pseudo-labels that train the primary network")
    if ax_pl.lines:
        ax_pl.legend()
    save_figure(fig, path, dpi=110)
