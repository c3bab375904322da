"""The documentation site builds with ``mkdocs build --strict``: every page in the nav exists, every page is
in the nav, and no link between pages or to a heading is broken. mkdocs is the ``docs`` extra; CI installs it
(``.ci/run``), so there a missing mkdocs fails this test instead of skipping it."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MISSING = [m for m in ("mkdocs", "material") if importlib.util.find_spec(m) is None]


@pytest.fixture(scope="module")
def mkdocs_available():
    if MISSING:
        if os.environ.get("CI"):
            raise RuntimeError(f"mkdocs must be installed in CI (.ci/run installs the docs extra): {MISSING}")
        pytest.skip(f"not installed: {MISSING} (pip install -e '.[docs]')")


def test_the_site_builds_strictly(mkdocs_available, tmp_path):
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(ROOT / "mkdocs.yml"),
            "-d",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    assert (tmp_path / "index.html").is_file() and (tmp_path / "findings" / "index.html").is_file()


def test_every_page_is_in_the_nav():
    """Also without mkdocs: a page added to docs/ must be listed in mkdocs.yml's nav."""
    nav = set(re.findall(r":\s*(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.MULTILINE))
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert pages == nav, f"in docs/ but not in the nav: {pages - nav}; in the nav but missing: {nav - pages}"


README = (ROOT / "README.md").read_text()


def test_readme_is_short_and_starts_with_the_two_commands():
    assert len(README.splitlines()) <= 150
    block = re.search(r"```bash\n(.*?)```", README, re.DOTALL).group(1).splitlines()
    assert block[0].startswith("pip install -e . && cmpl demo ")
    assert block[1].startswith('pip install -e ".[dev]" && python -m pytest ')


def test_ci_runs_the_readmes_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    install = re.search(r'pip install -e "\.\[([\w,]+)\]" && python -m pytest(?:\s|$)', ci)
    assert install, "the install line of .ci/run no longer ends in the README's python -m pytest"
    assert {"dev", "docs"} <= set(install.group(1).split(","))


def test_readme_links_resolve():
    links = set(re.findall(r"\]\(([^)#]+)\)", README)) - {""}
    local = {link for link in links if "://" not in link}
    missing = {link for link in local if not (ROOT / link).exists()}
    assert local and not missing, f"README links to files that do not exist: {missing}"
