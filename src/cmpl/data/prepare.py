"""``cmpl prepare``: a one-time copy of a dataset that is cheaper to train from.

Decoding sets the speed of a video input pipeline, and its cost grows with the stored resolution and with the
distance from a read window back to the previous key frame. Source collections are often 720p or more with
key frames seconds apart, while training never looks at more than the largest scale-jitter size (short side
320 in the paper's recipe). Re-encoding once, at that size and with a short key-frame interval, makes every
later read decode fewer and smaller frames.

The copy mirrors the source tree: the same relative paths and file names (so every annotation format and
list file keeps working with ``data.root`` pointed at the copy), non-video files copied as they are, audio
dropped. Frame timestamps are kept (counted from the first frame, as the reader counts them), so clip
sampling reads the same instants. H.264 goes into .mp4, .mkv,
.mov and .avi (AVI without B-frames), VP9 into .webm. Files are written to a temporary name and renamed, so
an interrupted run leaves no half file and a rerun continues where it stopped.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from cmpl.data.annotations import VIDEO_EXTENSIONS
from cmpl.data.decode import display_timestamps
from cmpl.data.encode import add_video_stream
from cmpl.data.workers import run_jobs
from cmpl.errors import BadValueError, MissingFileError

__all__ = ["PrepareReport", "PrepareSettings", "prepare_dataset", "prepare_video", "target_size"]

SETTINGS_FILE = "prepare.json"
FAILED_FILE = "prepare_failed.txt"
_FINE_TIME_BASE = Fraction(1, 90000)  # keeps variable-rate timestamps; AVI is constant-rate and uses 1/fps


@dataclass(frozen=True)
class PrepareSettings:
    short_side: int = 320  # 0 keeps the size
    keyframe_interval: int = 16  # frames between key frames: a read decodes at most this many extra frames
    crf: int = 23  # x264 constant rate factor (VP9 uses crf + 9, its scale's near equivalent)

    def __post_init__(self) -> None:
        if self.short_side < 0 or self.short_side % 2:
            raise BadValueError(f"short side must be an even number >= 0, got {self.short_side}")
        if self.keyframe_interval < 1:
            raise BadValueError(f"keyframe interval must be >= 1, got {self.keyframe_interval}")
        if not 0 <= self.crf <= 51:
            raise BadValueError(f"crf must be in [0, 51], got {self.crf}")


@dataclass
class PrepareReport:
    encoded: int = 0
    up_to_date: int = 0
    copied: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def target_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) with the short side at `short_side`, aspect kept, both even; never enlarges."""
    scale = 1.0 if short_side == 0 else min(1.0, short_side / min(width, height))
    return max(2, 2 * round(width * scale / 2)), max(2, 2 * round(height * scale / 2))


def _encoder(path: Path, settings: PrepareSettings) -> tuple[str, dict[str, str]]:
    if path.suffix.lower() == ".webm":
        crf = str(min(63, settings.crf + 9))
        return "libvpx-vp9", {"crf": crf, "b": "0", "deadline": "realtime", "cpu-used": "8", "threads": "1"}
    return "libx264", {"crf": str(settings.crf), "preset": "veryfast", "threads": "1"}


