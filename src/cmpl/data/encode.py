"""Writing video files with PyAV: the one place that sets up an encoder, for the synthetic dataset, for
``cmpl prepare``, and for the tests and benchmarks that make their own small videos."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

__all__ = ["add_video_stream", "write_video"]


def add_video_stream(
    container: Any,
    codec: str,
    rate: int | Fraction,
    width: int,
    height: int,
    options: Mapping[str, str] | None = None,
    **codec_context: Any,
) -> Any:
    """A yuv420p video stream of ``container``; ``codec_context`` sets encoder attributes such as
    ``gop_size``, ``max_b_frames`` or ``codec_tag``."""
    stream = container.add_stream(codec, rate=rate, options=dict(options or {}))
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    for name, value in codec_context.items():
        setattr(stream.codec_context, name, value)
    return stream


def write_video(
    path: str | Path,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: int,
    *,
    codec: str = "libx264",
    options: Mapping[str, str] | None = None,
    format: str | None = None,
    container_options: Mapping[str, str] | None = None,
    timestamps: Iterable[int] | None = None,
    **codec_context: Any,
) -> None:
    """Encode uint8 RGB frames (T, H, W, 3), H and W even, into ``path`` (yuv420p; the container from the
    file name unless ``format``). ``timestamps`` gives each frame's pts in units of 1/fps (gaps allowed);
    without it the encoder numbers the frames. Same frames and settings, same bytes."""
    frames = np.asarray(frames) if not isinstance(frames, np.ndarray) else frames
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames of shape (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f"yuv420p needs even height and width, got {frames.shape[1]}x{frames.shape[2]}")
    pts = list(timestamps) if timestamps is not None else None
    with av.open(str(path), mode="w", format=format, options=dict(container_options or {})) as container:
        stream = add_video_stream(
            container, codec, fps, frames.shape[2], frames.shape[1], options, **codec_context
        )
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
