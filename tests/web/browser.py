"""Debian's headless Chromium for the web UI's tests (no browser is downloaded): one driver per
test module, downloads into a folder of its own, and waits on conditions, never on time."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
NEEDS_CHROMIUM = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM and DRIVER),
        reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
        "chromium-driver; .ci/run installs them)",
    ),
]
DESKTOP = (1280, 900)
PHONE = (390, 844)


@contextmanager
def chromium(downloads: Path, size: tuple[int, int] = DESKTOP) -> Iterator[Any]:
    """A headless Chromium whose downloads land in ``downloads``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--window-size={size[0]},{size[1]}"):  # fmt: skip
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.downloads = downloads  # type: ignore[attr-defined]
    try:
        yield driver
    finally:
        driver.quit()


def emptied(driver: Any) -> Any:
    """``driver`` with its downloads folder emptied (a test finds only its own files)."""
    for path in driver.downloads.iterdir():
        path.unlink()
    return driver


def wait_for(driver: Any, predicate: Callable[[Any], Any], timeout: float = 120.0) -> Any:
    """``predicate(driver)``'s first truthy value, polled by WebDriverWait."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(predicate)


def downloaded(driver: Any, name: str) -> Path:
    """The file ``name`` once Chromium has finished writing it."""
    path = driver.downloads / name
    wait_for(driver, lambda d: path.exists() and not list(d.downloads.glob("*.crdownload")))
    return path


def set_viewport(driver: Any, size: tuple[int, int], mobile: bool = False) -> None:
    """Lay the page out at ``size`` CSS pixels (a window cannot be narrower than 500 px)."""
    width, height = size
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


SERIOUS = ("serious", "critical")


def axe_violations(driver: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is, one line each."""
    from axe_selenium_python import Axe

    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in SERIOUS
    ]
