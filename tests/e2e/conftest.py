"""Browser tests: `streamlit run app.py` on a free port against a temp workspace, driven by
Playwright in Debian's Chromium (never a downloaded browser). Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("TRACE2SKILL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    def __init__(self, db: Path, env: dict[str, str]):
        self.db = db
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(db.with_suffix(".streamlit.log"), "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"streamlit did not start; see {self.log.name}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture
def app_env(tmp_path: Path) -> dict[str, str]:
    """Environment for the app process: its own workspace file (tests may seed it first)."""
    env = {**os.environ, "TRACE2SKILL_DB": str(tmp_path / "app.db"), "TRACE2SKILL_HOME": str(tmp_path),
           "PYTHONPATH": str(REPO)}
    return env


@pytest.fixture
def app(app_env: dict[str, str], tmp_path: Path):
    server = App(Path(app_env["TRACE2SKILL_DB"]), app_env)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: the test command installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()


def wait_idle(page, timeout_ms: int = 60000) -> None:
    """Wait until Streamlit finished the current script run (the running indicator is gone)."""
    page.wait_for_selector("[data-testid=stAppViewContainer]", timeout=timeout_ms)
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidget] [data-testid=stStatusWidgetRunningIcon]')"
        " && !document.querySelector('[data-testid=stSkeleton]')",
        timeout=timeout_ms)
    page.wait_for_timeout(300)


def open_page(page, app: App, path: str = "") -> None:
    page.goto(f"{app.url}/{path}")
    wait_idle(page)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    out = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(out), full_page=True)
    return out


def open_app(page, app: App, link: str | None = None) -> None:
    """Open the app and wait for its own navigation (the first run imports the library; until it
    ends Streamlit shows its default page list), then follow a sidebar link."""
    open_page(page, app)
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_role("link", name="Home", exact=True).wait_for(timeout=60000)
    wait_idle(page)
    if link:
        nav.get_by_role("link", name=link, exact=True).click()
        wait_idle(page)


def full_screenshot(page, name: str) -> Path:
    """The whole page: Streamlit scrolls inside its main block, so grow the viewport to fit it."""
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(max(height + 40, 1000), 5000)})
    page.wait_for_timeout(700)
    try:
        return screenshot(page, name)
    finally:
        page.set_viewport_size({"width": 1400, "height": 1000})


def grid_text(page, column: str) -> str:
    """What the table with `column` shows, read from the grid's accessible copy of its cells."""
    grid = page.locator("[data-testid=stDataFrame] table[role=grid]").filter(
        has=page.locator("th", has_text=column))
    return grid.first.text_content() or ""
