"""The public Python API: load a finished run (or one of its checkpoints) and use its networks.

``cmpl.load("runs/my_run")`` gives the run's primary network F in eval mode with its classes, and what to do
with it: ``predict`` video files (multi-view, as evaluation), ``predict_clips`` on tensors, a ``timeline`` of
a long video, ``export`` to TorchScript or ONNX. The commands (``evaluate``, ``predict``, ``export``,
``report``, ``label``) and the research scripts use this module, never the trainer. Analyses may load CMPL's
auxiliary network A the same way (``role="auxiliary"``). docs/api.md is the guide."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from cmpl.config import Config, load_saved_config
from cmpl.data.annotations import VideoRecord, find_missing, read_class_names, read_path_label_list
from cmpl.data.augment import ClipAugment
from cmpl.data.datasets import TestClips
from cmpl.data.decode import VideoDecodeError
from cmpl.data.sampling import ClipSpec
from cmpl.engine import export as exporting
from cmpl.engine import timeline as timelines
from cmpl.engine.checkpoint import load_checkpoint
from cmpl.engine.evaluate import EvalResult, accuracy_metrics, predict_dataset, predict_video_probs
from cmpl.engine.run_data import SPLIT_FILES, run_test_records
from cmpl.engine.runtime import (
    clip_specs,
    input_augment,
    input_normalizer,
    resolve_device,
    test_clips,
    test_records,
    use_amp,
)
from cmpl.engine.timeline import Segment, TimelineWindow
from cmpl.engine.unlabeled_scores import score_unlabeled
from cmpl.errors import BadValueError
from cmpl.methods import Method, build_method

__all__ = [
    "ExportError",
    "Exported",
    "LoadedMethod",
    "Segment",
    "Timeline",
    "TimelineWindow",
    "TrainedRun",
    "VideoPrediction",
    "load",
    "load_method",
    "load_run",
    "read_test_list",
    "score_run_unlabeled",
    "score_test_set",
]

ExportError = exporting.ExportError


@dataclass
class VideoPrediction:
    """One video's answer from :meth:`TrainedRun.predict`."""

    video: Path
    top: list[tuple[str, float]]  # (class name, probability), most likely first; empty if unreadable
    error: str | None = None  # why the video could not be read
    probs: torch.Tensor | None = field(default=None, repr=False, compare=False)  # (K,) all classes, in order

    @property
    def label(self) -> str | None:
        """The most likely class (None for an unreadable video)."""
        return self.top[0][0] if self.top else None

    def to_dict(self) -> dict:
        top = [{"label": n, "prob": round(p, 6)} for n, p in self.top]
        return {"video": str(self.video), "top": top, **({"error": self.error} if self.error else {})}


class _Tolerant(Dataset):
    """A TestClips item, or the reason its video cannot be read, so that one bad file does not stop a batch."""

    def __init__(self, clips: TestClips) -> None:
        self.clips = clips

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> dict:
        try:
            return {"index": i, "clips": self.clips[i]["clips"], "error": None}
        except VideoDecodeError as e:
            return {"index": i, "clips": None, "error": str(e)}


@dataclass
class Timeline:
    """Predictions along one video (:meth:`TrainedRun.timeline`): top-k per window and the smoothed track."""

    video: Path
    fps: float
    duration: float  # seconds
    window_seconds: float
    stride_seconds: float
    windows: list[TimelineWindow]
    segments: list[Segment]
    probs: torch.Tensor = field(repr=False)  # (windows, classes)
    frames_held_peak: int = 0  # the most decoded frames held at once while streaming
    frame_shape: tuple[int, ...] = ()  # (C, H, W) of a held frame

    def to_dict(self) -> dict:
        return {
            "video": str(self.video),
            "fps": self.fps,
            "duration": self.duration,
            "window_seconds": self.window_seconds,
            "stride_seconds": self.stride_seconds,
            "windows": [
                {"start": w.start, "end": w.end, "top": [{"label": n, "prob": round(p, 6)} for n, p in w.top]}
                for w in self.windows
            ],
            "segments": [
                {
                    "start": g.start,
                    "end": g.end,
                    "label": g.label,
                    "score": round(g.score, 6),
                    "windows": g.windows,
                }
                for g in self.segments
            ],
        }


