"""The built wheel carries the configs: installed (not editable) into a fresh virtual environment, ``cmpl``
lists and resolves the shipped configs by name and trains one, from a folder outside the source tree.

The venv sees the system's packages (``--system-site-packages``), so torch is not installed again; the wheel
goes in with ``--no-deps --force-reinstall``. PYTHONPATH is dropped and every command runs in a temporary
folder, so neither the source tree nor the editable install can stand in for the wheel: the test checks that
``cmpl`` imports from the venv's own site-packages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cmpl.config import QUICK_OVERRIDES

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(map(str, args))}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_the_installed_wheel_resolves_and_trains_shipped_configs(tmp_path):
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV")
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # build from a copy, so that the build leaves no build/ or egg-info in the source tree
    source = tmp_path / "source"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip"]
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", str(source), "-w", str(wheels)],
        tmp_path,
        env,
    )
    (wheel,) = wheels.glob("cmpl-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], tmp_path, env)
    python, cmpl = venv / "bin" / "python", venv / "bin" / "cmpl"
    _run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
        tmp_path,
        env,
    )

    work = tmp_path / "elsewhere"
    work.mkdir()
    probe = (
        "import json, cmpl, sysconfig\n"
        "from cmpl.config import load_config, resolve_config\n"
        "config = load_config('ucf101/cmpl_r50_1pct')\n"
        "print(json.dumps({'file': cmpl.__file__, 'purelib': sysconfig.get_paths()['purelib'],\n"
        "    'resolved': str(resolve_config('ucf101/cmpl_r50_1pct')), 'method': config.method.name,\n"
        "    'format': config.data.format}))\n"
    )
    found = json.loads(_run([str(python), "-c", probe], work, env))
    site = Path(found["purelib"]).resolve()
    assert site.is_relative_to(venv.resolve())
    assert Path(found["file"]).resolve().is_relative_to(site), (
        f"cmpl imported from {found['file']}, not the wheel"
    )
    assert Path(found["resolved"]).resolve().is_relative_to(site / "cmpl" / "configs")
    assert (found["method"], found["format"]) == ("cmpl", "ucf101")

    listed = _run([str(cmpl), "configs"], work, env).split()
    assert {"ucf101/cmpl_r50_1pct", "kinetics400/cmpl_r50_1pct", "demo", "demo_long"} <= set(listed)

    run_dir = tmp_path / "run"
    overrides = [*QUICK_OVERRIDES, f"data.root={tmp_path / 'data'}", f"train.output_dir={run_dir}"]
    _run([str(cmpl), "train", "demo", *overrides, "train.progress=false"], work, env)
    assert json.loads((run_dir / "results.json").read_text())["top1"] >= 0
