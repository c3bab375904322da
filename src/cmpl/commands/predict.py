"""``cmpl predict``: top-k labels of any video files with a finished run's primary network."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cmpl.commands.evaluate import TrainedRun
from cmpl.data.annotations import VideoRecord
from cmpl.data.decode import VideoDecodeError
from cmpl.engine.evaluate import predict_video_probs
from cmpl.engine.runtime import input_normalizer

__all__ = ["Prediction", "predict_videos"]


@dataclass
class Prediction:
    video: Path
    top: list[tuple[str, float]]  # (class name, probability), most likely first; empty if unreadable
    error: str | None = None  # why the video could not be read


def predict_videos(
    run: TrainedRun, paths: list[Path], num_clips: int, num_crops: int, top_k: int
) -> list[Prediction]:
    """Top-k per video, with the same multi-view protocol as evaluation. An unreadable video gets its
    reason instead, so one bad file among many does not cost the others' answers."""
    dataset = run.test_clips([VideoRecord(Path(p), -1) for p in paths], num_clips, num_crops)
    normalize = input_normalizer(run.config, run.role)
    answers = []
    for i, path in enumerate(paths):
        try:
            clips = dataset[i]["clips"].unsqueeze(0).to(run.device)
        except VideoDecodeError as e:
            answers.append(Prediction(Path(path), [], str(e)))
            continue
        probs = predict_video_probs(run.network, clips, normalize, run.amp)[0]
        top = probs.topk(min(top_k, len(run.class_names)))
        names = [run.class_names[j] for j in top.indices.tolist()]
        answers.append(Prediction(Path(path), list(zip(names, top.values.tolist(), strict=True))))
    return answers
