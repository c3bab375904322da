"""What `cmpl prepare` buys: one data-loading worker reading raw 720p videos against their prepared copies.

Why: Kinetics-style collections are stored at 720p or more with key frames seconds apart, while training
never needs more than a short side of 320. `cmpl prepare` re-encodes once (short side 320, a key frame every
16 frames). Here one worker (one torch thread, like a DataLoader worker) reads the CMPL sample of a video
(8x8 and 16x4 clips from one 64-frame window, standard augmentation at 224) from both copies of the same
videos, on the same keys, rounds interleaved; the fastest round counts (as timeit reports), CPU time is
summed over all rounds.

Data: generated videos (moving textured shapes, 1280x720, 10 s at 30 fps, x264 defaults: key frame every
250 frames), written once into the cache folder together with their prepared copies.

    python benchmarks/prepare.py                  # about 2-3 minutes on 2 cores, most of it making videos
    python benchmarks/prepare.py --videos 6 --samples 12 --rounds 3
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from cmpl.data.prepare import PrepareSettings, prepare_dataset

# its sibling, whatever the working folder or the way it is started (python path/to/prepare.py, python -m)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_pipeline import DEFAULT_CACHE, PipelineClips, key_frames, machine, make_kinetics_like


def _read_rate(loader: PipelineClips, keys: Sequence[int]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) to read the samples of `keys`."""
    start, start_cpu = time.perf_counter(), time.process_time()
    for key in keys:
        loader[key]
    return time.perf_counter() - start, time.process_time() - start_cpu


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where generated videos are kept")
    parser.add_argument("--videos", type=int, default=4, help="generated 720p videos")
    parser.add_argument("--samples", type=int, default=8, help="samples per copy and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    raw = make_kinetics_like(args.cache / "raw_720p", args.videos, size=(1280, 720))
    prepared_root = args.cache / "prepared_720p"
    start = time.perf_counter()
    report = prepare_dataset(raw[0].parent, prepared_root, PrepareSettings(), workers=1, progress=False)
    prepare_s = time.perf_counter() - start
    prepared = [prepared_root / p.name for p in raw]

    loaders = {
        "raw 1280x720": PipelineClips(raw, "standard"),
        "prepared": PipelineClips(prepared, "standard"),
    }
    for loader in loaders.values():
        loader[10_000]  # warm-up
    wall = {name: [] for name in loaders}
    cpu = dict.fromkeys(loaders, 0.0)
    for r in range(args.rounds):
        keys = range(r * args.samples, (r + 1) * args.samples)
        for name, loader in loaders.items():
            seconds, cpu_seconds = _read_rate(loader, keys)
            wall[name].append(seconds)
            cpu[name] += cpu_seconds

    print(f"machine: {machine()}")
    if report.encoded:
        print(
            f"cmpl prepare: {report.encoded} videos in {prepare_s:.1f} s ({prepare_s / report.encoded:.1f} s each)"
        )
    print("| copy | MB per video | key frames | samples/s | CPU ms/sample |")
    print("|---|---:|---:|---:|---:|")
    rates = {}
    for name, paths in zip(loaders, (raw, prepared), strict=True):
        mb = sum(p.stat().st_size for p in paths) / len(paths) / 2**20
        packets, keys = key_frames(paths[0])
        rates[name] = args.samples / min(wall[name])
        per_sample = 1000 * cpu[name] / (args.samples * args.rounds)
        print(f"| {name} | {mb:.2f} | {keys} of {packets} | {rates[name]:.1f} | {per_sample:.0f} |")
    (raw_rate, prepared_rate) = rates.values()
    print(f"prepared / raw: {prepared_rate / raw_rate:.1f}x samples/s per worker")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
