"""Endless streams: every rank gets its own clips, and together the ranks draw what one process would."""

from __future__ import annotations

from itertools import islice

import pytest

from cmpl.engine.streams import InfiniteSampler


def _take(sampler: InfiniteSampler, n: int) -> list[int]:
    return list(islice(iter(sampler), n))


def test_keys_cycle_over_every_item_each_pass():
    keys = _take(InfiniteSampler(size=7, seed=3), 21)
    for p in range(3):
        assert sorted(k % 7 for k in keys[7 * p : 7 * (p + 1)]) == list(range(7))
    assert len(set(keys)) == 21  # each draw has its own key, hence its own randomness


def test_each_pass_reshuffles_and_the_seed_decides_the_order():
    def orders(seed: int) -> list[list[int]]:
        keys = _take(InfiniteSampler(size=7, seed=seed), 21)
        return [[k % 7 for k in keys[7 * p : 7 * (p + 1)]] for p in range(3)]

    first, second, third = orders(3)
    assert first != second and second != third  # item order, not the keys (which differ by position anyway)
    assert orders(3) == [first, second, third]  # same seed, same stream
    assert orders(4)[0] != first


def test_two_ranks_share_out_what_one_process_draws():
    one = _take(InfiniteSampler(size=10, seed=0), 20)
    r0 = _take(InfiniteSampler(size=10, seed=0, rank=0, world_size=2), 10)
    r1 = _take(InfiniteSampler(size=10, seed=0, rank=1, world_size=2), 10)
    assert not set(r0) & set(r1)
    # global batch of 4 in one process == 2 + 2 on two ranks, step by step
    for step in range(5):
        assert sorted(one[4 * step : 4 * step + 4]) == sorted(
            r0[2 * step : 2 * step + 2] + r1[2 * step : 2 * step + 2]
        )


def test_uneven_sizes_are_padded_so_ranks_stay_in_step():
    r = [_take(InfiniteSampler(size=5, seed=1, rank=k, world_size=2), 3) for k in range(2)]
    assert len(r[0]) == len(r[1]) == 3
    assert {k % 5 for k in r[0] + r[1]} == set(range(5))


def test_start_skips_what_a_resumed_run_already_consumed():
    full = _take(InfiniteSampler(size=6, seed=2), 15)
    assert _take(InfiniteSampler(size=6, seed=2, start=9), 6) == full[9:15]


def test_empty_dataset_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        InfiniteSampler(size=0, seed=0)
