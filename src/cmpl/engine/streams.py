"""Endless, seeded, per-rank sharded streams of training items.

Training is driven by iterations, so both the labeled and the unlabeled stream cycle forever: a labeled set of
one clip per class never cuts an epoch short. Each pass reshuffles with ``seed + pass``; rank ``r`` of ``W``
takes every ``W``-th index of that permutation, so ranks never share a clip within a pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

__all__ = ["InfiniteSampler", "endless_loader"]


class InfiniteSampler(Sampler[int]):
    """Yields dataset keys forever: ``index + size * position``, where ``position`` counts draws in the
    global stream. The dataset reads the item from ``key % size`` and seeds its randomness with the key, so a
    clip's windows and crops do not depend on which rank or worker happens to load it."""

    def __init__(self, size: int, seed: int, rank: int = 0, world_size: int = 1, start: int = 0) -> None:
        if size <= 0:
            raise ValueError("cannot sample from an empty dataset")
        self.size, self.seed, self.rank, self.world_size = size, seed, rank, world_size
        self.start = start  # items this rank already consumed (resume)

    def __iter__(self) -> Iterator[int]:
        per_rank = -(-self.size // self.world_size)  # pad so every rank gets the same count per pass
        produced, epoch = 0, 0
        while True:
            g = torch.Generator().manual_seed(self.seed + epoch)
            order = torch.randperm(self.size, generator=g)
            order = torch.cat([order, order[: per_rank * self.world_size - self.size]])
            for position in range(self.rank, len(order), self.world_size):
                if produced >= self.start:
                    global_position = epoch * len(order) + position
                    yield int(order[position]) + self.size * global_position
                produced += 1
            epoch += 1


def endless_loader(
    dataset: Dataset,
    batch_size: int,
    collate: Callable,
    *,
    seed: int,
    rank: int,
    world_size: int,
    num_workers: int,
    pin_memory: bool,
    start_batch: int = 0,
) -> Iterator[Any]:
    """A DataLoader over an InfiniteSampler (batches are whatever ``collate`` makes); workers persist and prefetch so the device does not wait."""
    sampler = InfiniteSampler(len(dataset), seed, rank, world_size, start=start_batch * batch_size)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=collate,
        num_workers=num_workers,
        pin_memory=pin_memory,
        drop_last=True,
        persistent_workers=num_workers > 0,
        prefetch_factor=4 if num_workers > 0 else None,
        generator=torch.Generator().manual_seed(seed + 7919 * rank),
    )
    return iter(loader)
