"""Spatial augmentation for video clips (paper Sec. 3.3).

Two halves, so that DataLoader workers stay cheap and the device does the per-step heavy lifting:

* CPU part (workers): resize the short side and crop, on uint8 ``(T, C, H, W)`` clips. Crops shrink what
  crosses the process boundary and the host-to-device copy, so they happen as early as possible.
* Device part (:class:`ClipAugment`): flip, RandAugment + Cutout and normalisation for a whole uint8 batch
  ``(B, T, C, H, W)`` on whatever device it lives on.

A clip is one sample: all its frames share the crop, flip, RandAugment ops/magnitudes and Cutout box, so the
augmentation never invents motion; different clips of a batch get independent draws.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchvision.transforms import InterpolationMode, v2
from torchvision.transforms.v2 import functional as F

__all__ = [
    "GEOMETRIC_OPS",
    "GREY",
    "ClipAugment",
    "center_crop",
    "random_crop",
    "resize_short_side",
    "spatial_crops",
    "standard_spatial",
    "weak_spatial",
]

GREY = 127
"""Fill value of Cutout and of the pixels that geometric RandAugment ops uncover (FixMatch uses grey)."""


# ----------------------------------------------------------------------------------------------- CPU part


def _randint(low: int, high: int, generator: torch.Generator | None) -> int:
    """Uniform integer in [low, high] inclusive, from ``generator`` (or torch's global one)."""
    return int(torch.randint(low, high + 1, (1,), generator=generator).item())


def _check_fits(frames: Tensor, height: int, width: int) -> None:
    h, w = frames.shape[-2:]
    if h < height or w < width:
        raise ValueError(f"cannot crop {height}x{width} from frames of {h}x{w}; resize the short side first")


def resize_short_side(frames: Tensor, size: int) -> Tensor:
    """Resize ``(..., C, H, W)`` uint8 frames so that min(H, W) == ``size``, keeping the aspect ratio.

    Antialiased bilinear, which torchvision runs natively on uint8, so no float copy of the clip is made.
    """
    if min(frames.shape[-2:]) == size:
        return frames
    return F.resize(frames, [size], interpolation=InterpolationMode.BILINEAR, antialias=True)


def random_crop(frames: Tensor, size: int, generator: torch.Generator | None = None) -> Tensor:
    """Square ``size`` crop at one random position shared by every frame."""
    _check_fits(frames, size, size)
    h, w = frames.shape[-2:]
    top = _randint(0, h - size, generator)
    left = _randint(0, w - size, generator)
    return frames[..., top : top + size, left : left + size]


def center_crop(frames: Tensor, size: int) -> Tensor:
    """Square ``size`` crop at the centre of every frame."""
    _check_fits(frames, size, size)
    h, w = frames.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return frames[..., top : top + size, left : left + size]


def spatial_crops(frames: Tensor, size: int, num_crops: int) -> list[Tensor]:
    """Test-time crops: 1 -> centre; 3 -> start/centre/end along the long side (left/centre/right for
    landscape, top/centre/bottom for portrait), centred on the short side, as in PySlowFast's 3-crop test."""
    if num_crops == 1:
        return [center_crop(frames, size)]
    if num_crops != 3:
        raise ValueError(f"num_crops must be 1 or 3, got {num_crops}")
    _check_fits(frames, size, size)
    h, w = frames.shape[-2:]
    if h > w:
        left = (w - size) // 2
        return [frames[..., top : top + size, left : left + size] for top in (0, (h - size) // 2, h - size)]
    top = (h - size) // 2
    return [frames[..., top : top + size, left : left + size] for left in (0, (w - size) // 2, w - size)]


def standard_spatial(
    frames: Tensor,
    short_side_range: tuple[int, int] = (256, 320),
    crop: int = 224,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Labeled-data augmentation of [5, 33]: scale jitter (short side uniform in the inclusive range) and a
    random square crop. The horizontal flip runs batched on the device (:meth:`ClipAugment.flip`)."""
    low, high = short_side_range
    if not crop <= low <= high:
        raise ValueError(f"need crop <= short side range, got crop={crop}, range={short_side_range}")
    return random_crop(resize_short_side(frames, _randint(low, high, generator)), crop, generator)


def weak_spatial(frames: Tensor, short_side: int = 256, crop: int = 224) -> Tensor:
    """Weak augmentation of unlabeled data (the pseudo-label source): short side resize and centre crop."""
    return center_crop(resize_short_side(frames, short_side), crop)


# -------------------------------------------------------------------------------------------- device part

MAX_MAGNITUDE = 10
"""Top of RandAugment's magnitude scale as FixMatch uses it (level 10 = the op's full range)."""


def _check_batch(clips: Tensor) -> None:
    if clips.ndim != 5 or clips.dtype != torch.uint8:
        raise ValueError(f"expected uint8 clips (B, T, C, H, W), got {clips.dtype} {tuple(clips.shape)}")


GEOMETRIC_OPS = frozenset({"ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate"})
"""The RandAugment ops that move pixels; the others change their values only."""


class _GeometryOnly(v2.RandAugment):
    """RandAugment's op draw, applying only :data:`GEOMETRIC_OPS` (torchvision's one hook for the op)."""

    def _apply_image_or_video_transform(self, image, transform_id, *args, **kwargs):  # type: ignore[no-untyped-def]
        if transform_id not in GEOMETRIC_OPS:
            return image
        return super()._apply_image_or_video_transform(image, transform_id, *args, **kwargs)


class ClipAugment:
    """Batched, clip-consistent augmentation on the training device.

    RandAugment follows FixMatch: each of ``num_ops`` ops is drawn uniformly from torchvision's 14-op space
    and gets its own magnitude drawn uniformly from 1..``magnitude`` on the 0..10 scale (FixMatch's
    "RandAugment with random magnitude"), so ``magnitude`` is the strongest level used. Cutout then greys one
    square whose side is uniform in (0, ``cutout_ratio`` * short side], centred anywhere and clipped at the
    border. Op choices and magnitudes come from torch's global CPU generator (no device sync); flip masks and
    Cutout boxes from the batch device's generator, so ``torch.manual_seed`` makes everything repeatable.
    """

    def __init__(
        self,
        num_ops: int = 2,
        magnitude: int = 10,
        cutout_ratio: float = 0.5,
        mean: Sequence[float] = (0.45, 0.45, 0.45),
        std: Sequence[float] = (0.225, 0.225, 0.225),
        geometry_only: bool = False,
        fill: int = GREY,
    ) -> None:
        """``geometry_only``: RandAugment draws its ops as usual but applies only :data:`GEOMETRIC_OPS` (a
        colour op leaves the clip as it is), e.g. to follow an object mask through the strong view; ``fill``:
        the value of uncovered pixels."""
        if num_ops < 0:
            raise ValueError(f"num_ops must be >= 0, got {num_ops}")
        if not 1 <= magnitude <= MAX_MAGNITUDE:
            raise ValueError(f"magnitude must be in [1, {MAX_MAGNITUDE}], got {magnitude}")
        if not 0.0 <= cutout_ratio <= 1.0:
            raise ValueError(f"cutout_ratio must be in [0, 1], got {cutout_ratio}")
        if len(mean) != len(std) or min(std) <= 0:
            raise ValueError(f"mean and std need one value per channel and std > 0, got {mean}, {std}")
        self.num_ops = num_ops
        self.magnitude = magnitude
        self.cutout_ratio = cutout_ratio
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        # One single-op RandAugment per level: picking the instance picks the magnitude.
        kind = _GeometryOnly if geometry_only else v2.RandAugment
        self._levels = [
            kind(num_ops=1, magnitude=m, num_magnitude_bins=MAX_MAGNITUDE + 1, fill=fill)
            for m in range(1, magnitude + 1)
        ]
        self._affine: dict[torch.device, tuple[Tensor, Tensor]] = {}

    def flip(self, clips: Tensor) -> Tensor:
        """Mirror each clip horizontally with probability 1/2 (all its frames together)."""
        _check_batch(clips)
        flipped = torch.rand(clips.shape[0], device=clips.device) < 0.5
        return torch.where(flipped.view(-1, 1, 1, 1, 1), clips.flip(-1), clips)

    def randaugment(self, clips: Tensor) -> Tensor:
        """RandAugment with per-op random magnitude; one draw per clip, shared by its frames."""
        _check_batch(clips)
        if self.num_ops == 0:
            return clips
        levels = torch.randint(1, self.magnitude + 1, (clips.shape[0], self.num_ops)).tolist()
        out = []
        for clip, clip_levels in zip(clips, levels, strict=True):
            for level in clip_levels:
                clip = self._levels[level - 1](clip)
            out.append(clip)
        return torch.stack(out)

    def cutout(self, clips: Tensor) -> Tensor:
        """Grey out one random square per clip, at the same place in every frame (vectorised masks)."""
        _check_batch(clips)
        if self.cutout_ratio == 0:
            return clips
        b, _, _, h, w = clips.shape
        dev = clips.device
        u = torch.rand(3, b, device=dev)
        side = (u[0] * (self.cutout_ratio * min(h, w))).long() + 1
        side = side.clamp(max=max(1, int(self.cutout_ratio * min(h, w))))
        top = (u[1] * h).long() - side // 2
        left = (u[2] * w).long() - side // 2
        rows = torch.arange(h, device=dev)
        cols = torch.arange(w, device=dev)
        in_rows = (rows >= top[:, None]) & (rows < (top + side)[:, None])
        in_cols = (cols >= left[:, None]) & (cols < (left + side)[:, None])
        box = in_rows[:, None, None, :, None] & in_cols[:, None, None, None, :]
        return clips.masked_fill(box, GREY)

    def strong(self, clips: Tensor) -> Tensor:
        """Strong view of unlabeled clips: RandAugment then Cutout, uint8 in and out."""
        return self.cutout(self.randaugment(clips))

    def normalize(
        self, clips: Tensor, memory_format: torch.memory_format = torch.contiguous_format
    ) -> Tensor:
        """uint8 (B, T, C, H, W) -> float32 (B, C, T, H, W), (x / 255 - mean) / std, laid out in
        `memory_format` by the one copy that converts the type (``channels_last_3d`` for GPU convolutions)."""
        _check_batch(clips)
        if clips.shape[2] != len(self.mean):
            raise ValueError(f"clips have {clips.shape[2]} channels, mean/std have {len(self.mean)}")
        scale, shift = self._scale_shift(clips.device)
        out = clips.permute(0, 2, 1, 3, 4).to(torch.float32, memory_format=memory_format)
        return out.mul_(scale).sub_(shift)

    def _scale_shift(self, device: torch.device) -> tuple[Tensor, Tensor]:
        """Per-channel 1/(255 std) and mean/std, built once per device (no host copy every step)."""
        if device not in self._affine:
            mean = torch.tensor(self.mean, dtype=torch.float32).view(1, -1, 1, 1, 1)
            std = torch.tensor(self.std, dtype=torch.float32).view(1, -1, 1, 1, 1)
            self._affine[device] = ((1.0 / (255.0 * std)).to(device), (mean / std).to(device))
        return self._affine[device]
