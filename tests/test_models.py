"""The 3D-ResNet: the paper's sizes, every Table 3 variant, temporal kernels and clear name errors."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from cmpl.models import build_model, model_names, parse_model_name


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_r50_matches_slow_only_size_and_compute():
    model = build_model("r50", num_classes=400).eval()
    assert _params(model) == pytest.approx(32.45e6, rel=1e-3)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, 8, 224, 224))
    macs = counter.get_total_flops() / 2
    assert macs == pytest.approx(41.7e9, rel=1e-2)


def test_quarter_width_auxiliary_is_about_2_2m_parameters():
    assert _params(build_model("r50_w0.25", num_classes=400)) == pytest.approx(2.2e6, rel=0.02)


@pytest.mark.parametrize("name", model_names())
def test_every_table3_variant_builds_and_runs(name):
    model = build_model(name, num_classes=7).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 4, 32, 32))
    assert out.shape == (2, 7)


def test_width_scales_channels_and_depth_selects_blocks():
    assert build_model("r50_w0.5", 10).num_features == 1024
    assert build_model("r18", 10).num_features == 512
    assert _params(build_model("r10", 10)) < _params(build_model("r18", 10)) < _params(build_model("r34", 10))


def test_no_temporal_downsampling_and_temporal_kernels_matter():
    """The default Slow-only model mixes frames only in res4/res5; a 2D variant never mixes them."""
    x = torch.randn(1, 3, 8, 32, 32)
    frame_wise = build_model("r18", 5, temporal_kernels=(1, 1, 1, 1)).eval()
    slow = build_model("r18", 5).eval()
    for m in slow.modules():  # undo the zero-init of residual branches, which hides them at start
        if isinstance(m, torch.nn.BatchNorm3d):
            torch.nn.init.ones_(m.weight)
    with torch.no_grad():
        stages = slow.stages(slow.stem(x))
        assert stages.shape[2] == 8  # every frame survives to the pool
        # shuffling frames leaves a 2D network's pooled output unchanged, but not the temporal one's
        perm = torch.randperm(8)
        assert torch.allclose(frame_wise(x), frame_wise(x[:, :, perm]), atol=1e-5)
        assert not torch.allclose(slow.features(x), slow.features(x[:, :, perm]), atol=1e-5)


def test_table_a4_variant_has_more_parameters_than_slow_only():
    slow = build_model("r50", 400)
    i3d = build_model("r50", 400, temporal_kernels=(3, 3, 3, 3), stem_temporal_kernel=5)
    assert _params(i3d) > _params(slow)


@pytest.mark.parametrize("name", ["resnet50", "r51", "r50_wide", "r50_w"])
def test_bad_names_are_rejected(name):
    with pytest.raises(ValueError, match="unknown model"):
        build_model(name, 10)


def test_parse_model_name():
    assert parse_model_name("r50_w0.125") == (50, 0.125)
    assert parse_model_name("r18") == (18, 1.0)


def test_small_input_variant_pools_instead_of_striding():
    model = build_model("r10_w0.25", 12, small_input=True).eval()
    strided = [m for m in model.modules() if isinstance(m, torch.nn.Conv3d) and m.stride[-1] > 1]
    pools = [m for m in model.modules() if isinstance(m, torch.nn.MaxPool3d)]
    assert not strided and len(pools) == 4  # stem + res3, res4, res5
    with torch.no_grad():
        assert model(torch.randn(2, 3, 8, 32, 32)).shape == (2, 12)
        assert model.stages(model.stem(torch.randn(1, 3, 8, 32, 32))).shape[-3:] == (8, 2, 2)


def test_norm_eval_keeps_batchnorm_on_running_statistics():
    model = build_model("r10_w0.125", 3, norm_eval=True).train()
    assert all(not m.training for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d))
    assert model.head.training
    x = torch.randn(4, 3, 2, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model.features(x)[:2], model.features(x[:2]), atol=1e-5)  # no batch dependence
