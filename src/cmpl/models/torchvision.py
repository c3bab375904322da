"""torchvision's video classifiers, built with torchvision's own classes (``weights=None``) and wrapped as a
:class:`VideoNet`: torchvision's classifier gives way to the run's ``head`` (with cmpl's dropout), so each is a
feature extractor under ``net`` and any of them can be F or A.

``init_from`` loads torchvision's state dicts into them (:mod:`cmpl.models.weights`): every key moves under
``net.`` and the classifier named by :attr:`TorchvisionVideoNet.classifier_key` becomes ``head``. The input of
each entry is the one its ``KINETICS400_V1`` weights were trained on (torchvision's weights enums).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchvision.models import video

from cmpl.models.registry import InputSpec, register_model
from cmpl.models.resnet3d import VideoNet

__all__ = ["TorchvisionVideoNet"]

_KINETICS_MEAN, _KINETICS_STD = (
    (0.43216, 0.394666, 0.37645),
    (0.22803, 0.22145, 0.216989),
)  # VideoClassification
_RESNET_INPUT = InputSpec(16, 112, _KINETICS_MEAN, _KINETICS_STD)


class TorchvisionVideoNet(VideoNet):
    """A torchvision video classifier without its classifier (``net``) + the run's dropout and ``head``."""

    def __init__(
        self, net: nn.Module, classifier_key: str, num_classes: int, **common: float | bool | int
    ) -> None:
        owner_name, _, attr = classifier_key.rpartition(".")
        owner = net.get_submodule(owner_name) if owner_name else net
        classifier = getattr(owner, attr)
        features = classifier.in_features if isinstance(classifier, nn.Linear) else classifier.in_channels
        super().__init__(features, num_classes, **common)
        # s3d's classifier is (dropout, 1x1x1 conv) and mvit's (dropout, linear): the whole block goes
        top = classifier_key.split(".")[0]
        setattr(net, top, nn.Identity())
        self.net = net
        self.classifier_key = classifier_key  # where torchvision's state dict keeps the classifier

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _register(
    name: str, make: Callable[..., nn.Module], classifier_key: str, spec: InputSpec, **kwargs: object
) -> None:
    def builder(_: str, num_classes: int, **options: float | bool | int) -> TorchvisionVideoNet:
        return TorchvisionVideoNet(make(weights=None, **kwargs), classifier_key, num_classes, **options)

    builder.__doc__ = f"torchvision.models.video.{make.__name__} (weights=None) as a VideoNet."
    register_model(name, input=spec, formats=("torchvision", "cmpl"))(builder)


_register("r3d_18", video.r3d_18, "fc", _RESNET_INPUT)
_register("mc3_18", video.mc3_18, "fc", _RESNET_INPUT)
_register("r2plus1d_18", video.r2plus1d_18, "fc", _RESNET_INPUT)
_register("s3d", video.s3d, "classifier.1", InputSpec(128, 224, _KINETICS_MEAN, _KINETICS_STD))
_register("mvit_v1_b", video.mvit_v1_b, "head.1", InputSpec(16, 224, exact=True))
_register("mvit_v2_s", video.mvit_v2_s, "head.1", InputSpec(16, 224, exact=True))
_IMAGENET = InputSpec(32, 224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
_register("swin3d_t", video.swin3d_t, "head", _IMAGENET)
_register("swin3d_s", video.swin3d_s, "head", _IMAGENET)
_register("swin3d_b", video.swin3d_b, "head", _IMAGENET)
