"""A network as a file that runs without cmpl: TorchScript (``torch.jit.trace``) or ONNX (torch's exporter),
with a dynamic batch size, checked against PyTorch on random clips.

ONNX needs the ``export`` extra (``pip install 'cmpl[export]'``: onnx, onnxscript, onnxruntime for the check)."""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from pathlib import Path

import torch
from torch import nn

from cmpl.errors import UserError

__all__ = ["FORMATS", "ExportError", "check_exported", "export_network", "run_exported"]

FORMATS = {"torchscript": ".pt", "onnx": ".onnx"}
"""Export formats and their file suffixes."""

INPUT_NAME, OUTPUT_NAME = "clips", "logits"
ONNX_OPSET = 18

_OPERATORS = (  # how torch's exporters name the operator they stopped at, most specific first
    (re.compile(r"OpOverload\(op='([^']+)', overload='([^']+)'\)"), "{0}.{1}"),
    (re.compile(r"target=torch\.ops\.([\w.]+)"), "{0}"),
    (re.compile(r"\b((?:aten|prim|onnx)(?:::|\.)[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)?)"), "{0}"),
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class ExportError(UserError, RuntimeError):
    """The network cannot be written in the format; the message names the network and the operator."""


class _Logits(nn.Module):
    """The network with its one-tensor signature (``VideoNet.forward``'s training-only argument left out)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.network(clips)


def _chain(error: BaseException) -> list[BaseException]:
    """The error and its causes, deepest last."""
    chain: list[BaseException] = []
    seen: BaseException | None = error
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    return chain


def _operator(error: BaseException) -> str:
    """The operator an exporter stopped at, from its messages (or its causes')."""
    text = "\n".join(str(e) for e in _chain(error))
    for pattern, form in _OPERATORS:
        found = pattern.search(text)
        if found:
            return form.format(*found.groups())
    return "an operator it cannot express"


def _short(error: BaseException) -> str:
    """The deepest cause's first line: the exporters wrap it in pages of advice."""
    for cause in reversed(_chain(error)):
        lines = [_ANSI.sub("", line).strip() for line in str(cause).splitlines() if line.strip()]
        if lines:
            return lines[0][:160]
    return type(error).__name__


@contextlib.contextmanager
def _quiet():
    """The exporters print progress and deprecation notes; a command prints its own one line."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def export_network(network: nn.Module, example: torch.Tensor, path: Path, fmt: str, name: str) -> Path:
    """Write ``network`` (eval mode, CPU) to ``path`` for input shaped like ``example`` ``(B, C, T, H, W)``,
    every dimension fixed but the batch. ``name`` names the network in errors."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {sorted(FORMATS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = _Logits(network).eval()
    try:
        with torch.no_grad(), _quiet():
            if fmt == "torchscript":
                traced = torch.jit.trace(module, (example,), check_trace=False)
                torch.jit.save(traced, str(path))
            else:
                _export_onnx(module, example, path)
    except ImportError as e:
        raise ExportError(f"ONNX export needs the export extra: pip install 'cmpl[export]' ({e})") from e
    except ExportError:
        raise
    except Exception as e:  # any exporter failure: name the network and the operator, in one line
        raise ExportError(f"{name} does not export to {fmt}: operator {_operator(e)} ({_short(e)})") from e
    return path


def _export_onnx(module: nn.Module, example: torch.Tensor, path: Path) -> None:
    import onnxscript  # noqa: F401  # torch's exporter needs it; a clear message when it is missing

    batch = torch.export.Dim("batch", min=1)
    program = torch.onnx.export(
        module,
        (example,),
        dynamo=True,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_shapes=({0: batch},),
        opset_version=ONNX_OPSET,
        verbose=False,
    )
    program.save(str(path), external_data=False)


def run_exported(path: Path, fmt: str, clips: torch.Tensor) -> torch.Tensor:
    """Logits of an exported file on ``clips`` (float32 ``(B, C, T, H, W)``), with the runtime a service
    would use: TorchScript's loader, or onnxruntime on the CPU."""
    if fmt == "torchscript":  # the plain interpreter: the optimising one spends seconds profiling first
        with torch.no_grad(), torch.jit.optimized_execution(False), _quiet():
            return torch.jit.load(str(path), map_location="cpu")(clips)
    try:
        import onnxruntime
    except ImportError as e:
        raise ExportError("checking an ONNX file needs onnxruntime: pip install 'cmpl[export]'") from e
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run([OUTPUT_NAME], {INPUT_NAME: clips.numpy()})[0])


def check_exported(
    network: nn.Module, path: Path, fmt: str, example: torch.Tensor, batch_sizes: tuple[int, ...] = (1, 3)
) -> float:
    """Largest absolute difference between the exported file's logits and PyTorch's on random clips of the
    example's shape, for every batch size in ``batch_sizes`` (other than the one traced with)."""
    generator = torch.Generator().manual_seed(0)
    worst = 0.0
    network = network.eval()
    for b in batch_sizes:
        clips = torch.randn((b, *example.shape[1:]), generator=generator)
        with torch.no_grad():
            expected = network(clips)
        got = run_exported(path, fmt, clips)
        worst = max(worst, (got.float() - expected.float()).abs().max().item())
    return worst
