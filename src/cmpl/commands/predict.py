"""``cmpl predict``: top-k labels of video files with a finished run's primary network; with ``--timeline``,
top-k per window along a long video, a smoothed track of segments and a PNG strip of it."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from cmpl.analysis.timeline_plot import plot_timeline
from cmpl.commands.arguments import add_device_argument, add_views_argument
from cmpl.errors import BadValueError, UserError
from cmpl.inference import Timeline, TrainedRun, load_run

__all__ = ["write_timeline"]


def write_timeline(timeline: Timeline, out: Path) -> dict[str, Path]:
    """``windows.csv`` (one row per window: start, end, then rank-ordered class and probability),
    ``timeline.json`` (windows and segments), ``segments.csv`` and ``timeline.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "windows": out / "windows.csv",
        "segments": out / "segments.csv",
        "json": out / "timeline.json",
        "plot": out / "timeline.png",
    }
    k = max((len(w.top) for w in timeline.windows), default=0)
    with paths["windows"].open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["start", "end", *(f"{c}{r}" for r in range(1, k + 1) for c in ("label", "prob"))])
        for w in timeline.windows:
            writer.writerow(
                [f"{w.start:.3f}", f"{w.end:.3f}", *(v for n, p in w.top for v in (n, f"{p:.4f}"))]
            )
    with paths["segments"].open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["start", "end", "label", "score", "windows"])
        for g in timeline.segments:
            writer.writerow([f"{g.start:.3f}", f"{g.end:.3f}", g.label, f"{g.score:.4f}", g.windows])
    paths["json"].write_text(json.dumps(timeline.to_dict(), indent=1) + "\n")
    plot_timeline(
        [(w.start, w.end, w.top[0][0], w.top[0][1]) for w in timeline.windows],
        [(g.start, g.end, g.label) for g in timeline.segments],
        paths["plot"],
        title=f"{timeline.video.name}: {timeline.window_seconds:g} s windows every {timeline.stride_seconds:g} s",
    )
    return paths


COMMAND = "predict"
HELP = "top-k labels of video files with a run's primary network; --timeline: along a long video"
DESCRIPTION = (
    "Without --timeline: one answer per video (JSON lines), averaged over the views. With --timeline: the "
    "video is streamed in windows (memory bounded by a window, not the video) and the top-k per window, a "
    "smoothed track of segments and a PNG strip go to --output (default <run>/timelines/<video stem>/)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a finished run's folder, or a checkpoint file inside one")
    parser.add_argument("videos", type=Path, nargs="+")
    add_views_argument(parser)
    parser.add_argument("--top-k", type=int, default=5, help="default: %(default)s")
    timeline = parser.add_argument_group("timeline (long videos)")
    timeline.add_argument(
        "--timeline",
        action="store_true",
        help="top-k per window along each video (--views: only its crops count)",
    )
    timeline.add_argument(
        "--window-seconds", type=float, default=None, help="window length (default: one clip's span)"
    )
    timeline.add_argument(
        "--stride-seconds", type=float, default=None, help="time between windows (default: half a window)"
    )
    timeline.add_argument(
        "--smooth", type=int, default=3, help="windows averaged for the track (default: %(default)s)"
    )
    timeline.add_argument(
        "--output", type=Path, default=None, help="folder for the files (one video: exactly this folder)"
    )
    add_device_argument(parser)


def _run_timeline(trained: TrainedRun, args: argparse.Namespace) -> int:
    crops = args.views[1] if args.views else 1
    failed = 0
    for video in args.videos:
        if args.output is None:
            out = trained.run_dir / "timelines" / video.stem
        else:
            out = args.output if len(args.videos) == 1 else args.output / video.stem
        try:
            timeline = trained.timeline(
                video, args.window_seconds, args.stride_seconds, args.top_k, args.smooth, crops, progress=True
            )
        except (UserError, OSError) as e:  # one bad video among several: say so, go on
            print(f"error: {video}: {e}", file=sys.stderr)
            failed += 1
            continue
        paths = write_timeline(timeline, out)
        track = ", ".join(f"{g.label} {g.start:.1f}-{g.end:.1f}s" for g in timeline.segments[:8])
        more = f" (+{len(timeline.segments) - 8} more)" if len(timeline.segments) > 8 else ""
        print(f"{video}: {len(timeline.windows)} windows, {len(timeline.segments)} segments: {track}{more}")
        print(
            f"  -> {paths['windows']}, {paths['segments'].name}, {paths['json'].name}, {paths['plot'].name}"
        )
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    trained = load_run(args.run_dir, args.device)
    if args.top_k < 1:
        raise BadValueError(f"--top-k must be >= 1, got {args.top_k}")
    if args.timeline:
        return _run_timeline(trained, args)
    answers = trained.predict(args.videos, views=args.views, top_k=args.top_k)
    for a in answers:
        if a.error:
            print(f"error: {a.error}", file=sys.stderr)
        else:
            top = [{"label": n, "prob": round(p, 4)} for n, p in a.top]
            print(json.dumps({"video": str(a.video), "top": top}))
    return 1 if any(a.error for a in answers) else 0
