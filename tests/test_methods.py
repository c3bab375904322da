"""Methods end to end on hand-made logits: Eq. 1 for FixMatch, Eq. 2-6 for CMPL (cross direction included)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cmpl.config import ConfigError, load_config
from cmpl.methods import LabeledBatch, UnlabeledBatch, build_method
from cmpl.methods.cmpl import CMPL
from cmpl.methods.fixmatch import FixMatch

K = 3


class Echo(nn.Module):
    """A 'network' whose logits are the first K numbers of its input, so tests choose every prediction."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor, no_dropout: slice | None = None) -> torch.Tensor:
        return x.flatten(1)[:, :K] * self.scale


def _clips(logits: list[list[float]]) -> torch.Tensor:
    return torch.tensor(logits).view(len(logits), K, 1, 1, 1)


CONFIDENT = [8.0, 0.0, 0.0]  # softmax max ~0.9993
UNSURE = [0.3, 0.2, 0.1]


def _ce(rows: list[list[float]], targets: list[int]) -> torch.Tensor:
    return F.cross_entropy(torch.tensor(rows), torch.tensor(targets), reduction="none")


def _config(**method):
    return load_config(None, [f"method.{k}={v}" for k, v in method.items()])


def test_fixmatch_matches_eq1():
    cfg = _config(name="fixmatch", threshold=0.9, unlabeled_weight=5)
    method = FixMatch({"primary": Echo()}, cfg)
    lab = [[1.0, 2.0, 0.0]]
    weak = [CONFIDENT, UNSURE, [0.0, 0.0, 9.0]]
    strong = [[0.5, 0.1, 0.0], [1.0, 1.0, 1.0], [0.0, 2.0, 0.0]]
    out = method.training_step(
        LabeledBatch({"primary": _clips(lab)}, torch.tensor([1])),
        UnlabeledBatch({"primary": _clips(weak)}, {"primary": _clips(strong)}, torch.tensor([0, 1, 1])),
    )
    sup = _ce(lab, [1]).mean()
    unsup = (_ce([strong[0]], [0]).sum() + _ce([strong[2]], [2]).sum()) / 3  # item 1 masked, still counted
    assert out.loss.item() == pytest.approx((sup + 5 * unsup).item(), rel=1e-5)
    assert out.logs["pl_mask_primary"].item() == pytest.approx(2 / 3)
    assert out.logs["pl_accuracy_primary"].item() == pytest.approx(0.5)  # item 2 labelled 2, truth 1


def test_cmpl_uses_the_other_networks_labels():
    cfg = _config(name="cmpl", threshold=0.9, unlabeled_weight=2)
    method = CMPL({"primary": Echo(), "auxiliary": Echo()}, cfg)
    lab_f, lab_a = [[0.0, 1.0, 0.0]], [[2.0, 0.0, 0.0]]
    # F is sure of class 0 on item 0; A is sure of class 2 on item 1. Nobody is sure of item 2.
    weak_f = [CONFIDENT, UNSURE, UNSURE]
    weak_a = [UNSURE, [0.0, 0.0, 8.0], UNSURE]
    strong_f = [[0.1, 0.2, 0.3], [0.4, 0.0, 1.0], [1.0, 0.0, 0.0]]
    strong_a = [[0.3, 0.3, 0.0], [0.0, 0.5, 0.2], [0.0, 1.0, 0.0]]
    out = method.training_step(
        LabeledBatch({"primary": _clips(lab_f), "auxiliary": _clips(lab_a)}, torch.tensor([1])),
        UnlabeledBatch(
            {"primary": _clips(weak_f), "auxiliary": _clips(weak_a)},
            {"primary": _clips(strong_f), "auxiliary": _clips(strong_a)},
        ),
    )
    l_s_f, l_s_a = _ce(lab_f, [1]).mean(), _ce(lab_a, [1]).mean()
    l_u_f = _ce([strong_f[1]], [2]).sum() / 3  # F learns A's label (class 2) on item 1 only
    l_u_a = _ce([strong_a[0]], [0]).sum() / 3  # A learns F's label (class 0) on item 0 only
    expected = l_s_f + l_s_a + 2 * (l_u_f + l_u_a)
    assert out.logs["loss_unsup_primary"].item() == pytest.approx(l_u_f.item(), rel=1e-5)
    assert out.logs["loss_unsup_auxiliary"].item() == pytest.approx(l_u_a.item(), rel=1e-5)
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_cmpl_gradients_flow_through_strong_views_only():
    cfg = _config(name="cmpl")
    f, a = Echo(), Echo()
    method = CMPL({"primary": f, "auxiliary": a}, cfg)
    # every weak clip is confident (above tau = 0.9) for both networks, so both unlabeled losses are live
    views = {
        kind: {role: _clips(rows).requires_grad_() for role in ("primary", "auxiliary")}
        for kind, rows in (
            ("labeled", [UNSURE]),
            ("weak", [CONFIDENT, [0.0, 0.0, 8.0]]),
            ("strong", [[0.1, 0.2, 0.3], [0.5, 0.1, 0.0]]),
        )
    }
    out = method.training_step(
        LabeledBatch(views["labeled"], torch.tensor([0])),
        UnlabeledBatch(views["weak"], views["strong"]),
    )
    assert out.logs["loss_unsup_primary"].item() > 0 and out.logs["loss_unsup_auxiliary"].item() > 0
    out.loss.backward()
    for role in ("primary", "auxiliary"):
        assert views["strong"][role].grad.abs().sum() > 0  # the unlabeled loss reaches the strong clips
        assert views["weak"][role].grad.abs().sum() == 0  # the pseudo-labels are a stop-gradient
    assert f.scale.grad is not None and a.scale.grad is not None


