"""Multi-view testing (paper Sec. 4.1): softmax averaged over clips x crops per video, primary network only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, default_collate
from tqdm import tqdm

from cmpl.data.datasets import TestClips
from cmpl.data.decode import VideoDecodeError
from cmpl.engine import distributed

__all__ = ["EvalResult", "accuracy_metrics", "predict_dataset", "predict_video_probs", "unreadable_note"]


@dataclass
class EvalResult:
    top1: float
    top5: float
    mean_class_accuracy: float
    per_class_accuracy: list[float]
    confusion: list[list[int]]
    num_videos: int  # scored; unreadable_videos are not among them
    unreadable_videos: list[str] = field(default_factory=list)  # "path: reason" of each video left out

    def to_dict(self) -> dict:
        return asdict(self)


def accuracy_metrics(
    probs: torch.Tensor, labels: torch.Tensor, num_classes: int, unreadable: list[str] | None = None
) -> EvalResult:
    """Top-1, top-5 (in %), per-class accuracy (NaN for classes absent from ``labels``) and confusion matrix;
    ``unreadable``: the videos ``predict_dataset`` left out, named in the result (none scored is an error)."""
    if unreadable and not len(labels):
        raise VideoDecodeError(
            f"none of the {len(unreadable)} test videos decodes ({unreadable[0]}); `cmpl check-videos "
            "CONFIG` lists every bad file"
        )
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
        unreadable_videos=list(unreadable or []),
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


def unreadable_note(result: EvalResult, where: str) -> str:
    """The line that tells a user that ``result`` left videos out, and where they are listed."""
    n = len(result.unreadable_videos)
    total = n + result.num_videos
    return (
        f"warning: {n} of {total} test videos will not decode and are left out of the scores (first: "
        f"{result.unreadable_videos[0]}); {where} lists them under unreadable_videos"
    )


class _Tolerant(Dataset):
    """``dataset``'s items, or ``{"index": i, "error": reason}`` for a video that will not decode."""

    def __init__(self, dataset: TestClips) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict:
        try:
            return self.dataset[i]
        except VideoDecodeError as e:
            return {"index": i, "error": str(e)}


def _collate_scored(items: list[dict]) -> dict:
    """The decoded items collated as usual, and the errors of the others beside them."""
    good = [item for item in items if "error" not in item]
    batch = default_collate(good) if good else {}
    batch["errors"] = [(item["index"], item["error"]) for item in items if "error" in item]
    return batch


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
    unreadable: list[str] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode class probabilities ``(N, K)`` and labels ``(N,)`` of every video, in dataset order (for
    accuracy: ``accuracy_metrics(*predict_dataset(...), num_classes)``). Each rank scores every
    ``world_size``-th video; rank results are gathered so all ranks return the same.

    A video that will not decode raises its ``VideoDecodeError``, unless a list is given as ``unreadable``:
    then it is left out of the results and its ``"path: reason"`` is appended there (one broken file must
    not discard the scores of all the others)."""
    was_training = model.training
    model.eval()
    shard = Subset(_Tolerant(dataset), range(distributed.rank(), len(dataset), distributed.world_size()))
    loader = DataLoader(  # its own generator: a loader draws a seed, and the training's stream must not move
        shard,
        batch_size=batch_size,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        generator=torch.Generator(),
        collate_fn=_collate_scored,
    )
    probs, labels, indices, errors = [], [], [], []
    for batch in tqdm(loader, desc="evaluate", disable=not progress, leave=False):
        errors += batch["errors"]
        if unreadable is None and errors:
            raise VideoDecodeError(errors[0][1])
        if "clips" not in batch:
            continue
        clips = batch["clips"].to(device, non_blocking=True)
        probs.append(predict_video_probs(model, clips, normalize, amp).cpu())
        labels.append(batch["label"])
        indices.append(batch["index"])
    probs_t = torch.cat(probs) if probs else torch.zeros(0, num_classes)
    labels_t = torch.cat(labels) if labels else torch.zeros(0, dtype=torch.long)
    index_t = torch.cat(indices) if indices else torch.zeros(0, dtype=torch.long)
    if dist.is_initialized():
        gathered: list = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, (probs_t, labels_t, index_t, errors))
        probs_t = torch.cat([g[0] for g in gathered])
        labels_t = torch.cat([g[1] for g in gathered])
        index_t = torch.cat([g[2] for g in gathered])
        errors = [e for g in gathered for e in g[3]]
    order = index_t.argsort()  # dataset order, whichever rank scored a video
    if unreadable is not None:
        unreadable += [reason for _, reason in sorted(errors)]
    model.train(was_training)
    return probs_t[order], labels_t[order]
