"""Throughput of one data-loading worker: this pipeline's TrainClips against a naive decode-everything loader.

Why: on video the input pipeline, not the GPU, usually sets the training speed. A DataLoader worker is one
process with one torch thread (FFmpeg still runs its own decoder threads), so samples/s per worker times the
number of workers is what the device can be fed. One sample is what CMPL needs per video and step: the
primary clip (8 frames x stride 8) and the auxiliary clip (16 x 4) at 224x224, i.e. 2 clips and 24 frames.

Compared, on the same videos and in one run (rounds interleave the methods so that load changes hit all):

* naive: decode every frame of the video with PyAV and ``frame.to_ndarray(format="rgb24")``, pick both clips
  from one 64-frame window, then resize + crop each clip (the same torchvision ops as the pipeline, so the
  difference is decoding and sampling, not the resize kernel);
* pipeline: :class:`cmpl.data.datasets.TrainClips` in ``weak`` mode (short side 256, centre crop) and in
  ``standard`` mode (short side 256-320, random crop), with both ClipSpecs; plus weak mode with the paper's
  t_s = 10 s, where the two windows are read from different places of the video.

Data: the real clips in ``../shared/data/real-clips`` and generated Kinetics-like videos (340x256, 10 s at
30 fps, H.264 by libx264 with its defaults, moving textured content), written once into a cache folder.

Then, unless ``--no-routes``: the decoding routes of ``decode_routes.py`` (PyAV and torchcodec, on the
generated videos and on their ``cmpl prepare`` copy), projected to 16 cores against one GPU's need.

    python benchmarks/data_pipeline.py                 # default run, about 2-4 minutes on 2 cores
    python benchmarks/data_pipeline.py --only-routes   # just the routes table
    python benchmarks/data_pipeline.py --samples 48 --rounds 3 --keyint 60
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch
from decode_routes import bench_routes, format_routes, prepared_copy

from cmpl.data import decode
from cmpl.data.annotations import VideoRecord
from cmpl.data.augment import standard_spatial, weak_spatial
from cmpl.data.datasets import TrainClips
from cmpl.data.encode import write_video
from cmpl.data.sampling import ClipSpec
from cmpl.data.torchcodec_reader import available as torchcodec_missing

REPO = Path(__file__).resolve().parents[1]
REAL_CLIPS = REPO.parent / "shared" / "data" / "real-clips"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cmpl" / "bench-kinetics"
SPECS = (ClipSpec(8, 8), ClipSpec(16, 4))  # F and A (paper Sec. 4.1): both span 64 frames
FRAMES_PER_SAMPLE = sum(s.num_frames for s in SPECS)
STANDARD = ((256, 320), 224)  # short side range, crop (labeled clips)
WEAK = (256, 224)  # short side, centre crop (unlabeled clips)
PAPER_OFFSET_S = 10.0  # t_s of the paper's configs


# ------------------------------------------------------------------------------------------ test videos


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth colour texture (bilinearly upsampled noise at two scales), uint8 (H, W, 3)."""
    out = np.zeros((height, width, 3), np.float32)
    for cells, weight in ((6, 0.5), (40, 0.25), (170, 0.25)):
        coarse = torch.from_numpy(rng.uniform(0, 255, (1, 3, cells, cells)).astype(np.float32))
        up = torch.nn.functional.interpolate(
            coarse, size=(height, width), mode="bilinear", align_corners=False
        )
        out += weight * up[0].permute(1, 2, 0).numpy()
    return out.clip(0, 255).astype(np.uint8)


