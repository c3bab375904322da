"""Figs. 2 and 6 as the paper measures them: every few epochs, each network scores the unlabeled set (or a
fixed, seeded sample of it) in eval mode, one weak view per video (short side ``data.weak_short_side``, centre
crop, the centre window of the network's own sampling), and the method's teacher rule turns the predictions
into pseudo-labels. Per-batch train-mode statistics (``pl_*`` in ``metrics.jsonl``) see augmented clips under
dropout and batch statistics, and only the clips a batch happened to hold."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cmpl.config import Config
from cmpl.data.annotations import VideoRecord
from cmpl.data.datasets import TestClips
from cmpl.engine.evaluate import predict_dataset
from cmpl.engine.runtime import clip_specs
from cmpl.methods import Method
from cmpl.run_files import UNLABELED_SCORES_FILE

__all__ = ["score_unlabeled", "scored_videos", "write_scores"]


def scored_videos(records: Sequence[VideoRecord], count: int, seed: int) -> list[VideoRecord]:
    """All records (``count`` 0 or at least their number) or ``count`` of them drawn with ``seed``, in their
    order: runs of one split and seed (a CMPL and a FixMatch run) score the same videos."""
    if count == 0 or count >= len(records):
        return list(records)
    keep = np.sort(np.random.default_rng(seed).choice(len(records), size=count, replace=False))
    return [records[i] for i in keep]


def score_unlabeled(
    method: Method,
    records: Sequence[VideoRecord],
    config: Config,
    *,
    num_classes: int,
    device: torch.device,
    normalize: Mapping[str, Callable[[torch.Tensor], torch.Tensor]],
    amp: bool,
) -> dict[str, Any]:
    """Each role's eval-mode prediction and the pseudo-label its teacher gives it (``run_files`` layout);
    ``normalize`` holds each role's input normalisation."""
    d = config.data
    probs: dict[str, torch.Tensor] = {}
    truth = torch.zeros(0, dtype=torch.long)
    for role, spec in zip(method.roles, clip_specs(config, method.roles), strict=True):
        views = TestClips(
            records,
            spec,
            num_clips=1,
            num_crops=1,
            short_side=d.weak_short_side,
            crop_size=d.crop_size,
            backend=d.backend,
            cache_decoded=d.cache_decoded,
        )
        probs[role], truth = predict_dataset(
            method.networks[role],
            views,
            num_classes=num_classes,
            device=device,
            normalize=normalize[role],
            batch_size=config.eval.batch_size,
            num_workers=d.num_workers,
            amp=amp,
        )
    teachers = method.teachers(probs)
    roles = {}
    for role in method.roles:
        own, taught = probs[role].max(dim=1), teachers[role].max(dim=1)
        roles[role] = {
            "prediction": own.indices.tolist(),
            "confidence": [round(v, 4) for v in own.values.tolist()],
            "pseudo_label": taught.indices.tolist(),
            "pseudo_confidence": [round(v, 4) for v in taught.values.tolist()],
        }
    return {"threshold": config.method.threshold, "truth": truth.tolist(), "roles": roles}


def write_scores(run_dir: Path, step: int, scores: dict[str, Any], videos: Sequence[VideoRecord]) -> None:
    """Append one line; the first line of a run also names the videos."""
    path = run_dir / UNLABELED_SCORES_FILE
    line: dict[str, Any] = {"step": step, **scores}
    if not path.is_file():
        line["videos"] = [r.path.as_posix() for r in videos]
    with path.open("a") as f:
        f.write(json.dumps(line) + "\n")
