"""The review page of ``cmpl label`` in a real headless browser (Chromium through Selenium): thumbnails play
from ``data:`` URIs, a click changes a label, and the exported file is what ``data.extra_labels`` reads.

CI installs Chromium and its driver (``.ci/run``) and Selenium (the ``dev`` extra), so there a missing browser
fails this test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import torch

from cmpl.commands.label import LabelRow
from cmpl.commands.review_page import EXPORT_NAME, write_review_page
from cmpl.data.extra_labels import read_extra_labels
from cmpl.data.label_clips import THUMBNAIL_FORMAT, animated_thumbnail


def _browser() -> tuple[str | None, str | None, str | None]:
    """(chromium binary, chromedriver, why not) on this machine."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return None, None, "selenium is not installed (pip install -e '.[dev]')"
    binary = next(
        (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None
    )
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        return (
            binary,
            driver,
            "chromium or chromedriver is missing (Debian: apt-get install chromium chromium-driver)",
        )
    return binary, driver, None


BINARY, DRIVER, MISSING = _browser()
if MISSING is not None:
    if os.environ.get("CI"):
        raise RuntimeError(f"the review page's browser test must run in CI (.ci/run installs it): {MISSING}")
    pytest.skip(f"no headless browser here: {MISSING}", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

NAMES = ["run", "jump", "wave, two hands"]  # a comma: the export must quote it


@pytest.fixture
def page(tmp_path: Path) -> tuple[Path, list[LabelRow]]:
    import base64

    frames = (torch.arange(6 * 3 * 24 * 32) % 251).to(torch.uint8).view(6, 3, 24, 32)
    uri = (
        f"data:image/{THUMBNAIL_FORMAT};base64,"
        + base64.b64encode(animated_thumbnail(frames, 16, 4)).decode()
    )
    rows = [
        LabelRow(str(tmp_path / "v" / "a.mp4"), [("run", 0.95), ("jump", 0.03)], ("run", 0.9), 0.9),
        LabelRow(str(tmp_path / "v" / "b.mp4"), [("run", 0.55), ("jump", 0.40)], ("jump", 0.7), 0.9),
        LabelRow(str(tmp_path / "v" / "c.mp4"), [("jump", 0.80), ("run", 0.10)], ("jump", 0.8), 0.9),
        LabelRow(str(tmp_path / "v" / "d.mp4"), [("jump", 0.60), ("run", 0.30)], ("jump", 0.5), 0.9),
    ]
    path = write_review_page(tmp_path / "review.html", [(r, uri) for r in rows], NAMES, title="test")
    return path, rows


@pytest.fixture
def browser(tmp_path: Path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = BINARY
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1200,900",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    try:
        yield driver, downloads
    finally:
        driver.quit()


def _card(driver, path: str):
    return next(
        c for c in driver.find_elements(By.CSS_SELECTOR, ".card") if c.get_attribute("data-path") == path
    )


def test_review_page_changes_a_label_and_exports_extra_labels(page, browser):
    path, rows = page
    driver, downloads = browser
    driver.get(path.as_uri())
    # grouped by F's class, most confident first; the disagreement is marked; thumbnails decode
    sections = driver.find_elements(By.CSS_SELECTOR, "section")
    assert [s.get_attribute("data-label") for s in sections] == ["run", "jump"]
    order = [c.get_attribute("data-path") for c in sections[0].find_elements(By.CSS_SELECTOR, ".card")]
    assert order == [rows[0].path, rows[1].path]
    assert "disagree" in _card(driver, rows[1].path).get_attribute("class")
    assert "disagree" not in _card(driver, rows[0].path).get_attribute("class")
    assert driver.execute_script("return [...document.images].every(i => i.complete && i.naturalWidth > 0)")

    _card(driver, rows[0].path).find_element(By.CSS_SELECTOR, "button.accept").click()
    Select(_card(driver, rows[1].path).find_element(By.CSS_SELECTOR, "select")).select_by_visible_text(
        NAMES[2]
    )
    _card(driver, rows[2].path).find_element(By.CSS_SELECTOR, "button.reject").click()
    assert "relabel" in _card(driver, rows[1].path).get_attribute("class")
    assert driver.find_element(By.ID, "counts").text.startswith(
        "1 accepted, 1 relabelled, 1 rejected, 1 undecided"
    )

    driver.find_element(By.ID, "export").click()
    exported = downloads / EXPORT_NAME
    deadline = time.monotonic() + 20
    while not exported.is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert exported.read_text() == f'path,label\n{rows[0].path},run\n{rows[1].path},"{NAMES[2]}"\n'
    found = read_extra_labels(exported, NAMES)
    assert [(str(e.path), e.label) for e in found] == [(rows[0].path, 0), (rows[1].path, 2)]
