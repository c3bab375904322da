"""Networks by name: ``[slow_]r<depth>[_w<width>]`` (:mod:`cmpl.models.resnet3d`) and ``slowfast_r50``."""

from __future__ import annotations

import dataclasses
from typing import Any

from cmpl.config import NetworkOptions
from cmpl.models.resnet3d import ResNet3d, VideoNet, parse_model_name
from cmpl.models.slowfast import SlowFast

__all__ = ["build_model", "model_names"]


def model_names() -> list[str]:
    """The names the paper uses (Tables 1, 3); any ``[slow_]r<depth>_w<width>`` is accepted too."""
    return [
        "r10",
        "r18",
        "r34",
        "r50",
        "r101",
        "r50_w0.5",
        "r50_w0.25",
        "r50_w0.125",
        "slow_r50",
        "slowfast_r50",
    ]


def build_model(
    name: str, num_classes: int, options: NetworkOptions | None = None, **changes: Any
) -> VideoNet:
    """Build a network by name, e.g. ``build_model("r50_w0.25", num_classes=400)``; ``options`` (a run's
    ``config.model`` is one) and keyword ``changes`` to them, e.g. ``dropout=0.2``, set everything else
    (:class:`cmpl.config.NetworkOptions`)."""
    options = options if options is not None else NetworkOptions()
    if changes:
        values = {f.name: getattr(options, f.name) for f in dataclasses.fields(NetworkOptions)}
        options = NetworkOptions(**{**values, **changes})
    if name == "slowfast_r50":
        return SlowFast(num_classes, options)
    layout, depth, width = parse_model_name(name)
    return ResNet3d(depth, num_classes, width, options, layout)