def _moving_frames(seed: int, num_frames: int, width: int, height: int) -> np.ndarray:
    """A panning textured background, four moving discs and sensor noise: content on which the encoder spends
    about the bits of real footage (~500 kbit/s at 340x256, like arm_wrestling.mp4); a static pattern would
    decode almost for free and flatter the naive loader."""
    rng = np.random.default_rng(seed)
    margin = 96
    background = _texture(rng, height + margin, width + margin)
    t = np.arange(num_frames, dtype=np.float32)
    pan_x = (margin / 2) * (1 + np.sin(2 * np.pi * t / rng.uniform(120, 300) + rng.uniform(0, 6.3)))
    pan_y = (margin / 2) * (1 + np.sin(2 * np.pi * t / rng.uniform(120, 300) + rng.uniform(0, 6.3)))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    discs = [
        (
            rng.uniform(0.2, 0.8, 2) * (width, height),
            rng.uniform(-4, 4, 2),
            rng.uniform(12, 40),
            rng.uniform(0, 255, 3),
        )
        for _ in range(4)
    ]
    for i in range(num_frames):
        x0, y0 = int(pan_x[i]), int(pan_y[i])
        frame = background[y0 : y0 + height, x0 : x0 + width].astype(np.float32)
        for (cx, cy), (vx, vy), radius, colour in discs:
            px, py = (cx + vx * i) % width, (cy + vy * i) % height
            inside = (xx - px) ** 2 + (yy - py) ** 2 < radius**2
            frame[inside] = colour
        frame += rng.normal(0, 5, frame.shape).astype(np.float32)
        frames[i] = frame.clip(0, 255).astype(np.uint8)
    return frames


def make_kinetics_like(
    folder: Path,
    count: int,
    *,
    seconds: float = 10.0,
    fps: int = 30,
    size: tuple[int, int] = (340, 256),
    keyint: int | None = None,
    start: int = 0,
) -> list[Path]:
    """``count`` H.264 mp4 files (x264 defaults: preset medium, crf 23, keyint 250 unless ``keyint``), made
    once: a file whose name encodes the settings is reused. ``start`` numbers (and seeds) the first one, so
    that processes can write disjoint parts of one set."""
    folder.mkdir(parents=True, exist_ok=True)
    width, height = size
    num_frames = round(seconds * fps)
    tag = f"{width}x{height}_{num_frames}f_{fps}fps_k{keyint or 'default'}"
    paths = []
    for i in range(start, start + count):
        path = folder / f"kinetics_like_{tag}_{i:02d}.mp4"
        paths.append(path)
        if path.is_file():
            continue
        tmp = path.with_suffix(".tmp.mp4")
        options = {"x264-params": f"keyint={keyint}"} if keyint else {}
        frames = np.stack(list(_moving_frames(1000 + i, num_frames, width, height)))
        write_video(tmp, frames, fps, options=options, timestamps=range(num_frames))
        tmp.replace(path)
    return paths


