"""The package's imports point one way: cli -> commands -> inference/engine -> methods -> models, engine ->
data, commands -> analysis. Every ``cmpl`` import of every module (top level or inside a function) is read
with ``ast`` and checked against the layers that module may use. Scripts outside the package (``benchmarks/``,
``research/``) use the public API only: no private name of ``cmpl`` and no patching of one."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "cmpl"
SCRIPTS = sorted([*(ROOT / "benchmarks").glob("*.py"), *(ROOT / "research").glob("*.py")])

LEAVES = {"errors", "run_files"}  # imported by any layer; they import no other layer
MAY_IMPORT = {
    "cli": {"commands", "__init__"},  # __init__: the version
    "commands": {"inference", "engine", "analysis", "data", "methods", "models", "config"},
    "inference": {"engine", "data", "methods", "models", "config"},
    "engine": {"methods", "models", "data", "config"},
    "analysis": {"config"},
    "methods": {"models", "config"},
    "models": set(),  # models know nothing of config files: builders take keyword arguments
    "data": {"config"},
    "config": {"models"},  # the registry's names, to check model.*.name at load time
    "run_files": set(),
    "errors": set(),
    "__main__": {"cli"},
    "__init__": {"inference"},
}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _cmpl_imports(source: str, where: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source, where)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "cmpl":  # from cmpl import x
                names.update(f"cmpl.{a.name}" for a in node.names)
            else:
                names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{where}: relative import; write cmpl.* in full")
    return {n for n in names if n == "cmpl" or n.startswith("cmpl.")}


def _imports() -> dict[str, set[str]]:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        module = ".".join(p for p in rel.parts if p != "__init__")
        found[module] = _cmpl_imports(path.read_text(), str(path))
    return found


def _upward(module: str, imported: set[str]) -> list[str]:
    own = _layer(module)
    allowed = MAY_IMPORT[own] | LEAVES | {own}
    return sorted(name for name in imported if _layer(name) not in allowed)


def _private_uses(source: str, where: str) -> list[str]:
    """Private names a script takes: ``from cmpl.x import _y``, ``obj._method(...)`` and ``x._y = ...``
    patches on anything but the script's own ``self``. Dunder names are public, and so are torch's
    underscored modules that its documentation configures compilation with (``torch._dynamo.config``)."""
    found = []
    for node in ast.walk(ast.parse(source, where)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cmpl"):
            found += [f"import {a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.endswith("__"):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            exempt = isinstance(root, ast.Name) and root.id in ("self", "cls", "torch")
            found += [] if exempt else [f".{node.attr}"]
    return found


IMPORTS = _imports()


def test_every_layer_is_known():
    assert {_layer(m) for m in IMPORTS} <= set(MAY_IMPORT)
    assert {"cmpl.commands.demo", "cmpl.engine.runtime", "cmpl.run_files", "cmpl.inference"} <= set(IMPORTS)


@pytest.mark.parametrize("module", sorted(IMPORTS))
def test_imports_point_down(module):
    upward = _upward(module, IMPORTS[module])
    assert not upward, f"{module} ({_layer(module)}) imports {upward}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_scripts_use_the_public_api_only(script):
    private = _private_uses(script.read_text(), str(script))
    assert not private, f"{script.name} uses private names of cmpl: {private}"


def test_models_know_nothing_of_config_files():
    models = [m for m in IMPORTS if _layer(m) == "models"]
    assert "cmpl.models.registry" in models
    assert not [m for m in models if "cmpl.config" in IMPORTS[m]]


def test_the_check_has_teeth():
    """A planted upward import and a planted private call are both caught."""
    planted = _cmpl_imports("from cmpl.commands.demo import run_demo\nimport cmpl.analysis.plots\n", "x.py")
    assert _upward("cmpl.engine.trainer", planted) == ["cmpl.analysis.plots", "cmpl.commands.demo"]
    assert _upward("cmpl.models.resnet3d", {"cmpl.config", "cmpl.errors"}) == ["cmpl.config"]
    script = textwrap.dedent(
        """
        from cmpl.engine.trainer import Trainer, _helper
        trainer = Trainer(config)
        trainer._step(batch)
        self._own = torch._dynamo.config
        Trainer._evaluate = lambda self: None
        """
    )
    assert sorted(_private_uses(script, "planted.py")) == ["._evaluate", "._step", "import _helper"]
    assert "commands" not in MAY_IMPORT["engine"] | MAY_IMPORT["analysis"] | MAY_IMPORT["data"]