@dataclass
class Exported:
    """What :meth:`TrainedRun.export` wrote and how closely it matches PyTorch."""

    model: Path
    contract: Path  # the preprocessing contract (JSON) beside it
    max_difference: float  # largest |exported - PyTorch| over the logits of random clips


@dataclass
class TrainedRun:
    """A finished run's network (F unless loaded with another role), in eval mode on ``device``, with what
    it needs to be used: its classes, its clip sampling and the normalisation of training."""

    config: Config
    class_names: list[str]
    network: nn.Module  # the primary network unless loaded with another role
    device: torch.device
    run_dir: Path
    role: str = "primary"

    @cached_property
    def augment(self) -> ClipAugment:
        """Its ``normalize`` is training's: the network's own mean and std (its registry entry)."""
        return input_augment(self.config, self.role)

    @property
    def classes(self) -> list[str]:
        """The class names, in the order of the network's outputs."""
        return self.class_names

    @property
    def amp(self) -> bool:
        return use_amp(self.config, self.device)

    @property
    def clip_spec(self) -> ClipSpec:
        """Frames x stride of one clip of this network (at the video's own frame rate)."""
        return clip_specs(self.config, (self.role,))[0]

    def test_clips(self, records: list[VideoRecord], num_clips: int, num_crops: int) -> TestClips:
        return test_clips(self.config, records, num_clips, num_crops, self.role)

    def _views(self, views: tuple[int, int] | str | None) -> tuple[int, int]:
        if views is None:
            return self.config.eval.num_clips, self.config.eval.num_crops
        if isinstance(views, str):
            try:
                clips, crops = (int(v) for v in views.lower().split("x"))
            except ValueError:
                raise BadValueError(f"views: expected CLIPSxCROPS such as 10x3, got {views!r}") from None
        else:
            clips, crops = views
        if clips < 1 or crops not in (1, 3):
            raise BadValueError(f"views: clips must be >= 1 and crops 1 or 3, got {clips}x{crops}")
        return clips, crops

    def predict(
        self,
        paths: str | Path | Sequence[str | Path],
        views: tuple[int, int] | str | None = None,
        top_k: int = 5,
        progress: bool = False,
    ) -> list[VideoPrediction]:
        """Top-``top_k`` classes of each video, with the multi-view protocol of evaluation: ``views`` =
        ``(clips, crops)`` or ``"10x3"`` (default: the run's ``eval`` setting). An unreadable video gets its
        reason in ``.error`` instead of raising, so one bad file among many does not cost the others."""
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        clips_per_video, crops = self._views(views)
        dataset = _Tolerant(
            self.test_clips([VideoRecord(Path(p), -1) for p in paths], clips_per_video, crops)
        )
        loader = DataLoader(  # decoding in the run's workers, a batch of videos at a time, as evaluation
            dataset,
            batch_size=self.config.eval.batch_size,
            num_workers=min(self.config.data.num_workers, len(paths)) if len(paths) > 1 else 0,
            collate_fn=list,
            generator=torch.Generator(),
        )
        answers = []
        bar = tqdm(total=len(paths), desc="predict", unit="video", disable=not progress)
        for batch in loader:
            good = [item for item in batch if item["error"] is None]
            probs = iter(
                predict_video_probs(
                    self.network,
                    torch.stack([item["clips"] for item in good]).to(self.device),
                    self.augment.normalize,
                    self.amp,
                ).cpu()
                if good
                else []
            )
            for item in batch:
                path = Path(paths[item["index"]])
                if item["error"] is not None:
                    answers.append(VideoPrediction(path, [], item["error"]))
                else:
                    p = next(probs)
                    answers.append(VideoPrediction(path, self._top(p, top_k), probs=p))
            bar.update(len(batch))
        bar.close()
        return answers

    def _top(self, probs: torch.Tensor, k: int) -> list[tuple[str, float]]:
        top = probs.float().topk(min(k, len(self.class_names)))
        return [
            (self.class_names[j], p) for j, p in zip(top.indices.tolist(), top.values.tolist(), strict=True)
        ]

    @torch.no_grad()
    def predict_clips(self, clips: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(N, K)`` of clips ``(N, T, C, H, W)``: uint8 (0-255), or float in [0, 1];
        normalised as in training, ``T`` the network's frames (:attr:`clip_spec`), cropped already."""
        if clips.ndim != 5:
            raise BadValueError(f"expected clips (N, T, C, H, W), got shape {tuple(clips.shape)}")
        if clips.dtype == torch.uint8:
            normalize = self.augment.normalize
        elif clips.is_floating_point():
            normalize = self._normalize_float
        else:
            raise BadValueError(f"clips must be uint8 or float, got {clips.dtype}")
        chunk = max(1, self.config.eval.batch_size * self.config.eval.num_clips * self.config.eval.num_crops)
        out = [
            predict_video_probs(self.network, part.to(self.device).unsqueeze(1), normalize, self.amp)
            for part in clips.split(chunk)
        ]
        return torch.cat(out).cpu() if out else torch.zeros(0, len(self.class_names))

    def _normalize_float(self, clips: torch.Tensor) -> torch.Tensor:
        """Float (B, T, C, H, W) in [0, 1] -> (B, C, T, H, W), (x - mean) / std as ``augment.normalize``."""
        mean = torch.tensor(self.augment.mean, device=clips.device).view(1, -1, 1, 1, 1)
        std = torch.tensor(self.augment.std, device=clips.device).view(1, -1, 1, 1, 1)
        return (clips.permute(0, 2, 1, 3, 4).float() - mean) / std

    def timeline(
        self,
        path: str | Path,
        window_seconds: float | None = None,
        stride_seconds: float | None = None,
        top_k: int = 5,
        smooth: int = 3,
        crops: int = 1,
        progress: bool = False,
    ) -> Timeline:
        """What happens when along one (long) video: windows of ``window_seconds`` (default: one clip's span)
        every ``stride_seconds`` (default: half a window), each scored with the network's clips and ``crops``
        crops, top-``top_k`` per window, and a track of segments (probabilities averaged over ``smooth``
        neighbouring windows, runs of one class merged). The video is streamed: memory holds about one
        window's frames, whatever its length."""
        e = self.config.eval
        meta, plan, probs, stats = timelines.score_windows(
            self.network,
            Path(path),
            self.clip_spec,
            window_s=window_seconds,
            stride_s=stride_seconds,
            short_side=e.short_side,
            crop_size=e.crop_size,
            num_crops=crops,
            normalize=self.augment.normalize,
            device=self.device,
            amp=self.amp,
            batch_size=e.batch_size,
            progress=progress,
        )
        window = window_seconds if window_seconds is not None else self.clip_spec.span / meta.fps
        stride = stride_seconds if stride_seconds is not None else window / 2
        duration = meta.num_frames / meta.fps
        windows = [
            TimelineWindow(start, end, self._top(p, top_k))
            for start, end, p in zip(plan.starts, plan.ends, probs, strict=True)
        ]
        track = timelines.segments(probs, plan.starts, plan.ends, self.class_names, smooth, duration)
        return Timeline(
            Path(path),
            meta.fps,
            duration,
            window,
            stride,
            windows,
            track,
            probs,
            stats.frames_held_peak,
            stats.frame_shape,
        )

    def input_contract(self, fmt: str | None = None, model_file: str | None = None) -> dict:
        """What a service must feed the exported network: shape, sampling, crop, normalisation, classes."""
        spec, e = self.clip_spec, self.config.eval
        frames = spec.num_frames
        return {
            "format": fmt,
            "model": model_file,
            "network": getattr(self.config.model, self.role).name,
            "role": self.role,
            "run": str(self.run_dir),
            "input": {
                "name": exporting.INPUT_NAME,
                "shape": ["batch", 3, frames, e.crop_size, e.crop_size],
                "layout": "N C T H W",
                "dtype": "float32",
            },
            "output": {
                "name": exporting.OUTPUT_NAME,
                "shape": ["batch", len(self.class_names)],
                "meaning": "logits; softmax gives class probabilities",
            },
            "frames": frames,
            "stride": spec.stride,
            "sampling": f"{frames} frames, every {spec.stride}th frame at the video's own rate",
            "short_side": e.short_side,
            "crop_size": e.crop_size,
            "crops": "resize the short side to short_side, then crop crop_size squares (centre, or 3 along "
            "the long side); average the softmax over clips and crops",
            "mean": list(self.augment.mean),
            "std": list(self.augment.std),
            "normalization": "RGB, x / 255, then (x - mean) / std per channel",
            "class_names": list(self.class_names),
        }

    def export(self, path: str | Path | None = None, format: str = "onnx", check: bool = True) -> Exported:
        """Write the network to ``path`` (default ``<run>/export/<role>.onnx`` or ``.pt``) as TorchScript or
        ONNX with a dynamic batch size, and beside it ``<file name>.json``: the preprocessing contract
        (:meth:`input_contract`). With ``check``, the file runs on random clips (batch 1 and 3) in its own
        runtime and the largest difference to PyTorch is returned (NaN without the check)."""
        if format not in exporting.FORMATS:
            raise BadValueError(
                f"unknown export format {format!r}; choose one of {sorted(exporting.FORMATS)}"
            )
        out = (
            Path(path)
            if path is not None
            else self.run_dir / "export" / f"{self.role}{exporting.FORMATS[format]}"
        )
        e = self.config.eval
        example = torch.randn(2, 3, self.clip_spec.num_frames, e.crop_size, e.crop_size)
        network = copy.deepcopy(self.network).cpu().eval()
        name = getattr(self.config.model, self.role)
        exporting.export_network(network, example, out, format, name)
        difference = exporting.check_exported(network, out, format, example) if check else float("nan")
        contract = out.with_name(out.name + ".json")
        info = self.input_contract(format, out.name)
        info["max_difference_to_pytorch"] = difference if check else None
        contract.write_text(json.dumps(info, indent=1) + "\n")
        return Exported(out, contract, difference)


LoadedMethod = tuple[Config, list[str], Method]
"""A finished run's config, class names and method, as :func:`load_method` returns them."""


def run_and_checkpoint(path: str | Path) -> tuple[Path, Path]:
    """``(run folder, checkpoint)`` of a run folder (its ``checkpoints/last.pt``) or of a checkpoint file
    inside one (``<run>/checkpoints/best.pt``). Missing files are reported by what reads them (the config
    first: ``<folder>/config.yaml: config file not found``)."""
    path = Path(path)
    if path.is_file():
        run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
        checkpoint = path
    else:
        run_dir, checkpoint = path, path / "checkpoints" / "last.pt"
    return run_dir, checkpoint


def load_method(run_dir: str | Path) -> LoadedMethod:
    """A finished run's config, class names and method (every network) from ``checkpoints/last.pt``, or from
    the checkpoint file ``run_dir`` names."""
    run_dir, checkpoint = run_and_checkpoint(run_dir)
    config = load_saved_config(run_dir / "config.yaml")
    names = read_class_names(run_dir / "classes.txt")
    method = build_method(config, len(names))
    method.load_state_dict(load_checkpoint(checkpoint)["method"])
    return config, names, method


def score_run_unlabeled(
    run_dir: Path, device: str = "auto", loaded: LoadedMethod | None = None
) -> tuple[list[str], list[VideoRecord], dict]:
    """A finished run's class names, unlabeled clips and their scoring from its last checkpoint, as
    ``train.score_unlabeled_every`` scores them during training (eval mode, one weak view; ``run_files``
    layout). A supervised run is scored too: its pseudo-labels are the ones it would have given. ``loaded``:
    the run's :func:`load_method`, where the caller loads it once for several readings."""
    config, names, method = loaded or load_method(run_dir)
    records = read_path_label_list(run_dir / SPLIT_FILES["unlabeled"], run_dir, names).records
    dev = resolve_device(device)
    scoring = score_unlabeled(
        method.to(dev),
        records,
        config,
        num_classes=len(names),
        device=dev,
        normalize={role: input_normalizer(config, role) for role in method.roles},
        amp=False,
    )
    return names, records, scoring


def load_run(
    run_dir: str | Path, device: str = "auto", role: str = "primary", loaded: LoadedMethod | None = None
) -> TrainedRun:
    """The network ``role`` of a run folder's ``checkpoints/last.pt``, or of a checkpoint file inside a run
    folder (``runs/x/checkpoints/best.pt``), in eval mode: the primary by default, since inference never needs
    A; ``"auxiliary"`` loads CMPL's A (on its own frames) for analysis. ``device``: ``auto`` (the GPU if any),
    ``cpu``, ``cuda:1``, ... ``loaded``: as for :func:`score_run_unlabeled`."""
    config, names, method = loaded or load_method(run_dir)
    folder = run_and_checkpoint(run_dir)[0] if loaded is None else Path(run_dir)
    if role not in method.roles:
        raise BadValueError(f"{run_dir}: a {config.method.name} run has no {role!r} network ({method.roles})")
    dev = resolve_device(device)
    return TrainedRun(config, names, method.networks[role].to(dev).eval(), dev, folder, role)


def read_test_list(run: TrainedRun, test_list: Path) -> list[VideoRecord]:
    """Another labelled test set for ``run``: "path label" lines, paths relative to the list's folder and
    labels in the run's class order. A ``classes.txt`` beside the list must name the run's classes, since a
    list in another order would be scored without an error and come out wrong."""
    test_list = Path(test_list)
    if not test_list.is_file():
        raise BadValueError(f"{test_list}: no such test list")
    beside = test_list.parent / "classes.txt"
    if beside.is_file() and read_class_names(beside) != run.class_names:
        raise BadValueError(f"{beside}: its classes are not the run's ({run.run_dir / 'classes.txt'})")
    records = read_path_label_list(test_list, class_names=run.class_names).records
    if any(r.label < 0 for r in records):
        raise BadValueError(f"{test_list}: a test list needs a label on every line, not -1")
    missing = find_missing(records)
    if missing:
        raise BadValueError(
            f"{test_list}: {len(missing)} of {len(records)} listed videos are missing ({missing[0]})"
        )
    return records


def score_test_set(
    run: TrainedRun,
    num_clips: int,
    num_crops: int,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    progress: bool = True,
    records: list[VideoRecord] | None = None,
) -> EvalResult:
    """The primary network on ``records`` (default: the run's configured test set); `transform` edits the
    uint8 clips ``(N, T, C, H, W)`` before normalisation (e.g. the temporal re-sampling of the paper's Fig. 5)."""
    if records is None:
        records = test_records(run.config, run_test_records(run.config, run.run_dir))
    normalize = run.augment.normalize
    num_classes = len(run.class_names)
    unreadable: list[str] = []  # videos that will not decode: left out of the scores and listed
    predictions = predict_dataset(
        run.network,
        run.test_clips(records, num_clips, num_crops),
        num_classes=num_classes,
        device=run.device,
        normalize=normalize if transform is None else (lambda clips: normalize(transform(clips))),
        batch_size=run.config.eval.batch_size,
        num_workers=run.config.data.num_workers,
        amp=run.amp,
        progress=progress,
        unreadable=unreadable,
    )
    return accuracy_metrics(*predictions, num_classes, unreadable)


load = load_run
"""``cmpl.load(run_dir_or_checkpoint)``: the run's primary network, ready to predict (:func:`load_run`)."""