def key_frames(path: Path) -> tuple[int, int]:
    """(packets, key frames) of the video stream: how much a seek can skip."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        flags = [p.is_keyframe for p in container.demux(stream) if p.size]
    return len(flags), sum(flags)


# --------------------------------------------------------------------------------------------- loaders


class NaiveClips:
    """The loader people write first: decode the whole file to RGB arrays, then index and crop."""

    threading = "AUTO"  # FFmpeg decoder threads: "AUTO" as the pipeline's reader, "SLICE" is PyAV's default

    def __init__(self, paths: Sequence[Path], mode: str, seed: int = 0) -> None:
        self.paths, self.mode, self.seed = list(paths), mode, seed
        self.decoded = 0

    def __getitem__(self, key: int) -> list[torch.Tensor]:
        rng = np.random.default_rng([self.seed, key])
        generator = torch.Generator().manual_seed(int(rng.integers(2**63)))
        with av.open(str(self.paths[key % len(self.paths)])) as container:
            stream = container.streams.video[0]
            stream.thread_type = self.threading
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        self.decoded += len(frames)
        start = int(rng.integers(0, max(len(frames) - SPECS[0].span, 0) + 1))  # one window for both clips
        clips = []
        for spec in SPECS:
            ids = np.minimum(start + spec.stride * np.arange(spec.num_frames), len(frames) - 1)
            clip = torch.from_numpy(np.stack([frames[i] for i in ids])).permute(0, 3, 1, 2)
            if self.mode == "weak":
                clips.append(weak_spatial(clip, *WEAK).contiguous())
            else:
                clips.append(standard_spatial(clip, *STANDARD, generator).contiguous())
        return clips


class PipelineClips:
    """TrainClips as the trainer builds it, returning the clips of an item."""

    def __init__(self, paths: Sequence[Path], mode: str, max_offset_s: float = 0.0, seed: int = 0) -> None:
        short, crop = STANDARD if mode == "standard" else ((WEAK[0], WEAK[0]), WEAK[1])
        self.dataset = TrainClips(
            [VideoRecord(p, 0) for p in paths],
            SPECS,
            max_offset_s=max_offset_s,
            mode=mode,
            short_side_range=short,
            crop_size=crop,
            seed=seed,
        )

    def __getitem__(self, key: int) -> list[torch.Tensor]:
        item = self.dataset[key]
        if item["skipped"]:
            raise RuntimeError(f"unreadable benchmark video: {item['skipped']}")
        return item["clips"]


@dataclass
class Method:
    name: str
    build: Callable[[Sequence[Path]], NaiveClips | PipelineClips]
    baseline: str | None  # the naive row this one is compared with


METHODS = [
    Method("naive, weak", lambda p: NaiveClips(p, "weak"), None),
    Method("naive, standard", lambda p: NaiveClips(p, "standard"), None),
    Method("TrainClips weak", lambda p: PipelineClips(p, "weak"), "naive, weak"),
    Method("TrainClips standard", lambda p: PipelineClips(p, "standard"), "naive, standard"),
    Method(
        f"TrainClips weak, t_s={PAPER_OFFSET_S:g} s",
        lambda p: PipelineClips(p, "weak", PAPER_OFFSET_S),
        "naive, weak",
    ),
]


def pipeline_decoded_per_sample(loader: PipelineClips, keys: Sequence[int]) -> float:
    """Frames pulled out of the decoder per sample, in an untimed pass (the decoder's own count)."""
    before = decode.decoded_frame_count()
    for key in keys:
        loader[key]
    pulled = decode.decoded_frame_count() - before
    return pulled / len(keys)


def bench_dataset(paths: Sequence[Path], samples: int, rounds: int) -> list[dict]:
    """Per method: wall-clock samples/s of its fastest round (as timeit reports its best run: on a shared
    machine the slow rounds measure the neighbours) and CPU time per sample over all rounds (every thread of
    the process; what N saturated workers share, and nearly blind to other processes). Each round runs every
    method on the same keys, so the same videos and windows, and rounds interleave the methods."""
    loaders = {m.name: m.build(paths) for m in METHODS}
    for loader in loaders.values():
        loader[10_000]  # warm-up: imports, first open, kernel caches
    for loader in loaders.values():
        if isinstance(loader, NaiveClips):
            loader.decoded = 0
    times: dict[str, list[float]] = {name: [] for name in loaders}
    cpu: dict[str, float] = dict.fromkeys(loaders, 0.0)
    expected = [(s.num_frames, 3, 224, 224) for s in SPECS]
    for r in range(rounds):
        keys = range(r * samples, (r + 1) * samples)
        for name, loader in loaders.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            for key in keys:
                clips = loader[key]
            times[name].append(time.perf_counter() - start)
            cpu[name] += time.process_time() - start_cpu
            assert [tuple(c.shape) for c in clips] == expected, name
    rows = []
    for m in METHODS:
        loader = loaders[m.name]
        best = samples / min(times[m.name])
        if isinstance(loader, NaiveClips):
            decoded = loader.decoded / (samples * rounds)
        else:
            decoded = pipeline_decoded_per_sample(loader, range(samples))
        rows.append(
            {
                "method": m.name,
                "baseline": m.baseline,
                "samples_per_s": best,
                "cpu_ms_per_sample": 1000 * cpu[m.name] / (samples * rounds),
                "clips_per_s": best * len(SPECS),
                "frames_per_s": best * FRAMES_PER_SAMPLE,
                "ms_per_sample": 1000 / best,
                "decoded_per_sample": decoded,
            }
        )
    by_name = {row["method"]: row for row in rows}
    for row in rows:
        base = by_name.get(row["baseline"] or "")
        row["speedup"] = row["samples_per_s"] / base["samples_per_s"] if base else None
        row["cpu_speedup"] = base["cpu_ms_per_sample"] / row["cpu_ms_per_sample"] if base else None
    return rows


def format_table(title: str, rows: list[dict]) -> str:
    head = (
        f"| {title} | samples/s | clips/s | frames/s | ms/sample | CPU ms/sample | decoded frames/sample "
        "| pipeline/naive: wall | pipeline/naive: CPU |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for r in rows:
        ratios = (
            f"{r['speedup']:.2f}x | {r['cpu_speedup']:.2f}x"
            if r["speedup"] is not None
            else "baseline | baseline"
        )
        lines.append(
            f"| {r['method']} | {r['samples_per_s']:.2f} | {r['clips_per_s']:.2f} | {r['frames_per_s']:.0f} "
            f"| {r['ms_per_sample']:.0f} | {r['cpu_ms_per_sample']:.0f} | {r['decoded_per_sample']:.0f} "
            f"| {ratios} |"
        )
    return "\n".join(lines)


def machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    load = "n/a" if not hasattr(os, "getloadavg") else ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.processor() or platform.machine()}, {cpus} usable CPU cores, {gpu}; Python "
        f"{platform.python_version()}, torch {torch.__version__}, PyAV {av.__version__} (libavcodec "
        f"{'.'.join(map(str, av.library_versions['libavcodec']))}), {_torchcodec_version()}; load average "
        f"{load}; "
        f"{datetime.date.today().isoformat()}"
    )


