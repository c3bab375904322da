#!/usr/bin/env bash
# The paper's Fig. 1 on the synthetic data (research/EVIDENCE.md, m02, m03 and m05): a small network on A's frames
# (16x4) and a larger one on F's (8x8), both supervised with the long recipe, seed k on labeled subset k for
# k = 0-9, then both scored on a held-out test list. Read the gap with
#   cmpl report class-gap runs/evidence/NAME-small-SMALL-16x4 runs/evidence/NAME-large-LARGE-8x8 \
#     --results results_2x1_<list folder>_test.json --groups synthetic
# usage, from the repository root: bash research/fig1.sh NAME SMALL LARGE HELDOUT_LIST [KEY=VALUE ...]
set -euo pipefail
name=$1 small=$2 large=$3 heldout=$4
shift 4
seeds=(0 1 2 3 4 5 6 7 8 9)
python research/evidence.py --name "$name-small-$small-16x4" --config demo_long --methods supervised \
  --seeds "${seeds[@]}" -- 'data.split_seed={seed}' "model.primary.name=$small" model.primary.frames=16 \
  model.primary.stride=4 "$@"
python research/evidence.py --name "$name-large-$large-8x8" --config demo_long --methods supervised \
  --seeds "${seeds[@]}" -- 'data.split_seed={seed}' "model.primary.name=$large" "$@"
python research/rescore.py --name "$name-small-$small-16x4-2400" --test-list "$heldout" \
  "runs/evidence/$name-small-$small-16x4"/supervised_seed* &
python research/rescore.py --name "$name-large-$large-8x8-2400" --test-list "$heldout" \
  "runs/evidence/$name-large-$large-8x8"/supervised_seed*
wait
