"""The GPU path's code on the CPU: bf16 autocast, channels_last_3d and torch.compile train a tiny model.

No GPU is available to CI, so these run the same trainer code paths that a CUDA run takes, asked for
explicitly (``train.amp=true`` etc.; ``auto`` would leave them off on the CPU).
"""

from __future__ import annotations

import math

import pytest
import torch

from cmpl.config import ConfigError, load_config
from cmpl.engine.runtime import enabled_on
from cmpl.engine.trainer import Trainer
from tests.helpers import fast_overrides


def _trainer(data_root, run_dir, *extra: str, method: str = "cmpl") -> Trainer:
    overrides = [*fast_overrides(data_root, run_dir, method), "train.device=cpu", *extra]
    trainer = Trainer(load_config(None, overrides))
    trainer.method.train()
    return trainer


def _losses(trainer: Trainer, steps: int) -> list[float]:
    labeled, unlabeled = trainer.streams()
    return [float(trainer.train_step(labeled, unlabeled)["loss"].detach()) for _ in range(steps)]


def _conv_output_dtypes(trainer: Trainer) -> set[torch.dtype]:
    """dtypes the first conv of each network produces during one step."""
    seen: set[torch.dtype] = set()
    hooks = [
        next(m for m in net.modules() if isinstance(m, torch.nn.Conv3d)).register_forward_hook(
            lambda _m, _i, out: seen.add(out.dtype)
        )
        for net in trainer.method.networks.values()
    ]
    _losses(trainer, 1)
    for hook in hooks:
        hook.remove()
    return seen


def test_auto_means_cuda_only():
    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    assert not enabled_on("auto", cpu) and enabled_on("auto", cuda)
    assert enabled_on(True, cpu) and not enabled_on(False, cuda)
    assert load_config(None, []).train.amp == "auto"
    with pytest.raises(ConfigError, match=r"train\.amp: must be one of auto, true, false"):
        load_config(None, ["train.amp=sometimes"])


def test_default_cpu_run_stays_fp32(tiny_synthetic, tmp_path):
    trainer = _trainer(tiny_synthetic, tmp_path / "run")
    assert not trainer.amp and not trainer.channels_last
    assert _conv_output_dtypes(trainer) == {torch.float32}


def test_bf16_autocast_trains_on_cpu(tiny_synthetic, tmp_path):
    """With channels_last_3d as on CUDA: oneDNN's bf16 Conv3d is ~8x slower on contiguous tensors."""
    trainer = _trainer(tiny_synthetic, tmp_path / "run", "train.amp=true", "train.channels_last=true")
    assert _conv_output_dtypes(trainer) == {torch.bfloat16}
    losses = _losses(trainer, 2)
    assert all(math.isfinite(x) for x in losses)
    assert all(p.dtype == torch.float32 for p in trainer.method.parameters())  # master weights stay fp32


def test_channels_last_3d_trains_on_cpu(tiny_synthetic, tmp_path):
    trainer = _trainer(tiny_synthetic, tmp_path / "run", "train.amp=false", "train.channels_last=true")
    convs = [m for m in trainer.method.modules() if isinstance(m, torch.nn.Conv3d)]
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last_3d) for c in convs)
    clips = torch.zeros(2, 8, 3, 32, 32, dtype=torch.uint8)
    assert trainer._model_input(clips).is_contiguous(memory_format=torch.channels_last_3d)
    losses = _losses(trainer, 3)
    assert all(math.isfinite(x) for x in losses)


def test_bf16_channels_last_matches_fp32_at_start(tiny_synthetic, tmp_path):
    """Same seed, same first batch: bf16 + channels_last gives the fp32 loss to bf16 precision."""
    fp32 = _losses(
        _trainer(tiny_synthetic, tmp_path / "a", "train.amp=false", "train.channels_last=false"), 1
    )
    both = _losses(_trainer(tiny_synthetic, tmp_path / "b", "train.amp=true", "train.channels_last=true"), 1)
    assert both[0] == pytest.approx(fp32[0], rel=0.05)


@pytest.mark.compile
def test_compile_trains_on_cpu(tiny_synthetic, tmp_path, monkeypatch):
    """Inductor on the CPU (needs a C++ compiler; ~2-3 min on 2 cores, so marked ``compile`` and run apart: ``python -m pytest -m compile``): the compiled step
    gives the eager step's losses. One network (supervised) halves the compile time; eager's RNG for
    dropout (``fallback_random``) makes the two comparable."""
    monkeypatch.setattr(torch._inductor.config, "fallback_random", True)
    torch._dynamo.reset()
    common = ("train.amp=false", "train.channels_last=false")
    eager = _losses(_trainer(tiny_synthetic, tmp_path / "eager", *common, method="supervised"), 2)
    compiled = _trainer(
        tiny_synthetic, tmp_path / "compiled", *common, "train.compile=true", method="supervised"
    )
    assert compiled.method.primary._compiled_call_impl is not None  # nn.Module.compile() in place
    assert _losses(compiled, 2) == pytest.approx(eager, rel=1e-3)
