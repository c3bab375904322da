"""SlowFast-R50 8x8 (Feichtenhofer et al. 2019; PySlowFast's SLOWFAST_8x8_R50), the larger FixMatch backbone of
the paper's Table 1.

It takes the fast pathway's clip, 32 frames x stride 2 of the same 64-frame window every network reads, and
keeps every ``alpha``-th frame of it for the slow pathway (8 x 8), so the data pipeline needs no second clip.
The fast pathway has ``beta`` = 1/8 of the channels and temporal kernels everywhere; after the stem and after
res2-res4 a 7x1x1 convolution with temporal stride ``alpha`` fuses it into the slow pathway (concatenation).
Pooled features of both pathways are concatenated before dropout and the classifier.
"""

from __future__ import annotations

import torch
from torch import nn

from cmpl.models.registry import InputSpec, register_model
from cmpl.models.resnet3d import Bottleneck, VideoNet, init_weights, stem

__all__ = ["SlowFast", "slowfast_r50"]

_BLOCKS = (3, 4, 6, 3)
_SLOW_KERNELS = (1, 1, 3, 3)
_FAST_KERNELS = (3, 3, 3, 3)


class _Fuse(nn.Module):
    """Fast -> slow lateral connection: time-strided 7x1x1 conv (2x the fast channels), BN, ReLU, concat."""

    def __init__(self, fast_channels: int, alpha: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv3d(fast_channels, 2 * fast_channels, (7, 1, 1), (alpha, 1, 1), (3, 0, 0), bias=False),
            nn.BatchNorm3d(2 * fast_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, slow: torch.Tensor, fast: torch.Tensor) -> torch.Tensor:
        return torch.cat([slow, self.conv(fast)], dim=1)


def _stage(c_in: int, width: int, blocks: int, stride: int, kt: int) -> tuple[nn.Sequential, int]:
    layers = [
        Bottleneck(c_in if b == 0 else width * 4, width, stride if b == 0 else 1, kt) for b in range(blocks)
    ]
    return nn.Sequential(*layers), width * 4


class SlowFast(VideoNet):
    """Input ``(B, 3, T, H, W)`` with T = ``alpha`` x the slow frames (32 for 8x8); logits ``(B, classes)``."""

    def __init__(
        self, num_classes: int, alpha: int = 4, beta_inv: int = 8, **common: float | bool | int
    ) -> None:
        slow_c, fast_c = 64, 64 // beta_inv
        slow_stages, fast_stages, fusions = [], [], [_Fuse(fast_c, alpha)]
        for index, blocks in enumerate(_BLOCKS):
            stride = 1 if index == 0 else 2
            slow, slow_out = _stage(slow_c + 2 * fast_c, 64 * 2**index, blocks, stride, _SLOW_KERNELS[index])
            fast, fast_c = _stage(fast_c, 64 * 2**index // beta_inv, blocks, stride, _FAST_KERNELS[index])
            slow_stages.append(slow)
            fast_stages.append(fast)
            slow_c = slow_out
            if index < 3:
                fusions.append(_Fuse(fast_c, alpha))
        super().__init__(slow_c + fast_c, num_classes, **common)
        self.alpha = alpha
        self.slow_stem = stem(3, 64, 1)
        self.fast_stem = stem(3, 64 // beta_inv, 5)
        self.slow_stages = nn.ModuleList(slow_stages)
        self.fast_stages = nn.ModuleList(fast_stages)
        self.fusions = nn.ModuleList(fusions)
        self.pool = nn.AdaptiveAvgPool3d(1)
        init_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] % self.alpha:
            raise ValueError(f"SlowFast needs a multiple of alpha={self.alpha} frames, got {x.shape[2]}")
        slow, fast = self.slow_stem(x[:, :, :: self.alpha]), self.fast_stem(x)
        for index, (slow_stage, fast_stage) in enumerate(
            zip(self.slow_stages, self.fast_stages, strict=True)
        ):
            slow = slow_stage(self.fusions[index](slow, fast))
            fast = fast_stage(fast)
        return torch.cat([self.pool(slow).flatten(1), self.pool(fast).flatten(1)], dim=1)


@register_model(input=InputSpec(32, 224), formats=("pytorchvideo", "pyslowfast", "cmpl"))
def slowfast_r50(name: str, num_classes: int, **options: float | bool | int) -> SlowFast:
    """SLOWFAST_8x8_R50: 32 frames in (stride 2), every 4th of them to the slow pathway."""
    return SlowFast(num_classes, **options)
