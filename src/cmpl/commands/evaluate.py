"""``cmpl evaluate``: score a finished run's primary network on its test set, or on another labelled list."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cmpl.commands.arguments import add_device_argument, add_views_argument
from cmpl.engine.evaluate import EvalResult, unreadable_note
from cmpl.inference import TrainedRun, load_run, read_test_list, score_test_set

__all__ = ["evaluate_run"]


def evaluate_run(
    run: TrainedRun,
    run_dir: Path,
    num_clips: int,
    num_crops: int,
    progress: bool = True,
    test_list: Path | None = None,
) -> tuple[EvalResult, Path]:
    """Evaluate on the configured test set and write ``results_<clips>x<crops>.json`` beside the run; with
    ``test_list`` (see `read_test_list`) score that list instead and write
    ``results_<clips>x<crops>_<list's folder>_<list's stem>.json``, so that the run's own figures stay."""
    name, records, extra = f"results_{num_clips}x{num_crops}", None, {}
    if test_list is not None:
        test_list = Path(test_list).resolve()
        records = read_test_list(run, test_list)
        name, extra = f"{name}_{test_list.parent.name}_{test_list.stem}", {"test_list": str(test_list)}
    result = score_test_set(run, num_clips, num_crops, progress=progress, records=records)
    out = run_dir / f"{name}.json"
    if result.unreadable_videos:
        print(unreadable_note(result, str(out)), file=sys.stderr)
    out.write_text(
        json.dumps(
            {
                "class_names": run.class_names,
                "num_clips": num_clips,
                "num_crops": num_crops,
                **extra,
                **result.to_dict(),
            },
            indent=1,
        )
    )
    return result, out


COMMAND = "evaluate"
HELP = "multi-view test of a run's primary network"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a finished run's folder")
    add_views_argument(parser)
    parser.add_argument(
        "--test-list",
        type=Path,
        default=None,
        help="score this list instead of the run's test set: 'path label' lines, paths relative to the "
        "list's folder, labels in the run's class order (a classes.txt beside it must match); writes "
        "results_<views>_<folder>_<stem>.json",
    )
    add_device_argument(parser)


def run(args: argparse.Namespace) -> None:
    trained = load_run(args.run_dir, args.device)
    clips, crops = args.views or (trained.config.eval.num_clips, trained.config.eval.num_crops)
    result, path = evaluate_run(trained, args.run_dir, clips, crops, test_list=args.test_list)
    print(
        f"top-1 {result.top1:.2f}  top-5 {result.top5:.2f}  mean class {result.mean_class_accuracy:.2f}  "
        f"({result.num_videos} videos, {clips}x{crops} views) -> {path}"
    )
