"""cmpl: Cross-Model Pseudo-Labeling for semi-supervised video action recognition."""

__version__ = "0.1.0"
