"""How much of the object that defines a synthetic clip's class survives the strong augmentation?

The demo's classes are told apart by one small object (13-19 pixels across in a 40-pixel frame, cut to 32),
its shape or its motion. The strong view (RandAugment + Cutout, :class:`cmpl.data.augment.ClipAugment`) can
push it out of the crop or grey it out, and then a pseudo-label asks the network to find a class that the view
no longer shows. This script renders the object's alpha beside each clip, applies the *geometric* part of the
strong augmentation to it (RandAugment draws its ops as in training; a colour op leaves the object where it
is) and Cutout, and reports the object area left relative to the weak view of the same clip.

    python research/strong_view_survival.py            # a few seconds on one core
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from cmpl.data.augment import GREY, ClipAugment, weak_spatial
from cmpl.data.synthetic import SYNTHETIC_CLASSES, render_video_with_mask


def object_masks(videos_per_class: int, frames: int, stride: int) -> torch.Tensor:
    """Weak-view object masks, uint8 (N, T, 3, 32, 32) with 255 on the object, for the demo's geometry."""
    clips = []
    for c, name in enumerate(SYNTHETIC_CLASSES):
        for i in range(videos_per_class):
            _, alpha = render_video_with_mask(name, [12345, c, i])
            mask = torch.from_numpy((alpha[: frames * stride : stride] * 255).round().astype(np.uint8))
            clips.append(weak_spatial(mask[:, None].expand(-1, 3, -1, -1), short_side=36, crop=32))
    return torch.stack(clips)


def survival(masks: torch.Tensor, magnitude: int, cutout_ratio: float, num_ops: int = 2) -> torch.Tensor:
    """Object area in the strong view over the area in the weak view, per clip."""
    geometry = ClipAugment(num_ops=num_ops, magnitude=magnitude, geometry_only=True, fill=0)
    strong = geometry.randaugment(masks)  # RandAugment's op draw as in training; colour ops leave masks alone
    boxes = ClipAugment(num_ops=0, cutout_ratio=cutout_ratio).cutout(torch.full_like(strong, 255)) == GREY
    strong = strong.masked_fill(boxes, 0)
    return strong.float().sum(dim=(1, 2, 3, 4)) / masks.float().sum(dim=(1, 2, 3, 4)).clamp(min=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos-per-class", type=int, default=40)
    p.add_argument("--frames", type=int, default=8, help="frames per clip (F's 8 x 8 by default)")
    p.add_argument("--stride", type=int, default=8)
    args = p.parse_args()
    torch.manual_seed(0)
    masks = object_masks(args.videos_per_class, args.frames, args.stride)
    print(f"{len(masks)} clips (F's view: {args.frames} frames x stride {args.stride}, 32x32 crops)\n")
    print(
        "| RandAugment magnitude | Cutout ratio | object area left (mean) | clips with < 50 % left | < 25 % left |"
    )
    print("|---:|---:|---:|---:|---:|")
    for magnitude, ratio in [(10, 0.5), (10, 0.25), (10, 0.0), (5, 0.5), (5, 0.25), (5, 0.0)]:
        s = survival(masks, magnitude, ratio)
        print(f"| {magnitude} | {ratio} | {100 * s.mean():.0f} % | {100 * (s < 0.5).float().mean():.0f} % | "
              f"{100 * (s < 0.25).float().mean():.0f} % |")  # fmt: skip


if __name__ == "__main__":
    main()
