"""Throughput of ``cmpl label`` against decoding alone, on the same generated videos, side by side.

Why: labeling a collection is one pass of F (and A) over every video; the question is whether the networks or
the decoding set its speed. Both rows read the same Kinetics-like videos (340x256, 10 s at 30 fps, H.264, made
once by ``data_pipeline.make_kinetics_like``) with the same views and loader workers (all cores):

* decode only: ``cmpl.data.label_clips.LabelClips`` through a DataLoader, every batch consumed and dropped:
  the frames of F's and A's test clips decoded once per video, resized, cropped, and the review thumbnail;
* cmpl label: the whole command (``cmpl.cli.main(["label", ...])``): loading the run, the same loader, F and
  A on every batch, labels.jsonl per batch, then labels.csv and review.html. Its start-up counts.

The run is a tiny CMPL run trained for two iterations on synthetic videos (``QUICK_OVERRIDES``: F and A are
r10_w0.125), evaluated at ``--short-side`` / ``--crop`` (default: the demo's 36 / 32): a small network, so the
figure says how close the command gets to the decoder. Rounds interleave the two; the best round of each
counts. CPU ms per video (this process and its loader workers) is what a projection to more cores needs.

    python benchmarks/label_throughput.py                    # about 2 minutes on 2 cores
    python benchmarks/label_throughput.py --short-side 128 --crop 112    # the networks cost more than decoding
    python benchmarks/label_throughput.py --decode-only --views 10x3 --short-side 256 --crop 224 --repeat 1
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from data_pipeline import DEFAULT_CACHE, busy_cpu_seconds, machine, make_kinetics_like
from torch.utils.data import DataLoader

from cmpl.cli import main as cmpl_main
from cmpl.config import QUICK_OVERRIDES, load_config
from cmpl.data.annotations import VideoRecord
from cmpl.data.label_clips import LabelClips, collate_label
from cmpl.data.synthetic import make_synthetic
from cmpl.data.workers import usable_cpus
from cmpl.engine.runtime import clip_specs


def _own_cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the loader workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def tiny_run(folder: Path, short_side: int, crop: int) -> Path:
    data = make_synthetic(folder / "synthetic", train_per_class=2, test_per_class=1, progress=False)
    run_dir = folder / "run"
    overrides = [
        *QUICK_OVERRIDES,
        f"data.root={data}",
        f"train.output_dir={run_dir}",
        "method.name=cmpl",
        "schedule.iterations=2",
        "train.progress=false",
        f"eval.short_side={short_side}",
        f"eval.crop_size={crop}",
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        if cmpl_main(["train", *overrides]) != 0:
            raise SystemExit("training the tiny run failed")
    return run_dir


def decode_only(
    run_dir: Path, videos: Sequence[Path], views: tuple[int, int], batch: int, workers: int
) -> float:
    config = load_config(run_dir / "config.yaml")
    dataset = LabelClips(
        [VideoRecord(p, -1) for p in videos],
        clip_specs(config, ("primary", "auxiliary")),
        num_clips=views[0],
        num_crops=views[1],
        short_side=config.eval.short_side,
        crop_size=config.eval.crop_size,
        thumbnail_height=64,
    )
    loader = DataLoader(
        dataset, batch_size=batch, num_workers=workers, collate_fn=collate_label, prefetch_factor=4
    )
    start, cpu = time.perf_counter(), _own_cpu_seconds()
    seen = sum(len(b["index"]) + len(b["failed"]) for b in loader)
    del loader  # its workers exit and are waited for, so that their CPU time counts
    assert seen == len(videos)
    return time.perf_counter() - start, _own_cpu_seconds() - cpu


def label(
    run_dir: Path, list_file: Path, out: Path, views: tuple[int, int], batch: int, workers: int
) -> float:
    shutil.rmtree(out, ignore_errors=True)
    argv = ["label", str(run_dir), str(list_file), "--output", str(out), "--views", f"{views[0]}x{views[1]}"]
    argv += ["--batch-size", str(batch), "--workers", str(workers), "--device", "cpu"]
    start, cpu = time.perf_counter(), _own_cpu_seconds()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = cmpl_main(argv)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"cmpl label failed ({status})")
    return elapsed, _own_cpu_seconds() - cpu


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where generated videos are kept")
    parser.add_argument("--videos", type=int, default=8, help="generated Kinetics-like videos")
    parser.add_argument("--repeat", type=int, default=3, help="each video is listed this many times (links)")
    parser.add_argument("--views", default="3x1", help="CLIPSxCROPS for both rows")
    parser.add_argument(
        "--short-side", type=int, default=36, help="eval.short_side of the tiny run (the demo's)"
    )
    parser.add_argument("--crop", type=int, default=32, help="eval.crop_size of the tiny run (the demo's)")
    parser.add_argument(
        "--decode-only",
        action="store_true",
        help="only the decode row: its CPU ms per video at the paper's protocol (--views 10x3 --short-side "
        "256 --crop 224) projects the loader to more cores without running the networks on this CPU",
    )
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", type=int, default=0, help="loader workers; 0: every usable core")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    views = tuple(int(v) for v in args.views.lower().split("x"))
    workers = args.workers or usable_cpus()

    generated = make_kinetics_like(args.cache, args.videos)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run_dir = tiny_run(tmp, args.short_side, args.crop)
        links = []
        for r in range(args.repeat):
            for p in generated:
                link = tmp / "videos" / f"{r}_{p.name}"
                link.parent.mkdir(exist_ok=True)
                link.symlink_to(p)
                links.append(link)
        list_file = tmp / "videos.txt"
        list_file.write_text("".join(f"{p} -1\n" for p in links))
        print(f"machine: {machine()}")
        print(
            f"{len(links)} videos ({len(generated)} files x {args.repeat}), 340x256 10 s 30 fps H.264; views "
            f"{args.views}, F 8x8 + A 16x4 frames at {args.crop}x{args.crop} (short side {args.short_side}); "
            f"batch {args.batch_size}; {workers} loader workers; F and A r10_w0.125 on the CPU"
        )
        times: dict[str, list[tuple[float, float]]] = {"decode only": []}
        if not args.decode_only:
            times["cmpl label"] = []
        busy, own, wall = busy_cpu_seconds(), _own_cpu_seconds(), time.perf_counter()
        for _ in range(args.rounds):
            times["decode only"].append(decode_only(run_dir, links, views, args.batch_size, workers))
            if not args.decode_only:
                times["cmpl label"].append(
                    label(run_dir, list_file, tmp / "out", views, args.batch_size, workers)
                )
        end = busy_cpu_seconds()
        others = (
            None if busy is None else (end - busy - (_own_cpu_seconds() - own)) / (time.perf_counter() - wall)
        )
    n = len(links)
    rates = {name: n / min(wall for wall, _ in t) for name, t in times.items()}
    print("\n| route | videos/s (best round) | seconds per round | CPU ms/video (mean) | vs decode only |")
    print("|---|---:|---:|---:|---:|")
    for name, rate in rates.items():
        rounds = ", ".join(f"{wall:.1f}" for wall, _ in times[name])
        cpu_ms = 1000 * sum(c for _, c in times[name]) / (n * len(times[name]))
        print(f"| {name} | {rate:.2f} | {rounds} | {cpu_ms:.0f} | {rate / rates['decode only']:.2f} |")
    if "cmpl label" in rates:
        print(f"\ncmpl label / decode only: {rates['cmpl label'] / rates['decode only']:.2f}")
    if others is not None:
        print(f"(other processes kept {max(others, 0):.2f} of the CPU cores busy meanwhile)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
