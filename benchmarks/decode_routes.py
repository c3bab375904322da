"""Decoding routes side by side: PyAV and torchcodec readers on raw and ``cmpl prepare``d copies.

Why: the loader must feed the GPU. One sample is what CMPL reads per video and step (8x8 and 16x4 clips at
224, 2 clips); a 55 ms step at the paper's 2 + 10 clips per GPU needs 12 / 0.055 = 218 samples/s. A worker
costs CPU time per sample whatever its threads do, so ``cores x 1000 / CPU ms per sample`` is what a machine
with that many free cores can deliver (an upper bound: the main process and the GPU driver need some too).
Used by ``data_pipeline.py --routes`` and ``gpu_check.py``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from cmpl.data.annotations import VideoRecord
from cmpl.data.datasets import TrainClips
from cmpl.data.prepare import PrepareSettings, prepare_dataset
from cmpl.data.sampling import ClipSpec

SPECS = (ClipSpec(8, 8), ClipSpec(16, 4))
PAPER_OFFSET_S = 10.0
STEP_MS, CLIPS_PER_STEP = 55.0, 12  # the target step at the paper's per-GPU batch
NEED = CLIPS_PER_STEP / (STEP_MS / 1000)  # samples/s one GPU consumes


def prepared_copy(raw: Sequence[Path], dest: Path, workers: int = 1) -> tuple[list[Path], float | None]:
    """``cmpl prepare`` the folder of ``raw`` into ``dest``; (copies, seconds per video encoded or None when
    all were up to date)."""
    start = time.perf_counter()
    report = prepare_dataset(raw[0].parent, dest, PrepareSettings(), workers=workers, progress=False)
    if report.failed:
        raise RuntimeError(f"cmpl prepare failed on {report.failed}")
    seconds = time.perf_counter() - start
    per_video = seconds * workers / report.encoded if report.encoded else None  # CPU-seconds per video
    return [dest / p.relative_to(raw[0].parent) for p in raw], per_video


def _loader(paths: Sequence[Path], backend: str) -> TrainClips:
    """The paper's unlabeled stream: weak augmentation (short side 256, centre 224), t_s = 10 s."""
    return TrainClips(
        [VideoRecord(p, 0) for p in paths],
        SPECS,
        max_offset_s=PAPER_OFFSET_S,
        mode="weak",
        short_side_range=(256, 256),
        crop_size=224,
        backend=backend,
    )


def bench_routes(
    copies: dict[str, Sequence[Path]], backends: Sequence[str], samples: int, rounds: int, cores: int = 16
) -> list[dict]:
    """One row per (backend, copy): samples/s of one worker (fastest round), CPU ms per sample (all rounds,
    all threads), and what ``cores`` saturated workers would deliver against one GPU's need."""
    loaders = {(b, c): _loader(paths, b) for b in backends for c, paths in copies.items()}
    for loader in loaders.values():
        if loader[10_000]["skipped"]:  # warm-up: imports, first open
            raise RuntimeError("unreadable benchmark video")
    wall: dict[tuple[str, str], list[float]] = {k: [] for k in loaders}
    cpu = dict.fromkeys(loaders, 0.0)
    for r in range(rounds):
        for key, loader in loaders.items():  # rounds interleave the routes: load changes hit all
            start, start_cpu = time.perf_counter(), time.process_time()
            for k in range(r * samples, (r + 1) * samples):
                loader[k]
            wall[key].append(time.perf_counter() - start)
            cpu[key] += time.process_time() - start_cpu
    rows = []
    for (backend, copy), _ in loaders.items():
        cpu_ms = 1000 * cpu[(backend, copy)] / (samples * rounds)
        projected = cores * 1000 / cpu_ms
        rows.append(
            {
                "backend": backend,
                "copy": copy,
                "samples_per_s_per_worker": samples / min(wall[(backend, copy)]),
                "cpu_ms_per_sample": cpu_ms,
                f"projected_samples_per_s_{cores}_cores": projected,
                "cores_for_need": NEED * cpu_ms / 1000,
                "need_samples_per_s": NEED,
                "covers_need": projected >= NEED,
            }
        )
    return rows


def format_routes(rows: list[dict], cores: int = 16) -> str:
    lines = [
        f"| backend | copy | samples/s per worker | CPU ms/sample | {cores} cores: samples/s | cores for "
        f"{NEED:.0f} samples/s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['copy']} | {r['samples_per_s_per_worker']:.1f} | "
            f"{r['cpu_ms_per_sample']:.0f} | {r[f'projected_samples_per_s_{cores}_cores']:.0f} | "
            f"{r['cores_for_need']:.1f} |"
        )
    return "\n".join(lines)
