"""Every script under benchmarks/ and research/ imports, and ``benchmarks/gpu_check.py --cpu-smoke`` runs end
to end with tiny sizes: a function that moves inside the package breaks CI here, not a lent GPU machine."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for folder in ("benchmarks", "research") for p in (REPO / folder).glob("*.py"))


def _import(path: Path, monkeypatch: pytest.MonkeyPatch):
    """Import a script as ``python <script>`` would: its folder on sys.path, registered in sys.modules
    (dataclasses look their module up there)."""
    monkeypatch.syspath_prepend(str(path.parent))
    spec = importlib.util.spec_from_file_location(f"script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_script_imports(path, monkeypatch):
    assert SCRIPTS, "no scripts found"
    _import(path, monkeypatch)


@pytest.mark.slow
def test_gpu_check_cpu_smoke_runs_every_correctness_comparison(tmp_path):
    """The whole script on the CPU with tiny sizes (the CPU standing in for CUDA, Gloo for NCCL): every
    comparison runs and agrees, NVDEC is skipped with its reason, and the train/evaluate/predict, prepare,
    bench and routes parts run once (three raw bench variants left out: the same code as the prepared one)."""
    out = tmp_path / "gpu_check"
    command = [
        sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--out", str(out), "--cpu-smoke",
        "--smoke-skip", "fp32 eager", "bf16", "bf16 + channels_last_3d",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    parts = {p["name"]: p for p in json.loads((out / "gpu_check.json").read_text())["parts"]}
    ran = {name for name, p in parts.items() if p["status"] == "ok"}
    assert {
        "bf16 autocast vs fp32, same batch",
        "torch.compile vs eager, first losses",
        "checkpoint written on the device resumes exactly",
        "torchrun (Gloo) vs one process",
        "train 4 steps + evaluate 1x1 + predict",
        "cmpl prepare (all cores)",
        "bench prepared copy: bf16 + channels_last_3d",
        "decode routes per worker",
    } <= ran, {name: p["status"] for name, p in parts.items()}
    assert parts["NVDEC frames vs PyAV frames"]["status"].startswith("skipped: no CUDA")
    assert parts["torchrun (Gloo) vs one process"]["figures"]["processes"] == 2
    assert all(p["status"] == "ok" or p["status"].startswith("skipped: ") for p in parts.values())


def test_gpu_check_refuses_to_start_without_its_wheels(monkeypatch, capsys):
    gpu_check = _import(REPO / "benchmarks" / "gpu_check.py", monkeypatch)
    real = gpu_check.importlib.util.find_spec
    monkeypatch.setattr(
        gpu_check.importlib.util, "find_spec", lambda name: None if name == "av" else real(name)
    )
    assert gpu_check.main(["--out", "unused", "--cpu-smoke"]) == 2
    out = capsys.readouterr().out
    assert "av (av==18.1.0; for decoding (the default backend)): carry av-18.1.0-cp311-abi3" in out
