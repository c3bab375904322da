"""One command that proves the GPU path correct, then measures it (issues 11 and 42).

Run from the repository root on a machine with one GPU (``--cpu-smoke``: tiny sizes on the CPU, the CPU
standing in for CUDA and Gloo for NCCL, to check the script itself; ``tests/test_scripts.py`` runs it). Before
anything runs it checks that the wheels it needs are installed (``WHEELS`` below says which to carry, for which
Python versions). It makes its own Kinetics-like videos (340x256, 10 s, 30 fps, H.264), then runs each part
timed and guarded, so that one failure does not stop the rest. Correctness comes first:

* bf16 autocast vs fp32 on the same batch: the logits' relative L2 error and the loss's relative error are
  within ``BF16_LOGITS_REL`` and ``BF16_LOSS_REL``;
* compiled vs eager (``torch.compile``, the trainer's path): the first steps' losses agree within
  ``COMPILE_REL`` (on the CPU smoke run dynamo with the ``aot_eager`` backend stands in for inductor, whose
  C++ build takes minutes on 2 cores);
* a checkpoint written on the device resumes and gives the uninterrupted run's next losses (``RESUME_REL``);
* ``torchrun`` (NCCL; Gloo on the CPU) gives the losses of a single-process run of the same seed and global
  batch (``DDP_REL``);
* NVDEC frames (torchcodec on CUDA) vs CPU frames (PyAV) of the same video: mean absolute difference within
  ``NVDEC_MEAN_LEVELS`` (skipped with the reason where there is no GPU or no torchcodec).

Then speed: ``cmpl train`` 200 steps (bf16, channels_last, compile), ``cmpl evaluate`` at 10 x 3 and
``cmpl predict``; ``cmpl prepare``; ``cmpl bench`` at the paper's per-GPU batch in four variants and on the
prepared copy; the decoding routes per worker.

Every part checks the time left before it starts (it is skipped when less than it needs is left) and is
stopped when it runs past its share (``STOPPED``, its subprocesses killed), so that the whole call ends
within ``--budget`` seconds (default 540: the lent device allows 10-minute commands). A table is printed
last and every figure goes to ``OUT/gpu_check.json`` (rewritten after every part). Exit status: 0 every part
ok or skipped for a stated reason, 1 a part FAILED or was STOPPED, 2 a wheel is missing.

    PYTHONPATH=src python benchmarks/gpu_check.py --out "$OUT"                # on the GPU machine
    PYTHONPATH=src python benchmarks/gpu_check.py --out /tmp/gc --cpu-smoke   # here
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))  # runs without installing cmpl
sys.path.insert(0, str(Path(__file__).resolve().parent))

PAPER_CONFIG = "kinetics400/cmpl_r50_1pct"  # shipped inside the package, resolved by name
NUM_CLASSES = 4

# ------------------------------------------------------------------------------------------ tolerances
BF16_LOGITS_REL = 0.05  # ||logits_bf16 - logits_fp32|| / ||logits_fp32||, same batch, same weights
BF16_LOSS_REL = 0.02  # |loss_bf16 - loss_fp32| / |loss_fp32|
COMPILE_REL = {"fp32": 1e-3, "bf16": 2e-2}  # per step, first 2 steps; fusion changes rounding
RESUME_REL = 1e-3  # steps 3 and 4, resumed from iteration 2 vs uninterrupted (deterministic cuDNN)
DDP_REL = {"cpu": 1e-4, "cuda": 1e-3}  # per step and loss term, torchrun vs one process
NVDEC_MEAN_LEVELS = 3.0  # mean |RGB difference| in 0-255 levels (colour conversion differs a little)
NVDEC_FAR_SHARE = 0.01  # share of values more than 16 levels apart

# ------------------------------------------------------------------------------------------ wheels
WHEELS = (
    # (module, requirement, what to carry and for which Python versions, required, what needs it)
    ("av", "av==18.1.0", "av-18.1.0-cp311-abi3-manylinux_2_28_x86_64.whl: abi3, one file for CPython "
     "3.11, 3.12 and 3.13", True, "decoding (the default backend)"),
    ("yaml", "pyyaml", "pyyaml-6.0.x-cp3XX-cp3XX-manylinux_2_28_x86_64.whl: one wheel per CPython "
     "version, carry 3.11, 3.12 and 3.13", True, "configs"),
    ("tqdm", "tqdm", "tqdm-4.x-py3-none-any.whl: any Python 3", True, "progress bars"),
    ("torchcodec", "torchcodec==0.17.0", "torchcodec-0.17.0-cp312-cp312-manylinux_2_28_x86_64.whl: "
     "CPython 3.12 only (download the wheel of the machine's Python); needs FFmpeg's shared libraries",
     False, "the NVDEC comparison and the torchcodec decode rows"),
)  # fmt: skip
"""torch, torchvision and numpy come with the lent machine; tensorboard is optional (metrics.jsonl only)."""


def missing_wheels() -> tuple[list[str], list[str]]:
    """(required, optional) lines for each module that does not import; checked before anything runs."""
    required, optional = [], []
    for module, requirement, carry, needed, what in WHEELS:
        if importlib.util.find_spec(module) is None:
            (required if needed else optional).append(f"{module} ({requirement}; for {what}): carry {carry}")
    return required, optional


@dataclass
class Sizes:
    """What differs between the real check and the CPU smoke run."""

    videos_per_class: int  # train videos; test gets a quarter of them (at least one)
    labeled_per_class: int
    seconds: float
    size: tuple[int, int]
    overrides: list[str]  # on top of the paper's K400 CMPL config
    bench_steps: int
    bench_warmup: int
    train_steps: int
    log_every: int
    eval_views: str


GPU = Sizes(
    videos_per_class=8,
    labeled_per_class=2,
    seconds=10.0,
    size=(340, 256),
    overrides=[],
    bench_steps=20,
    bench_warmup=5,
    train_steps=200,
    log_every=10,
    eval_views="10x3",
)
SMOKE = Sizes(
    videos_per_class=2,
    labeled_per_class=1,
    seconds=1.5,
    size=(64, 48),
    overrides=[
        "model.primary.name=r10_w0.125",
        "model.auxiliary.name=r10_w0.125",
        "data.crop_size=32",
        "data.short_side_range=[36,44]",
        "data.weak_short_side=36",
        "data.time_offset_s=0.5",
        "method.unlabeled_ratio=2",
        "eval.short_side=36",
        "eval.crop_size=32",
    ],
    bench_steps=2,
    bench_warmup=1,
    train_steps=4,
    log_every=2,
    eval_views="1x1",
)


@dataclass
class Part:
    name: str
    status: str = "not run"  # ok, FAILED, STOPPED: <why>, skipped: <why>
    seconds: float = 0.0
    limit_s: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class PartTimeout(Exception):
    """The running part used up its share of the budget."""


PART_END = [math.inf]  # monotonic time at which the running part is stopped
TIMEOUT_SCALE = [1.0]  # --timeout-scale: a loaded CPU needs longer than a GPU machine


def _alarm(_signum: int, _frame: Any) -> None:
    raise PartTimeout("over its time share")


class Check:
    """Runs parts in order, each timed, guarded and stopped at its share of the budget."""

    def __init__(self, out: Path, budget_s: float, only: set[str] | None = None) -> None:
        self.out, self.deadline, self.only = out, time.monotonic() + budget_s, only
        self.parts: list[Part] = []

    def run(
        self, key: str, name: str, body: Callable[[Part], None], *, need_s: float, cap_s: float,
        skip: str | None = None,
    ) -> Part:  # fmt: skip
        """``need_s``: the least time the part is started with; ``cap_s``: the most it may take (both scaled
        by --timeout-scale); it never runs past the budget's end."""
        part = Part(name)
        self.parts.append(part)
        left = self.deadline - time.monotonic()
        need, cap = need_s * TIMEOUT_SCALE[0], cap_s * TIMEOUT_SCALE[0]
        if skip is None and self.only is not None and key not in self.only:
            skip = "not asked for (--only)"
        if skip is None and left < need:
            skip = f"{left:.0f} s of the budget left, it needs {need:.0f} s"
        if skip is not None:
            part.status = f"skipped: {skip}"
            print(f"[{name}] {part.status}", flush=True)
            return part
        part.limit_s = min(cap, left)
        print(f"[{name}] ... (at most {part.limit_s:.0f} s)", flush=True)
        start = time.monotonic()
        PART_END[0] = start + part.limit_s
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, part.limit_s)
        try:
            body(part)
            part.status = "ok" if part.status == "not run" else part.status
        except PartTimeout:
            part.status = f"STOPPED: over {part.limit_s:.0f} s"
        except Exception as e:  # a failed part is reported, the others still run
            part.status, part.error = "FAILED", f"{type(e).__name__}: {e}"
            traceback.print_exc()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            PART_END[0] = math.inf
        part.seconds = time.monotonic() - start
        print(f"[{name}] {part.status} in {part.seconds:.0f} s {json.dumps(part.figures)}", flush=True)
        self.save()
        return part

    def save(self) -> None:
        from data_pipeline import machine

        report = {"machine": machine(), "parts": [vars(p) for p in self.parts]}
        (self.out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str))


