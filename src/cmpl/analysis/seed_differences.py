"""Comparing methods seed by seed: per-seed differences of top-1, their Student's t p-value and whether a pair
is ranked.

A seed pairs two runs that share their initialisation and augmentation stream, so the per-seed difference is
less noisy than the difference of the means. ``cmpl demo`` prints these lines under its table, and
``research/pool_seeds.py`` prints them for settings pooled from the evidence log.
"""

from __future__ import annotations

import math
import statistics
from itertools import combinations

__all__ = [
    "RANKED_BELOW",
    "format_differences",
    "is_ranked",
    "p_value",
    "seed_differences",
    "summarize_differences",
    "two_sided_p",
]

RANKED_BELOW = 0.05
"""A pair is ranked when its two-sided p-value is below this: its 95 % interval excludes zero."""


def seed_differences(top1: dict[str, dict[int, float]]) -> dict[str, dict[str, float | None]]:
    """Every pair of methods with seeds in common (``top1``: method -> seed -> top-1), the later minus the
    earlier in ``top1``'s order: its per-seed difference as mean, standard error (sample standard deviation
    over √n), number of seeds and two-sided p-value (:func:`p_value`); from one seed, no error and no p."""
    differences = {}
    for first, second in combinations(top1, 2):
        diffs = [top1[second][seed] - top1[first][seed] for seed in top1[second] if seed in top1[first]]
        if diffs:
            differences[f"{second} - {first}"] = summarize_differences(diffs)
    return differences


def summarize_differences(diffs: list[float]) -> dict[str, float | None]:
    """Paired differences (per seed, per labeled subset) as mean, standard error (sample standard deviation
    over √n), their count under ``seeds`` and two-sided p-value; from one difference, no error and no p."""
    mean = statistics.fmean(diffs)
    stderr = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else None
    p = p_value(mean, stderr, len(diffs)) if stderr is not None else None
    return {"mean": mean, "stderr": stderr, "seeds": len(diffs), "p": p}


def two_sided_p(t: float, df: int) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom, exact for whole ``df`` (Abramowitz and
    Stegun 26.7.3-4, a finite series in θ = atan(t/√df)); written out so the project needs no scipy. The
    tail is 1 minus a sum near 1, so its absolute error is a few 1e-16: a p below about 1e-12 keeps few
    digits, which no reading needs (they print "p < 0.001")."""
    if df < 1:
        raise ValueError(f"Student's t needs at least 1 degree of freedom, got {df}")
    theta = math.atan(abs(t) / math.sqrt(df))
    cos2 = math.cos(theta) ** 2
    # the series: odd df, 1 + 2/3 c + (2*4)/(3*5) c^2 + ...; even df, 1 + 1/2 c + (1*3)/(2*4) c^2 + ...; c = cos^2
    term, series = 1.0, 1.0
    for k in range(1 if df % 2 else 0, df - 2, 2):
        term *= (k + 1) / (k + 2) * cos2
        series += term
    if df % 2:
        inside = 2 / math.pi * (theta + (math.sin(theta) * math.cos(theta) * series if df > 1 else 0.0))
    else:
        inside = math.sin(theta) * series
    return min(1.0, max(0.0, 1.0 - inside))


def p_value(mean: float, stderr: float, seeds: int) -> float | None:
    """The two-sided p-value of a per-seed difference against zero; None when there is no error estimate."""
    if seeds < 2:
        return None
    if stderr == 0:
        return 1.0 if mean == 0 else 0.0
    return two_sided_p(mean / stderr, seeds - 1)


def is_ranked(mean: float, stderr: float, seeds: int, alpha: float = RANKED_BELOW) -> bool:
    """Whether a per-seed difference's 1 - ``alpha`` interval (Student's t, seeds - 1 degrees of freedom)
    excludes 0. With 3 seeds and the default 5 % that takes 4.3 standard errors, not 2: on the demo, a gap of
    2.7 standard errors over three seeds vanished over eight."""
    p = p_value(mean, stderr, seeds)
    return p is not None and p < alpha


def format_differences(
    differences: dict[str, dict[str, float | None]], alpha: float = RANKED_BELOW, quantity: str = "top-1"
) -> list[str]:
    """One line per pair: mean ± standard error, its p-value and whether it is ranked (p below ``alpha``, the
    rule of :func:`is_ranked`) at the level 1 - ``alpha``; ``quantity`` names what was differenced."""
    level = f"{(1 - alpha) * 100:g} %"
    lines = [f"per-seed difference of {quantity}, mean ± standard error:"]
    width = max([24, *(len(pair) for pair in differences)])
    for pair, d in differences.items():
        if d["stderr"] is None:
            lines.append(f"  {pair:<{width}} {d['mean']:+6.1f}        ({d['seeds']} seed: no error estimate)")
            continue
        verdict = "ranked" if d["p"] < alpha else "not ranked"
        shown = "p < 0.001" if d["p"] < 0.0005 else f"p = {d['p']:.3f}"  # not "p = 0.000"
        evidence = f"{d['seeds']} seeds, {shown}: {verdict} at {level}"
        lines.append(f"  {pair:<{width}} {d['mean']:+6.1f} ± {d['stderr']:.1f}  ({evidence})")
    return lines
