"""What several research scripts share and the package does not ship: the demo's method order for tables, and
a sign test.

The scripts run as ``python research/NAME.py``, so this folder is on ``sys.path`` and they ``import common``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from cmpl.commands.demo import DEMO_METHODS


def in_demo_order(methods: Iterable[str]) -> list[str]:
    """``methods`` with the demo's first, in its order, then any others by name: how tables list methods."""
    given = set(methods)
    return [m for m in DEMO_METHODS if m in given] + sorted(given - set(DEMO_METHODS))


def sign_test_p(one_way: int, seeds: int) -> float:
    """Two-sided exact sign test: the chance that a fair coin over ``seeds`` seeds splits at least as
    unevenly as ``one_way`` against ``seeds - one_way``. For a tally such as which way a pair of classes
    collapsed, where a count read alone (6 of 7) looks more decided than it is (p = 0.125)."""
    if not 0 <= one_way <= seeds:
        raise ValueError(f"need 0 <= one_way <= seeds, got {one_way} of {seeds}")
    tail = sum(math.comb(seeds, i) for i in range(min(one_way, seeds - one_way) + 1))
    return min(1.0, 2 * tail / 2**seeds)
