"""One command that proves the GPU path end to end and measures it (issue 11).

Run from the repository root on a machine with one GPU (``--cpu-smoke``: tiny sizes on the CPU, to check the
script itself). It makes its own Kinetics-like videos (340x256, 10 s, 30 fps, H.264), then runs each part
timed and guarded, so that one failure does not stop the rest:

* ``cmpl bench`` at the paper's per-GPU batch (F: r50 on 8x224x224, A: r50 x 1/4 on 16x224x224, 2 + 10
  clips): fp32 eager, bf16, bf16 + channels_last_3d, + torch.compile; ms/step, TFLOP/s, peak memory, and end
  to end through the real loaders (all cores as workers) from the raw videos and from a ``cmpl prepare`` copy;
* the decoding routes (PyAV, torchcodec, torchcodec on CUDA) per worker, projected to this machine's cores;
* 200 CMPL steps (bf16, channels_last, compile): the loss is finite and falls; ``cmpl evaluate`` at 10 x 3
  and ``cmpl predict`` on that run;
* a checkpoint written on this device resumes and gives the uninterrupted run's next losses;
* ``torchrun --nproc-per-node 1`` (NCCL on CUDA, Gloo on the CPU) for a few steps.

A table is printed last and every figure goes to ``OUT/gpu_check.json``. The parts stop being started once
``--budget`` seconds have passed (default 480: the lent device allows 10-minute commands).

    PYTHONPATH=src python benchmarks/gpu_check.py --out "$OUT"           # on the GPU machine
    PYTHONPATH=src python benchmarks/gpu_check.py --out /tmp/gc --cpu-smoke  # here: ~5 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # runs without installing cmpl
sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_pipeline import machine, make_kinetics_like
from decode_routes import bench_routes, format_routes

from cmpl.run_files import read_metrics

REPO = Path(__file__).resolve().parents[1]
PAPER_CONFIG = "kinetics400/cmpl_r50_1pct"  # shipped inside the package, resolved by name
NUM_CLASSES = 4


@dataclass
class Sizes:
    """What differs between the real check and the CPU smoke run."""

    videos_per_class: int  # train videos; test gets a quarter of them
    seconds: float
    size: tuple[int, int]
    overrides: list[str]  # on top of the paper's K400 CMPL config
    bench_steps: int
    train_steps: int
    log_every: int
    eval_views: str


GPU = Sizes(
    videos_per_class=8,
    seconds=10.0,
    size=(340, 256),
    overrides=[],
    bench_steps=20,
    train_steps=200,
    log_every=10,
    eval_views="10x3",
)
SMOKE = Sizes(
    videos_per_class=3,
    seconds=3.0,
    size=(96, 72),
    overrides=[
        "model.primary=r10_w0.125",
        "model.auxiliary=r10_w0.125",
        "data.crop_size=32",
        "data.short_side_range=[36,44]",
        "data.weak_short_side=36",
        "data.time_offset_s=1.0",
        "method.unlabeled_ratio=2",
        "eval.short_side=36",
        "eval.crop_size=32",
    ],
    bench_steps=3,
    train_steps=12,
    log_every=2,
    eval_views="2x3",
)


@dataclass
class Part:
    name: str
    status: str = "not run"  # ok, FAILED, skipped: <why>
    seconds: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class Check:
    """Runs parts in order, each timed and guarded; later parts are skipped once the budget is spent."""

    def __init__(self, out: Path, budget_s: float) -> None:
        self.out, self.deadline = out, time.perf_counter() + budget_s
        self.parts: list[Part] = []

    def run(self, name: str, body: Callable[[Part], None], skip: str | None = None) -> Part:
        part = Part(name)
        self.parts.append(part)
        if skip is None and time.perf_counter() > self.deadline:
            skip = "time budget spent"
        if skip is not None:
            part.status = f"skipped: {skip}"
            print(f"[{name}] {part.status}", flush=True)
            return part
        print(f"[{name}] ...", flush=True)
        start = time.perf_counter()
        try:
            body(part)
            part.status = "ok" if part.status == "not run" else part.status
        except Exception as e:  # a failed part is reported, the others still run
            part.status, part.error = "FAILED", f"{type(e).__name__}: {e}"
            traceback.print_exc()
        part.seconds = time.perf_counter() - start
        print(f"[{name}] {part.status} in {part.seconds:.0f} s {json.dumps(part.figures)}", flush=True)
        self.save()
        return part

    def save(self) -> None:
        report = {"machine": machine(), "parts": [vars(p) for p in self.parts]}
        (self.out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str))


TIMEOUT_SCALE = [1.0]  # --timeout-scale: a shared CPU needs far longer than a GPU machine


def sh(args: list[str], timeout: float, env: dict[str, str] | None = None) -> str:
    """Run a command; its output goes to the log, and a non-zero exit raises with the output's tail."""
    full_env = {**os.environ, "PYTHONPATH": _pythonpath(), **(env or {})}
    timeout *= TIMEOUT_SCALE[0]
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=REPO)
    print(done.stdout[-3000:], done.stderr[-3000:], sep="\n", flush=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} ... exited {done.returncode}: {done.stderr[-800:]}")
    return done.stdout


