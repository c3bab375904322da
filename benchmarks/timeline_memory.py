"""Memory of ``cmpl predict --timeline`` on a long video: peak RSS against the video's decoded size.

The timeline streams the video (one decode pass, in order) and holds only the frames that unfinished windows
need, so its memory should not grow with the video. This script writes a long, small-frame video (the
synthetic action classes one after another, 72 frames each), then, in a fresh process, scores its timeline
with a randomly initialised network of the demo's size through the public API (``TrainedRun.timeline``) and
prints the process's peak resident memory before and after, next to what the decoded video would take
(frames x H x W x 3 bytes). Not a timed test: the figure is the memory.

    python benchmarks/timeline_memory.py                       # 20 minutes of 64x64 video at 25 fps
    python benchmarks/timeline_memory.py --minutes 60 --size 96
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch

from cmpl.config import load_config
from cmpl.data.encode import add_video_stream
from cmpl.data.synthetic import SYNTHETIC_CLASSES, render_video
from cmpl.inference import TrainedRun
from cmpl.methods import build_method

SEGMENT_FRAMES = 72


def write_long_video(path: Path, minutes: float, size: int, fps: int) -> int:
    """The synthetic classes in turn, ``SEGMENT_FRAMES`` frames each, encoded as they are rendered (the
    writer never holds the video either). Returns the frame count."""
    total = int(minutes * 60 * fps)
    with av.open(str(path), mode="w") as container:
        stream = add_video_stream(container, "libx264", fps, size, size, {"preset": "ultrafast", "crf": "28"})
        written, segment = 0, 0
        while written < total:
            name = SYNTHETIC_CLASSES[segment % len(SYNTHETIC_CLASSES)]
            frames = render_video(name, [7, segment], size=size, num_frames=SEGMENT_FRAMES)
            for rgb in frames[: total - written]:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            written += min(SEGMENT_FRAMES, total - written)
            segment += 1
        container.mux(stream.encode())
    return total


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure(video: Path, window_s: float | None, stride_s: float | None) -> dict:
    """In this (fresh) process: peak RSS after loading a demo-sized network, then after its timeline."""
    config = load_config("demo", ["train.progress=false"])
    names = list(SYNTHETIC_CLASSES)
    network = build_method(config, len(names)).primary.eval()
    run = TrainedRun(config, names, network, torch.device("cpu"), video.parent)
    run.predict_clips(torch.zeros(1, run.clip_spec.num_frames, 3, 32, 32, dtype=torch.uint8))  # warm up
    before = _peak_rss_mb()
    start = time.perf_counter()
    timeline = run.timeline(video, window_s, stride_s, progress=True)
    seconds = time.perf_counter() - start
    return {
        "peak_rss_before_mb": before,
        "peak_rss_after_mb": _peak_rss_mb(),
        "windows": len(timeline.windows),
        "segments": len(timeline.segments),
        "frames_held_peak": timeline.frames_held_peak,
        "frame_shape": list(timeline.frame_shape),
        "seconds": seconds,
        "duration_s": timeline.duration,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=20.0)
    p.add_argument("--size", type=int, default=64, help="frame side in pixels (even)")
    p.add_argument("--fps", type=int, default=25)
    p.add_argument("--window-seconds", type=float, default=None)
    p.add_argument("--stride-seconds", type=float, default=None)
    p.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)  # the child process
    args = p.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.window_seconds, args.stride_seconds)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        video = Path(scratch) / "long.mp4"
        frames = write_long_video(video, args.minutes, args.size, args.fps)
        child = [sys.executable, __file__, "--measure", str(video)]
        for flag, value in (
            ("--window-seconds", args.window_seconds),
            ("--stride-seconds", args.stride_seconds),
        ):
            child += [flag, str(value)] if value is not None else []
        out = subprocess.run(child, check=True, capture_output=True, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        size_mb = video.stat().st_size / 2**20
    decoded_mb = frames * args.size * args.size * 3 / 2**20
    held_mb = result["frames_held_peak"] * int(np.prod(result["frame_shape"])) / 2**20
    growth = result["peak_rss_after_mb"] - result["peak_rss_before_mb"]
    print(
        f"video: {args.minutes:g} min, {frames} frames of {args.size}x{args.size} at {args.fps} fps "
        f"({size_mb:.1f} MiB encoded)"
    )
    print(f"decoded size (frames x H x W x 3):   {decoded_mb:8.1f} MiB")
    print(f"peak RSS, network loaded:           {result['peak_rss_before_mb']:8.1f} MiB")
    print(f"peak RSS, after the timeline:       {result['peak_rss_after_mb']:8.1f} MiB  (+{growth:.1f} MiB)")
    print(
        f"frames held at most:                {result['frames_held_peak']:8d}      "
        f"({held_mb:.2f} MiB of {result['frame_shape']} uint8)"
    )
    print(
        f"{result['windows']} windows, {result['segments']} segments, {result['seconds']:.0f} s "
        f"({result['duration_s'] / result['seconds']:.0f}x real time)"
    )


if __name__ == "__main__":
    main()
