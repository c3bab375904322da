"""Datasets that turn video records into uint8 clips.

An item is decoded once: the windows of every ClipSpec (primary and auxiliary, paired by a time offset) are
merged into one sorted set of frame indices, read in one decode call, and every clip is cut from those
frames. Spatial work here is only resizing and cropping (cheap, shrinks what leaves the worker); flips,
RandAugment, Cutout and normalisation run batched on the device (:class:`cmpl.data.augment.ClipAugment`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from cmpl.data.augment import resize_short_side, spatial_crops, standard_spatial, weak_spatial
from cmpl.data.decode import VideoDecodeError, VideoMeta, open_video
from cmpl.data.sampling import ClipSpec, clip_indices, paired_starts, test_starts

if TYPE_CHECKING:
    from cmpl.data.annotations import VideoRecord

MAX_CONSECUTIVE_FAILURES = 10
"""Bad files in a row after which the data, not a few files, is at fault."""

TRAIN_MODES = ("standard", "weak")

_warned: set[str] = set()  # files already reported by this process


def _warn_once(path: str, error: Exception) -> None:
    if path not in _warned:
        _warned.add(path)
        warnings.warn(f"skipping unreadable video, another item replaces it: {error}", stacklevel=3)


Windows = Callable[[VideoMeta], list[np.ndarray]]


DecodedCache = dict[str, tuple[VideoMeta, Tensor]]
"""Whole decoded videos (uint8 (N, 3, H, W)) by path, kept by one loader process."""


def read_windows(
    record: VideoRecord, backend: str, windows: Windows, cache: DecodedCache | None = None
) -> tuple[list[np.ndarray], Tensor]:
    """Open the video, ask ``windows(meta)`` for each clip's indices, read their union in one decode call.
    Returns each clip's positions in the read frames and the frames as uint8 (N, 3, H, W).

    With a ``cache``, the whole video is decoded the first time and later reads only index it: for datasets
    small enough to hold decoded (the demo's), where decoding would otherwise cost as much as the networks.
    """
    key = str(record.path)
    if cache is not None and key not in cache:
        with open_video(record.path, backend) as video:
            everything = video.read(np.arange(video.meta.num_frames))
            cache[key] = (video.meta, torch.from_numpy(everything).permute(0, 3, 1, 2))
    if cache is not None:
        meta, decoded = cache[key]
        per_clip = windows(meta)
        union = np.unique(np.concatenate(per_clip))
        frames = decoded[torch.from_numpy(union)]
    else:
        with open_video(record.path, backend) as video:
            per_clip = windows(video.meta)
            union = np.unique(np.concatenate(per_clip))
            frames = torch.from_numpy(video.read(union)).permute(0, 3, 1, 2)
    positions = [np.searchsorted(union, ids) for ids in per_clip]
    return positions, frames


def _own(clip: Tensor) -> Tensor:
    """A compact copy, so a clip sent between processes does not drag along the frames it was cut from."""
    return clip.clone(memory_format=torch.contiguous_format)


class TrainClips(Dataset):
    """One decode per item; one uint8 clip (T, C, H, W) per ClipSpec, cut from paired windows."""

    def __init__(
        self,
        records: Sequence[VideoRecord],
        specs: Sequence[ClipSpec],
        *,
        max_offset_s: float,
        mode: str,
        short_side_range: tuple[int, int],
        crop_size: int,
        backend: str = "pyav",
        seed: int = 0,
        cache_decoded: bool = False,
    ) -> None:
        if mode not in TRAIN_MODES:
            raise ValueError(f"mode must be one of {TRAIN_MODES}, got {mode!r}")
        if not records or not specs:
            raise ValueError("TrainClips needs at least one record and one ClipSpec")
        self.records = list(records)
        self.specs = list(specs)
        self.max_offset_s = max_offset_s
        self.mode = mode
        self.short_side_range = short_side_range
        self.crop_size = crop_size
        self.backend = backend
        self.seed = seed
        self.cache: DecodedCache | None = {} if cache_decoded else None

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: int) -> dict:
        """``key`` names one draw of one item: item ``key % len``, draw number ``key // len``.

        The endless sampler passes its stream positions as keys, so every window, crop and replacement
        depends on (seed, key) alone: the same on any machine and for any number of workers or GPUs.
        """
        index = key % len(self.records)
        rng = np.random.default_rng([self.seed, index, key // len(self.records)])
        skipped: list[str] = []
        for _ in range(MAX_CONSECUTIVE_FAILURES):
            record = self.records[index]
            try:
                clips = self._clips(record, rng)
            except VideoDecodeError as e:
                _warn_once(str(record.path), e)
                skipped.append(str(record.path))
                index = int(rng.integers(len(self.records)))
                continue
            return {"clips": clips, "label": record.label, "index": index, "skipped": skipped}
        raise RuntimeError(
            f"{MAX_CONSECUTIVE_FAILURES} videos in a row failed to decode (last: {skipped[-1]}); the dataset "
            "looks broken: check the paths, or run `cmpl check-videos` on the list"
        )

    def _clips(self, record: VideoRecord, rng: np.random.Generator) -> list[Tensor]:
        def windows(meta: VideoMeta) -> list[np.ndarray]:
            starts = paired_starts(meta.num_frames, meta.fps, self.specs, self.max_offset_s, rng)
            return [
                clip_indices(s, spec, meta.num_frames) for s, spec in zip(starts, self.specs, strict=True)
            ]

        positions, frames = read_windows(record, self.backend, windows, self.cache)
        if self.mode == "weak":  # identical for every clip: resize and crop the union once
            frames = weak_spatial(frames, self.short_side_range[0], self.crop_size)
            return [_own(frames[pos]) for pos in positions]
        generator = torch.Generator().manual_seed(int(rng.integers(2**63)))
        return [
            _own(standard_spatial(frames[pos], self.short_side_range, self.crop_size, generator))
            for pos in positions
        ]


class TestClips(Dataset):
    """Multi-view testing: ``num_clips`` windows spread over the whole video, each resized to ``short_side`` and
    cut into ``num_crops`` crops. An unreadable file raises: evaluation must not silently drop videos."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(
        self,
        records: Sequence[VideoRecord],
        spec: ClipSpec,
        *,
        num_clips: int,
        num_crops: int,
        short_side: int,
        crop_size: int,
        backend: str = "pyav",
        cache_decoded: bool = False,
    ) -> None:
        self.records = list(records)
        self.spec = spec
        self.num_clips = num_clips
        self.num_crops = num_crops
        self.short_side = short_side
        self.crop_size = crop_size
        self.backend = backend
        self.cache: DecodedCache | None = {} if cache_decoded else None

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict:
        record = self.records[i]

        def windows(meta: VideoMeta) -> list[np.ndarray]:
            starts = test_starts(meta.num_frames, self.spec.span, self.num_clips)
            return [clip_indices(s, self.spec, meta.num_frames) for s in starts]

        positions, frames = read_windows(record, self.backend, windows, self.cache)
        frames = resize_short_side(frames, self.short_side)
        views = [
            view for pos in positions for view in spatial_crops(frames[pos], self.crop_size, self.num_crops)
        ]
        return {"clips": torch.stack(views), "label": record.label, "index": i}


