"""``cmpl export``: a run's primary network F as TorchScript or ONNX, for a service without cmpl."""

from __future__ import annotations

import argparse
from pathlib import Path

from cmpl.engine.export import FORMATS
from cmpl.inference import load_run

COMMAND = "export"
HELP = "write a run's primary network as TorchScript or ONNX, checked against PyTorch"
DESCRIPTION = (
    "Writes F with a dynamic batch size, and beside it <file name>.json (primary.onnx.json): the preprocessing contract (input shape, "
    "frames, stride, crop size, mean and std, class names). The exported file then runs on random clips in "
    "its own runtime (TorchScript, or onnxruntime) and the largest difference to PyTorch is printed. ONNX "
    "needs the export extra: pip install 'cmpl[export]'."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a finished run's folder, or a checkpoint file inside one")
    parser.add_argument("--format", choices=sorted(FORMATS), default="onnx", help="default: %(default)s")
    parser.add_argument(
        "--output", type=Path, default=None, help="the file to write (default: <run>/export/primary.onnx|.pt)"
    )
    parser.add_argument("--no-check", action="store_true", help="skip running the file against PyTorch")


def run(args: argparse.Namespace) -> None:
    trained = load_run(args.run_dir, "cpu")  # exporters trace on the CPU; the file runs anywhere
    exported = trained.export(args.output, format=args.format, check=not args.no_check)
    check = "" if args.no_check else f"; largest difference to PyTorch {exported.max_difference:.2e}"
    print(f"{exported.model} ({args.format}) and {exported.contract.name}{check}")