def test_ablation_switches_remove_auxiliary_terms():
    base = dict(lab=[[0.0, 1.0, 0.0]], weak=[CONFIDENT], strong=[[0.2, 0.1, 0.0]])
    losses = {}
    for flags in [(True, True), (False, True), (True, False)]:
        cfg = _config(name="cmpl", auxiliary_supervised=flags[0], auxiliary_unsupervised=flags[1])
        method = CMPL({"primary": Echo(), "auxiliary": Echo()}, cfg)
        clips = {k: _clips(v) for k, v in base.items()}
        out = method.training_step(
            LabeledBatch({"primary": clips["lab"], "auxiliary": clips["lab"]}, torch.tensor([2])),
            UnlabeledBatch(
                {"primary": clips["weak"], "auxiliary": clips["weak"]},
                {"primary": clips["strong"], "auxiliary": clips["strong"]},
            ),
        )
        losses[flags] = out
    full = losses[(True, True)]
    no_sup = losses[(False, True)].loss.item()
    no_unsup = losses[(True, False)].loss.item()
    assert no_sup == pytest.approx(full.loss.item() - full.logs["loss_sup_auxiliary"].item(), rel=1e-5)
    assert no_unsup == pytest.approx(
        full.loss.item() - 5 * full.logs["loss_unsup_auxiliary"].item(), rel=1e-5
    )


def test_build_method_roles_and_shared_weights():
    cfg = load_config(
        None, ["method.name=cmpl", "model.primary.name=r10_w0.125", "model.auxiliary.name=r10_w0.125"]
    )
    method = build_method(cfg, num_classes=4)
    assert set(method.networks) == {"primary", "auxiliary"}
    assert method.networks["primary"] is not method.networks["auxiliary"]
    shared = build_method(
        load_config(None, ["method.name=cmpl", "method.share_weights=true", "model.primary.name=r10_w0.125"]),
        4,
    )
    assert shared.networks["primary"] is shared.networks["auxiliary"]
    assert sum(p.numel() for p in shared.parameters()) == sum(p.numel() for p in shared.primary.parameters())
    sup = build_method(load_config(None, ["method.name=supervised", "model.primary.name=r10_w0.125"]), 4)
    assert set(sup.networks) == {"primary"} and not sup.uses_unlabeled


def test_unknown_method_is_a_config_error():
    with pytest.raises(ConfigError, match=r"method\.name"):
        build_method(load_config(None, ["method.name=mixmatch"]), 4)


def test_weak_predictions_skip_dropout_in_train_mode():
    """Eq. 4-5 threshold the network's prediction on the weak view: with heavy dropout in train mode, the
    weak rows' probabilities repeat exactly while the trained rows still see dropout."""
    from cmpl.methods.base import predict_views
    from cmpl.models import build_model

    torch.manual_seed(0)
    net = build_model("r10_w0.125", 5, dropout=0.9, small_input=True).train()
    nn.init.normal_(net.head.weight, std=1.0)  # a head whose dropout noise shows in the logits
    labeled, weak, strong = (torch.randn(n, 3, 4, 16, 16) for n in (2, 3, 3))
    first = predict_views(net, labeled, weak, strong)
    second = predict_views(net, labeled, weak, strong)
    torch.testing.assert_close(first[2], second[2], rtol=0, atol=0)
    assert not torch.equal(first[0], second[0])  # labeled rows: dropout on
    assert not torch.equal(first[1], second[1])  # strong rows: dropout on
    features = net.features(torch.cat([labeled, weak, strong]))[2:5]
    torch.testing.assert_close(first[2], net.head(features).softmax(dim=1))


def test_batchnorm_groups_decide_which_clips_share_batch_statistics():
    from cmpl.methods.base import predict_views
    from cmpl.models import build_model

    torch.manual_seed(0)
    net = build_model("r10_w0.125", 5, dropout=0.0, small_input=True).train()
    for m in net.modules():  # non-trivial affine BN so that the batch statistics show in the logits
        if isinstance(m, nn.BatchNorm3d):
            nn.init.normal_(m.weight)
    nn.init.normal_(net.head.weight)
    labeled, weak, strong = (torch.randn(n, 3, 4, 16, 16) for n in (2, 3, 3))
    other = {"l": labeled * 3 + 1, "w": weak * 3 + 1, "s": strong * 3 + 1}
    # which outputs (labeled logits, strong logits, weak probabilities) change when another group's clips do
    expected = {
        "joint": {"l": (False, True, True), "w": (True, True, False), "s": (True, False, True)},
        "strong_apart": {"l": (False, False, True), "w": (True, False, False), "s": (False, False, False)},
        "labeled_apart": {"l": (False, False, False), "w": (False, True, False), "s": (False, False, True)},
    }
    for mode, table in expected.items():
        base = predict_views(net, labeled, weak, strong, mode)
        for changed, depends in table.items():
            views = {"l": labeled, "w": weak, "s": strong, changed: other[changed]}
            out = predict_views(net, views["l"], views["w"], views["s"], mode)
            moved = tuple(
                not torch.allclose(a, b) for (k, a, b) in zip("lsw", base, out, strict=True) if k != changed
            )
            kept = tuple(d for k, d in zip("lsw", depends, strict=True) if k != changed)
            assert moved == kept, (mode, changed)
    torch.testing.assert_close(predict_views(net, labeled, weak, strong, "labeled_apart")[0], net(labeled))
