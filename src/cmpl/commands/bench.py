"""``cmpl bench``: how fast is the configured training step, and how much of that does the data path cost?

(a) The compute floor: the full step (device augmentation, forward, backward, optimizer) on random uint8 clips
already on the device, so no decoding or copying is timed. (b) End to end: the same step fed by the real
loaders from the video files. Their ratio says how well the data path keeps the device busy.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from cmpl.commands.arguments import add_config_arguments
from cmpl.config import Config, load_config
from cmpl.data.datasets import TrainBatch
from cmpl.engine.runtime import clip_specs
from cmpl.engine.trainer import Trainer

__all__ = ["BenchResult", "run_bench"]


@dataclass
class BenchResult:
    device: str
    clips_per_step: int
    floor_ms: float
    end_to_end_ms: float
    tflop_per_step: float
    peak_memory_gib: float

    @property
    def data_efficiency(self) -> float:
        """End-to-end throughput as a fraction of the compute floor's (1.0: the loader never stalls)."""
        return self.floor_ms / self.end_to_end_ms

    @property
    def floor_tflops(self) -> float:
        return self.tflop_per_step / (self.floor_ms / 1000)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "data_efficiency": self.data_efficiency, "floor_tflops": self.floor_tflops}


def _random_batch(trainer: Trainer, batch_size: int) -> TrainBatch:
    """A collated batch of random uint8 clips, already on the device, shaped like the loader's."""
    c = trainer.config
    clips = [
        torch.randint(
            0,
            256,
            (batch_size, spec.num_frames, 3, c.data.crop_size, c.data.crop_size),
            dtype=torch.uint8,
            device=trainer.device,
        )
        for spec in clip_specs(c, trainer.method.roles)
    ]
    labels = torch.randint(0, trainer.data.num_classes, (batch_size,), device=trainer.device)
    index = torch.zeros(batch_size, dtype=torch.long)
    return TrainBatch(clips, labels, index, skipped=[])


def _time_steps(
    trainer: Trainer,
    labeled: Iterator[TrainBatch],
    unlabeled: Iterator[TrainBatch] | None,
    steps: int,
    warmup: int,
) -> float:
    """Mean wall-clock milliseconds per step after ``warmup`` untimed steps (device synchronised)."""
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        trainer.train_step(labeled, unlabeled)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(labeled, unlabeled)
    sync()
    return 1000 * (time.perf_counter() - start) / steps


def run_bench(config: Config, steps: int = 20, warmup: int = 5) -> BenchResult:
    """Time (a) the compute floor and (b) the end-to-end step of ``config``, on this process's device."""
    bench_dir = Path(config.train.output_dir) / "bench"  # bench's own folder: never over a training run
    trainer = Trainer(replace(config, train=replace(config.train, output_dir=str(bench_dir))), force=True)
    trainer.method.train()
    b_l = config.train.labeled_batch
    b_u = b_l * config.method.unlabeled_ratio if trainer.method.uses_unlabeled else 0
    labeled = itertools.repeat(_random_batch(trainer, b_l))
    unlabeled = itertools.repeat(_random_batch(trainer, b_u)) if b_u else None
    if trainer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(trainer.device)
    floor_ms = _time_steps(trainer, labeled, unlabeled, steps, warmup)
    with FlopCounterMode(display=False) as counter:
        trainer.train_step(labeled, unlabeled)
    real_labeled, real_unlabeled = trainer.streams()
    end_to_end_ms = _time_steps(trainer, real_labeled, real_unlabeled, steps, warmup)
    if trainer.device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(trainer.device) / 2**30
    else:  # resident set size of this process (Linux reports KiB)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    trainer.close()
    return BenchResult(
        device=torch.cuda.get_device_name(trainer.device) if trainer.device.type == "cuda" else "cpu",
        clips_per_step=b_l + b_u,
        floor_ms=floor_ms,
        end_to_end_ms=end_to_end_ms,
        tflop_per_step=counter.get_total_flops() / 1e12,
        peak_memory_gib=peak,
    )


COMMAND = "bench"
HELP = "time the training step: compute floor vs end to end from video files"
DESCRIPTION = (
    "Times the configured step (a) on random clips already on the device, the compute floor, and (b) fed by "
    "the real loaders; prints ms/step, their ratio, TFLOP/s and peak memory. Runs in "
    "<train.output_dir>/bench (its split is written there)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument(
        "--steps", type=int, default=20, help="timed steps per measurement (default: %(default)s)"
    )
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (default: %(default)s)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")


def run(args: argparse.Namespace) -> None:
    config = load_config(args.config, [*args.overrides, "train.progress=false"])
    r = run_bench(config, steps=args.steps, warmup=args.warmup)
    rows = [
        ("device", r.device),
        ("clips per step", f"{r.clips_per_step}"),
        ("compute floor", f"{r.floor_ms:.1f} ms/step"),
        ("end to end", f"{r.end_to_end_ms:.1f} ms/step"),
        ("data efficiency", f"{100 * r.data_efficiency:.0f} % of the floor's throughput"),
        ("work per step", f"{r.tflop_per_step:.3f} TFLOP"),
        ("floor speed", f"{r.floor_tflops:.2f} TFLOP/s"),
        ("peak memory", f"{r.peak_memory_gib:.2f} GiB" + (" (process RSS)" if r.device == "cpu" else "")),
    ]
    for name, value in rows:
        print(f"{name:<16} {value}")
    if args.json:
        args.json.write_text(json.dumps(r.to_dict(), indent=1))
