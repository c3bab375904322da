"""``cmpl configs``: the configs shipped inside the package, by the name ``cmpl train NAME`` takes."""

from __future__ import annotations

import argparse

from cmpl.config import SHIPPED_CONFIGS, config_names

__all__ = ["shipped_configs"]

COMMAND = "configs"
HELP = "list the shipped configs (the paper's tables, the demo) by name"


def shipped_configs() -> list[tuple[str, str]]:
    """(name, first comment line) of every shipped config: what ``cmpl configs`` prints."""
    rows = []
    for name in config_names():
        lines = (SHIPPED_CONFIGS / f"{name}.yaml").read_text().splitlines()
        comment = next((line.lstrip("# ").strip() for line in lines if line.startswith("#")), "")
        rows.append((name, comment))
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--path", action="store_true", help="print each config's file path instead")


def run(args: argparse.Namespace) -> None:
    rows = shipped_configs()
    width = max(len(name) for name, _ in rows)
    for name, comment in rows:
        print(str(SHIPPED_CONFIGS / f"{name}.yaml") if args.path else f"{name:<{width}}  {comment}")
