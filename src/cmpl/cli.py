"""Command line: the only place that parses arguments and prints for people.

Each sub-command parses its arguments, calls its module in ``cmpl.commands`` and prints what comes back.
Errors a user can fix (``cmpl.errors.UserError``: a bad config key, a malformed annotation line, a missing
file, a run folder in use) end with one ``error:`` line and exit status 2; anything else is a bug and shows
its traceback. ``--debug`` shows the traceback of both. Exit statuses: 0 done, 1 done but some inputs failed
(listed), 2 user error, 75 training stopped by SIGTERM/SIGINT after writing a checkpoint (resume with
``--resume``), 130 interrupted at once (a second Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from cmpl.config import SHIPPED_CONFIGS, config_names, load_config, resolve_config
from cmpl.errors import TrainingStopped, UserError

__all__ = ["EXIT_STOPPED", "EXIT_USER_ERROR", "main"]

EXIT_USER_ERROR = 2
EXIT_STOPPED = 75  # EX_TEMPFAIL: stopped on request with a checkpoint written; run again with --resume


EPILOG = """examples:
  cmpl demo                                            supervised vs FixMatch vs CMPL on synthetic videos
  cmpl train ucf101/cmpl_r50_1pct data.root=/data/ucf101 optim.base_lr=0.05
  torchrun --nproc-per-node 8 -m cmpl train kinetics400/cmpl_r50_1pct
  cmpl evaluate runs/ucf101_cmpl --views 10x3
  cmpl predict runs/ucf101_cmpl video.mp4
  cmpl report runs/ucf101_cmpl                         training curves, per-class accuracy, confusion
  cmpl report class-gap runs/k400_supervised_r50w025_1pct runs/k400_supervised_r50_1pct
