"""DDP on the CPU (Gloo): two processes and one process with the same global batch train the same way.

Per-rank BatchNorm statistics would make the two runs differ by design (each rank normalises over its own
half batch), and SyncBatchNorm has no CPU kernel, so the networks run with ``model.*.freeze_bn_stats=true``;
dropout and the device-side random augmentations are off. What remains is exactly what DDP must get right:
sharding of both streams, gradient averaging, learning-rate scaling and metric averaging. The losses then
agree up to float summation order: rtol 1e-4.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cmpl.engine.checkpoint import load_checkpoint
from cmpl.run_files import read_metrics
from tests.helpers import fast_overrides

DETERMINISTIC = [
    "model.primary.freeze_bn_stats=true",
    "model.auxiliary.freeze_bn_stats=true",
    "model.primary.dropout=0",
    "model.auxiliary.dropout=0",
    "data.randaugment_ops=0",
    "data.cutout_ratio=0",
    "data.horizontal_flip=false",
    "optim.reference_labeled_batch=4",
    "method.threshold=0",  # every clip pseudo-labeled: the unlabeled losses are compared too, not two zeros
    "eval.num_clips=1",
]
LOSSES = ("loss", "loss_sup_primary", "loss_sup_auxiliary", "loss_unsup_primary", "loss_unsup_auxiliary")


def _train(nproc: int, overrides: list[str]) -> None:
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        str(nproc),
        "--master-port",
        str(29500 + os.getpid() % 1000 + nproc),
    ]
    command = [*launcher, "-m", "cmpl", "train", *overrides]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
    }
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_two_processes_match_one_process_with_the_same_global_batch(tiny_synthetic, tmp_path):
    runs = {}
    for nproc, per_rank in ((1, 4), (2, 2)):
        run_dir = tmp_path / f"ddp{nproc}"
        overrides = [
            *fast_overrides(tiny_synthetic, run_dir, "cmpl", iterations=3),
            *DETERMINISTIC,
            f"train.labeled_batch={per_rank}",
        ]
        _train(nproc, overrides)
        runs[nproc] = read_metrics(run_dir, "train")
    assert [r["step"] for r in runs[1]] == [r["step"] for r in runs[2]] == [1, 2, 3]
    for one, two in zip(runs[1], runs[2], strict=True):
        for key in LOSSES:
            assert two[key] == pytest.approx(one[key], rel=1e-4, abs=1e-6), (one["step"], key)
        assert two["lr"] == pytest.approx(one["lr"])
    assert runs[1][0]["loss"] != runs[1][-1]["loss"]  # training moved: the comparison is not trivial
    assert all(r["loss_unsup_primary"] > 0 and r["loss_unsup_auxiliary"] > 0 for r in runs[1])
    assert (tmp_path / "ddp2" / "results.json").is_file()
    rng = load_checkpoint(tmp_path / "ddp2" / "checkpoints" / "last.pt")["rng"]
    assert len(rng) == 2 and not torch.equal(rng[0]["torch"], rng[1]["torch"])  # one stream per rank
