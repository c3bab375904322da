"""Score finished runs again on another test list and log them as one setting (research/EVIDENCE.md, e17).

The demo's test set is 240 videos: one video is 0.42 points of top-1, and binomial sampling alone moves a run
near 58 % by about 3 points. The synthetic generator renders as many new test videos from the same
distribution as wanted, none of which any run or any choice of recipe has seen:

    cmpl make-synthetic heldout --train-per-class 0 --test-per-class 200 --seed 1
    python research/rescore.py --name NAME --test-list heldout/test.txt RUN_DIR...

Each run's primary network scores the list at the run's eval views (what ``cmpl evaluate RUN --test-list``
does; the figures are written beside the run), and one line goes into the evidence log, in evidence.py's
format with ``top1`` on the new list, ``top1_own`` from the run's results.json and the run's pseudo-label
figures (as evidence.py logs them; they do not depend on the test list), so that
``python research/pool_seeds.py NAME`` reads it like any other setting.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from common import in_demo_order
from tqdm import tqdm

from cmpl.commands.demo import pseudo_label_summary
from cmpl.commands.evaluate import evaluate_run
from cmpl.inference import load_run

LOG = Path(__file__).with_name("evidence_log.jsonl")


def rescore(run_dir: Path, test_list: Path, device: str = "auto") -> tuple[str, dict]:
    """The run's method and its log row: seed, top-1 on ``test_list``, top-1 on its own test set and the
    pseudo-label figures of its training."""
    run = load_run(run_dir, device)
    result, _ = evaluate_run(
        run,
        run_dir,
        run.config.eval.num_clips,
        run.config.eval.num_crops,
        progress=False,
        test_list=test_list,
    )
    own = json.loads((run_dir / "results.json").read_text())["top1"]
    row = {
        "seed": run.config.train.seed,
        "top1": result.top1,
        "top1_own": own,
        "run": str(run_dir),
        **pseudo_label_summary(run_dir),
    }
    return run.config.method.name, row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True, help="the setting's name in the log")
    p.add_argument("--test-list", type=Path, required=True, help="'path label' lines, as for cmpl evaluate")
    p.add_argument("--log", type=Path, default=LOG)
    p.add_argument("--device", default="auto", help="where the networks run (default: %(default)s)")
    p.add_argument("run_dirs", type=Path, nargs="+", help="finished runs (folders with checkpoints/last.pt)")
    args = p.parse_args()
    start = time.perf_counter()
    runs: dict[str, list[dict]] = {}
    for run_dir in tqdm(args.run_dirs, desc="runs", unit="run"):
        method, row = rescore(run_dir, args.test_list, args.device)
        runs.setdefault(method, []).append(row)
        tqdm.write(f"{method:<11} seed {row['seed']}: {row['top1_own']:5.1f} -> {row['top1']:5.1f}")
    runs = {m: sorted(runs[m], key=lambda r: r["seed"]) for m in in_demo_order(runs)}
    entry = {
        "name": args.name,
        "command": shlex.join(["python", "research/rescore.py", *sys.argv[1:]]),
        "test_list": str(args.test_list.resolve()),
        "seeds": sorted({r["seed"] for rows in runs.values() for r in rows}),
        "wall_s": round(time.perf_counter() - start, 1),
        "runs": runs,
    }
    with args.log.open("a") as f:
        f.write(json.dumps(entry) + "\n")


if __name__ == "__main__":
    main()
