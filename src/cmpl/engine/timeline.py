"""Predictions along a long video: windows every ``stride`` seconds, each scored with the network's own clips
(frames x stride at the video's rate, as in training), the video streamed once from its start with only the
frames that unfinished windows still need held; then a smoothed track of segments of one class.

Memory stays bounded by the window length, not the video's: a two-hour film costs what a two-minute clip
does (``benchmarks/timeline_memory.py`` measures it)."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from cmpl.data.augment import center_crop, resize_short_side, spatial_crops
from cmpl.data.decode import PyAVReader, VideoMeta
from cmpl.data.sampling import ClipSpec, clip_indices, test_starts
from cmpl.engine.evaluate import predict_video_probs

__all__ = ["Segment", "TimelineWindow", "WindowPlan", "plan_windows", "score_windows", "segments"]


@dataclass(frozen=True)
class WindowPlan:
    """Where the windows lie: start and end (seconds) and the frame indices of each window's clips."""

    starts: list[float]
    ends: list[float]
    clips: list[np.ndarray]  # per window: (clips, frames) indices, increasing within each clip


def plan_windows(meta: VideoMeta, spec: ClipSpec, window_s: float, stride_s: float) -> WindowPlan:
    """Windows of ``window_s`` seconds every ``stride_s`` seconds from the start; the last one ends at or
    before the video's end (one window when the video is shorter). A window holds as many of the network's
    clips as fit side by side (at least one, centred when the window is shorter than a clip), whose
    probabilities are averaged."""
    if window_s <= 0 or stride_s <= 0:
        raise ValueError(f"window and stride must be > 0 seconds, got {window_s} and {stride_s}")
    fps, total = meta.fps, meta.num_frames
    duration = total / fps
    length = max(1, round(window_s * fps))
    per_window = max(1, round(length / spec.span))
    count = 1 + max(0, int(np.floor((duration - window_s) / stride_s + 1e-9)))
    starts, ends, clips = [], [], []
    for w in range(count):
        first = round(w * stride_s * fps)
        if length >= spec.span:
            offsets = test_starts(length, spec.span, per_window)
        else:
            offsets = [(length - spec.span) // 2]
        clips.append(np.stack([clip_indices(first + o, spec, total) for o in offsets]))
        starts.append(first / fps)
        ends.append(min(first + length, total) / fps)
    return WindowPlan(starts, ends, clips)


@dataclass
class TimelineStats:
    frames_held_peak: int = 0  # the most decoded frames held at once (after resizing)
    frame_shape: tuple[int, ...] = ()  # (C, H, W) of a held frame


@dataclass
class _Pending:
    index: int
    clips: np.ndarray
    last: int = field(init=False)

    def __post_init__(self) -> None:
        self.last = int(self.clips.max())


def _stream_views(
    reader: PyAVReader,
    plan: WindowPlan,
    short_side: int,
    crop_size: int,
    num_crops: int,
    stats: TimelineStats,
) -> Iterator[tuple[int, torch.Tensor]]:
    """(window, uint8 views (clips x crops, T, C, H, W)) in window order, decoding the file once. A frame is
    resized (and, for one crop, cropped) as it arrives and dropped once no unfinished window needs it."""
    needed = np.unique(np.concatenate([c.reshape(-1) for c in plan.clips]))
    pending = deque(_Pending(i, c) for i, c in enumerate(plan.clips))
    held: dict[int, torch.Tensor] = {}

    def ready(upto: int) -> Iterator[tuple[int, torch.Tensor]]:
        while pending and pending[0].last <= upto:
            window = pending.popleft()
            views = [
                view
                for clip in window.clips
                for view in spatial_crops(torch.stack([held[int(i)] for i in clip]), crop_size, num_crops)
            ]
            yield window.index, torch.stack(views)
            first_needed = int(pending[0].clips.min()) if pending else np.inf
            for i in [i for i in held if i < first_needed]:
                del held[i]

    for index, rgb in reader.stream(needed.tolist()):
        frame = resize_short_side(torch.from_numpy(rgb).permute(2, 0, 1), short_side)
        held[index] = (center_crop(frame, crop_size) if num_crops == 1 else frame).contiguous()
        if len(held) > stats.frames_held_peak:
            stats.frames_held_peak, stats.frame_shape = len(held), tuple(held[index].shape)
        yield from ready(index)


def score_windows(
    network: nn.Module,
    path: Path,
    spec: ClipSpec,
    *,
    window_s: float | None,
    stride_s: float | None,
    short_side: int,
    crop_size: int,
    num_crops: int,
    normalize: Callable[[torch.Tensor], torch.Tensor],
    device: torch.device,
    amp: bool,
    batch_size: int,
    progress: bool = False,
) -> tuple[VideoMeta, WindowPlan, torch.Tensor, TimelineStats]:
    """Class probabilities ``(windows, K)`` of every window of ``path`` (see :func:`plan_windows`); the window
    defaults to one clip's span and the stride to half a window."""
    stats = TimelineStats()
    with PyAVReader(path) as reader:
        meta = reader.meta
        window_s = window_s if window_s is not None else spec.span / meta.fps
        stride_s = stride_s if stride_s is not None else window_s / 2
        plan = plan_windows(meta, spec, window_s, stride_s)
        rows: list[torch.Tensor] = []
        batch: list[torch.Tensor] = []

        def flush() -> None:
            if batch:
                clips = torch.stack(batch).to(device)
                rows.append(predict_video_probs(network, clips, normalize, amp).cpu())
                batch.clear()

        network.eval()
        bar = tqdm(total=len(plan.starts), desc=f"timeline {path.name}", unit="window", disable=not progress)
        for _, views in _stream_views(reader, plan, short_side, crop_size, num_crops, stats):
            batch.append(views)
            if len(batch) >= batch_size:  # windows, as evaluation batches videos
                flush()
            bar.update()
        flush()
        bar.close()
    probs = torch.cat(rows)
    return meta, plan, probs, stats


@dataclass(frozen=True)
class TimelineWindow:
    start: float  # seconds
    end: float
    top: list[tuple[str, float]]  # (class, probability), most likely first


@dataclass(frozen=True)
class Segment:
    start: float  # seconds
    end: float
    label: str
    score: float  # mean smoothed probability of ``label`` over the segment's windows
    windows: int  # how many windows it spans


def segments(
    probs: torch.Tensor,
    starts: list[float],
    ends: list[float],
    class_names: list[str],
    smooth: int = 3,
    duration: float | None = None,
) -> list[Segment]:
    """The track: each window's probabilities averaged with its ``smooth // 2`` neighbours on either side,
    its most likely class, and runs of one class merged. A window stands for the time closer to its centre
    than to its neighbours', so a change is placed half-way between the last window of one class and the
    first of the next."""
    if len(probs) == 0:
        return []
    if smooth < 1:
        raise ValueError(f"smooth must be >= 1 windows, got {smooth}")
    radius = smooth // 2
    padded = torch.cat([probs[:1].expand(radius, -1), probs, probs[-1:].expand(radius, -1)])
    smoothed = padded.unfold(0, 2 * radius + 1, 1).mean(dim=-1)
    labels = smoothed.argmax(dim=1).tolist()
    centres = [(s + e) / 2 for s, e in zip(starts, ends, strict=True)]
    bounds = [0.0, *((a + b) / 2 for a, b in itertools.pairwise(centres))]
    bounds.append(duration if duration is not None else ends[-1])
    track: list[Segment] = []
    first = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[first]:
            score = smoothed[first:i, labels[first]].mean().item()
            track.append(Segment(bounds[first], bounds[i], class_names[labels[first]], score, i - first))
            first = i
    return track
