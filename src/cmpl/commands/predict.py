"""``cmpl predict``: top-k labels of any video files with a finished run's primary network."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from cmpl.commands.arguments import add_device_argument, add_views_argument
from cmpl.data.annotations import VideoRecord
from cmpl.data.decode import VideoDecodeError
from cmpl.engine.evaluate import predict_video_probs
from cmpl.engine.runtime import input_normalizer
from cmpl.inference import TrainedRun, load_run

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


COMMAND = "predict"
HELP = "top-k labels of video files with a run's primary network"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a finished run's folder")
    parser.add_argument("videos", type=Path, nargs="+")
    add_views_argument(parser)
    parser.add_argument("--top-k", type=int, default=5, help="default: %(default)s")
    add_device_argument(parser)


def run(args: argparse.Namespace) -> int:
    trained = load_run(args.run_dir, args.device)
    clips, crops = args.views or (trained.config.eval.num_clips, trained.config.eval.num_crops)
    answers = predict_videos(trained, args.videos, clips, crops, args.top_k)
    for a in answers:
        if a.error:
            print(f"error: {a.error}", file=sys.stderr)
        else:
            top = [{"label": n, "prob": round(p, 4)} for n, p in a.top]
            print(json.dumps({"video": str(a.video), "top": top}))
    return 1 if any(a.error for a in answers) else 0
