"""``cmpl demo``: supervised vs FixMatch vs CMPL on the synthetic videos, alike in subset, budget and backbone.

Every run is an ordinary ``Trainer`` run in its own sub-folder, so the demo exercises exactly the code paths
of real training. Seed k trains on labeled subset k (``data.split_seed=k``), the paper's protocol of averaging
over sampled subsets; an explicit ``data.split_seed=N`` pins one subset for every seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from cmpl.analysis.plots import plot_demo
from cmpl.analysis.seed_differences import format_differences, seed_differences
from cmpl.config import QUICK_OVERRIDES, Config, load_config, resolve_config
from cmpl.data.workers import usable_cpus
from cmpl.engine.run_data import load_dataset
from cmpl.engine.trainer import Trainer
from cmpl.run_files import pooled_accuracy, read_metrics

__all__ = ["DEMO_METHODS", "format_table", "plan_runs", "pseudo_label_summary", "run_demo", "summarize"]

DEMO_METHODS = ("supervised", "fixmatch", "cmpl")
"""Cheapest first; the demo schedules them in reverse."""


def pseudo_label_summary(run_dir: Path, tail: float = 0.25) -> dict[str, float]:
    """Percent of unlabeled clips that gave the primary network a pseudo-label (``mask``) and a correct one
    (``correct``) over the last ``tail`` of training, where the numbers have settled."""
    rows = read_metrics(run_dir, "train")
    rows = rows[int(len(rows) * (1 - tail)) :] or rows
    out = {}
    for key in ("mask", "correct"):
        values = [r[f"pl_{key}_primary"] for r in rows if f"pl_{key}_primary" in r]
        if values:
            out[key] = 100.0 * statistics.fmean(values)
    return _with_accuracy(out)


def _with_accuracy(stats: dict[str, float]) -> dict[str, float]:
    """Add the pooled accuracy of the pseudo-labels (percent) where ``mask`` and ``correct`` are known."""
    if "mask" in stats and "correct" in stats:
        stats["accuracy"] = 100.0 * pooled_accuracy(stats["correct"], stats["mask"])
    return stats


def plan_runs(
    preset: Path,
    output: Path,
    seeds: Iterable[int],
    overrides: Iterable[str] = (),
) -> tuple[list[tuple[str, int]], list[Config]]:
    """Every (method, seed) of the demo and its config, longest runs first (CMPL trains two networks,
    FixMatch three views of one, supervised one view), so that side by side no core is left waiting on one
    long run at the end. Seed k draws labeled subset k; ``data.split_seed`` comes before ``overrides`` so that
    one given there pins a single subset for all seeds."""
    plan = [(method, seed) for method in reversed(DEMO_METHODS) for seed in seeds]
    configs = [
        load_config(
            preset,
            [
                f"data.split_seed={s}",
                *overrides,
                f"method.name={m}",
                f"train.seed={s}",
                f"train.output_dir={output / f'{m}_seed{s}'}",
            ],
        )
        for m, s in plan
    ]
    return plan, configs


def run_demo(
    preset: Path,
    output: Path,
    seeds: Iterable[int],
    quick: bool = False,
    overrides: Iterable[str] = (),
    jobs: int = 1,
) -> dict[str, Any]:
    """Train every method for every seed (:func:`plan_runs`), ``jobs`` runs at a time, then write
    ``results.json`` and ``demo.png`` into ``output``.

    Side by side, each run gets its share of the CPUs as torch threads: the demo's small convolutions keep
    one core busier than they keep two. The demo's run folders are its own: a second ``cmpl demo`` into the
    same ``output`` starts them over.
    """
    extra = [*(QUICK_OVERRIDES if quick else []), *overrides]
    quiet = ["train.progress=false"] if jobs > 1 else []
    plan, configs = plan_runs(preset, output, seeds, [*extra, *quiet])
    load_dataset(configs[0], "train")  # write the synthetic videos once, before runs start side by side
    if jobs > 1:
        threads = max(1, usable_cpus() // jobs)
        pool = ProcessPoolExecutor(
            jobs, get_context("spawn"), initializer=torch.set_num_threads, initargs=(threads,)
        )
        with pool:
            results = list(tqdm(pool.map(_fit, configs), total=len(configs), desc="demo runs", unit="run"))
    else:
        results = [_fit(c) for c in configs]
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in DEMO_METHODS}
    for config, (method, seed), result in zip(configs, plan, results, strict=True):
        run_dir = Path(config.train.output_dir)
        row = {"seed": seed, "top1": result["top1"], "top5": result["top5"], "run_dir": str(run_dir)}
        runs[method].append({**row, **pseudo_label_summary(run_dir)})
    top1 = {method: {r["seed"]: r["top1"] for r in rows} for method, rows in runs.items()}
    summary = {
        "methods": summarize(runs),
        "differences": seed_differences(top1),
        "runs": runs,
        "overrides": extra,
        "labeled_subsets": {
            f"{m}_seed{s}": c.data.split_seed for (m, s), c in zip(plan, configs, strict=True)
        },
    }
    output.mkdir(parents=True, exist_ok=True)
    (output / "results.json").write_text(json.dumps(summary, indent=1))
    plot_demo(summary, output / "demo.png")
    return summary


def _fit(config: Config) -> dict[str, Any]:
    return Trainer(config, force=True).fit()  # a demo run again starts its runs over


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per method: top-1 mean and sample standard deviation over seeds (n - 1 in the denominator, as in the
    per-seed differences' standard errors; None from one seed); pseudo-label use, correctness and their pooled
    accuracy (a seed without pseudo-labels adds none, rather than a 0 % accuracy), where every run logged them."""
    methods = {}
    for method, rows in runs.items():
        top1 = [r["top1"] for r in rows]
        std = statistics.stdev(top1) if len(top1) > 1 else None
        entry = {"top1_mean": statistics.fmean(top1), "top1_std": std, "seeds": len(rows)}
        pooled = {
            k: statistics.fmean(r[k] for r in rows) for k in ("mask", "correct") if all(k in r for r in rows)
        }
        entry.update({f"pseudo_label_{k}": v for k, v in _with_accuracy(pooled).items()})
        methods[method] = entry
    return methods


