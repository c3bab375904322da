"""Video readers behind one small interface, so the rest of the code never touches a decoding library:
PyAV here, torchcodec (optional) in :mod:`cmpl.data.torchcodec_reader`.

Frame index ``i`` means "the frame on screen at time ``first_pts + i / fps``" with ``fps`` the stream's average
rate. For constant-rate video that is the i-th decoded frame; for variable-rate video it resamples to a
constant rate, which is what clip strides assume.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from cmpl.errors import UserError

# Decoded frames whose timestamps are re-sorted before use: some containers (AVI with packed B-frames) attach
# the right timestamps to the wrong frames, while the decoder's output order is the true display order.
_REORDER_WINDOW = 4
# Packets read at open to find the first presentation timestamp.
_PROBE_PACKETS = 32
# Seeks tried before falling back to decoding from the start of the file.
_SEEK_TRIES = 3


_decoded_frames = 0  # frames PyAV readers of this process pulled out of their decoders


def decoded_frame_count() -> int:
    """Frames that PyAV readers of this process have pulled out of their decoders so far, wanted or not: the
    work a read costs (a benchmark or a test compares it before and after, e.g. to see what a seek saved)."""
    return _decoded_frames


class VideoDecodeError(UserError, RuntimeError):
    """A video that cannot be read; the message names the file and the reason."""


@dataclass(frozen=True)
class VideoMeta:
    num_frames: int
    fps: float
    width: int
    height: int


class VideoHandle(Protocol):
    meta: VideoMeta

    def read(self, indices: Sequence[int]) -> np.ndarray: ...

    def close(self) -> None: ...

    def __enter__(self) -> VideoHandle: ...

    def __exit__(self, *exc: object) -> None: ...


def frame_indices(indices: Sequence[int]) -> np.ndarray:
    """The indices a reader was asked for as a flat int64 array; none, or a negative one, is an error."""
    wanted = np.asarray(indices, dtype=np.int64).reshape(-1)
    if wanted.size == 0:
        raise ValueError("read() needs at least one frame index")
    if wanted.min() < 0:
        raise ValueError(f"frame indices must be >= 0, got {int(wanted.min())}")
    return wanted


class ClosingReader:
    """``with reader:`` closes it on the way out; readers implement ``close``."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> ClosingReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class PyAVReader(ClosingReader):
    """Reads frames by index with PyAV, decoding only from the key frame before the first wanted frame up to
    the last wanted one."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise VideoDecodeError(f"{self.path}: file not found")
        if self.path.stat().st_size == 0:
            raise VideoDecodeError(f"{self.path}: empty file (0 bytes)")
        self._container: av.container.InputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._reformatter: VideoReformatter | None = None
        try:
            self._open()
            self._first_pts = self._probe_first_pts()
            self.meta = self._read_meta()
        except av.FFmpegError as e:
            self.close()
            raise VideoDecodeError(f"{self.path}: cannot open: {_reason(e)}") from e
        except VideoDecodeError:
            self.close()
            raise

    def close(self) -> None:
        """Free the decoder and its threads now, even if something still holds this handle: a decoder that
        outlives its threads in a forked DataLoader worker deadlocks when freed there."""
        if self._container is not None:
            self._container.close()
            self._container = None
            self._stream = None
        self._reformatter = None

    def read(self, indices: Sequence[int]) -> np.ndarray:
        """uint8 (len(indices), H, W, 3) RGB in the given order; indices past the end repeat the last frame."""
        wanted = frame_indices(indices)
        unique = np.unique(wanted)
        found = self._gather(unique)
        return np.stack([found[int(i)][1] for i in wanted])

    def stream(self, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
        """(index, uint8 (H, W, 3) RGB) for each of the increasing ``indices``, decoding the file once from its
        start, in order: for long videos, where :meth:`read` would hold every frame at once. The frames are
        the ones :meth:`read` gives (past the end: the last frame); the caller keeps what it needs."""
        wanted = iter(indices)
        target = next(wanted, None)
        if target is None:
            return
        try:
            self._open()
            prev: tuple[int, av.VideoFrame] | None = None
            rgb: np.ndarray | None = None  # prev's RGB, converted once however many indices use it
            for k, frame in self._timed_frames():
                if prev is None:
                    prev, rgb = (k, frame), None  # indices before the first frame clamp to it
                k = max(k, prev[0])
                while target is not None and target < k:
                    rgb = rgb if rgb is not None else self._to_rgb(prev[1])
                    yield target, rgb
                    target = _next_increasing(wanted, target)
                if target is None:
                    return
                if frame is not prev[1]:
                    prev, rgb = (k, frame), None
            if prev is None:
                raise VideoDecodeError(f"{self.path}: no frame could be decoded")
            self._check_not_truncated(prev[0])
            while target is not None:  # past the real end: the last frame
                rgb = rgb if rgb is not None else self._to_rgb(prev[1])
                yield target, rgb
                target = _next_increasing(wanted, target)
        except av.FFmpegError as e:
            raise VideoDecodeError(f"{self.path}: decoding failed: {_reason(e)}") from e

    # -- internals -------------------------------------------------------------------------------------------

    def _open(self) -> None:
        self.close()
        self._container = av.open(str(self.path), metadata_errors="ignore")
        if not self._container.streams.video:
            raise VideoDecodeError(f"{self.path}: no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"

    def _probe_first_pts(self) -> int:
        """Smallest timestamp among the first packets = presentation time of the first frame, which is
        frame 0 (the stream's start_time is not always that, e.g. AVI with B-frames)."""
        assert self._container is not None
        start = self._stream.start_time
        seen: list[int] = []
        for n, packet in enumerate(self._container.demux(self._stream)):
            ts = packet.pts if packet.pts is not None else packet.dts
            if ts is not None and (start is None or ts >= start):
                seen.append(ts)
            if n + 1 >= _PROBE_PACKETS:
                break
        if not seen:
            raise VideoDecodeError(f"{self.path}: video stream has no packets")
        return min(seen)

    def _read_meta(self) -> VideoMeta:
        stream = self._stream
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or rate <= 0:
            raise VideoDecodeError(f"{self.path}: unknown frame rate")
        fps = float(rate)
        num_frames = stream.frames
        if not num_frames:
            num_frames = round(self._duration_s() * fps) or self._count_packets()
        width, height = stream.codec_context.width, stream.codec_context.height
        if num_frames <= 0 or width <= 0 or height <= 0:
            raise VideoDecodeError(f"{self.path}: empty video stream")
        return VideoMeta(num_frames=int(num_frames), fps=fps, width=width, height=height)

    def _duration_s(self) -> float:
        stream = self._stream
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if self._container is not None and self._container.duration is not None:
            return self._container.duration / av.time_base
        return 0.0

    def _count_packets(self) -> int:
        """Last resort when the container states neither frame count nor duration (cheap: no decoding)."""
        self._open()
        assert self._container is not None
        return sum(1 for p in self._container.demux(self._stream) if p.size)

    def _index_of(self, pts: int) -> int:
        return round(float((pts - self._first_pts) * self._stream.time_base) * self.meta.fps)

    def _pts_of(self, index: float) -> int:
        return self._first_pts + int(index / self.meta.fps / self._stream.time_base)

    def _gather(self, wanted: np.ndarray) -> dict[int, tuple[int, np.ndarray]]:
        """wanted (sorted, unique) -> {index: (index of the frame actually used, RGB array)}."""
        try:
            back = 0.5  # frames before the first wanted one to seek to; grows when a seek lands too late
            for _ in range(_SEEK_TRIES):
                if self._container is None:
                    self._open()
                try:
                    target = max(self._pts_of(wanted[0] - back), self._first_pts)
                    self._container.seek(target, stream=self._stream, backward=True)
                except av.FFmpegError:
                    break
                found, first = self._scan(wanted, allow_late_start=False)
                if found is not None:
                    return found
                back += max(first - wanted[0], 0) + self.meta.fps
            self._open()  # decode from the very start: slow but always right
            found, _ = self._scan(wanted, allow_late_start=True)
            assert found is not None
            return found
        except av.FFmpegError as e:
            raise VideoDecodeError(f"{self.path}: decoding failed: {_reason(e)}") from e

    def _scan(
        self, wanted: np.ndarray, *, allow_late_start: bool
    ) -> tuple[dict[int, tuple[int, np.ndarray]] | None, int]:
        """Decode forward from the current position. Returns (None, first index seen) when the position is past
        the first wanted frame (a seek landed late) and that is not allowed."""
        found: dict[int, tuple[int, np.ndarray]] = {}
        pos = 0  # next wanted index to assign
        prev: tuple[int, av.VideoFrame] | None = None

        def assign_below(limit: float, k: int, frame: av.VideoFrame) -> None:
            nonlocal pos
            rgb = None
            while pos < len(wanted) and wanted[pos] < limit:
                rgb = rgb if rgb is not None else self._to_rgb(frame)
                found[int(wanted[pos])] = (k, rgb)
                pos += 1

        for k, frame in self._timed_frames():
            if prev is None:
                if k > wanted[0] and not allow_late_start:
                    return None, k
                assign_below(k, k, frame)  # only when decoding from the start: clamp to the first frame
            else:
                k = max(k, prev[0])
                assign_below(k, *prev)
            if pos == len(wanted):
                return found, k
            prev = (k, frame)
        if prev is None:
            if allow_late_start:
                raise VideoDecodeError(f"{self.path}: no frame could be decoded")
            return None, int(wanted[0]) + 1
        self._check_not_truncated(prev[0])
        assign_below(np.inf, *prev)  # past the real end: repeat the last frame
        return found, prev[0]

    def _check_not_truncated(self, last: int) -> None:
        """The stream ended while frames were still wanted: fine when the container overstated the count by a
        little (common), a lost tail when it is far short."""
        expected = self.meta.num_frames
        if last < expected - 1 - max(2, expected // 20):
            raise VideoDecodeError(
                f"{self.path}: truncated or damaged: the stream ends at frame {last}, "
                f"the container says {expected} frames"
            )

    def _timed_frames(self) -> Iterator[tuple[int, av.VideoFrame]]:
        """(frame index, frame) in display order."""
        global _decoded_frames
        assert self._container is not None
        step = max(int(1 / self.meta.fps / self._stream.time_base), 1)
        for pts, frame in display_timestamps(self._container.decode(self._stream), step, self._first_pts):
            _decoded_frames += 1
            yield self._index_of(pts), frame

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        """RGB at the stream's size (np.stack keeps working if a stream changes resolution midway).

        One reformatter per handle keeps its swscale context between frames; ``frame.to_ndarray(format=...)``
        builds a new one per frame, which costs more than decoding small frames (5x slower at 40x40, 2x at
        340x256 in this repository's measurements)."""
        if self._reformatter is None:
            self._reformatter = VideoReformatter()
        rgb = self._reformatter.reformat(
            frame, format="rgb24", width=self.meta.width, height=self.meta.height
        )
        return rgb.to_ndarray()


def display_timestamps(
    frames: Iterable[av.VideoFrame], step: int, first_pts: int = 0
) -> Iterator[tuple[int, av.VideoFrame]]:
    """(timestamp, frame) with frames in decoder output order, which is display order, and their timestamps
    re-sorted within a window of a few frames: some containers (AVI with packed B-frames) attach the right
    timestamps to the wrong frames. A frame without a timestamp gets the previous one plus `step`."""
    pending: deque[av.VideoFrame] = deque()
    stamps: list[int] = []
    last = first_pts - step
    for frame in frames:
        last = frame.pts if frame.pts is not None else last + step
        pending.append(frame)
        heapq.heappush(stamps, last)
        if len(pending) > _REORDER_WINDOW:
            yield heapq.heappop(stamps), pending.popleft()
    while pending:
        yield heapq.heappop(stamps), pending.popleft()


def _next_increasing(indices: Iterator[int], last: int) -> int | None:
    following = next(indices, None)
    if following is not None and following <= last:
        raise ValueError(f"stream() needs increasing indices, got {following} after {last}")
    return following


def _reason(error: av.FFmpegError) -> str:
    return error.strerror or str(error)


def _torchcodec(device: str) -> Callable[[Path], VideoHandle]:
    def open_with_torchcodec(path: Path) -> VideoHandle:
        if path.suffix.lower() == ".avi":  # torchcodec 0.17 reads frame i-1 after a seek in MPEG-4 AVI with
            return PyAVReader(path)  # packed B-frames (UCF-101, HMDB-51) and loses its last frames
        from cmpl.data.torchcodec_reader import TorchCodecReader  # optional: imported when asked for

        return TorchCodecReader(path, device)

    return open_with_torchcodec


BACKENDS: dict[str, Callable[[Path], VideoHandle]] = {
    "pyav": PyAVReader,
    "torchcodec": _torchcodec("cpu"),
    "torchcodec_cuda": _torchcodec("cuda"),  # NVDEC; CUDA cannot start in forked workers: num_workers=0
}


def open_video(path: str | Path, backend: str = "pyav") -> VideoHandle:
    """Open a video for random access by frame index; use as a context manager."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown video backend {backend!r}; available: {sorted(BACKENDS)}")
    return BACKENDS[backend](Path(path))


def scan_video(path: str | Path, backend: str = "pyav") -> str | None:
    """None if the first and the last frame decode (a cheap proxy for a sound file), else the reason."""
    try:
        with open_video(path, backend) as video:
            video.read([0])
            video.read([video.meta.num_frames - 1])
    except VideoDecodeError as e:
        return str(e)
    return None