@dataclass
class TrainBatch:
    """A collated batch of TrainClips items, what the engine receives from a training stream."""

    clips: list[Tensor]
    """One uint8 (B, T, C, H, W) tensor per ClipSpec, in the order of the dataset's specs."""
    label: Tensor
    """(B,) long; -1 where the label is unknown (unlabeled data without ground truth)."""
    index: Tensor
    """(B,) long: the record each clip came from (after any replacement of an undecodable video)."""
    skipped: list[str]
    """Paths of undecodable videos that other items replaced while this batch was drawn."""

    def pin_memory(self) -> TrainBatch:
        """Called by a DataLoader with ``pin_memory=True``, which knows only tensors, sequences and maps."""
        return TrainBatch(
            [c.pin_memory() for c in self.clips],
            self.label.pin_memory(),
            self.index.pin_memory(),
            self.skipped,
        )


def collate_train(items: list[dict]) -> TrainBatch:
    """Batch TrainClips items: one (B, T, C, H, W) tensor per ClipSpec."""
    num_specs = len(items[0]["clips"])
    return TrainBatch(
        clips=[torch.stack([item["clips"][j] for item in items]) for j in range(num_specs)],
        label=torch.tensor([item["label"] for item in items], dtype=torch.long),
        index=torch.tensor([item["index"] for item in items], dtype=torch.long),
        skipped=[path for item in items for path in item["skipped"]],
    )
