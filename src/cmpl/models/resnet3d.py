"""One configurable 3D-ResNet: the paper's Table A4 network, PySlowFast's Slow-only, or anything between.

Depth picks the block type and stage sizes, a width multiplier scales every channel count, and per-stage
temporal kernel sizes pick the layout. The name says which: ``r50`` is the paper's 3D-ResNet50 (Table A4: a
5x7x7 stem and a 3x1x1 first convolution in every block of res2-res5), ``slow_r50`` is PySlowFast's
SLOW_8x8_R50 (a 1x7x7 stem, temporal kernels only in res4 and res5); the ``temporal_kernels`` and
``stem_temporal_kernel`` options override either (all ones: a frame-wise 2D network). There is no temporal down-sampling,
so the output keeps every input frame until the global pool. ``small_input`` adapts the network to frames of a
few dozen pixels (the synthetic demo): a 3x3 stem, and max pooling instead of strided convolutions between
stages, because a 1x1 strided shortcut drops a few-pixel object three times out of four; with strided
down-sampling the demo's networks barely learned within its CPU budget.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import nn

from cmpl.models.registry import InputSpec, register_model

__all__ = ["LAYOUTS", "ResNet3d", "VideoNet", "init_weights", "parse_model_name", "resnet3d"]

# depth -> (block type, blocks per stage)
_DEPTHS: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    10: ("basic", (1, 1, 1, 1)),
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
}
_NAME = re.compile(r"(?P<layout>slow_)?r(?P<depth>\d+)(?:_w(?P<width>\d+(?:\.\d+)?))?")

# name prefix -> (temporal kernels of res2-res5, stem temporal kernel)
LAYOUTS: dict[str, tuple[tuple[int, int, int, int], int]] = {
    "": ((3, 3, 3, 3), 5),  # the paper's Table A4
    "slow_": ((1, 1, 3, 3), 1),  # PySlowFast's Slow-only (SLOW_8x8_R50)
}


def _conv_bn(
    c_in: int, c_out: int, kernel: tuple[int, int, int], stride: tuple[int, int, int]
) -> nn.Sequential:
    padding = tuple(k // 2 for k in kernel)
    return nn.Sequential(
        nn.Conv3d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False), nn.BatchNorm3d(c_out)
    )


class BasicBlock(nn.Module):
    """Two convolutions; the temporal kernel sits in the first one (PySlowFast's BasicTransform)."""

    expansion = 1

    def __init__(self, c_in: int, width: int, spatial_stride: int, temporal_kernel: int) -> None:
        super().__init__()
        c_out = width * self.expansion
        self.conv_a = _conv_bn(c_in, width, (temporal_kernel, 3, 3), (1, spatial_stride, spatial_stride))
        self.conv_b = _conv_bn(width, c_out, (1, 3, 3), (1, 1, 1))
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = _shortcut(c_in, c_out, spatial_stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_b(self.relu(self.conv_a(x)))
        return self.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 (with the temporal kernel), 1x3x3 (with the spatial stride), 1x1 expanding by four."""

    expansion = 4

    def __init__(self, c_in: int, width: int, spatial_stride: int, temporal_kernel: int) -> None:
        super().__init__()
        c_out = width * self.expansion
        self.conv_a = _conv_bn(c_in, width, (temporal_kernel, 1, 1), (1, 1, 1))
        self.conv_b = _conv_bn(width, width, (1, 3, 3), (1, spatial_stride, spatial_stride))
        self.conv_c = _conv_bn(width, c_out, (1, 1, 1), (1, 1, 1))
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = _shortcut(c_in, c_out, spatial_stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_c(self.relu(self.conv_b(self.relu(self.conv_a(x)))))
        return self.relu(out + self.shortcut(x))


def _shortcut(c_in: int, c_out: int, spatial_stride: int) -> nn.Module:
    if c_in == c_out and spatial_stride == 1:
        return nn.Identity()
    return _conv_bn(c_in, c_out, (1, 1, 1), (1, spatial_stride, spatial_stride))


class VideoNet(nn.Module):
    """What every network of a run shares: pooled features, dropout, a linear classifier ``head``,
    ``freeze_bn_stats``, ghost batches and the ``no_dropout`` rows of :meth:`forward`. Subclasses build
    ``features`` (a clip -> one vector per clip)."""

    def __init__(
        self,
        num_features: int,
        num_classes: int,
        dropout: float = 0.5,
        freeze_bn_stats: bool = False,
        batchnorm_ghost_batch: int = 0,
    ) -> None:
        super().__init__()
        self.freeze_bn_stats = freeze_bn_stats
        self.ghost_batch = batchnorm_ghost_batch
        self.num_features = num_features
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(num_features, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def train(self, mode: bool = True) -> VideoNet:
        """With ``freeze_bn_stats`` BatchNorm always uses (and keeps) its running statistics, so a clip's
        output does not depend on the rest of its batch (mmaction2's ``norm_eval``, e.g. for fine-tuning from
        pretrained statistics); BatchNorm's scale and shift still learn."""
        super().train(mode)
        if mode and self.freeze_bn_stats:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    def _batch_features(self, x: torch.Tensor) -> torch.Tensor:
        """With a ghost batch, train-mode BatchNorm normalises every chunk of that many clips on the chunk's
        own statistics. Every other layer treats clips one by one, so passing the chunks through ``features``
        apart is exactly that, for any architecture."""
        if self.training and 0 < self.ghost_batch < x.shape[0]:
            return torch.cat([self.features(chunk) for chunk in x.split(self.ghost_batch)])
        return self.features(x)

    def forward(self, x: torch.Tensor, no_dropout: slice | None = None) -> torch.Tensor:
        """Logits; the rows in ``no_dropout`` skip dropout even in train mode, so a pseudo-label source that
        shares the batch (and BatchNorm statistics) with the clips being trained is the network's prediction,
        not one dropout sample of it."""
        features = self._batch_features(x)
        dropped = self.dropout(features)
        if no_dropout is not None and self.training:
            dropped = torch.cat(
                [dropped[: no_dropout.start], features[no_dropout], dropped[no_dropout.stop :]]
            )
        return self.head(dropped)


def init_weights(net: nn.Module) -> None:
    """Kaiming convolutions, unit BatchNorm, a small classifier, and the last BN of every residual branch
    zeroed so each block starts as the identity (PySlowFast, Goyal et al.)."""
    for m in net.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
            nn.init.zeros_(m.bias)
    for m in net.modules():
        if isinstance(m, (BasicBlock, Bottleneck)):
            last = m.conv_c if isinstance(m, Bottleneck) else m.conv_b
            nn.init.zeros_(last[1].weight)


class ResNet3d(VideoNet):
    """Stem, four residual stages, global average pool, dropout and a linear classifier.

    Input ``(B, 3, T, H, W)``; output logits ``(B, num_classes)``. ``layout`` is a :data:`LAYOUTS` key;
    ``temporal_kernels`` and ``stem_temporal_kernel``, where given, replace the layout's. The rest of the
    keyword arguments go to :class:`VideoNet`.
    """

    def __init__(
        self,
        depth: int,
        num_classes: int,
        width: float = 1.0,
        layout: str = "",
        temporal_kernels: Sequence[int] | None = None,
        stem_temporal_kernel: int | None = None,
        small_input: bool = False,
        **common: float | bool | int,
    ) -> None:
        layout_kernels, layout_stem = LAYOUTS[layout]
        temporal_kernels = tuple(temporal_kernels) if temporal_kernels is not None else layout_kernels
        stem_temporal_kernel = stem_temporal_kernel if stem_temporal_kernel is not None else layout_stem
        if depth not in _DEPTHS:
            raise ValueError(f"depth must be one of {sorted(_DEPTHS)}, got {depth}")
        if len(temporal_kernels) != 4 or any(k < 1 or k % 2 == 0 for k in temporal_kernels):
            raise ValueError(f"temporal_kernels needs four odd sizes, got {tuple(temporal_kernels)}")
        kind, blocks = _DEPTHS[depth]
        block = Bottleneck if kind == "bottleneck" else BasicBlock
        stem_channels = max(1, round(64 * width))
        stages, c_in = [], stem_channels
        for index, (num_blocks, kt) in enumerate(zip(blocks, temporal_kernels, strict=True)):
            stage_width = max(1, round(64 * width * 2**index))
            downsample = index > 0
            layers: list[nn.Module] = []
            if downsample and small_input:  # max pooling keeps a few-pixel object that a strided conv drops
                layers.append(nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)))
            for b in range(num_blocks):
                stride = 2 if (downsample and b == 0 and not small_input) else 1
                layers.append(block(c_in, stage_width, stride, kt))
                c_in = stage_width * block.expansion
            stages.append(nn.Sequential(*layers))
        super().__init__(c_in, num_classes, **common)
        self.stem = stem(3, stem_channels, stem_temporal_kernel, small_input)
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool3d(1)
        init_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.stages(self.stem(x))).flatten(1)