def prepare_video(src: Path, dst: Path, settings: PrepareSettings) -> None:
    """Re-encode `src` into `dst` (written under a temporary name, then renamed). Raises on a bad source."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.partial")
    try:
        with av.open(str(src)) as source:
            if not source.streams.video:
                raise ValueError("no video stream")
            stream = source.streams.video[0]
            width, height = target_size(
                stream.codec_context.width, stream.codec_context.height, settings.short_side
            )
            # the nominal rate sets each frame's duration: with it the copy's duration, and so its average
            # rate (which the reader's frame index uses), matches the source's even for variable-rate video
            rate = stream.guessed_rate or stream.average_rate or Fraction(25)
            avi = dst.suffix.lower() == ".avi"
            source_base = stream.time_base or 1 / rate
            time_base = source_base if avi else _FINE_TIME_BASE
            codec, options = _encoder(dst, settings)
            with av.open(str(tmp), "w", format=_muxer(dst)) as out:
                encoder = add_video_stream(
                    out, codec, rate, width, height, options, gop_size=settings.keyframe_interval
                )
                encoder.codec_context.time_base = encoder.time_base = time_base
                if avi:
                    encoder.codec_context.max_b_frames = 0  # AVI has no presentation timestamps to reorder by
                step = max(int(1 / rate / source_base), 1)
                last, start = -1, None
                for pts, frame in display_timestamps(source.decode(stream), step):
                    scaled = frame.reformat(
                        width=width, height=height, format="yuv420p", interpolation="AREA"
                    )
                    start = pts if start is None else start  # the copy starts at 0 (AVI would pad a gap)
                    seconds = (pts - start) * source_base
                    last = max(round(seconds / time_base), last + 1)  # strictly increasing
                    scaled.pts, scaled.time_base = last, time_base
                    out.mux(encoder.encode(scaled))
                if last < 0:
                    raise ValueError("no frame decodes")
                out.mux(encoder.encode())
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _muxer(path: Path) -> str:
    return {".mkv": "matroska", ".webm": "webm", ".mov": "mov", ".avi": "avi"}.get(path.suffix.lower(), "mp4")


@dataclass(frozen=True)
class _Job:
    src: Path
    dst: Path
    settings: PrepareSettings


def _run_job(job: _Job) -> tuple[str, str | None]:
    """("encoded" | "copied", None) or ("failed", reason); never raises, so one bad file stops nothing."""
    try:
        if job.src.suffix.lower() in VIDEO_EXTENSIONS:
            prepare_video(job.src, job.dst, job.settings)
            return "encoded", None
        job.dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(job.src, job.dst)
        return "copied", None
    except Exception as error:
        return "failed", f"{type(error).__name__}: {error}".splitlines()[0]


def _up_to_date(src: Path, dst: Path) -> bool:
    return dst.is_file() and dst.stat().st_size > 0 and dst.stat().st_mtime >= src.stat().st_mtime


def prepare_dataset(
    src_root: Path,
    dst_root: Path,
    settings: PrepareSettings = PrepareSettings(),
    workers: int | None = None,
    progress: bool = True,
) -> PrepareReport:
    """Mirror `src_root` into `dst_root`, re-encoding videos; failures go to ``prepare_failed.txt``.

    A file already in `dst_root` and newer than its source is kept, unless the settings differ from those
    recorded in ``prepare.json`` by an earlier run, in which case every video is encoded again.
    """
    src_root, dst_root = Path(src_root).resolve(), Path(dst_root).resolve()
    if not src_root.is_dir():
        raise MissingFileError(f"{src_root}: no such folder")
    if dst_root == src_root or src_root in dst_root.parents:
        raise BadValueError(f"{dst_root}: the copy must not be inside the source folder")
    record = dst_root / SETTINGS_FILE
    same_settings = record.is_file() and json.loads(record.read_text()) == asdict(settings)
    dst_root.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(asdict(settings), indent=1) + "\n")

    report, jobs = PrepareReport(), []
    for src in sorted(p for p in src_root.rglob("*") if p.is_file()):
        dst = dst_root / src.relative_to(src_root)
        is_video = src.suffix.lower() in VIDEO_EXTENSIONS
        if _up_to_date(src, dst) and (same_settings or not is_video):
            report.up_to_date += 1
        else:
            jobs.append(_Job(src, dst, settings))
    outcomes = run_jobs(_run_job, jobs, workers, desc="prepare", unit="file", progress=progress)
    for job, (outcome, reason) in zip(jobs, outcomes, strict=True):
        if outcome == "failed":
            report.failed.append((str(job.src), reason or ""))
        elif outcome == "copied":
            report.copied += 1
        else:
            report.encoded += 1
    failed_list = dst_root / FAILED_FILE
    if report.failed:
        failed_list.write_text("".join(f"{path}\t{reason}\n" for path, reason in report.failed))
    else:
        failed_list.unlink(missing_ok=True)
    return report
