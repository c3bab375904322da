"""A torchcodec reader behind :class:`cmpl.data.decode.VideoHandle` (``data.backend=torchcodec`` or
``torchcodec_cuda``).

Why a second reader: torchcodec seeks and decodes in C++ and converts only the requested frames, with one
FFmpeg thread per decoder (what many DataLoader workers want), and it can decode on the GPU with NVDEC. Frame
index ``i`` is the i-th frame in display order (torchcodec's exact mode indexes every packet at open). For
constant-rate video that is PyAV's frame ``i``; variable-rate video is not resampled to its average rate.

torchcodec is optional (``pip install cmpl[torchcodec]``) and loads the system's FFmpeg libraries (4-8).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cmpl.data.decode import ClosingReader, VideoDecodeError, VideoMeta, frame_indices

__all__ = ["TorchCodecReader", "available"]


def available() -> str | None:
    """None if torchcodec and its FFmpeg libraries load, else why not."""
    try:
        import torchcodec.decoders  # noqa: F401
    except (ImportError, OSError, RuntimeError) as e:
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return None


class TorchCodecReader(ClosingReader):
    """Reads frames by index with torchcodec on ``device`` ("cpu" or "cuda"); frames always come back on the
    host, so it serves the same datasets as the PyAV reader (CUDA decoding only saves CPU time there)."""

    def __init__(self, path: str | Path, device: str = "cpu") -> None:
        from torchcodec.decoders import VideoDecoder

        self.path = Path(path)
        if not self.path.is_file():
            raise VideoDecodeError(f"{self.path}: file not found")
        if self.path.stat().st_size == 0:
            raise VideoDecodeError(f"{self.path}: empty file (0 bytes)")
        try:
            self._decoder: VideoDecoder | None = VideoDecoder(
                str(self.path), seek_mode="exact", dimension_order="NHWC", num_ffmpeg_threads=1, device=device
            )
            m = self._decoder.metadata
        except (RuntimeError, ValueError) as e:
            raise VideoDecodeError(f"{self.path}: cannot open: {_first_line(e)}") from e
        if not m.num_frames or not m.width or not m.height:
            raise VideoDecodeError(f"{self.path}: empty video stream")
        fps = m.average_fps or (m.num_frames / m.duration_seconds if m.duration_seconds else 0.0)
        if fps <= 0:
            raise VideoDecodeError(f"{self.path}: unknown frame rate")
        self.meta = VideoMeta(num_frames=int(m.num_frames), fps=float(fps), width=m.width, height=m.height)

    def close(self) -> None:
        self._decoder = None

    def read(self, indices: Sequence[int]) -> np.ndarray:
        """uint8 (len(indices), H, W, 3) RGB in the given order; indices past the end repeat the last frame."""
        wanted = frame_indices(indices)
        if self._decoder is None:
            raise VideoDecodeError(f"{self.path}: read after close")
        unique, inverse = np.unique(np.minimum(wanted, self.meta.num_frames - 1), return_inverse=True)
        try:
            frames = self._decoder.get_frames_at(unique.tolist()).data.cpu().numpy()
        except (RuntimeError, IndexError, ValueError):
            frames = self._read_one_by_one(unique)
        return frames[inverse]

    def _read_one_by_one(self, unique: np.ndarray) -> np.ndarray:
        """After a failed batch read: frames near the end that the decoder does not output (the container
        overstated the count by a little, e.g. AVI with packed B-frames) repeat the last one that decodes,
        as PyAV's reader does; a lost tail further back is an error."""
        return np.stack([self._frame_or_earlier(i) for i in unique.tolist()])

    def _frame_or_earlier(self, index: int) -> np.ndarray:
        assert self._decoder is not None
        last_tolerated = self.meta.num_frames - 1 - max(2, self.meta.num_frames // 20)
        for i in range(index, -1, -1):
            try:
                return self._decoder.get_frame_at(i).data.cpu().numpy()
            except (RuntimeError, IndexError, ValueError) as e:
                if i <= last_tolerated:
                    raise VideoDecodeError(
                        f"{self.path}: truncated or damaged: frame {i} of {self.meta.num_frames} does not "
                        f"decode ({_first_line(e)})"
                    ) from e
        raise VideoDecodeError(f"{self.path}: no frame could be decoded")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[-1] if text else type(error).__name__
