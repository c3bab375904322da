"""The package's imports point one way: cli -> commands -> engine -> methods -> models, engine -> data,
commands -> analysis. Every ``cmpl`` import of every module (top level or inside a function) is read with
``ast`` and checked against the layers that module may use."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cmpl"

LEAVES = {"errors", "run_files"}  # imported by any layer; they import no other layer
MAY_IMPORT = {
    "cli": {"commands", "config", "data"},  # data: only the error types a user can fix
    "commands": {"engine", "analysis", "data", "methods", "models", "config"},
    "engine": {"methods", "models", "data", "config"},
    "analysis": {"config"},
    "methods": {"models", "config"},
    "models": set(),  # models know nothing of config files: builders take keyword arguments
    "data": {"config"},
    "config": {"models"},  # the registry's names, to check model.*.name at load time
    "run_files": set(),
    "errors": set(),
    "__main__": {"cli"},
    "__init__": set(),
}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports() -> dict[str, set[str]]:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        module = ".".join(p for p in rel.parts if p != "__init__")
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "cmpl":  # from cmpl import x
                    names.update(f"cmpl.{a.name}" for a in node.names)
                else:
                    names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{module}: relative import; write cmpl.* in full")
        found[module] = {n for n in names if n == "cmpl" or n.startswith("cmpl.")}
    return found


IMPORTS = _imports()


def test_every_layer_is_known():
    assert {_layer(m) for m in IMPORTS} <= set(MAY_IMPORT)
    assert {"cmpl.commands.demo", "cmpl.engine.runtime", "cmpl.run_files"} <= set(IMPORTS)


@pytest.mark.parametrize("module", sorted(IMPORTS))
def test_imports_point_down(module):
    own = _layer(module)
    allowed = MAY_IMPORT[own] | LEAVES | {own}
    upward = sorted(name for name in IMPORTS[module] if _layer(name) not in allowed)
    assert not upward, f"{module} ({own}) imports {upward}"


def test_models_know_nothing_of_config_files():
    models = [m for m in IMPORTS if _layer(m) == "models"]
    assert "cmpl.models.registry" in models
    assert not [m for m in models if "cmpl.config" in IMPORTS[m]]


def test_the_check_has_teeth():
    """The engine imported the demo and the analysis imported the engine before the commands layer."""
    assert "analysis" not in MAY_IMPORT["engine"] and "engine" not in MAY_IMPORT["analysis"]
    assert "commands" not in MAY_IMPORT["engine"] | MAY_IMPORT["analysis"] | MAY_IMPORT["data"]
