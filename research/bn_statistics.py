"""Which clips' BatchNorm statistics move the labeled clips' normalisation, and in which layers?

In a joint forward pass (``method.batchnorm_groups=joint``) every BatchNorm layer normalises the labeled
clips with the mean and variance of the whole batch: labeled, weak and strong clips. This script loads a
finished run, draws real batches from its streams, passes them jointly through its primary network in train
mode, and prints per BatchNorm layer how far the weak and the strong clips' per-channel statistics lie from
the labeled clips' (mean distance in labeled standard deviations, variance ratio), and how much the joint
statistics shift the labeled clips' normalised values against labeled-only statistics. A second labeled batch gives the noise floor: how far two labeled batches differ by chance.

    python research/bn_statistics.py runs/demo/fixmatch_seed0 --batches 8
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from collections import defaultdict
from pathlib import Path

import torch
from torch import nn

from cmpl.config import load_saved_config
from cmpl.engine.checkpoint import load_checkpoint
from cmpl.engine.trainer import Trainer


def _channel_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    dims = [0, *range(2, x.ndim)]
    return x.mean(dim=dims), x.var(dim=dims, unbiased=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path, help="a finished FixMatch or CMPL run")
    p.add_argument("--batches", type=int, default=8)
    args = p.parse_args()
    config = load_saved_config(args.run_dir / "config.yaml")
    with tempfile.TemporaryDirectory() as scratch:  # the trainer writes its split and config there
        train = dataclasses.replace(config.train, output_dir=scratch, progress=False)
        trainer = Trainer(dataclasses.replace(config, train=train))
        trainer.method.load_state_dict(load_checkpoint(args.run_dir / "checkpoints" / "last.pt")["method"])
        net = trainer.method.primary.train()
        labeled_stream, unlabeled_stream = trainer.streams()
        assert unlabeled_stream is not None, "needs a run of a method that reads unlabeled clips"
        sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        sizes: dict[str, int] = {}

        def hook(name: str, n_l: int, n_w: int):
            def record(module: nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
                x, other = inputs[0].detach().float()[:-n_l], inputs[0].detach().float()[-n_l:]
                groups = {"l": x[:n_l], "w": x[n_l : n_l + n_w], "s": x[n_l + n_w :], "o": other}
                mean_l, var_l = _channel_stats(groups["l"])
                mean_j, var_j = _channel_stats(x)
                std_l = var_l.add(1e-5).sqrt()
                row = sums[name]
                for key in ("o", "w", "s"):
                    mean_k, var_k = _channel_stats(groups[key])
                    row[f"{key}_mean_shift"] += ((mean_k - mean_l).abs() / std_l).mean().item()
                    row[f"{key}_var_ratio"] += (var_k.add(1e-5) / var_l.add(1e-5)).mean().item()
                # labeled values normalised by joint vs by labeled-only statistics: mean absolute difference
                z_joint = (groups["l"] - _bcast(mean_j, x)) / _bcast(var_j.add(1e-5).sqrt(), x)
                z_own = (groups["l"] - _bcast(mean_l, x)) / _bcast(std_l, x)
                row["labeled_z_change"] += (z_joint - z_own).abs().mean().item()
                row["count"] += 1

            return record

        with torch.no_grad():
            for _ in range(args.batches):
                labeled = trainer.labeled_batch(next(labeled_stream))
                unlabeled = trainer.unlabeled_batch(next(unlabeled_stream))
                lab, weak, strong = (
                    labeled.views["primary"],
                    unlabeled.weak["primary"],
                    unlabeled.strong["primary"],
                )
                handles = [
                    m.register_forward_hook(hook(name, lab.shape[0], weak.shape[0]))
                    for name, m in net.named_modules()
                    if isinstance(m, nn.BatchNorm3d)
                ]
                other = trainer.labeled_batch(next(labeled_stream)).views["primary"]
                net(torch.cat([lab, weak, strong, other]))  # the last rows only measure sampling noise
                for h in handles:
                    h.remove()
                sizes = {"l": lab.shape[0], "w": weak.shape[0], "s": strong.shape[0]}
    print(f"{args.run_dir}: {args.batches} batches of {sizes} clips, primary network in train mode\n")
    print("| BatchNorm layer | another labeled batch: mean shift (labeled SDs) | var ratio | weak: mean shift | "
          "var ratio | strong: mean shift | var ratio | labeled values moved by joint stats (SDs) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, row in sums.items():
        n = row["count"]
        print(f"| {name} | {row['o_mean_shift'] / n:.2f} | {row['o_var_ratio'] / n:.2f} | {row['w_mean_shift'] / n:.2f} | {row['w_var_ratio'] / n:.2f} | "
              f"{row['s_mean_shift'] / n:.2f} | {row['s_var_ratio'] / n:.2f} | {row['labeled_z_change'] / n:.2f} |")  # fmt: skip


def _bcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.view(1, -1, *([1] * (like.ndim - 2)))


if __name__ == "__main__":
    main()
