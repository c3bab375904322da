"""Training algorithms behind one interface; importing this package registers all of them."""

from cmpl.methods import cmpl, fixmatch, supervised  # noqa: F401  (registration)
from cmpl.methods.base import (
    LabeledBatch,
    Method,
    StepOutput,
    UnlabeledBatch,
    build_method,
    method_class,
    method_names,
)

__all__ = [
    "LabeledBatch",
    "Method",
    "StepOutput",
    "UnlabeledBatch",
    "build_method",
    "method_class",
    "method_names",
]