def _torchcodec_version() -> str:
    if torchcodec_missing() is not None:
        return "no torchcodec"
    import torchcodec

    return f"torchcodec {torchcodec.__version__} (system FFmpeg)"


def busy_cpu_seconds() -> float | None:
    """CPU seconds all processes have spent so far (Linux /proc/stat), to tell how busy the neighbours were."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class NeighbourLoad:
    """How many cores other processes kept busy during a ``with`` block (None where /proc/stat is absent)."""

    cores: float | None = None

    def __enter__(self) -> NeighbourLoad:
        self._busy, self._own, self._wall = busy_cpu_seconds(), time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        end = busy_cpu_seconds()
        if self._busy is not None and end is not None:
            own = time.process_time() - self._own
            self.cores = max(end - self._busy - own, 0) / (time.perf_counter() - self._wall)

    def note(self) -> str:
        if self.cores is None:
            return "(load of other processes unknown)"
        return f"(other processes kept {self.cores:.2f} of the CPU cores busy meanwhile)"


def run_routes(generated: Sequence[Path], cache: Path, samples: int, rounds: int) -> dict:
    """PyAV and torchcodec on the generated videos and on their prepared copy (made once, one process)."""
    raw_dir = cache / "routes-raw"  # hard links: prepare mirrors a whole folder, this one holds only these
    raw_dir.mkdir(parents=True, exist_ok=True)
    raw = []
    for path in generated:
        link = raw_dir / path.name
        if not link.exists():
            os.link(path, link)
        raw.append(link)
    prepared, prep_s = prepared_copy(raw, cache / "routes-prepared")
    backends = ["pyav"] if torchcodec_missing() else ["pyav", "torchcodec"]
    if torchcodec_missing():
        print(f"note: torchcodec rows skipped: {torchcodec_missing()}", file=sys.stderr)
    with NeighbourLoad() as load:
        rows = bench_routes({"raw": raw, "prepared": prepared}, backends, samples, rounds)
    print("Decoding routes: TrainClips weak, t_s = 10 s (the paper's unlabeled stream), one worker")
    print(format_routes(rows))
    prep = f"{prep_s:.2f} s per video, one process" if prep_s else "copy up to date, cost not re-measured"
    print(f"cmpl prepare: {prep}; {load.note()}\n")
    return {"rows": rows, "prepare_s_per_video": prep_s, "other_processes_cores": load.cores}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Samples/s, clips/s and frames/s of one data-loading worker: naive full decode vs "
        "cmpl's TrainClips, on real clips and on generated Kinetics-like videos.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--real", type=Path, default=REAL_CLIPS, help="folder of real videos (skipped if absent)"
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where generated videos are kept")
    parser.add_argument("--videos", type=int, default=8, help="generated Kinetics-like videos")
    parser.add_argument(
        "--keyint", type=int, default=None, help="x264 key frame interval (default: x264's 250)"
    )
    parser.add_argument("--samples", type=int, default=6, help="samples per method, dataset and round")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds, each interleaving all methods; the best one counts"
    )
    parser.add_argument("--torch-threads", type=int, default=1, help="1 = like a DataLoader worker")
    parser.add_argument(
        "--naive-threading",
        choices=("AUTO", "SLICE"),
        default="AUTO",
        help="the naive loader's FFmpeg threading: AUTO as the pipeline, SLICE is PyAV's default",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    routes = parser.add_mutually_exclusive_group()
    routes.add_argument("--no-routes", action="store_true", help="skip the PyAV/torchcodec routes table")
    routes.add_argument("--only-routes", action="store_true", help="only the routes table")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.torch_threads)
    NaiveClips.threading = args.naive_threading
    start = time.perf_counter()
    datasets: dict[str, list[Path]] = {}
    if args.real.is_dir():
        datasets[f"real clips ({args.real.name})"] = sorted(
            p for p in args.real.iterdir() if p.suffix in (".mp4", ".avi")
        )
    else:
        print(f"note: {args.real} not found; real clips skipped", file=sys.stderr)
    t = time.perf_counter()
    generated = make_kinetics_like(args.cache, args.videos, keyint=args.keyint)
    made = time.perf_counter() - t
    packets, keys = key_frames(generated[0])
    kbits = np.mean([p.stat().st_size for p in generated]) * 8 / 1000 / 10.0
    datasets[f"Kinetics-like, {len(generated)} x 340x256 10 s 30 fps H.264"] = generated

    where = machine()
    print(f"machine: {where}")
    print(
        f"torch threads per worker: {torch.get_num_threads()}; generated videos: {args.cache} "
        f"({made:.0f} s to make; {kbits:.0f} kbit/s on average; first one: {keys} key frames in {packets} "
        "frames)"
    )
    print(
        f"one sample = {SPECS[0].num_frames}x{SPECS[0].stride} + {SPECS[1].num_frames}x{SPECS[1].stride} "
        f"clips at 224x224 = 2 clips, {FRAMES_PER_SAMPLE} frames; {args.samples} samples per method, "
        f"dataset and round; rates from the best of {args.rounds} rounds\n"
    )
    report = {"machine": where, "args": {k: str(v) for k, v in vars(args).items()}, "datasets": {}}
    for title, paths in [] if args.only_routes else datasets.items():
        with NeighbourLoad() as load:
            rows = bench_dataset(paths, args.samples, args.rounds)
        report["datasets"][title] = {"rows": rows, "other_processes_cores": load.cores}
        print(format_table(title, rows), flush=True)
        print(load.note(), "\n")
    if not args.no_routes:
        report["routes"] = run_routes(generated, args.cache, args.samples, args.rounds)
    print(f"total {time.perf_counter() - start:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
