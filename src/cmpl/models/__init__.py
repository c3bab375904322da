"""Video networks built by name (:mod:`cmpl.models.registry`): the paper's 3D-ResNets, PySlowFast's Slow-only
and SlowFast-R50, torchvision's video classifiers; ``init_from`` weights (:mod:`cmpl.models.weights`)."""

from cmpl.models import torchvision as _torchvision  # noqa: F401 - registers torchvision's networks
from cmpl.models.registry import (
    InputSpec,
    ModelEntry,
    UnknownModelError,
    build_model,
    get_model_entry,
    model_names,
    register_model,
)
from cmpl.models.resnet3d import ResNet3d, VideoNet, parse_model_name
from cmpl.models.slowfast import SlowFast

__all__ = [
    "InputSpec",
    "ModelEntry",
    "ResNet3d",
    "SlowFast",
    "UnknownModelError",
    "VideoNet",
    "build_model",
    "get_model_entry",
    "model_names",
    "parse_model_name",
    "register_model",
]
