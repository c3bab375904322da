"""Comparing methods seed by seed: the per-seed differences, their Student's t p-values and the ranking rule
that ``cmpl demo`` and ``research/pool_seeds.py`` print."""

from __future__ import annotations

import pytest

from cmpl.analysis.seed_differences import (
    format_differences,
    is_ranked,
    seed_differences,
    two_sided_p,
)
from cmpl.commands.demo import format_table, summarize

# two-sided 95 % and 99 % quantiles of Student's t, from printed tables (degrees of freedom: quantile)
T_95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
T_99 = {1: 63.657, 4: 4.604, 12: 3.055, 30: 2.750}


@pytest.mark.parametrize(("quantiles", "p"), [(T_95 | {12: 2.179, 30: 2.042}, 0.05), (T_99, 0.01)])
def test_p_values_match_the_printed_t_tables(quantiles, p):
    for df, t in quantiles.items():
        assert two_sided_p(t, df) == pytest.approx(p, abs=2e-4), df
        assert two_sided_p(-t, df) == two_sided_p(t, df)


def test_p_values_fall_with_t_and_approach_the_normal_with_many_seeds():
    assert two_sided_p(0.0, 5) == pytest.approx(1.0)
    assert two_sided_p(1.0, 1) == pytest.approx(0.5)  # the Cauchy distribution's quartile
    ps = [two_sided_p(t, 6) for t in (0.5, 1.0, 2.0, 4.0, 8.0)]
    assert ps == sorted(ps, reverse=True) and ps[-1] < 1e-3
    assert two_sided_p(1.96, 100_000) == pytest.approx(0.05, abs=1e-4)
    with pytest.raises(ValueError, match="degree of freedom"):
        two_sided_p(1.0, 0)


def test_demo_pairs_methods_by_seed_and_ranks_only_what_the_seeds_support():
    """fixmatch - supervised per seed: +2, +1, +4 (mean 7/3, sample std 1.53, standard error 0.88), though the
    means differ by 2.3 with sample standard deviations of 8.5 and 10.0. With 3 seeds a 95 % interval
    needs 4.3 standard errors: 2.64 of them is not a ranking (p = 0.118), 5 would be."""
    top1 = {"supervised": {0: 58.0, 1: 49.0, 2: 66.0}, "fixmatch": {2: 70.0, 0: 60.0, 1: 50.0}, "cmpl": {}}
    differences = seed_differences(top1)
    assert list(differences) == ["fixmatch - supervised"]  # a method without runs pairs with nothing
    d = differences["fixmatch - supervised"]
    assert (d["mean"], d["seeds"]) == (pytest.approx(7 / 3), 3) and d["stderr"] == pytest.approx(
        0.882, abs=1e-3
    )
    assert d["p"] == pytest.approx(0.118, abs=1e-3)
    assert not is_ranked(d["mean"], d["stderr"], 3)
    assert is_ranked(5 * d["stderr"], d["stderr"], 3) and is_ranked(-2.5, 1.0, 30)
    assert not is_ranked(2.0, 1.0, 30) and not is_ranked(9.0, 0.0, 1)
    assert is_ranked(1.0, 0.0, 3) and not is_ranked(0.0, 0.0, 3)  # every seed the same difference
    assert is_ranked(d["mean"], d["stderr"], 3, alpha=0.2)  # p = 0.118: ranked at 80 %
    table = format_table({"methods": summarize({"x": [{"top1": 1.0}]}), "differences": differences})
    assert "fixmatch - supervised      +2.3 ± 0.9  (3 seeds, p = 0.118: not ranked at 95 %)" in table
    strong = format_differences(
        seed_differences({"a": {s: 0.0 for s in range(10)}, "b": {s: 11.0 + s % 2 for s in range(10)}})
    )
    assert "(10 seeds, p < 0.001: ranked at 95 %)" in strong[1]  # not "p = 0.000"
