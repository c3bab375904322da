"""Networks by name: a family joins with one :func:`register_model` decorator on one builder function (timm's
``register_model``), and :func:`build_model` builds any of them by name.

Every entry records the input it expects (frames, crop size, mean and std of the normalisation its weights
were trained with), the checkpoint formats ``init_from`` loads into it (:mod:`cmpl.models.weights`) and the
keyword options its builder takes. Every builder has the signature ``builder(name, num_classes, **options)``
and returns a :class:`cmpl.models.resnet3d.VideoNet`, whose linear ``head`` is sized for the run's classes, so
any entry can be the primary or the auxiliary network. The registry knows nothing of config files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from torch import nn

__all__ = [
    "COMMON_OPTIONS",
    "InputSpec",
    "ModelEntry",
    "UnknownModelError",
    "build_model",
    "get_model_entry",
    "model_names",
    "register_model",
]

# what every network takes (cmpl.models.resnet3d.VideoNet): the classifier's dropout, BatchNorm on running
# statistics, ghost batches
COMMON_OPTIONS = frozenset({"dropout", "freeze_bn_stats", "batchnorm_ghost_batch"})


class UnknownModelError(ValueError):
    """A name no entry answers to (a ValueError: the config layer turns it into a ConfigError)."""


@dataclass(frozen=True)
class InputSpec:
    """The clip a network expects: frames, square crop side, and the per-channel mean and std of the
    normalisation of ``x / 255`` its weights were trained with."""

    frames: int
    crop_size: int
    mean: tuple[float, float, float] = (0.45, 0.45, 0.45)
    std: tuple[float, float, float] = (0.225, 0.225, 0.225)
    exact: bool = False  # the network takes no other frame count or crop (fixed positional embeddings)


Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelEntry:
    """One registered name (or one family of names, by ``pattern``)."""

    name: str
    builder: Builder
    input: InputSpec
    formats: tuple[str, ...]  # checkpoint formats init_from loads into it (cmpl.models.weights.FORMATS)
    options: frozenset[str]  # keyword options the builder takes
    pattern: re.Pattern[str] | None = None  # a family: any name that matches builds with this entry


_ENTRIES: dict[str, ModelEntry] = {}
_FAMILIES: list[ModelEntry] = []


def register_model(
    name: str | None = None,
    *,
    input: InputSpec,
    formats: Iterable[str] = ("cmpl",),
    options: Iterable[str] = (),
    pattern: str | None = None,
) -> Callable[[Builder], Builder]:
    """Decorator: register ``builder(name, num_classes, **options)`` under ``name`` (default: the function's
    name), or, with ``pattern``, for every name that fully matches that regular expression (a parametric
    family such as ``r<depth>_w<width>``; such names are not listed, the explicit ones are)."""

    def add(builder: Builder) -> Builder:
        entry = ModelEntry(
            name or (pattern if pattern is not None else builder.__name__),
            builder,
            input,
            tuple(formats),
            COMMON_OPTIONS | frozenset(options),
            re.compile(pattern) if pattern is not None else None,
        )
        if entry.pattern is not None:
            _FAMILIES.append(entry)
        elif entry.name in _ENTRIES:
            raise ValueError(f"model {entry.name!r} is registered twice")
        else:
            _ENTRIES[entry.name] = entry
        return builder

    return add


def model_names() -> list[str]:
    """Every registered name, in registration order (the paper's networks first)."""
    return list(_ENTRIES)


def get_model_entry(name: str) -> ModelEntry:
    """The entry of ``name`` (an explicit name, else the first family whose pattern matches it)."""
    if name in _ENTRIES:
        return _ENTRIES[name]
    for family in _FAMILIES:
        if family.pattern is not None and family.pattern.fullmatch(name):
            return family
    raise UnknownModelError(
        f"unknown model {name!r}; 'cmpl models' lists the names (any [slow_]r<depth>[_w<width>] with depth "
        "in 10, 18, 34, 50, 101 works too)"
    )


def build_model(name: str, num_classes: int, **options: Any) -> nn.Module:
    """Build a network by name with a classifier for ``num_classes``, e.g.
    ``build_model("r50_w0.25", 400, dropout=0.2)``; an option the entry does not take is a ValueError."""
    entry = get_model_entry(name)
    unknown = sorted(set(options) - entry.options)
    if unknown:
        raise ValueError(
            f"{name} does not take the option {unknown[0]}; it takes {', '.join(sorted(entry.options))}"
        )
    return entry.builder(name, num_classes, **options)
