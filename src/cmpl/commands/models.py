"""``cmpl models``: every network that ``model.primary.name`` and ``model.auxiliary.name`` accept, with its
parameter count, its GMACs on one clip of its own input (frames x crop x crop, counted on the meta device:
no memory, no compute), and the checkpoint formats its ``init_from`` loads (docs/pretrained.md)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from cmpl.models import build_model, get_model_entry, model_names

__all__ = ["COMMAND", "HELP", "ModelRow", "add_arguments", "model_table", "run"]

COMMAND = "models"
HELP = "list every network by name: parameters, GMACs at its input, checkpoint formats"


@dataclass(frozen=True)
class ModelRow:
    name: str
    params_m: float  # millions, with a classifier for ``num_classes``
    gmacs: float  # multiply-accumulates of one clip at the network's own input, billions
    frames: int
    crop_size: int
    formats: tuple[str, ...]


def _count(name: str, num_classes: int) -> ModelRow:
    entry = get_model_entry(name)
    spec = entry.input
    with torch.device("meta"):
        net = build_model(name, num_classes).eval()
        clip = torch.empty(1, 3, spec.frames, spec.crop_size, spec.crop_size)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            net(clip)
    params = sum(p.numel() for p in net.parameters())
    # FlopCounterMode counts a multiply-add as two FLOPs
    return ModelRow(
        name, params / 1e6, counter.get_total_flops() / 2e9, spec.frames, spec.crop_size, entry.formats
    )


def model_table(names: list[str] | None = None, num_classes: int = 400) -> list[ModelRow]:
    """One row per registered name (or per name of ``names``), counted with a ``num_classes`` classifier."""
    return [_count(name, num_classes) for name in (names or model_names())]


def format_table(rows: list[ModelRow]) -> str:
    lines = [f"{'name':<14} {'params (M)':>10} {'GMACs':>8}  {'input':<12} init_from formats"]
    for r in rows:
        shape = f"{r.frames}x{r.crop_size}x{r.crop_size}"
        lines.append(f"{r.name:<14} {r.params_m:>10.2f} {r.gmacs:>8.1f}  {shape:<12} {', '.join(r.formats)}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", help="only these networks (default: every registered name)")
    parser.add_argument(
        "--num-classes", type=int, default=400, help="classifier size for the parameter count (default 400)"
    )


def run(args: argparse.Namespace) -> int | None:
    print(format_table(model_table(list(args.names) or None, args.num_classes)))
    print(
        "Any [slow_]r<depth>[_w<width>] (depth 10, 18, 34, 50, 101) works too. GMACs: one clip of the "
        "network's input;\ninit_from formats: docs/pretrained.md."
    )
    return None