def fail(part: Part, why: str) -> None:
    part.status, part.error = "FAILED", why


def relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-8)


def sh(args: list[str], timeout: float, env: dict[str, str] | None = None) -> str:
    """Run a command in its own process group (torchrun's workers included) and return its stdout; a
    non-zero exit raises with the output's tail. The group is killed when the part's time is up."""
    full_env = {**os.environ, "PYTHONPATH": _pythonpath(), **(env or {})}
    limit = min(timeout * TIMEOUT_SCALE[0], PART_END[0] - time.monotonic())
    if limit <= 0:
        raise PartTimeout("no time left")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            args, stdout=out, stderr=err, text=True, env=full_env, cwd=REPO, start_new_session=True
        )
        try:
            code = proc.wait(timeout=limit)
        except BaseException as e:  # its time is up (a timeout or the part's alarm), or an interrupt
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            if isinstance(e, subprocess.TimeoutExpired):
                raise RuntimeError(f"{' '.join(args[:4])} ... timed out after {limit:.0f} s") from None
            raise
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    print(stdout[-3000:], stderr[-3000:], sep="\n", flush=True)
    if code != 0:
        raise RuntimeError(f"{' '.join(args[:4])} ... exited {code}: {stderr[-800:]}")
    return stdout


def _pythonpath() -> str:
    return os.pathsep.join(p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH", "")) if p)


def cmpl(*args: str, timeout: float = 300) -> str:
    return sh([sys.executable, "-m", "cmpl", *args], timeout)


# ------------------------------------------------------------------------------------------------ data


def _make_part(job: tuple[Path, int, float, tuple[int, int]]) -> list[Path]:
    from data_pipeline import make_kinetics_like

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


def data_overrides(root: Path, run_dir: Path, sizes: Sizes, workers: int, device: str) -> list[str]:
    return [
        "data.format=list",
        f"data.root={root}",
        f"data.labeled_per_class={sizes.labeled_per_class}",
        f"data.num_workers={workers}",
        f"train.output_dir={run_dir}",
        f"train.device={device}",
        "train.progress=false",
        "schedule.warmup_iterations=10",  # the paper's 1000 is more than a few dozen videos' 200 epochs
        *sizes.overrides,
    ]


SHORT_RUN = ["schedule.epochs=0", "schedule.warmup_iterations=1", "train.log_every=1", "eval.num_clips=1",
             "eval.num_crops=1", "eval.max_videos=2"]  # fmt: skip
FP32 = ["train.amp=false", "train.channels_last=false", "train.compile=false"]
BF16 = ["train.amp=true", "train.channels_last=true", "train.compile=false"]


def _trainer(common: list[str], run_dir: Path, *extra: str) -> Any:
    from cmpl.config import load_config
    from cmpl.engine.trainer import Trainer

    overrides = [*common, *SHORT_RUN, "data.num_workers=0", *extra, f"train.output_dir={run_dir}"]
    return Trainer(load_config(PAPER_CONFIG, overrides), force=True)


def _step_losses(trainer: Any, steps: int) -> list[float]:
    trainer.method.train()
    labeled, unlabeled = trainer.streams()
    return [float(trainer.train_step(labeled, unlabeled)["loss"].detach()) for _ in range(steps)]


# ------------------------------------------------------------------------------------ correctness


def bf16_matches_fp32(part: Part, common: list[str], work: Path) -> None:
    """One labeled batch through the primary network (train-mode BatchNorm, dropout off) in fp32 and under
    bf16 autocast, same weights: logits and cross-entropy loss."""
    import torch.nn.functional as F

    trainer = _trainer(common, work / "bf16_check", *FP32)
    try:
        labeled, _ = trainer.streams()
        batch = trainer.labeled_batch(next(labeled))
        net = trainer.method.primary.train()
        for module in net.modules():
            if isinstance(module, torch.nn.Dropout):
                module.eval()
        clips, labels = batch.views["primary"], batch.labels
        with torch.no_grad():
            fp32 = net(clips).float()
            with torch.autocast(trainer.device.type, dtype=torch.bfloat16):
                bf16 = net(clips).float()
        loss32, loss16 = F.cross_entropy(fp32, labels).item(), F.cross_entropy(bf16, labels).item()
        logits_rel = ((bf16 - fp32).norm() / fp32.norm().clamp(min=1e-8)).item()
    finally:
        trainer.close()
    part.figures.update(
        device=str(trainer.device), loss_fp32=loss32, loss_bf16=loss16, loss_rel=relative(loss16, loss32),
        logits_rel=logits_rel, logits_norm=fp32.norm().item(),
    )  # fmt: skip
    if not (math.isfinite(loss16) and logits_rel <= BF16_LOGITS_REL):
        fail(part, f"bf16 logits differ by {logits_rel:.3g} (relative L2) > {BF16_LOGITS_REL}")
    elif part.figures["loss_rel"] > BF16_LOSS_REL:
        fail(part, f"bf16 loss differs by {part.figures['loss_rel']:.3g} (relative) > {BF16_LOSS_REL}")


def compiled_matches_eager(part: Part, common: list[str], work: Path, cuda: bool) -> None:
    """Two steps of the same seed, eager and compiled (the trainer's ``train.compile=true`` on CUDA, with
    the GPU settings bf16 + channels_last_3d; fp32 with dynamo's aot_eager backend on the CPU)."""
    import torch._dynamo
    import torch._dynamo.utils
    import torch._inductor.config

    torch._inductor.config.fallback_random = True  # dropout draws as in eager mode: comparable losses
    torch._dynamo.reset()
    settings, precision = (BF16, "bf16") if cuda else (FP32, "fp32")
    eager = _trainer(common, work / "compile_eager", *settings)
    try:
        eager_losses = _step_losses(eager, 2)
    finally:
        eager.close()
    compiled = _trainer(common, work / "compile_compiled", *settings, f"train.compile={str(cuda).lower()}")
    try:
        if not cuda:
            for net in dict.fromkeys(compiled.method.networks.values()):
                net.compile(backend="aot_eager")
        graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
        compiled_losses = _step_losses(compiled, 2)
        if torch._dynamo.utils.counters["stats"]["unique_graphs"] == graphs:
            raise RuntimeError("the steps ran no compiled graph")
    finally:
        compiled.close()
    diff = max(relative(c, e) for c, e in zip(compiled_losses, eager_losses, strict=True))
    backend = "inductor" if cuda else "aot_eager (inductor's C++ build takes minutes on a small CPU)"
    part.figures.update(
        backend=backend,
        precision=precision,
        eager=eager_losses,
        compiled=compiled_losses,
        max_relative_diff=diff,
    )
    if not diff <= COMPILE_REL[precision]:
        fail(part, f"compiled losses differ by {diff:.2e} (relative) > {COMPILE_REL[precision]}")


def resume_matches(part: Part, common: list[str], work: Path, device: str) -> None:
    """4 uninterrupted steps vs the same run resumed from its iteration-2 checkpoint written on the device:
    steps 3 and 4 must give the same losses (bf16, channels_last, eager; deterministic cuDNN kernels)."""
    from cmpl.config import load_config
    from cmpl.engine.trainer import Trainer
    from cmpl.run_files import read_metrics

    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    whole, cut = work / "resume_whole", work / "resume_cut"
    shutil.rmtree(cut, ignore_errors=True)
    overrides = [*common, *BF16, *SHORT_RUN, "data.num_workers=0", "schedule.iterations=4",
                 "train.checkpoint_every=2", "train.keep_checkpoints=2"]  # fmt: skip
    Trainer(load_config(PAPER_CONFIG, [*overrides, f"train.output_dir={whole}"]), force=True).fit()
    # the same folder with its iteration-2 checkpoint as last.pt: --resume cuts the metrics back to it
    shutil.copytree(whole, cut, ignore=shutil.ignore_patterns(".lock"))
    shutil.copyfile(cut / "checkpoints" / "iter_00000002.pt", cut / "checkpoints" / "last.pt")
    (cut / "results.json").unlink(missing_ok=True)
    Trainer(load_config(PAPER_CONFIG, [*overrides, f"train.output_dir={cut}"]), resume=True).fit()
    a = [r["loss"] for r in read_metrics(whole, "train") if r["step"] > 2]
    b = [r["loss"] for r in read_metrics(cut, "train") if r["step"] > 2]
    if len(a) != 2 or len(b) != 2:
        raise RuntimeError(f"expected the losses of steps 3 and 4, got {a} and {b}")
    diff = max(relative(y, x) for x, y in zip(a, b, strict=True))
    part.figures.update(device=device, losses_uninterrupted=a, losses_resumed=b, max_relative_diff=diff)
    if not diff <= RESUME_REL:
        fail(part, f"resumed losses differ by {diff:.2e} (relative) > {RESUME_REL}")


DETERMINISTIC = [  # as tests/test_distributed.py: what DDP must get right, without per-rank BatchNorm
    "model.primary.freeze_bn_stats=true", "model.auxiliary.freeze_bn_stats=true", "model.primary.dropout=0",
    "model.auxiliary.dropout=0", "data.randaugment_ops=0", "data.cutout_ratio=0",
    "data.horizontal_flip=false", "optim.reference_labeled_batch=4", "method.threshold=0",
]  # fmt: skip
DDP_LOSSES = ("loss", "loss_sup_primary", "loss_sup_auxiliary", "loss_unsup_primary", "loss_unsup_auxiliary")


def torchrun_matches_one_process(part: Part, common: list[str], work: Path, cuda: bool) -> None:
    """``torchrun`` with one process per GPU (NCCL; 2 processes with Gloo on the CPU) vs one plain process
    with the same seed and global batch: every loss term of every step agrees."""
    from cmpl.run_files import read_metrics

    nproc = torch.cuda.device_count() if cuda else 2
    per_rank = 2
    device = ["train.device=auto"] if cuda else []  # auto: each rank takes the GPU of its LOCAL_RANK
    base = [*common, *FP32, *SHORT_RUN, *DETERMINISTIC, *device, "schedule.iterations=3"]
    one, many = work / "ddp_one", work / "ddp_torchrun"
    for folder in (one, many):
        shutil.rmtree(folder, ignore_errors=True)
    cmpl("train", PAPER_CONFIG, *base, f"train.labeled_batch={per_rank * nproc}", f"train.output_dir={one}",
         timeout=240)  # fmt: skip
    sh([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
        "-m", "cmpl", "train", PAPER_CONFIG, *base, f"train.labeled_batch={per_rank}",
        f"train.output_dir={many}"], timeout=300, env={"OMP_NUM_THREADS": "1"})  # fmt: skip
    a, b = read_metrics(one, "train"), read_metrics(many, "train")
    if [r["step"] for r in a] != [r["step"] for r in b] or not a:
        raise RuntimeError(f"steps differ: {[r['step'] for r in a]} vs {[r['step'] for r in b]}")
    diff = max(relative(y[k], x[k]) for x, y in zip(a, b, strict=True) for k in DDP_LOSSES if k in x)
    kind = "cuda" if cuda else "cpu"
    part.figures.update(
        backend="nccl" if cuda else "gloo", processes=nproc, losses_one=[r["loss"] for r in a],
        losses_torchrun=[r["loss"] for r in b], max_relative_diff=diff,
    )  # fmt: skip
    if not diff <= DDP_REL[kind]:
        fail(part, f"torchrun losses differ by {diff:.2e} (relative) > {DDP_REL[kind]}")


def nvdec_matches_cpu(part: Part, video: Path) -> None:
    """The same 8 frames decoded by NVDEC (torchcodec on CUDA) and by PyAV on the CPU."""
    import numpy as np

    from cmpl.data.decode import PyAVReader
    from cmpl.data.torchcodec_reader import TorchCodecReader

    with PyAVReader(video) as cpu, TorchCodecReader(video, "cuda") as gpu:
        n = min(cpu.meta.num_frames, gpu.meta.num_frames)
        wanted = np.linspace(0, n - 1, 8).round().astype(int)
        a, b = cpu.read(wanted).astype(np.int16), gpu.read(wanted).astype(np.int16)
    if a.shape != b.shape:
        raise RuntimeError(f"frame shapes differ: {a.shape} (PyAV) vs {b.shape} (NVDEC)")
    diff = np.abs(a - b)
    part.figures.update(
        frames=len(wanted), shape=list(a.shape), mean_levels=float(diff.mean()),
        far_share=float((diff > 16).mean()),
    )  # fmt: skip
    if part.figures["mean_levels"] > NVDEC_MEAN_LEVELS or part.figures["far_share"] > NVDEC_FAR_SHARE:
        fail(part, f"NVDEC frames differ from PyAV's: {part.figures}")


def nvdec_skip(cuda: bool) -> str | None:
    if not cuda:
        return "no CUDA: NVDEC needs an NVIDIA GPU (this part runs on the GPU machine only)"
    from cmpl.data.torchcodec_reader import available

    why = available()
    return None if why is None else f"torchcodec does not load ({why})"


# ------------------------------------------------------------------------------------------- speed

VARIANTS = {  # name -> overrides; on CUDA "auto" would turn amp and channels_last on
    "fp32 eager": FP32,
    "bf16": ["train.amp=true", "train.channels_last=false", "train.compile=false"],
    "bf16 + channels_last_3d": BF16,
    "bf16 + channels_last_3d + compile": ["train.amp=true", "train.channels_last=true", "train.compile=true"],
}


def bench(part: Part, common: list[str], variant: list[str], sizes: Sizes, work: Path) -> None:
    out = work / f"bench_{len(list(work.glob('bench_*.json')))}.json"
    cmpl(
        "bench", PAPER_CONFIG, *common, *variant, "--steps", str(sizes.bench_steps), "--warmup",
        str(sizes.bench_warmup), "--json", str(out),
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
    """``sizes.train_steps`` steps with the GPU settings, then the run's evaluation and a prediction."""
    from cmpl.run_files import read_metrics

    part.figures["compile"] = compile_
    cmpl(
        "train", "--force", PAPER_CONFIG, *common, "train.amp=true", "train.channels_last=true",
        f"train.compile={str(compile_).lower()}", "schedule.epochs=0", f"schedule.iterations={sizes.train_steps}",
        "schedule.warmup_iterations=1", f"train.log_every={sizes.log_every}", "eval.num_clips=1",
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
    cmpl("evaluate", str(run_dir), "--views", sizes.eval_views)
    result = json.loads((run_dir / f"results_{clips}x{crops}.json").read_text())
    part.figures.update(
        eval_views=sizes.eval_views, eval_top1=result["top1"], eval_videos=result["num_videos"]
    )
    out = cmpl("predict", str(run_dir), str(video), "--top-k", "3", "--views", "1x1")
    part.figures["predict"] = json.loads(out.strip().splitlines()[-1])["top"][0]
    if not finite:
        fail(part, "loss not finite")
    elif not falls and sizes is GPU:  # a 4-step smoke run need not learn
        fail(part, "supervised loss did not fall")


def routes(part: Part, raw: list[Path], prepared: list[Path], cores: int, samples: int) -> None:
    from decode_routes import bench_routes, format_routes

    from cmpl.data.torchcodec_reader import available

    backends = ["pyav"]
    if available() is None:
        backends += ["torchcodec", "torchcodec_cuda"] if torch.cuda.is_available() else ["torchcodec"]
    else:
        part.figures["torchcodec"] = available()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # like a DataLoader worker
    try:
        rows = bench_routes({"raw": raw, "prepared": prepared}, backends, samples, 2, cores=cores)
    finally:
        torch.set_num_threads(threads)
    print(format_routes(rows, cores))
    part.figures["rows"] = rows


# ------------------------------------------------------------------------------------------------ main


def table(parts: list[Part]) -> str:
    lines = [f"{'part':<46} {'status':<28} {'s':>5}  figures"]  # a longer status gets a line of its own
    keys = ("floor_ms", "end_to_end_ms", "floor_tflops", "peak_memory_gib", "prepare_s_per_video",
            "sup_loss_first_quarter", "sup_loss_last_quarter", "eval_top1", "max_relative_diff", "steps",
            "data_efficiency", "targets", "logits_rel", "loss_rel", "mean_levels", "far_share", "backend",
            "processes")  # fmt: skip
    for p in parts:
        shown = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.figures.items() if k in keys
        )
        status = p.status if len(p.status) <= 28 else p.status.split(":")[0]
        lines.append(f"{p.name:<46} {status:<28} {p.seconds:>5.0f}  {shown}")
        if p.error or len(p.status) > 28:
            lines.append(f"{'':<46} {(p.error or p.status)[:200]}")
    return "\n".join(lines)


PART_KEYS = (
    "videos",
    "bf16",
    "compile",
    "resume",
    "torchrun",
    "nvdec",
    "train",
    "prepare",
    "bench",
    "routes",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json and the logs")
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on the CPU: checks the script")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: OUT/work)")
    parser.add_argument("--budget", type=float, default=540, help="seconds the whole check may take")
    parser.add_argument("--timeout-scale", type=float, default=1.0, help="multiplies every part's time")
    parser.add_argument(
        "--only", nargs="*", choices=PART_KEYS, default=None, help="run these parts only (videos always)"
    )
    parser.add_argument(
        "--smoke-skip",
        nargs="*",
        default=[],
        choices=list(VARIANTS),
        help="bench variants the CPU smoke run leaves out (a loaded 2-core machine needs minutes for each)",
    )
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}, torch {torch.__version__}", flush=True)
    required, optional = missing_wheels()
    for line in optional:
        print(f"optional, missing: {line}", flush=True)
    if required:
        print("missing wheels (pip install --no-index --find-links .whl/ <name>):", *required, sep="\n  ")
        return 2
    TIMEOUT_SCALE[0] = args.timeout_scale
    cuda = torch.cuda.is_available() and not args.cpu_smoke
    if not torch.cuda.is_available() and not args.cpu_smoke:
        parser.error("no CUDA device: run with --cpu-smoke to check the script on the CPU")
    sizes = SMOKE if args.cpu_smoke else GPU
    device = "cuda" if cuda else "cpu"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = max(1, cores // 2)  # per loader; labeled + unlabeled = all cores
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work or args.out / "work"
    work.mkdir(parents=True, exist_ok=True)
    check = Check(args.out, args.budget, set(args.only) | {"videos"} if args.only is not None else None)
    from data_pipeline import machine

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

    check.run("videos", "make Kinetics-like videos", videos, need_s=10, cap_s=90)
    no_data = None if "train" in made else "no videos"
    common = data_overrides(raw_root, work / "bench_run", sizes, workers, device)
    # correctness first: what settles the GPU path
    check.run("bf16", "bf16 autocast vs fp32, same batch", lambda p: bf16_matches_fp32(p, common, work),
              need_s=15, cap_s=60, skip=no_data)  # fmt: skip
    check.run("compile", "torch.compile vs eager, first losses",
              lambda p: compiled_matches_eager(p, common, work, cuda), need_s=30, cap_s=180,
              skip=no_data)  # fmt: skip
    check.run("resume", "checkpoint written on the device resumes exactly",
              lambda p: resume_matches(p, common, work, device), need_s=20, cap_s=90, skip=no_data)  # fmt: skip
    check.run("torchrun", f"torchrun ({'NCCL' if cuda else 'Gloo'}) vs one process",
              lambda p: torchrun_matches_one_process(p, common, work, cuda), need_s=40, cap_s=180,
              skip=no_data)  # fmt: skip
    check.run("nvdec", "NVDEC frames vs PyAV frames", lambda p: nvdec_matches_cpu(p, made["test"][0]),
              need_s=5, cap_s=60, skip=no_data or nvdec_skip(cuda))  # fmt: skip
    # then speed, as long as the budget lasts
    run_dir = work / "train_run"
    train_common = data_overrides(raw_root, run_dir, sizes, workers, device)
    check.run(  # without compile on the CPU: minutes with inductor on 2 cores
        "train", f"train {sizes.train_steps} steps + evaluate {sizes.eval_views} + predict",
        lambda p: train_and_use(p, train_common, sizes, run_dir, made["test"][0], compile_=cuda),
        need_s=40, cap_s=240, skip=no_data,
    )  # fmt: skip
    check.run("prepare", "cmpl prepare (all cores)", prepare, need_s=10, cap_s=90, skip=no_data)
    for name, variant in VARIANTS.items():
        skip = no_data
        if "compile" in name and not cuda:
            skip = "no CUDA (inductor on the CPU: pytest -m compile covers it)"
        elif args.cpu_smoke and name in args.smoke_skip:
            skip = "--smoke-skip (the same code as the other variants)"
        check.run("bench", f"bench raw: {name}", lambda p, v=variant: bench(p, common, v, sizes, work),
                  need_s=30, cap_s=150, skip=skip)  # fmt: skip
    best = "bf16 + channels_last_3d" + (" + compile" if cuda else "")
    prep_common = data_overrides(prep_root, work / "bench_run_prep", sizes, workers, device)
    check.run("bench", f"bench prepared copy: {best}",
              lambda p: bench(p, prep_common, VARIANTS[best], sizes, work), need_s=30, cap_s=150,
              skip=None if "prepared" in made else "no prepared copy")  # fmt: skip
    check.run("routes", "decode routes per worker",
              lambda p: routes(p, made["train"][:8], made["prepared"][:8], cores, 6 if cuda else 2),
              need_s=20, cap_s=120, skip=None if "prepared" in made else "no prepared copy")  # fmt: skip
    check.save()
    print("\n" + table(check.parts))
    print(f"\nfigures: {args.out / 'gpu_check.json'}")
    bad = [p for p in check.parts if p.status.startswith(("FAILED", "STOPPED"))]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
