"""What every training algorithm shares: the batches it receives, what it returns, and a registry by name.

A method owns its networks and turns one labeled and one unlabeled batch (already augmented, on the device)
into a loss and a few logs. It knows nothing of files, loaders or logging, so a new algorithm is one new file
in this package with a ``@register("name")`` class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from cmpl.config import Config, ConfigError
from cmpl.models import build_model

__all__ = [
    "LabeledBatch",
    "Method",
    "StepOutput",
    "UnlabeledBatch",
    "build_method",
    "method_class",
    "method_names",
    "predict_views",
    "register",
]


@dataclass
class LabeledBatch:
    """Standard-augmented clips, one tensor ``(B_l, C, T, H, W)`` per role in ``Method.roles``."""

    views: dict[str, torch.Tensor]
    labels: torch.Tensor


@dataclass
class UnlabeledBatch:
    """Weak and strong views of the same frames per role; ``labels`` is ground truth (None unless every clip
    has one), used only to measure pseudo-label accuracy, never to train."""

    weak: dict[str, torch.Tensor]
    strong: dict[str, torch.Tensor]
    labels: torch.Tensor | None = None


@dataclass
class StepOutput:
    loss: torch.Tensor
    logs: dict[str, torch.Tensor]


class Method(nn.Module):
    """Base class: ``networks`` maps a role (``"primary"``, ``"auxiliary"``) to a model; inference uses the
    primary alone."""

    roles: ClassVar[tuple[str, ...]] = ("primary",)
    uses_unlabeled: ClassVar[bool] = True

    def __init__(self, networks: dict[str, nn.Module], config: Config) -> None:
        super().__init__()
        self.networks = nn.ModuleDict(networks)
        self.config = config.method

    @property
    def primary(self) -> nn.Module:
        return self.networks["primary"]

    def training_step(self, labeled: LabeledBatch, unlabeled: UnlabeledBatch | None) -> StepOutput:
        """The step's loss; ``unlabeled`` is None during ``method.supervised_warmup``."""
        raise NotImplementedError

    def supervised_step(self, labeled: LabeledBatch, roles: tuple[str, ...] | None = None) -> StepOutput:
        """Cross-entropy of each role's network (all by default) on its labeled clips, summed: the supervised
        baseline, and a semi-supervised method's warm-up."""
        losses = {
            role: F.cross_entropy(self.networks[role](labeled.views[role]), labeled.labels)
            for role in (roles or self.roles)
        }
        logs = {f"loss_sup_{role}": loss.detach() for role, loss in losses.items()}
        return StepOutput(sum(losses.values()), logs)

    def teachers(self, probs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The distribution that labels each role's unlabeled clips, from every role's weak-view prediction:
        its own (FixMatch's self-training); CMPL takes the other network's. Used to score pseudo-labels."""
        return probs

    def forward(self, labeled: LabeledBatch, unlabeled: UnlabeledBatch | None) -> StepOutput:
        """``training_step`` behind ``__call__``, so DistributedDataParallel can wrap a method."""
        return self.training_step(labeled, unlabeled)


BATCHNORM_GROUPS: dict[str, tuple[str, ...]] = {
    "joint": ("lws",),
    "strong_apart": ("lw", "s"),
    "labeled_apart": ("l", "ws"),
}
"""``method.batchnorm_groups``: which clips (l)abeled, (w)eak and (s)trong share a forward pass, and so the
BatchNorm statistics that normalise them in train mode; one pass per group."""


def predict_views(
    net: nn.Module,
    labeled: torch.Tensor,
    weak: torch.Tensor,
    strong: torch.Tensor,
    batchnorm_groups: str = "joint",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits on the labeled and strong clips and class probabilities on the weak clips.

    ``joint`` is ONE forward pass, as in FixMatch's reference code, so BatchNorm normalises the weak clips
    with the same batch statistics as the clips it trains on (weak clips alone in a pass made the demo's
    pseudo-labels confident and wrong: accuracy at chance level with 40-70 % of clips above tau).
    ``strong_apart`` keeps the strongly augmented clips out of the labeled and weak clips' statistics
    (UniMatch's split); ``labeled_apart`` normalises the labeled clips on their own, exactly as the supervised
    baseline does. The weak rows skip dropout: Eq. 4-5 threshold the network's prediction, not a dropout
    sample of it. The weak probabilities are detached: the paper's stop-gradient (Fig. 3).
    """
    if batchnorm_groups not in BATCHNORM_GROUPS:
        raise ValueError(
            f"batchnorm_groups must be one of {sorted(BATCHNORM_GROUPS)}, got {batchnorm_groups!r}"
        )
    views = {"l": labeled, "w": weak, "s": strong}
    logits: dict[str, torch.Tensor] = {}
    for group in BATCHNORM_GROUPS[batchnorm_groups]:
        sizes = [views[k].shape[0] for k in group]
        start = sum(sizes[: group.index("w")]) if "w" in group else 0
        weak_rows = slice(start, start + weak.shape[0]) if "w" in group else None
        out = net(torch.cat([views[k] for k in group]), no_dropout=weak_rows)
        logits.update(zip(group, out.split(sizes), strict=True))
    return logits["l"], logits["s"], logits["w"].detach().float().softmax(dim=1)


_REGISTRY: dict[str, type[Method]] = {}


def register(name: str) -> Callable[[type[Method]], type[Method]]:
    def add(cls: type[Method]) -> type[Method]:
        _REGISTRY[name] = cls
        return cls

    return add


def method_names() -> list[str]:
    return sorted(_REGISTRY)


def method_class(config: Config) -> type[Method]:
    """The registered class for ``method.name``, or a ConfigError listing the known names."""
    cls = _REGISTRY.get(config.method.name)
    if cls is None:
        raise ConfigError(
            f"method.name: must be one of {', '.join(method_names())}; got {config.method.name!r}"
        )
    return cls


def build_method(config: Config, num_classes: int) -> Method:
    """Build the configured method with freshly initialised networks for its roles."""
    cls = method_class(config)
    m = config.model  # each network is built from its own block
    networks: dict[str, nn.Module] = {
        "primary": build_model(m.primary.name, num_classes, **m.primary.build_options())
    }
    if "auxiliary" in cls.roles:
        shared = config.method.share_weights
        networks["auxiliary"] = (
            networks["primary"]
            if shared
            else build_model(m.auxiliary.name, num_classes, **m.auxiliary.build_options())
        )
    return cls(networks, config)
