"""The paper's loss terms as plain functions of logits, so they can be checked against the equations by hand."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["confident_targets", "masked_cross_entropy", "pseudo_label_stats", "select_teachers"]


def confident_targets(probs: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Arg-max labels and the mask ``max(p) >= tau`` of Eq. 1, 4 and 5 (inputs carry no gradient)."""
    confidence, labels = probs.max(dim=1)
    return labels, (confidence >= threshold).float()


def masked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``1/B_u * sum_i mask_i * H(y_i, logits_i)``: masked items count as zero in the mean, as Eq. 1 says."""
    return (F.cross_entropy(logits, targets, reduction="none") * mask).sum() / logits.shape[0]


def select_teachers(
    p_primary: torch.Tensor, p_auxiliary: torch.Tensor, scheme: str, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distributions that label the unlabeled clips for (F, A), by the schemes of the paper's Appendix A.

    ``cross`` is CMPL (Eq. 4-5): each network learns from the other's prediction and never from its own.
    """
    if scheme == "cross":
        return p_auxiliary, p_primary
    if scheme in ("self_first", "opposite_first"):
        f_sure = (p_primary.max(1).values >= threshold)[:, None]
        a_sure = (p_auxiliary.max(1).values >= threshold)[:, None]
        self_first = (
            torch.where(f_sure, p_primary, p_auxiliary),
            torch.where(a_sure, p_auxiliary, p_primary),
        )
        opposite = (torch.where(a_sure, p_auxiliary, p_primary), torch.where(f_sure, p_primary, p_auxiliary))
        return self_first if scheme == "self_first" else opposite
    if scheme == "maximum":
        f_wins = (p_primary.max(1).values >= p_auxiliary.max(1).values)[:, None]
        best = torch.where(f_wins, p_primary, p_auxiliary)
        return best, best
    if scheme == "average":
        mean = (p_primary + p_auxiliary) / 2
        return mean, mean
    raise ValueError(f"unknown pseudo-label scheme {scheme!r}")


def pseudo_label_stats(
    targets: torch.Tensor,
    mask: torch.Tensor,
    truth: torch.Tensor | None,
    student_probs: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """How many pseudo-labels were used (``mask``) and, where ground truth exists (`truth` not None), how many
    were right. Nothing here reads a value back to the host, so a training step never waits for the device.

    ``correct`` is the paper's Fig. 2 quantity: correct pseudo-labels over all unlabeled clips of the batch.
    With `student_probs` (the learning network's own weak-view prediction), ``student_correct`` counts the
    pseudo-labeled clips that the student itself gets right, over all clips: with ``correct`` it gives the
    paper's Fig. 6, both networks' accuracy on the clips one of them labels.
    """
    stats = {"mask": mask.mean()}
    if truth is not None:
        hit = (targets == truth).float()
        stats["correct"] = (hit * mask).mean()
        stats["accuracy"] = (hit * mask).sum() / mask.sum().clamp(min=1)
        if student_probs is not None:
            stats["student_correct"] = ((student_probs.argmax(dim=1) == truth).float() * mask).mean()
    return stats
