"""Argument types and groups that several commands share, so each means the same everywhere."""

from __future__ import annotations

import argparse

__all__ = ["add_config_arguments", "add_device_argument", "add_views_argument", "views"]


def views(text: str) -> tuple[int, int]:
    """``CLIPSxCROPS`` (``10x3``: the paper's protocol) as a pair."""
    try:
        clips, crops = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected CLIPSxCROPS such as 10x3, got {text!r}") from None
    if clips < 1 or crops not in (1, 3):
        raise argparse.ArgumentTypeError("clips must be >= 1 and crops 1 or 3")
    return clips, crops


def add_config_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """A config (file or shipped name) and ``KEY=VALUE`` overrides, which may also follow any option."""
    parser.add_argument(
        "config",
        nargs=None if required else "?",
        help="YAML config file, or a shipped config by name (cmpl configs lists them)",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="override any config value, e.g. optim.base_lr=0.05 data.root=/data/ucf101",
    )


def add_views_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--views", type=views, default=None, help="CLIPSxCROPS, e.g. 10x3 (paper) or 1x1; default: the run's"
    )


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: the GPU if any)")
