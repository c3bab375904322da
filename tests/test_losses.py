"""The loss terms against the paper's equations, computed by hand on small logits."""

from __future__ import annotations

import math

import pytest
import torch

from cmpl.methods.losses import confident_targets, masked_cross_entropy, pseudo_label_stats, select_teachers


def _ce(logits: list[float], target: int) -> float:
    return -logits[target] + math.log(sum(math.exp(v) for v in logits))


def test_confident_targets_threshold_is_inclusive():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.05, 0.95]])
    labels, mask = confident_targets(probs, threshold=0.9)
    assert labels.tolist() == [0, 1, 1]
    assert mask.tolist() == [1.0, 0.0, 1.0]


def test_masked_cross_entropy_averages_over_all_items():
    """Eq. 1: 1/B_u * sum over confident items; masked items count as zero in the mean."""
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0], [-1.0, 3.0, 0.0], [0.0, 0.0, 0.0]])
    targets = torch.tensor([0, 2, 1, 1])
    mask = torch.tensor([1.0, 0.0, 1.0, 0.0])
    expected = (_ce([2.0, 0.0, -1.0], 0) + _ce([-1.0, 3.0, 0.0], 1)) / 4
    assert masked_cross_entropy(logits, targets, mask).item() == pytest.approx(expected, rel=1e-6)


def test_nothing_confident_gives_zero_loss():
    logits = torch.randn(5, 4, requires_grad=True)
    _, mask = confident_targets(torch.full((5, 4), 0.25), threshold=0.9)
    loss = masked_cross_entropy(logits, torch.zeros(5, dtype=torch.long), mask)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.count_nonzero(logits.grad) == 0


def test_cross_scheme_swaps_teachers():
    """Eq. 4-5: F learns from A's prediction, A from F's, never from themselves."""
    p_f = torch.tensor([[0.95, 0.05], [0.5, 0.5]])
    p_a = torch.tensor([[0.1, 0.9], [0.97, 0.03]])
    teach_f, teach_a = select_teachers(p_f, p_a, "cross", 0.9)
    assert torch.equal(teach_f, p_a) and torch.equal(teach_a, p_f)


def test_appendix_schemes():
    p_f = torch.tensor([[0.95, 0.05], [0.6, 0.4]])
    p_a = torch.tensor([[0.2, 0.8], [0.08, 0.92]])
    sf_f, sf_a = select_teachers(p_f, p_a, "self_first", 0.9)
    assert torch.equal(sf_f, torch.stack([p_f[0], p_a[1]]))  # F sure on item 0 only
    assert torch.equal(sf_a, torch.stack([p_f[0], p_a[1]]))  # A sure on item 1 only
    of_f, of_a = select_teachers(p_f, p_a, "opposite_first", 0.9)
    assert torch.equal(of_f, torch.stack([p_f[0], p_a[1]]))
    assert torch.equal(of_a, torch.stack([p_f[0], p_a[1]]))
    mx_f, mx_a = select_teachers(p_f, p_a, "maximum", 0.9)
    assert torch.equal(mx_f, torch.stack([p_f[0], p_a[1]])) and torch.equal(mx_f, mx_a)
    av_f, _ = select_teachers(p_f, p_a, "average", 0.9)
    assert torch.allclose(av_f, (p_f + p_a) / 2)
    with pytest.raises(ValueError):
        select_teachers(p_f, p_a, "vote", 0.9)


def test_opposite_first_differs_from_self_first_when_both_are_sure():
    p_f = torch.tensor([[0.95, 0.05]])
    p_a = torch.tensor([[0.02, 0.98]])
    assert select_teachers(p_f, p_a, "self_first", 0.9)[0].argmax().item() == 0
    assert select_teachers(p_f, p_a, "opposite_first", 0.9)[0].argmax().item() == 1


def test_pseudo_label_stats():
    targets = torch.tensor([0, 1, 2, 1])
    mask = torch.tensor([1.0, 1.0, 0.0, 1.0])
    stats = pseudo_label_stats(targets, mask, torch.tensor([0, 2, 2, 1]))
    assert stats["mask"].item() == pytest.approx(0.75)
    assert stats["accuracy"].item() == pytest.approx(2 / 3)
    assert stats["correct"].item() == pytest.approx(0.5)
    assert "accuracy" not in pseudo_label_stats(targets, mask, None)  # no ground truth
    # the student's own guesses: classes 0, 2, 2, 0 -> right on items 0 and 1 (both labeled), wrong on 3
    student = torch.eye(3)[[0, 2, 2, 0]]
    stats = pseudo_label_stats(targets, mask, torch.tensor([0, 2, 2, 1]), student_probs=student)
    assert stats["student_correct"].item() == pytest.approx(0.5)  # item 2 is right but not pseudo-labeled
    assert "student_correct" not in pseudo_label_stats(targets, mask, torch.tensor([0, 2, 2, 1]))
