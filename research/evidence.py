"""Run one setting of the demo's investigation (research/EVIDENCE.md): every method x every seed.

Each run is an ordinary ``cmpl train demo ...`` process with one torch thread, ``--jobs`` of them at a time,
which on a 2-core machine finishes a 9-run setting sooner than ``cmpl demo`` running them one after another
(the accuracy is the same recipe; only the thread count differs). The setting's table is printed and one JSON
line (overrides, command, per-seed top-1 and pseudo-label figures) is appended to ``--log``.

    python research/evidence.py --name dropout-fix --seeds 0 1 2 -- schedule.iterations=240

``{seed}`` in an override is each run's seed: ``-- data.split_seed={seed}`` trains seed k on labeled subset k,
the paper's protocol of averaging over sampled subsets (Sec. 4.1; EVIDENCE.md, e21).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cmpl.commands.demo import DEMO_METHODS, format_table, pseudo_label_summary, summarize

FAST = ["data.num_workers=0", "data.cache_decoded=true", "train.progress=false"]


def _run(config: str, method: str, seed: int, overrides: list[str], out: Path) -> dict:
    run_dir = out / f"{method}_seed{seed}"
    cmd = [
        "cmpl", "train", "--force", config, *FAST, *(o.replace("{seed}", str(seed)) for o in overrides),
        f"method.name={method}", f"train.seed={seed}", f"train.output_dir={run_dir}",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = json.loads((run_dir / "results.json").read_text())
    return {
        "seed": seed,
        "top1": result["top1"],
        "wall_s": round(time.perf_counter() - start, 1),
        **pseudo_label_summary(run_dir),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True, help="the setting's name in the log")
    p.add_argument("--config", default="demo", help="preset name or YAML file (default: %(default)s)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=list(DEMO_METHODS))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("runs/evidence"))
    p.add_argument("--log", type=Path, default=Path(__file__).with_name("evidence_log.jsonl"))
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = p.parse_args()
    out = args.out / args.name
    jobs = [(m, s) for m in reversed(args.methods) for s in args.seeds]  # longest runs first, as the demo
    start = time.perf_counter()
    with ThreadPoolExecutor(args.jobs) as pool:
        done = list(pool.map(lambda job: _run(args.config, *job, args.overrides, out), jobs))
    runs: dict[str, list[dict]] = {m: [] for m in args.methods}
    for (method, _), row in zip(jobs, done, strict=True):
        runs[method].append(row)
    summary = {"methods": summarize(runs)}
    print(f"{args.name}: {' '.join(args.overrides) or '(preset)'}")
    print(format_table(summary))
    for method, rows in runs.items():
        print(f"  {method:<11}", " / ".join(f"{r['top1']:.1f}" for r in rows))
    entry = {
        "name": args.name,
        "overrides": args.overrides,
        "config": args.config,
        "command": shlex.join(["python", "research/evidence.py", *sys.argv[1:]]),  # as typed
        "seeds": args.seeds,
        "wall_s": round(time.perf_counter() - start, 1),
        "methods": summary["methods"],
        "runs": runs,
    }
    with args.log.open("a") as f:
        f.write(json.dumps(entry) + "\n")


if __name__ == "__main__":
    sys.exit(main())
