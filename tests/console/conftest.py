"""Browser tests of the console: a real ``matchmaker serve``, real Chromium (headless, through
chromedriver), the real database. Chromium is installed by ``make install`` (``make
browser``); if it is missing these tests fail, they never skip."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_KEY, ROOT, wipe
from tests.test_server import BIN, Server

# Screenshots land here (a CI job keeps the folder as its artifacts): MATCHMAKER_TEST_ARTIFACTS,
# else artifacts/ in the repository (git-ignored).
ARTIFACTS = Path(os.environ.get("MATCHMAKER_TEST_ARTIFACTS") or ROOT / "artifacts") / "console"
WIDTHS = {"desktop": (1280, 1000), "phone": (390, 1000)}
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def console_server(tmp_path_factory, database_url, model_cache) -> Iterator[Server]:
    """One server for a module's tests, on the session's database (emptied afterwards)."""
    srv = Server(tmp_path_factory.mktemp("console") / "srv", database_url, model_cache)
    srv.start()
    yield srv
    srv.stop()
    wipe(database_url)


def official_key(srv: Server) -> str:
    done = subprocess.run(
        [str(BIN), "keys", "create", "--role", "official", "--label", "console test"],
        env=srv.env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def bulk(srv: Server, profiles: list[dict]) -> list[str]:
    return [x["id"] for x in register(srv, profiles)]


def register(srv: Server, profiles: list[dict]) -> list[dict]:
    """Register ``profiles`` in one bulk call (admin); each result has its ``id`` and owner
    ``api_key``."""
    r = httpx.post(
        srv.url + "/v1/profiles/bulk",
        json={"profiles": profiles},
        headers={"X-API-Key": ADMIN_KEY},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert all(x["status"] == 201 for x in results), results
    return results


@pytest.fixture(scope="module")
def browser_factory(tmp_path_factory):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail(
            f"Chromium and chromedriver are needed at {CHROMIUM} and {CHROMEDRIVER}: run "
            "`make browser` (part of `make install`), or apt-get install chromium "
            "chromium-driver",
            pytrace=False,
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers = []
    downloads = tmp_path_factory.mktemp("downloads")

    def make(width: str = "desktop"):
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
            opts.add_argument(arg)
        w, h = WIDTHS[width]
        opts.add_argument(f"--window-size={w},{h}")
        opts.add_experimental_option(
            "prefs",
            {"download.default_directory": str(downloads), "download.prompt_for_download": False},
        )
        driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
        driver.set_page_load_timeout(120)
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        driver.downloads = downloads
        drivers.append(driver)
        return driver

    yield make
    for d in drivers:
        d.quit()


def screenshot(driver, name: str) -> Path:
    """Save the whole page (the window stretched to its height) under artifacts/console."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    width = driver.get_window_size()["width"]
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height + 140, 600), 6000))
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


__all__ = ["bulk", "official_key", "register", "screenshot", "shutil"]
