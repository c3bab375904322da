"""Exported networks (TorchScript, ONNX) give PyTorch's logits, at any batch size, for every network family
of the registry; a network that does not export stops with one line naming it and the operator.

ONNX needs the ``export`` extra (onnx, onnxscript, onnxruntime). CI installs it (``.ci/run``), so there a
missing onnxruntime fails these tests instead of skipping them."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from cmpl.engine.export import ExportError, check_exported, export_network, run_exported
from cmpl.models import build_model, get_model_entry, model_names, parse_model_name

TOLERANCE = 1e-4


def _needs_onnx() -> None:
    missing = [m for m in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI installs the export extra (.ci/run), but {missing} are missing")
        pytest.skip(f"ONNX export needs the export extra (pip install 'cmpl[export]'): {missing} missing")


def _family(name: str) -> str:
    """One network per family: a 3D-ResNet's depth and width repeat the same blocks, hence the same operators
    (r10/r18/r34 -> r18 narrow, r50/r101/r50_w* -> r50 narrow, slow_r50* -> slow_r50 narrow), and so do
    Swin3D's sizes (-> swin3d_t); any other name (SlowFast, torchvision's other networks) is its own family,
    so new registry names join by themselves."""
    if name.startswith("swin3d_"):
        return "swin3d_t"
    try:
        layout, depth, _ = parse_model_name(name)
    except ValueError:
        return name
    return f"{layout}r{18 if depth < 50 else 50}_w0.125"


def _input(name: str) -> tuple[int, int]:
    """(frames, crop): few and small where the network takes any (same operators), its own where it takes
    only that (MViT) or pools to a fixed size at the end (S3D); SlowFast needs 4 x its slow frames."""
    spec = get_model_entry(name).input
    if spec.exact or name == "s3d":
        return spec.frames, spec.crop_size
    return (8 if name.startswith("slowfast") else 4), 32


def _cases() -> list:
    """Every family in both formats. MViT in ONNX at its 16 x 224 input takes minutes on 2 cores (100 s for
    mvit_v2_s, measured), so those cases carry the ``large`` marker and run with ``-m large``."""
    cases = []
    for name in sorted({_family(n) for n in model_names()}):
        for fmt in ("torchscript", "onnx"):
            large = name.startswith("mvit") and (fmt == "onnx" or name != "mvit_v2_s")
            cases.append(pytest.param(name, fmt, marks=[pytest.mark.large] if large else []))
    return cases


def _randomised(name: str) -> nn.Module:
    """Random weights and BatchNorm statistics (fresh init zeroes every residual branch's last BN, which would
    hide most of the network from the comparison)."""
    torch.manual_seed(0)
    net = build_model(name, num_classes=7)
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.weight.data.uniform_(0.5, 1.0)
            m.bias.data.normal_(0, 0.1)
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    net.head.weight.data.normal_(0, 1.0 / net.head.weight.shape[1] ** 0.5)
    return net.eval()


@pytest.mark.parametrize(("name", "fmt"), _cases())
def test_exported_logits_match_pytorch(name: str, fmt: str, tmp_path: Path) -> None:
    if fmt == "onnx":
        _needs_onnx()
    net = _randomised(name)
    frames, crop = _input(name)
    example = torch.randn(2, 3, frames, crop, crop)
    path = export_network(net, example, tmp_path / f"net.{fmt}", fmt, name)
    difference = check_exported(net, path, fmt, example, batch_sizes=(3,))  # not the traced batch of 2
    with torch.no_grad():
        scale = net(example).abs().max().item()
    print(f"{name} {fmt}: largest difference {difference:.2e} (logits up to {scale:.2f})")
    assert scale > 0.1  # the comparison sees real signal
    assert difference <= TOLERANCE


@torch.library.custom_op("cmpl_tests::wobble", mutates_args=())
def wobble(x: torch.Tensor) -> torch.Tensor:
    """An operator of one's own, which no ONNX translation knows."""
    return x.clone()


@wobble.register_fake
def _(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


class _Unexportable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(wobble(x).mean(dim=(2, 3, 4)))


def test_a_network_that_does_not_export_names_itself_and_the_operator(tmp_path: Path) -> None:
    _needs_onnx()
    with pytest.raises(ExportError) as info:
        export_network(_Unexportable(), torch.randn(2, 3, 4, 8, 8), tmp_path / "x.onnx", "onnx", "my_net")
    message = str(info.value)
    assert "\n" not in message and message.startswith("my_net does not export to onnx: ")
    assert "operator cmpl_tests::wobble.default" in message or "operator cmpl_tests.wobble" in message, (
        message
    )


def test_torchscript_runs_without_the_network_class(tmp_path: Path) -> None:
    net = _randomised("r18_w0.125")
    example = torch.randn(2, 3, 8, 32, 32)
    path = export_network(net, example, tmp_path / "f.pt", "torchscript", "r18_w0.125")
    clips = torch.randn(5, 3, 8, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            run_exported(path, "torchscript", clips), net(clips), atol=TOLERANCE, rtol=0
        )
