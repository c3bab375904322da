"""Using a finished run: load its primary network and score test sets or single videos with it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from cmpl.config import Config, load_config
from cmpl.data.annotations import VideoRecord, read_class_names
from cmpl.data.augment import ClipAugment
from cmpl.data.datasets import TestClips
from cmpl.engine.checkpoint import load_checkpoint
from cmpl.engine.evaluate import EvalResult, evaluate, predict_video_probs
from cmpl.engine.run_data import load_dataset
from cmpl.engine.trainer import clip_specs, enabled_on, resolve_device
from cmpl.methods import build_method

__all__ = ["TrainedRun", "evaluate_run", "load_run", "predict_videos", "score_test_set"]


@dataclass
class TrainedRun:
    config: Config
    class_names: list[str]
    primary: nn.Module
    device: torch.device

    @property
    def amp(self) -> bool:
        return enabled_on(self.config.train.amp, self.device)

    def test_clips(self, records: list[VideoRecord], num_clips: int, num_crops: int) -> TestClips:
        e = self.config.eval
        spec = clip_specs(self.config, ("primary",))[0]
        return TestClips(
            records,
            spec,
            num_clips=num_clips,
            num_crops=num_crops,
            short_side=e.short_side,
            crop_size=e.crop_size,
            backend=self.config.data.backend,
        )


def load_run(run_dir: Path, device: str = "auto") -> TrainedRun:
    """The primary network of ``run_dir/checkpoints/last.pt`` in eval mode (inference never needs A)."""
    config = load_config(run_dir / "config.yaml")
    names = read_class_names(run_dir / "classes.txt")
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    method = build_method(config, len(names))
    method.load_state_dict(state["method"])
    dev = resolve_device(device)
    return TrainedRun(config, names, method.primary.to(dev).eval(), dev)


def score_test_set(
    run: TrainedRun,
    num_clips: int,
    num_crops: int,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    progress: bool = True,
) -> EvalResult:
    """The primary network on the run's configured test set; `transform` edits the uint8 clips
    ``(N, T, C, H, W)`` before normalisation (e.g. the temporal re-sampling of the paper's Fig. 5)."""
    records = load_dataset(run.config, "test").records
    if run.config.eval.max_videos:
        records = records[: run.config.eval.max_videos]
    normalize = ClipAugment().normalize
    return evaluate(
        run.primary,
        run.test_clips(records, num_clips, num_crops),
        num_classes=len(run.class_names),
        device=run.device,
        normalize=normalize if transform is None else (lambda clips: normalize(transform(clips))),
        batch_size=run.config.eval.batch_size,
        num_workers=run.config.data.num_workers,
        amp=run.amp,
        progress=progress,
    )


def evaluate_run(
    run: TrainedRun, run_dir: Path, num_clips: int, num_crops: int, progress: bool = True
) -> tuple[EvalResult, Path]:
    """Evaluate on the configured test set and write ``results_<clips>x<crops>.json`` beside the run."""
    result = score_test_set(run, num_clips, num_crops, progress=progress)
    out = run_dir / f"results_{num_clips}x{num_crops}.json"
    out.write_text(
        json.dumps(
            {
                "class_names": run.class_names,
                "num_clips": num_clips,
                "num_crops": num_crops,
                **result.to_dict(),
            },
            indent=1,
        )
    )
    return result, out


def predict_videos(
    run: TrainedRun, paths: list[Path], num_clips: int, num_crops: int, top_k: int
) -> list[list[tuple[str, float]]]:
    """Top-k (class name, probability) per video, with the same multi-view protocol as evaluation."""
    dataset = run.test_clips([VideoRecord(Path(p), -1) for p in paths], num_clips, num_crops)
    normalize = ClipAugment().normalize
    answers = []
    for i in range(len(dataset)):
        clips = dataset[i]["clips"].unsqueeze(0).to(run.device)
        probs = predict_video_probs(run.primary, clips, normalize, run.amp)[0]
        top = probs.topk(min(top_k, len(run.class_names)))
        answers.append(
            [(run.class_names[j], p) for p, j in zip(top.values.tolist(), top.indices.tolist(), strict=True)]
        )
    return answers
