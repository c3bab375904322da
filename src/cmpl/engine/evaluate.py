"""Multi-view testing (paper Sec. 4.1): softmax averaged over clips x crops per video, primary network only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from cmpl.data.datasets import TestClips
from cmpl.engine import distributed

__all__ = ["EvalResult", "accuracy_metrics", "predict_dataset", "predict_video_probs"]


@dataclass
class EvalResult:
    top1: float
    top5: float
    mean_class_accuracy: float
    per_class_accuracy: list[float]
    confusion: list[list[int]]
    num_videos: int

    def to_dict(self) -> dict:
        return asdict(self)


def accuracy_metrics(probs: torch.Tensor, labels: torch.Tensor, num_classes: int) -> EvalResult:
    """Top-1, top-5 (in %), per-class accuracy (NaN for classes absent from ``labels``) and confusion matrix."""
    k = min(5, num_classes)
    topk = probs.topk(k, dim=1).indices
    correct1 = topk[:, 0] == labels
    correct5 = (topk == labels[:, None]).any(dim=1)
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    confusion.index_put_((labels, topk[:, 0]), torch.ones_like(labels), accumulate=True)
    support = confusion.sum(dim=1)
    per_class = (confusion.diag().float() / support.clamp(min=1)).masked_fill(support == 0, float("nan"))
    present = per_class[support > 0]
    return EvalResult(
        top1=100.0 * correct1.float().mean().item(),
        top5=100.0 * correct5.float().mean().item(),
        mean_class_accuracy=100.0 * present.mean().item() if len(present) else float("nan"),
        per_class_accuracy=[100.0 * v for v in per_class.tolist()],
        confusion=confusion.tolist(),
        num_videos=len(labels),
    )


@torch.no_grad()
def predict_video_probs(
    model: nn.Module, clips: torch.Tensor, normalize: Callable[[torch.Tensor], torch.Tensor], amp: bool
) -> torch.Tensor:
    """``clips`` uint8 ``(B, V, T, C, H, W)`` -> class probabilities ``(B, K)`` averaged over the V views."""
    b, v = clips.shape[:2]
    with torch.autocast(clips.device.type, dtype=torch.bfloat16, enabled=amp):
        logits = model(normalize(clips.flatten(0, 1)))
    return logits.float().softmax(dim=1).view(b, v, -1).mean(dim=1)


def predict_dataset(
    model: nn.Module,
    dataset: TestClips,
    *,
    num_classes: int,
    device: torch.device,
    normalize: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int,
    num_workers: int,
    amp: bool,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode class probabilities ``(N, K)`` and labels ``(N,)`` of every video, in dataset order (for
    accuracy: ``accuracy_metrics(*predict_dataset(...), num_classes)``). Each rank scores every
    ``world_size``-th video; rank results are gathered so all ranks return the same."""
    was_training = model.training
    model.eval()
    shard = Subset(dataset, range(distributed.rank(), len(dataset), distributed.world_size()))
    loader = DataLoader(  # its own generator: a loader draws a seed, and the training's stream must not move
        shard,
        batch_size=batch_size,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        generator=torch.Generator(),
    )
    probs, labels = [], []
    for batch in tqdm(loader, desc="evaluate", disable=not progress, leave=False):
        clips = batch["clips"].to(device, non_blocking=True)
        probs.append(predict_video_probs(model, clips, normalize, amp).cpu())
        labels.append(batch["label"])
    probs_t = torch.cat(probs) if probs else torch.zeros(0, num_classes)
    labels_t = torch.cat(labels) if labels else torch.zeros(0, dtype=torch.long)
    if dist.is_initialized():
        world = dist.get_world_size()
        gathered: list = [None] * world
        dist.all_gather_object(gathered, (probs_t, labels_t))
        order = [
            i for r in range(world) for i in range(r, len(dataset), world)
        ]  # rank r held r, r+world, ...
        inverse = torch.empty(len(order), dtype=torch.long)
        inverse[torch.tensor(order, dtype=torch.long)] = torch.arange(len(order))
        probs_t = torch.cat([p for p, _ in gathered])[inverse]
        labels_t = torch.cat([y for _, y in gathered])[inverse]
    model.train(was_training)
    return probs_t, labels_t
