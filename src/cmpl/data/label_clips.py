"""Clips for labeling a collection: every network's multi-view test clips of a video, from one decode.

``cmpl label`` asks F and (in a CMPL run) A for their opinion of each video. Both see the evaluation protocol's
clips (``num_clips`` windows spread over the video x ``num_crops`` crops), each network on its own frames
(8x8 for F, 16x4 for A); the union of their frames is read in one decode call, and a few of those frames
become the video's animated thumbnail for the review page, so that nothing is decoded twice. An unreadable
video is an item with an ``error`` instead of clips: labeling a large collection never stops for one file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, features
from torch import Tensor
from torch.utils.data import Dataset

from cmpl.data.annotations import VideoRecord
from cmpl.data.augment import resize_short_side, spatial_crops
from cmpl.data.datasets import read_windows
from cmpl.data.decode import VideoMeta
from cmpl.data.sampling import ClipSpec, clip_indices, test_starts

__all__ = ["THUMBNAIL_FORMAT", "LabelClips", "animated_thumbnail", "collate_label"]


THUMBNAIL_FORMAT = "webp" if features.check("webp") else "gif"
"""Animated WebP (a tenth of a GIF's size for noisy video frames); GIF where Pillow lacks libwebp."""


def animated_thumbnail(frames: Tensor, height: int, count: int) -> bytes:
    """``count`` frames evenly picked from uint8 ``(N, 3, H, W)`` frames, ``height`` pixels high, as an
    animated image in ``THUMBNAIL_FORMAT`` (browsers play both, also from a ``data:`` URI)."""
    picks = np.unique(np.linspace(0, len(frames) - 1, count).round().astype(int))
    small = frames[torch.from_numpy(picks)]
    h, w = small.shape[-2:]
    small = resize_short_side(small, height if h <= w else max(1, round(height * w / h)))  # height px high
    images = [Image.fromarray(f.permute(1, 2, 0).numpy()) for f in small]
    out = io.BytesIO()
    options = {"quality": 60} if THUMBNAIL_FORMAT == "webp" else {}
    images[0].save(
        out, format=THUMBNAIL_FORMAT, save_all=True, append_images=images[1:], duration=200, loop=0, **options
    )
    return out.getvalue()


class LabelClips(Dataset):
    """Per video: one uint8 ``(V, T, C, H, W)`` tensor of test views per ClipSpec (in ``specs`` order), and
    with ``thumbnail_height`` > 0 an animated GIF of ``thumbnail_frames`` frames. A video that does not decode
    comes back with ``error`` set (the reason) and no clips."""

    def __init__(
        self,
        records: Sequence[VideoRecord],
        specs: Sequence[ClipSpec],
        *,
        num_clips: int,
        num_crops: int,
        short_side: int,
        crop_size: int,
        backend: str = "pyav",
        thumbnail_height: int = 0,
        thumbnail_frames: int = 8,
    ) -> None:
        self.records = list(records)
        self.specs = list(specs)
        self.num_clips = num_clips
        self.num_crops = num_crops
        self.short_side = short_side
        self.crop_size = crop_size
        self.backend = backend
        self.thumbnail_height = thumbnail_height
        self.thumbnail_frames = thumbnail_frames

    def __len__(self) -> int:
        return len(self.records)

    def _windows(self, meta: VideoMeta) -> list[np.ndarray]:
        return [
            clip_indices(start, spec, meta.num_frames)
            for spec in self.specs
            for start in test_starts(meta.num_frames, spec.span, self.num_clips)
        ]

    def __getitem__(self, i: int) -> dict:
        record = self.records[i]
        item: dict = {"index": i, "label": record.label, "clips": None, "thumbnail": b"", "error": ""}
        try:
            positions, frames = read_windows(record, self.backend, self._windows)
        except Exception as e:  # any file that will not decode is reported, never fatal
            item["error"] = str(e) or e.__class__.__name__
            return item
        if self.thumbnail_height > 0:
            item["thumbnail"] = animated_thumbnail(frames, self.thumbnail_height, self.thumbnail_frames)
        resized = resize_short_side(frames, self.short_side)
        clips = []
        for s in range(len(self.specs)):
            windows = positions[s * self.num_clips : (s + 1) * self.num_clips]
            views = [
                v for pos in windows for v in spatial_crops(resized[pos], self.crop_size, self.num_crops)
            ]
            clips.append(torch.stack(views))
        item["clips"] = clips
        return item


def collate_label(items: list[dict]) -> dict:
    """Batch the decoded items (``clips``: one ``(B, V, T, C, H, W)`` tensor per spec, ``index``, ``label``,
    ``thumbnail``) and list the failed ones apart (``failed``: ``(index, reason)`` pairs)."""
    good = [it for it in items if not it["error"]]
    num_specs = len(good[0]["clips"]) if good else 0
    return {
        "clips": [torch.stack([it["clips"][s] for it in good]) for s in range(num_specs)],
        "index": [it["index"] for it in good],
        "label": [it["label"] for it in good],
        "thumbnail": [it["thumbnail"] for it in good],
        "failed": [(it["index"], it["error"]) for it in items if it["error"]],
    }