def _pythonpath() -> str:
    return os.pathsep.join(p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH", "")) if p)


def cmpl(*args: str, timeout: float = 300) -> str:
    return sh([sys.executable, "-m", "cmpl", *args], timeout)


# ------------------------------------------------------------------------------------------------ data


def _make_part(job: tuple[Path, int, float, tuple[int, int]]) -> list[Path]:
    folder, index, seconds, size = job
    return make_kinetics_like(folder, 1, seconds=seconds, size=size, start=index)


def make_dataset(root: Path, sizes: Sizes, workers: int) -> tuple[list[Path], list[Path]]:
    """A ``list``-format dataset of Kinetics-like videos: train.txt, test.txt, classes.txt."""
    train_n = NUM_CLASSES * sizes.videos_per_class
    test_n = NUM_CLASSES * max(1, sizes.videos_per_class // 4)
    jobs = [(root / "videos", i, sizes.seconds, sizes.size) for i in range(train_n + test_n)]
    with ProcessPoolExecutor(workers) as pool:
        paths = [p for made in pool.map(_make_part, jobs) for p in made]
    train, test = paths[:train_n], paths[train_n:]
    for name, subset in (("train.txt", train), ("test.txt", test)):
        lines = [f"{p.relative_to(root).as_posix()} {i % NUM_CLASSES}" for i, p in enumerate(subset)]
        (root / name).write_text("\n".join(lines) + "\n")
    (root / "classes.txt").write_text("".join(f"action_{c}\n" for c in range(NUM_CLASSES)))
    return train, test


# ----------------------------------------------------------------------------------------------- parts


def data_overrides(root: Path, run_dir: Path, sizes: Sizes, workers: int, device: str) -> list[str]:
    return [
        "data.format=list",
        f"data.root={root}",
        "data.labeled_per_class=2",
        f"data.num_workers={workers}",
        f"train.output_dir={run_dir}",
        f"train.device={device}",
        "train.progress=false",
        "schedule.warmup_iterations=10",  # the paper's 1000 is more than a few dozen videos' 200 epochs
        *sizes.overrides,
    ]


VARIANTS = {  # name -> overrides; on CUDA "auto" would turn amp and channels_last on
    "fp32 eager": ["train.amp=false", "train.channels_last=false", "train.compile=false"],
    "bf16": ["train.amp=true", "train.channels_last=false", "train.compile=false"],
    "bf16 + channels_last_3d": ["train.amp=true", "train.channels_last=true", "train.compile=false"],
    "bf16 + channels_last_3d + compile": ["train.amp=true", "train.channels_last=true", "train.compile=true"],
}


def bench(part: Part, common: list[str], variant: list[str], steps: int, work: Path) -> None:
    out = work / f"bench_{len(list(work.glob('bench_*.json')))}.json"
    cmpl(
        "bench", str(PAPER_CONFIG), *common, *variant, "--steps", str(steps), "--warmup", "5",
        "--json", str(out),
    )  # fmt: skip
    r = json.loads(out.read_text())
    part.figures.update(
        floor_ms=r["floor_ms"],
        end_to_end_ms=r["end_to_end_ms"],
        data_efficiency=r["data_efficiency"],
        tflop_per_step=r["tflop_per_step"],
        floor_tflops=r["floor_tflops"],
        peak_memory_gib=r["peak_memory_gib"],
        device=r["device"],
    )
    if r["device"] != "cpu":  # issue 11's targets for an H200
        part.figures["targets"] = {
            "floor >= 100 TFLOP/s": r["floor_tflops"] >= 100,
            "end to end >= 90 % of floor": r["data_efficiency"] >= 0.9,
            "peak <= 10 GiB": r["peak_memory_gib"] <= 10,
        }


def train_and_use(
    part: Part, common: list[str], sizes: Sizes, run_dir: Path, video: Path, compile_: bool
) -> None:
    """200 steps with the GPU settings, then the run's 10 x 3 evaluation and a prediction."""
    part.figures["compile"] = compile_
    cmpl(
        "train", str(PAPER_CONFIG), *common, "train.amp=true", "train.channels_last=true",
        f"train.compile={str(compile_).lower()}", "schedule.epochs=0", f"schedule.iterations={sizes.train_steps}",
        "schedule.warmup_iterations=10", f"train.log_every={sizes.log_every}", "eval.num_clips=1",
        "eval.num_crops=1", "train.checkpoint_every=100000", timeout=420,
    )  # fmt: skip
    rows = read_metrics(run_dir, "train")
    losses = [r["loss"] for r in rows]
    sup = [r["loss_sup_primary"] for r in rows]
    quarter = max(1, len(rows) // 4)
    part.figures.update(
        steps=sizes.train_steps,
        loss_first=losses[0],
        loss_last=losses[-1],
        sup_loss_first_quarter=sum(sup[:quarter]) / quarter,
        sup_loss_last_quarter=sum(sup[-quarter:]) / quarter,
        clips_per_s=rows[-1].get("clips_per_s"),
    )
    finite = all(math.isfinite(x) for x in losses)
    falls = part.figures["sup_loss_last_quarter"] < part.figures["sup_loss_first_quarter"]
    part.figures.update(loss_finite=finite, sup_loss_falls=falls)
    clips, crops = sizes.eval_views.split("x")
    out = cmpl("evaluate", str(run_dir), "--views", sizes.eval_views)
    result = json.loads((run_dir / f"results_{clips}x{crops}.json").read_text())
    part.figures.update(
        eval_views=sizes.eval_views, eval_top1=result["top1"], eval_videos=result["num_videos"]
    )
    out = cmpl("predict", str(run_dir), str(video), "--top-k", "3", "--views", "1x1")
    part.figures["predict"] = json.loads(out.strip().splitlines()[-1])["top"][0]
    if not (finite and falls):
        part.status = "FAILED"
        part.error = "loss not finite" if not finite else "supervised loss did not fall"


class _KeepCheckpoint:
    """Copies the run folder right after the checkpoint of iteration ``at`` is written."""

    def __init__(self, at: int, copy_to: Path) -> None:
        self.at, self.copy_to = at, copy_to

    def wrap(self, trainer: Any) -> None:
        save = trainer._save

        def save_and_copy() -> None:
            save()
            if trainer.progress.iteration == self.at:
                shutil.copytree(trainer.run_dir, self.copy_to)

        trainer._save = save_and_copy


def resume_matches(part: Part, common: list[str], work: Path, device: str) -> None:
    """4 uninterrupted steps vs the same run resumed from its iteration-2 checkpoint: steps 3 and 4 must
    give the same losses (bf16, channels_last, eager; deterministic cuDNN kernels)."""
    from cmpl.config import load_config
    from cmpl.engine.trainer import Trainer

    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    whole, cut = work / "resume_whole", work / "resume_cut"
    overrides = [*common, "train.amp=true", "train.channels_last=true", "train.compile=false",
                 "schedule.epochs=0", "schedule.iterations=4", "schedule.warmup_iterations=1",
                 "train.log_every=1", "train.checkpoint_every=2", "eval.num_clips=1", "eval.num_crops=1",
                 "eval.max_videos=2"]  # fmt: skip
    trainer = Trainer(load_config(PAPER_CONFIG, [*overrides, f"train.output_dir={whole}"]))
    _KeepCheckpoint(2, cut).wrap(trainer)
    trainer.fit()
    with (cut / "metrics.jsonl").open() as f:
        kept = [line for line in f if json.loads(line)["step"] <= 2]
    (cut / "metrics.jsonl").write_text("".join(kept))
    Trainer(load_config(PAPER_CONFIG, [*overrides, f"train.output_dir={cut}"]), resume=True).fit()
    a = [r["loss"] for r in read_metrics(whole, "train") if r["step"] > 2]
    b = [r["loss"] for r in read_metrics(cut, "train") if r["step"] > 2]
    if len(a) != 2 or len(b) != 2:
        raise RuntimeError(f"expected the losses of steps 3 and 4, got {a} and {b}")
    diff = max(abs(x - y) / max(abs(x), 1e-8) for x, y in zip(a, b, strict=True))
    part.figures.update(device=device, losses_uninterrupted=a, losses_resumed=b, max_relative_diff=diff)
    if diff > 1e-3:
        part.status, part.error = "FAILED", f"resumed losses differ by {diff:.2e} (relative)"


def torchrun(part: Part, common: list[str], work: Path) -> None:
    run_dir = work / "torchrun"
    args = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "1", "--standalone",
            "-m", "cmpl", "train", str(PAPER_CONFIG), *common, f"train.output_dir={run_dir}",
            "schedule.epochs=0", "schedule.iterations=4", "schedule.warmup_iterations=1", "train.log_every=1",
            "eval.num_clips=1", "eval.num_crops=1", "eval.max_videos=2"]  # fmt: skip
    sh(args, timeout=240)
    rows = read_metrics(run_dir, "train")
    part.figures.update(
        backend="nccl" if torch.cuda.is_available() else "gloo",
        steps=len(rows),
        losses=[r["loss"] for r in rows],
    )


def routes(part: Part, raw: list[Path], prepared: list[Path], cores: int, samples: int) -> None:
    from cmpl.data.torchcodec_reader import available

    backends = ["pyav"]
    if available() is None:
        backends += ["torchcodec", "torchcodec_cuda"] if torch.cuda.is_available() else ["torchcodec"]
    else:
        part.figures["torchcodec"] = available()
    torch.set_num_threads(1)  # like a DataLoader worker
    rows = bench_routes({"raw": raw, "prepared": prepared}, backends, samples, 2, cores=cores)
    print(format_routes(rows, cores))
    part.figures["rows"] = rows


# ------------------------------------------------------------------------------------------------ main


def table(parts: list[Part]) -> str:
    lines = [f"{'part':<44} {'status':<28} {'s':>5}  figures"]
    keys = ("floor_ms", "end_to_end_ms", "floor_tflops", "peak_memory_gib", "prepare_s_per_video",
            "sup_loss_first_quarter", "sup_loss_last_quarter", "eval_top1", "max_relative_diff", "steps",
            "data_efficiency", "targets")  # fmt: skip
    for p in parts:
        shown = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.figures.items() if k in keys
        )
        lines.append(f"{p.name:<44} {p.status[:28]:<28} {p.seconds:>5.0f}  {shown}")
        if p.error:
            lines.append(f"{'':<44} {p.error[:160]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json and the logs")
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on the CPU: checks the script")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: OUT/work)")
    parser.add_argument("--budget", type=float, default=480, help="seconds after which no part starts")
    parser.add_argument("--timeout-scale", type=float, default=1.0, help="multiplies every command's timeout")
    parser.add_argument(
        "--smoke-skip",
        nargs="*",
        default=[],
        choices=list(VARIANTS),
        help="bench variants the CPU smoke run leaves out (a loaded 2-core machine needs minutes for each)",
    )
    args = parser.parse_args(argv)
    TIMEOUT_SCALE[0] = args.timeout_scale
    cuda = torch.cuda.is_available()
    if not cuda and not args.cpu_smoke:
        parser.error("no CUDA device: run with --cpu-smoke to check the script on the CPU")
    sizes = SMOKE if args.cpu_smoke else GPU
    device = "cuda" if cuda and not args.cpu_smoke else "cpu"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = max(1, cores // 2)  # per loader; labeled + unlabeled = all cores
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work or args.out / "work"
    work.mkdir(parents=True, exist_ok=True)
    check = Check(args.out, args.budget)
    print(f"machine: {machine()}\nsizes: {sizes}\n", flush=True)

    raw_root, prep_root = work / "raw", work / "prepared"
    made: dict[str, list[Path]] = {}

    def videos(part: Part) -> None:
        made["train"], made["test"] = make_dataset(raw_root, sizes, cores)
        part.figures.update(train=len(made["train"]), test=len(made["test"]), size=sizes.size)

    def prepare(part: Part) -> None:
        all_raw = made["train"] + made["test"]
        start = time.perf_counter()
        out = cmpl("prepare", str(raw_root), str(prep_root), "--workers", str(cores))
        wall = time.perf_counter() - start
        encoded = int(out.split()[0])  # "N videos encoded, ..."
        made["prepared"] = [prep_root / p.relative_to(raw_root) for p in all_raw]
        part.figures.update(videos=len(all_raw), encoded=encoded, wall_s=wall, processes=cores)
        if encoded:  # core-seconds per video: what preparing a collection costs per video
            part.figures["prepare_s_per_video"] = wall * cores / encoded

    check.run("make Kinetics-like videos", videos)
    have_data = "train" in made
    check.run("cmpl prepare (all cores)", prepare, None if have_data else "no videos")
    no_data = None if have_data else "no videos"
    common = data_overrides(raw_root, work / "bench_run", sizes, workers, device)
    for name, variant in VARIANTS.items():
        skip = no_data
        if "compile" in name and not cuda:
            skip = "no CUDA (inductor on the CPU: pytest -m slow covers it)"
        elif args.cpu_smoke and name in args.smoke_skip:
            skip = "--smoke-skip (the same code as the other variants)"
        check.run(
            f"bench raw: {name}", lambda p, v=variant: bench(p, common, v, sizes.bench_steps, work), skip
        )
    run_dir = work / "train_run"
    train_common = data_overrides(raw_root, run_dir, sizes, workers, device)
    check.run(  # without compile on the CPU: minutes with inductor on 2 cores
        f"train {sizes.train_steps} steps + evaluate {sizes.eval_views} + predict",
        lambda p: train_and_use(p, train_common, sizes, run_dir, made["test"][0], compile_=cuda),
        no_data,
    )
    check.run(
        "checkpoint resume gives the same losses",
        lambda p: resume_matches(p, train_common, work, device),
        no_data,
    )
    check.run("torchrun --nproc-per-node 1", lambda p: torchrun(p, train_common, work), no_data)
    # after the proofs: the compile cache makes this one quick
    best = "bf16 + channels_last_3d" + (" + compile" if cuda else "")
    prep_common = data_overrides(prep_root, work / "bench_run_prep", sizes, workers, device)
    check.run(
        f"bench prepared copy: {best}",
        lambda p: bench(p, prep_common, VARIANTS[best], sizes.bench_steps, work),
        None if "prepared" in made else "no prepared copy",
    )
    check.run(
        "decode routes per worker",
        lambda p: routes(p, made["train"][:8], made["prepared"][:8], cores, 6 if cuda else 2),
        None if "prepared" in made else "no prepared copy",
    )
    check.save()
    print("\n" + table(check.parts))
    print(f"\nfigures: {args.out / 'gpu_check.json'}")
    return 0 if all(not p.status.startswith("FAILED") for p in check.parts) else 1


if __name__ == "__main__":
    sys.exit(main())