def stem(c_in: int, c_out: int, temporal_kernel: int, small_input: bool = False) -> nn.Sequential:
    """conv1 and pool1: a kt x 7 x 7 convolution with spatial stride 2 (3x3 and no stride for frames of a
    few dozen pixels), then a 1x3x3 max pool with spatial stride 2."""
    size, stride = (3, 1) if small_input else (7, 2)
    return nn.Sequential(
        _conv_bn(c_in, c_out, (temporal_kernel, size, size), (1, stride, stride)),
        nn.ReLU(inplace=True),
        nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
    )


def parse_model_name(name: str) -> tuple[str, int, float]:
    """``"slow_r50_w0.25"`` -> ``("slow_", 50, 0.25)``: layout prefix, depth, width; a clear error otherwise."""
    match = _NAME.fullmatch(name)
    if match is None or int(match["depth"]) not in _DEPTHS:
        raise ValueError(
            f"unknown model {name!r}; expected [slow_]r<depth>[_w<width>] with depth in {sorted(_DEPTHS)}, "
            "or slowfast_r50"
        )
    return match["layout"] or "", int(match["depth"]), float(match["width"] or 1.0)


def resnet3d(name: str, num_classes: int, **options: float | bool | int | Sequence[int] | None) -> ResNet3d:
    """The registered builder of every ``[slow_]r<depth>[_w<width>]`` name."""
    layout, depth, width = parse_model_name(name)
    return ResNet3d(depth, num_classes, width, layout, **options)  # type: ignore[arg-type]


