"""What ships in the package states its reasons itself: no comment, docstring or config in ``src/`` cites a row
of the research log (``research/EVIDENCE.md``) by its ID (e25, w06-w07, g01, t01, r01, f01) or the log by
name. The log stays where the evidence is; a reader of a config or a module should not need it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cmpl"
SHIPPED = sorted(p for p in SRC.rglob("*") if p.suffix in {".py", ".yaml", ".yml", ".md", ".txt"})

# e25, e32b, w06, g01, t01, f01, r01; not model names such as r10, r18, r50 (r followed by 0 only)
INVESTIGATION_ID = re.compile(r"\b(?:[egtwf]\d{2}|r0\d)[a-z]?\b|EVIDENCE")


def investigation_ids(text: str) -> list[str]:
    return [m.group(0) for m in INVESTIGATION_ID.finditer(text)]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.relative_to(SRC).as_posix())
def test_shipped_files_cite_no_investigation_ids(path):
    found = investigation_ids(path.read_text())
    assert not found, f"{path.relative_to(SRC)} cites {found}: state the reason itself"


def test_the_pattern_has_teeth():
    assert SHIPPED and any(p.suffix == ".yaml" for p in SHIPPED)
    planted = "# at 1/8 width A taught F too little (EVIDENCE e05); see w06-w07, e32b, g01 and r01"
    assert investigation_ids(planted) == ["EVIDENCE", "e05", "w06", "w07", "e32b", "g01", "r01"]
    innocent = "primary: r50  # r10_w0.25, r18; 1e-3, d2 = x ** 2, Table A4, conv1, res2-res5, fp16"
    assert investigation_ids(innocent) == []
