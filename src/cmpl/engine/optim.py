"""SGD with the linear learning-rate scaling rule and an iteration-based cosine schedule with warm-up."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import torch
from torch import nn

from cmpl.config import Config, ConfigError

__all__ = ["build_optimizer", "build_scheduler", "iterations_per_epoch", "resolve_iterations", "scaled_lr"]


def scaled_lr(config: Config, world_size: int) -> float:
    """``base_lr * global labeled batch / reference labeled batch`` (paper: 0.1 at 16 GPUs x 2 labeled clips)."""
    global_batch = config.train.labeled_batch * world_size
    return config.optim.base_lr * global_batch / config.optim.reference_labeled_batch


def build_optimizer(
    model: nn.Module, config: Config, world_size: int, pretrained: Iterable[str] = ()
) -> torch.optim.SGD:
    """No weight decay on BatchNorm and bias parameters (PySlowFast's default). ``pretrained`` names the
    parameters ``init_from`` loaded: they learn at ``optim.pretrained_lr_scale`` times the learning rate, in
    two groups of their own; every other parameter (a new classifier) keeps the base rate."""
    o = config.optim
    lr = scaled_lr(config, world_size)
    loaded = set(pretrained)
    groups = {
        (from_init, decays): {
            "params": [],
            "weight_decay": o.weight_decay if decays else 0.0,
            "lr": lr * (o.pretrained_lr_scale if from_init else 1.0),
        }
        for from_init in (False, True)
        for decays in (True, False)
    }
    for name, p in model.named_parameters():  # shared weights appear once
        if p.requires_grad:
            groups[(name in loaded, p.ndim > 1)]["params"].append(p)
    # a run without init_from keeps the two groups it always had (and resumes old checkpoints)
    kept = [g for (from_init, _), g in groups.items() if loaded or not from_init]
    return torch.optim.SGD(kept, lr=lr, momentum=o.momentum, nesterov=o.nesterov)


def build_scheduler(optimizer: torch.optim.Optimizer, config: Config) -> torch.optim.lr_scheduler.LambdaLR:
    s = config.schedule

    def factor(step: int) -> float:
        if step < s.warmup_iterations:
            return (step + 1) / s.warmup_iterations
        progress = (step - s.warmup_iterations) / max(1, s.iterations - s.warmup_iterations)
        cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        return s.final_lr_ratio + (1 - s.final_lr_ratio) * cosine

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def iterations_per_epoch(config: Config, num_items: int, world: int) -> float:
    """Steps of one pass of the global unlabeled batch over ``num_items`` videos (``schedule`` docstring)."""
    ratio = config.schedule.epoch_unlabeled_ratio or config.method.unlabeled_ratio
    return num_items / (config.train.labeled_batch * ratio * world)


def resolve_iterations(config: Config, num_items: int, world: int) -> Config:
    """Turn ``schedule.epochs`` into an iteration count over ``num_items`` unlabeled videos, at the global
    unlabeled batch of ``world`` processes (with ``schedule.epoch_unlabeled_ratio`` in place of B_u/B_l)."""
    s = config.schedule
    if s.epochs == 0:
        return config
    iterations = max(1, math.ceil(s.epochs * iterations_per_epoch(config, num_items, world)))
    if s.warmup_iterations >= iterations:
        raise ConfigError(
            f"schedule.warmup_iterations: {s.warmup_iterations} is not below the {iterations} "
            f"iterations that schedule.epochs={s.epochs} gives"
        )
    schedule = dataclasses.replace(s, iterations=iterations, epochs=0.0)
    return dataclasses.replace(config, schedule=schedule)