def format_table(summary: dict[str, Any]) -> str:
    """The demo's table: top-1 as mean ± sample SD over seeds, pseudo-label use and precision, then the
    per-seed differences (:func:`~cmpl.analysis.seed_differences.format_differences`)."""
    lines = [
        f"{'method':<11} {'top-1 (mean ± SD)':>19} {'pseudo-labels used':>19} {'their accuracy':>15}",
        "-" * 67,
    ]
    for method, e in summary["methods"].items():
        used = f"{e['pseudo_label_mask']:.1f} %" if "pseudo_label_mask" in e else "-"
        acc = f"{e['pseudo_label_accuracy']:.1f} %" if "pseudo_label_accuracy" in e else "-"
        spread = f" ± {e['top1_std']:.1f}" if e["top1_std"] is not None else ""
        top1 = f"{e['top1_mean']:.1f}{spread}"
        lines.append(f"{method:<11} {top1:>19} {used:>19} {acc:>15}")
    if summary.get("differences"):
        lines += ["", *format_differences(summary["differences"])]
    return "\n".join(lines)


COMMAND = "demo"
HELP = "train supervised, FixMatch and CMPL on synthetic videos and compare"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output", type=Path, default=None, help="folder for the runs (default: runs/demo or runs/demo_long)"
    )
    parser.add_argument(
        "--seeds", type=int, default=3, help="training seeds per method (default: %(default)s)"
    )
    parser.add_argument("--quick", action="store_true", help="a tiny budget that only checks the pipeline")
    parser.add_argument(
        "--long",
        action="store_true",
        help="the demo_long config: 720 iterations instead of 120 and the paper's B_u/B_l = 5 instead of 2, "
        "where pseudo-labels have room (under an hour on 2 cores)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=0,
        help="runs side by side, each with its share of the CPUs as threads (default: one per CPU)",
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="overrides on top of the demo config"
    )


def run(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    output = args.output or Path("runs/demo_long" if args.long else "runs/demo")
    summary = run_demo(
        resolve_config("demo_long" if args.long else "demo"),
        output,
        seeds=range(args.seeds),
        quick=args.quick,
        overrides=args.overrides,
        jobs=min(len(DEMO_METHODS) * args.seeds, args.jobs or usable_cpus()),
    )
    print(format_table(summary))
    print(
        f"\nwrote {output / 'results.json'} and {output / 'demo.png'} in {time.perf_counter() - start:.0f} s"
    )
