"""``cmpl predict``: top-k labels of any video files with a finished run's primary network."""

from __future__ import annotations

from pathlib import Path

from cmpl.commands.evaluate import TrainedRun
from cmpl.data.annotations import VideoRecord
from cmpl.data.augment import ClipAugment
from cmpl.engine.evaluate import predict_video_probs

__all__ = ["predict_videos"]


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
