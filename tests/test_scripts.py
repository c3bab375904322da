"""Every script under benchmarks/ and research/ imports, and ``benchmarks/gpu_check.py --cpu-smoke`` runs end
to end with tiny sizes: a function that moves inside the package breaks CI here, not a lent GPU machine."""

from __future__ import annotations

import importlib.util
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