"""




def _views(text: str) -> tuple[int, int]:
    try:
        clips, crops = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected CLIPSxCROPS such as 10x3, got {text!r}") from None
    if clips < 1 or crops not in (1, 3):
        raise argparse.ArgumentTypeError("clips must be >= 1 and crops 1 or 3")
    return clips, crops


def _config_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument(
        "config",
        nargs=None if required else "?",
        help="YAML config file, or a shipped config by name (cmpl configs lists them)",
    )
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="override any config value, e.g. optim.base_lr=0.05 data.root=/data/ucf101",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cmpl",
        description="Cross-Model Pseudo-Labeling for semi-supervised video action recognition.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of every error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "demo",
        help="train supervised, FixMatch and CMPL on synthetic videos and compare",
        description="Makes the synthetic dataset if absent, draws one labeled subset (or one per seed) and "
        "trains the three methods with the same budget and backbone over several seeds; prints a table "
        "and writes results.json and demo.png.",
    )
    p.add_argument(
        "--output", type=Path, default=None, help="folder for the runs (default: runs/demo or runs/demo_long)"
    )
    p.add_argument("--seeds", type=int, default=3, help="training seeds per method (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="a tiny budget that only checks the pipeline (tests)")
    p.add_argument(
        "--long",
        action="store_true",
        help="the demo_long preset: 720 iterations instead of 120 and the paper's B_u/B_l = 5 instead of 2, "
        "where pseudo-labels have room (under an hour on 2 cores)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=0,
        help="runs side by side, each with its share of the CPUs as threads (default: one per CPU)",
    )
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="overrides on top of the demo preset")

    p = sub.add_parser("make-synthetic", help="write the embedded synthetic action-video dataset")
    p.add_argument("root", type=Path, help="output folder")
    p.add_argument("--train-per-class", type=int, default=60)
    p.add_argument("--test-per-class", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser(
        "prepare",
        help="one-time copy of a dataset, re-encoded to train faster",
        description="Mirrors SOURCE into DEST: videos re-encoded at a short side of at most --short-side "
        "pixels with a key frame every --keyframe-interval frames (timestamps kept, audio dropped), other "
        "files copied, same relative paths. Then train with data.root=DEST. Files already done are kept, so "
        "an interrupted run continues; videos that fail are listed in DEST/prepare_failed.txt (exit 1).",
    )
    p.add_argument("source", type=Path, help="dataset folder (videos and annotation files)")
    p.add_argument("dest", type=Path, help="output folder, outside the source")
    p.add_argument("--short-side", type=int, default=320, help="0 keeps the size (default: %(default)s)")
    p.add_argument("--keyframe-interval", type=int, default=16, help="in frames (default: %(default)s)")
    p.add_argument("--crf", type=int, default=23, help="x264 quality, lower is better (default: %(default)s)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")

    p = sub.add_parser(
        "split", help="draw the labeled subset of a config (data.labeled_sampling) and write it as lists"
    )
    _config_args(p)

    p = sub.add_parser(
        "train",
        help="train a method; writes everything into train.output_dir",
        description="Train the configured method. Launch with torchrun for several GPUs.",
    )
    _config_args(p, required=False)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from <train.output_dir>/checkpoints/last.pt if it exists",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="start over in a folder holding another run (deletes it); with --resume, accept a model, "
        "method or data config that differs from the checkpoint's",
    )

    p = sub.add_parser(
        "bench",
        help="time the training step: compute floor vs end to end from video files",
        description="Times the configured step (a) on random clips already on the device, the "
        "compute floor, and (b) fed by the real loaders; prints ms/step, their ratio, TFLOP/s and "
        "peak memory. Runs in <train.output_dir>/bench (its split is written there).",
    )
    _config_args(p)
    p.add_argument("--steps", type=int, default=20, help="timed steps per measurement (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (default: %(default)s)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")

    p = sub.add_parser("evaluate", help="multi-view test of a run's primary network")
    p.add_argument("run_dir", type=Path)
    p.add_argument(
        "--views",
        type=_views,
        default=None,
        help="CLIPSxCROPS, e.g. 10x3 (paper) or 1x1; default: the run's eval config",
    )
    p.add_argument(
        "--test-list",
        type=Path,
        default=None,
        help="score this list instead of the run's test set: 'path label' lines, paths relative to the "
        "list's folder, labels in the run's class order (a classes.txt beside it must match); writes "
        "results_<views>_<folder>_<stem>.json",
    )
    p.add_argument("--device", default="auto")

    p = sub.add_parser(
        "check-videos",
        help="list every video that will not decode (all cores)",
        description="Opens every video and decodes its first and last frame, in parallel. TARGET is "
        "a folder, a 'path label' list file, or a config (its train and test sets).",
    )
    p.add_argument("target", help="folder, list file, or config file / preset")
    p.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides (with a config target)"
    )
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")

    p = sub.add_parser(
        "report",
        help="plots of a run, and the paper's figures (1, 2, 4, 5, 6, 7) from finished runs",
        description="Draws one of the paper's figures from finished runs and writes the PNG and "
        "its numbers (same name, .json). docs/configs.md lists the runs each figure needs.",
    )
    figures = p.add_subparsers(dest="figure", required=True, metavar="FIGURE")
    f = figures.add_parser(
        "run", help="one run's training curves, per-class accuracy and confusion matrix (also: report RUN)"
    )
    f.set_defaults(draw=lambda report, a: report.run(a.run_dir))
    f.add_argument("run_dir", type=Path)
    f = figures.add_parser(
        "class-gap", help="Fig. 1: per-class accuracy of a small minus a large network, both supervised"
    )
    f.set_defaults(draw=lambda report, a: report.class_gap(a.small_run, a.large_run, a.output))
    f.add_argument("small_run", type=Path, help="supervised run of the small network (e.g. r50_w0.25)")
    f.add_argument("large_run", type=Path, help="supervised run of the large network (e.g. r50)")
    f.add_argument("-o", "--output", type=Path, default=Path("fig1_class_gap.png"))
    f = figures.add_parser(
        "pseudo-labels", help="Fig. 2: correct pseudo-labels / unlabeled clips over training, per run"
    )
    f.set_defaults(draw=lambda report, a: report.pseudo_labels(a.runs, a.output))
    f.add_argument(
        "runs",
        type=Path,
        nargs="+",
        help="CMPL or FixMatch runs trained with train.score_unlabeled_every > 0",
    )
    f.add_argument("-o", "--output", type=Path, default=Path("fig2_pseudo_labels.png"))
    f = figures.add_parser(
        "cross-accuracy", help="Fig. 6: accuracy on the clips CMPL's auxiliary labels (eval-mode scorings)"
    )
    f.set_defaults(draw=lambda report, a: report.cross_accuracy(a.run, a.output, a.fixmatch_run))
    f.add_argument("run", type=Path, help="a CMPL run trained with train.score_unlabeled_every > 0")
    f.add_argument(
        "fixmatch_run",
        type=Path,
        nargs="?",
        help="a FixMatch run of the same split, scored at the same steps",
    )
    f.add_argument("-o", "--output", type=Path, default=Path("fig6_cross_accuracy.png"))
    f = figures.add_parser("sweep", help="Fig. 4: top-1 against one config value across runs")
    f.set_defaults(draw=lambda report, a: report.sweep(a.key, a.runs, a.output))
    f.add_argument("key", help="dotted config key, e.g. method.threshold")
    f.add_argument("runs", type=Path, nargs="+", help="finished runs that differ in KEY")
    f.add_argument("-o", "--output", type=Path, default=Path("fig4_sweep.png"))
    f = figures.add_parser(
        "temporal", help="Fig. 5: accuracy drop when the frames are re-sampled with a growing stride"
    )
    f.set_defaults(draw=lambda report, a: report.temporal(a.runs, a.strides, a.views, a.device, a.output))
    f.add_argument("runs", type=Path, nargs="+", help="finished runs; each one's primary network is scored")
    f.add_argument("--strides", type=int, nargs="+", default=[1, 2, 4, 8], help="default: %(default)s")
    f.add_argument("--views", type=_views, default=None, help="CLIPSxCROPS (default: each run's eval config)")
    f.add_argument("--device", default="auto")
    f.add_argument("-o", "--output", type=Path, default=Path("fig5_temporal.png"))
    f = figures.add_parser(
        "gain", help="Fig. 7: CMPL's per-class gain over FixMatch against the auxiliary's accuracy"
    )
    f.set_defaults(
        draw=lambda report, a: report.gain(a.cmpl_run, a.fixmatch_run, a.auxiliary_run, a.bin_width, a.output)
    )
    f.add_argument("cmpl_run", type=Path)
    f.add_argument("fixmatch_run", type=Path)
    f.add_argument("auxiliary_run", type=Path, help="supervised run whose primary is the auxiliary network")
    f.add_argument("--bin-width", type=float, default=0.05, help="default: %(default)s")
    f.add_argument("-o", "--output", type=Path, default=Path("fig7_gain.png"))
    parser.set_defaults(report_figures=tuple(figures.choices))

    p = sub.add_parser("predict", help="top-k labels of video files with a run's primary network")
    p.add_argument("run_dir", type=Path)
    p.add_argument("videos", type=Path, nargs="+")
    p.add_argument("--views", type=_views, default=None, help="CLIPSxCROPS (default: the run's eval config)")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--device", default="auto")
    return parser


def _cmd_demo(args: argparse.Namespace) -> None:
    from cmpl.commands.demo import DEMO_METHODS, format_table, run_demo

    start = time.perf_counter()
    from cmpl.data.workers import usable_cpus

    runs = len(DEMO_METHODS) * args.seeds
    args.output = args.output or Path("runs/demo_long" if args.long else "runs/demo")
    summary = run_demo(
        resolve_config("demo_long" if args.long else "demo"),
        args.output,
        seeds=range(args.seeds),
        quick=args.quick,
        overrides=args.overrides,
        jobs=min(runs, args.jobs or usable_cpus()),
    )
    print(format_table(summary))
    print(
        f"\nwrote {args.output / 'results.json'} and {args.output / 'demo.png'} "
        f"in {time.perf_counter() - start:.0f} s"
    )


def _cmd_make_synthetic(args: argparse.Namespace) -> None:
    from cmpl.commands.make_synthetic import make_synthetic_dataset

    root = make_synthetic_dataset(args.root, args.train_per_class, args.test_per_class, args.seed)
    print(f"synthetic dataset ready in {root} (train.txt, test.txt, classes.txt)")


def _cmd_prepare(args: argparse.Namespace) -> int:
    from cmpl.commands.prepare import prepare

    report, failed_list = prepare(
        args.source, args.dest, args.short_side, args.keyframe_interval, args.crf, args.workers
    )
    print(
        f"{report.encoded} videos encoded, {report.copied} files copied, {report.up_to_date} up to date, "
        f"{len(report.failed)} failed -> {args.dest}"
    )
    if report.failed:
        print(f"failed videos are listed in {failed_list}", file=sys.stderr)
    return 1 if report.failed else 0


def _cmd_split(args: argparse.Namespace) -> None:
    from cmpl.commands.split import split

    data, files = split(load_config(args.config, args.overrides))
    print(
        f"{len(data.labeled)} labeled and {len(data.unlabeled)} unlabeled videos over {data.num_classes} "
        f"classes -> {files['labeled']}, {files['unlabeled']}"
    )


def _cmd_train(args: argparse.Namespace) -> None:
    from cmpl.commands.train import is_main, train

    if args.config is not None and "=" in args.config and not Path(args.config).exists():
        args.overrides, args.config = [args.config, *args.overrides], None  # no config file, overrides only
    config = load_config(args.config, args.overrides)
    results = train(config, resume=args.resume, force=args.force)
    if is_main():
        print(
            f"top-1 {results['top1']:.2f}  top-5 {results['top5']:.2f}  "
            f"({results['num_videos']} videos) -> {config.train.output_dir}/results.json"
        )


def _cmd_bench(args: argparse.Namespace) -> None:
    from cmpl.commands.bench import run_bench

    config = load_config(args.config, [*args.overrides, "train.progress=false"])
    r = run_bench(config, steps=args.steps, warmup=args.warmup)
    rows = [
        ("device", r.device),
        ("clips per step", f"{r.clips_per_step}"),
        ("compute floor", f"{r.floor_ms:.1f} ms/step"),
        ("end to end", f"{r.end_to_end_ms:.1f} ms/step"),
        ("data efficiency", f"{100 * r.data_efficiency:.0f} % of the floor's throughput"),
        ("work per step", f"{r.tflop_per_step:.3f} TFLOP"),
        ("floor speed", f"{r.floor_tflops:.2f} TFLOP/s"),
        ("peak memory", f"{r.peak_memory_gib:.2f} GiB" + (" (process RSS)" if r.device == "cpu" else "")),
    ]
    for name, value in rows:
        print(f"{name:<16} {value}")
    if args.json:
        args.json.write_text(json.dumps(r.to_dict(), indent=1))


def _cmd_evaluate(args: argparse.Namespace) -> None:
    from cmpl.commands.evaluate import evaluate_run, load_run

    run = load_run(args.run_dir, args.device)
    clips, crops = args.views or (run.config.eval.num_clips, run.config.eval.num_crops)
    result, path = evaluate_run(run, args.run_dir, clips, crops, test_list=args.test_list)
    print(
        f"top-1 {result.top1:.2f}  top-5 {result.top5:.2f}  mean class {result.mean_class_accuracy:.2f}  "
        f"({result.num_videos} videos, {clips}x{crops} views) -> {path}"
    )


def _cmd_check_videos(args: argparse.Namespace) -> int:
    from cmpl.commands.check_videos import check_videos

    target = Path(args.target)
    if target.suffix in (".yaml", ".yml") or (
        not target.exists() and args.target in config_names()
    ):
        paths, bad = check_videos(load_config(args.target, args.overrides), args.workers)
    else:
        paths, bad = check_videos(target, args.workers)
    for path, reason in bad:
        print(f"{path}\t{reason.removeprefix(f'{path}: ')}")
    print(f"{len(bad)} of {len(paths)} videos will not decode", file=sys.stderr)
    return 1 if bad else 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from cmpl.commands.evaluate import load_run
    from cmpl.commands.predict import predict_videos

    run = load_run(args.run_dir, args.device)
    clips, crops = args.views or (run.config.eval.num_clips, run.config.eval.num_crops)
    answers = predict_videos(run, args.videos, clips, crops, args.top_k)
    for a in answers:
        if a.error:
            print(f"error: {a.error}", file=sys.stderr)
        else:
            top = [{"label": n, "prob": round(p, 4)} for n, p in a.top]
            print(json.dumps({"video": str(a.video), "top": top}))
    return 1 if any(a.error for a in answers) else 0


def _cmd_report(args: argparse.Namespace) -> None:
    from cmpl.commands import report

    for line in args.draw(report, args):
        print(line)


COMMANDS = {
    "demo": _cmd_demo,
    "make-synthetic": _cmd_make_synthetic,
    "prepare": _cmd_prepare,
    "split": _cmd_split,
    "train": _cmd_train,
    "bench": _cmd_bench,
    "evaluate": _cmd_evaluate,
    "predict": _cmd_predict,
    "check-videos": _cmd_check_videos,
    "report": _cmd_report,
}


def _report_shorthand(argv: list[str], figures: Sequence[str]) -> list[str]:
    """``cmpl report RUN`` means ``cmpl report run RUN``: one run needs no figure name."""
    if len(argv) >= 2 and argv[0] == "report" and not argv[1].startswith("-") and argv[1] not in figures:
        return ["report", "run", *argv[1:]]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    figures = parser.get_default("report_figures")
    args = parser.parse_args(_report_shorthand(list(sys.argv[1:] if argv is None else argv), figures))
    try:
        status = COMMANDS[args.command](args)
    except UserError as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except TrainingStopped as e:
        if os.environ.get("RANK", "0") == "0":  # under torchrun, one line for the run, not one per rank
            print(e, file=sys.stderr)
        return EXIT_STOPPED
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted", file=sys.stderr)
        return 130
    return status or 0


if __name__ == "__main__":  # `python -m cmpl.cli` as well as `python -m cmpl`: not a silent no-op
    sys.exit(main())
