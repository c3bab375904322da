"""The networks: the paper's sizes (Table A4), Slow-only, SlowFast-R50, every Table 3 variant, temporal kernels
and clear name errors."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from cmpl.models import build_model, get_model_entry, model_names, parse_model_name, register_model, registry


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _macs(model: torch.nn.Module, frames: int) -> float:
    """Multiply-accumulates of one 224 x 224 clip, counted on the meta device (shapes only, no compute);
    FlopCounterMode counts a multiply-add as two FLOPs."""
    with torch.device("meta"), FlopCounterMode(display=False) as counter, torch.no_grad():
        model.to("meta").eval()(torch.zeros(1, 3, frames, 224, 224))
    return counter.get_total_flops() / 2


@pytest.mark.parametrize(
    ("name", "params", "macs"),
    [("r50", 33.02e6, 51.5e9), ("slow_r50", 32.45e6, 41.7e9)],  # Table A4; PySlowFast SLOW_8x8_R50
)
def test_r50_layouts_match_published_size_and_compute(name, params, macs):
    with torch.device("meta"):
        model = build_model(name, num_classes=400)
    assert _params(model) == pytest.approx(params, rel=1e-3)
    assert _macs(model, 8) == pytest.approx(macs, rel=1e-2)


def test_r50_is_table_a4_layout():
    model = build_model("r50", num_classes=10)
    assert model.stem[0][0].kernel_size == (5, 7, 7) and model.stem[0][0].stride == (1, 2, 2)
    assert all(stage[0].conv_a[0].kernel_size == (3, 1, 1) for stage in model.stages)
    assert [stage[0].conv_a[0].kernel_size[0] for stage in build_model("slow_r50", 10).stages] == [1, 1, 3, 3]


def test_slowfast_r50_size_output_and_no_dropout():
    """34.5-34.6 M parameters at 400 classes (PySlowFast / mmaction2 model zoos); 32 frames in, 8 to slow."""
    with torch.device("meta"):
        assert _params(build_model("slowfast_r50", num_classes=400)) == pytest.approx(34.55e6, rel=1e-2)
    small = build_model("slowfast_r50", num_classes=5, dropout=0.9).train()
    x = torch.randn(2, 3, 32, 32, 32)
    with torch.no_grad():
        assert small(x).shape == (2, 5)
        small.eval()
        reference = small(x)
        small.train()
        for m in small.modules():  # keep batch statistics out of the comparison
            if isinstance(m, torch.nn.BatchNorm3d):
                m.eval()
        assert torch.allclose(small(x, no_dropout=slice(0, 2)), reference, atol=1e-5)
    with pytest.raises(ValueError, match="multiple of alpha"):
        small(torch.randn(1, 3, 30, 32, 32))


def test_quarter_width_auxiliary_is_about_2_2m_parameters():
    assert _params(build_model("r50_w0.25", num_classes=400)) == pytest.approx(2.2e6, rel=0.02)


PAPER_NAMES = [n for n in model_names() if "torchvision" not in get_model_entry(n).formats]


@pytest.mark.parametrize("name", PAPER_NAMES)
def test_every_table3_variant_builds_and_runs(name):
    model = build_model(name, num_classes=7).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 8 if name.startswith("slowfast") else 4, 32, 32))
    assert out.shape == (2, 7)


def test_width_scales_channels_and_depth_selects_blocks():
    assert build_model("r50_w0.5", 10).num_features == 1024
    assert build_model("r18", 10).num_features == 512
    assert _params(build_model("r10", 10)) < _params(build_model("r18", 10)) < _params(build_model("r34", 10))


def test_no_temporal_downsampling_and_temporal_kernels_matter():
    """Slow-only mixes frames only in res4/res5; a 2D variant never mixes them."""
    x = torch.randn(1, 3, 8, 32, 32)
    frame_wise = build_model("r18", 5, temporal_kernels=(1, 1, 1, 1), stem_temporal_kernel=1).eval()
    slow = build_model("slow_r18", 5).eval()
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


def test_options_override_the_layout_of_the_name():
    assert _params(build_model("r50", 10, temporal_kernels=(1, 1, 3, 3), stem_temporal_kernel=1)) == _params(
        build_model("slow_r50", 10)
    )


@pytest.mark.parametrize("name", ["resnet50", "r51", "r50_wide", "r50_w", "slowfast_r18", "r999"])
def test_bad_names_are_rejected(name):
    with pytest.raises(ValueError, match=r"unknown model .*'cmpl models' lists the names"):
        build_model(name, 10)


def test_every_existing_name_still_builds():
    for name in ["r10", "r18", "r34", "r50", "r101", "r50_w0.5", "r50_w0.25", "r50_w0.125", "r10_w0.125"]:
        assert name in model_names()
    with torch.device("meta"):
        assert build_model("r10_w0.0625", 3).num_features == 32  # a family name, not listed
        assert build_model("slow_r18_w0.5", 3).num_features == 256


def test_parse_model_name():
    assert parse_model_name("r50_w0.125") == ("", 50, 0.125)
    assert parse_model_name("slow_r18") == ("slow_", 18, 1.0)


def test_small_input_variant_pools_instead_of_striding():
    model = build_model("r10_w0.25", 12, small_input=True).eval()
    strided = [m for m in model.modules() if isinstance(m, torch.nn.Conv3d) and m.stride[-1] > 1]
    pools = [m for m in model.modules() if isinstance(m, torch.nn.MaxPool3d)]
    assert not strided and len(pools) == 4  # stem + res3, res4, res5
    with torch.no_grad():
        assert model(torch.randn(2, 3, 8, 32, 32)).shape == (2, 12)
        assert model.stages(model.stem(torch.randn(1, 3, 8, 32, 32))).shape[-3:] == (8, 2, 2)


def test_ghost_batch_normalises_each_chunk_of_clips_on_its_own():
    """``batchnorm_ghost_batch=2`` on 4 clips gives what two 2-clip passes give, and not what one 4-clip pass
    gives; in eval mode it changes nothing."""
    torch.manual_seed(0)
    model = build_model("r10_w0.125", 3, dropout=0.0, batchnorm_ghost_batch=2).train()
    x = torch.randn(4, 3, 2, 32, 32)
    with torch.no_grad():
        ghost = model(x)
        model.ghost_batch = 0
        whole = model(x)
        apart = torch.cat([model(x[:2]), model(x[2:])])
        assert torch.allclose(ghost, apart, atol=1e-6)
        assert not torch.allclose(ghost, whole, atol=1e-4)
        model.eval()
        reference = model(x)
        model.ghost_batch = 2
        assert torch.equal(model(x), reference)


def test_freeze_bn_stats_keeps_batchnorm_on_running_statistics():
    model = build_model("r10_w0.125", 3, freeze_bn_stats=True).train()
    assert all(not m.training for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d))
    assert model.head.training
    x = torch.randn(4, 3, 2, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model.features(x)[:2], model.features(x[:2]), atol=1e-5)  # no batch dependence


def test_a_new_family_joins_with_one_decorator_and_one_builder(monkeypatch):
    """timm's register_model: the name builds, is listed, and a config may name it for F or A."""
    from cmpl.config import load_config
    from cmpl.models import InputSpec, VideoNet

    monkeypatch.setattr(registry, "_ENTRIES", dict(registry._ENTRIES))

    class Frames2d(VideoNet):
        def __init__(self, num_classes: int, **common) -> None:
            super().__init__(8, num_classes, **common)
            self.conv = torch.nn.Conv2d(3, 8, 3)

        def features(self, x: torch.Tensor) -> torch.Tensor:  # each frame apart, then averaged
            frames = self.conv(x.transpose(1, 2).flatten(0, 1)).mean(dim=(2, 3))
            return frames.view(x.shape[0], x.shape[2], -1).mean(dim=1)

    @register_model(input=InputSpec(4, 32))
    def frames2d(name: str, num_classes: int, **options) -> Frames2d:
        return Frames2d(num_classes, **options)

    assert "frames2d" in model_names()
    assert build_model("frames2d", 3, dropout=0.1)(torch.randn(2, 3, 4, 32, 32)).shape == (2, 3)
    assert load_config(None, ["model.auxiliary.name=frames2d"]).model.auxiliary.name == "frames2d"
    with pytest.raises(ValueError, match="frames2d does not take the option small_input"):
        build_model("frames2d", 3, small_input=True)