_OPTIONS = ("temporal_kernels", "stem_temporal_kernel", "small_input")
# name -> frames it is run on in the paper (F: 8 x 8, the 1/4-width A: 16 x 4), formats init_from loads
_LISTED: dict[str, tuple[int, tuple[str, ...]]] = {
    "r10": (8, ("cmpl",)),
    "r18": (8, ("cmpl",)),
    "r34": (8, ("cmpl",)),
    "r50": (8, ("imagenet2d", "cmpl")),
    "r101": (8, ("cmpl",)),
    "r50_w0.5": (16, ("cmpl",)),
    "r50_w0.25": (16, ("cmpl",)),
    "r50_w0.125": (16, ("cmpl",)),
    "r18_w0.25": (16, ("cmpl",)),
    "r10_w0.25": (16, ("cmpl",)),
    "r10_w0.125": (16, ("cmpl",)),
    "slow_r50": (8, ("pytorchvideo", "pyslowfast", "imagenet2d", "cmpl")),
}
for _name, (_frames, _formats) in _LISTED.items():
    register_model(_name, input=InputSpec(_frames, 224), formats=_formats, options=_OPTIONS)(resnet3d)
register_model(  # every other depth x width, e.g. r10_w0.0625
    pattern=r"(slow_)?r(10|18|34|50|101)(_w\d+(\.\d+)?)?", input=InputSpec(8, 224), options=_OPTIONS
)(resnet3d)
