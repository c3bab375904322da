"""Which frames a clip uses (paper Sec. 4.1): a window of ``num_frames * stride`` consecutive frames sampled
every ``stride`` frames (8x8 for the primary model, 16x4 for the auxiliary one), paired windows a bounded time
offset apart (Sec. 3.3, t_s), and evenly spread windows for multi-clip testing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClipSpec:
    num_frames: int  # frames the network sees (8 for F, 16 for A)
    stride: int  # 8 for F, 4 for A; window = num_frames * stride frames at the video's own rate

    def __post_init__(self) -> None:
        if self.num_frames < 1 or self.stride < 1:
            raise ValueError(f"ClipSpec needs num_frames >= 1 and stride >= 1, got {self}")

    @property
    def span(self) -> int:
        """Frames the window covers in the video."""
        return self.num_frames * self.stride


def clip_indices(start: int, spec: ClipSpec, total: int) -> np.ndarray:
    """Frame indices of one clip; a window running past either end repeats the edge frame (as PySlowFast)."""
    if total < 1:
        raise ValueError(f"a video needs at least one frame, got total={total}")
    return np.clip(start + spec.stride * np.arange(spec.num_frames, dtype=np.int64), 0, total - 1)


def _last_start(total: int, span: int) -> int:
    return max(total - span, 0)


def paired_starts(
    total: int, fps: float, specs: Sequence[ClipSpec], max_offset_s: float, rng: np.random.Generator
) -> list[int]:
    """Start frame of each spec's window. The first is uniform over the video; every other one is uniform
    among starts at most ``max_offset_s * fps`` frames from it that keep its window inside the video; where no
    such start exists (a short video, a longer window) the offset bound wins and the window is clamped later."""
    if not specs:
        raise ValueError("paired_starts needs at least one ClipSpec")
    if max_offset_s < 0 or fps <= 0:
        raise ValueError(f"need max_offset_s >= 0 and fps > 0, got {max_offset_s} and {fps}")
    first = int(rng.integers(0, _last_start(total, specs[0].span) + 1))
    reach = int(np.floor(max_offset_s * fps + 1e-9))
    starts = [first]
    for spec in specs[1:]:
        low = max(first - reach, 0)
        high = min(first + reach, _last_start(total, spec.span))
        starts.append(int(rng.integers(low, high + 1)) if low <= high else first - reach)
    return starts


def test_starts(total: int, span: int, num_clips: int) -> list[int]:
    """Start frames of ``num_clips`` windows spread evenly from the beginning to the end of the video (one
    clip: the centre one)."""
    if num_clips < 1:
        raise ValueError(f"num_clips must be >= 1, got {num_clips}")
    last = _last_start(total, span)
    if num_clips == 1:
        return [last // 2]
    return [round(x) for x in np.linspace(0, last, num_clips)]


test_starts.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite the name
