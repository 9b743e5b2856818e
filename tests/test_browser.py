"""A real browser on a real `baton ui`: headless Chromium (the Debian package, never a browser
download) signs in and opens every page of a populated SQLite store, checks its key text and
saves a screenshot per page under artifacts/ (kept by CI as test artifacts)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from test_ui_support import PASSWORD, ROOT, copy_config, make_users, populate

from collectors.store import Store

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGES = [  # (link in the sidebar, text the page must show, screenshot name)
    ("Scorecards", "SLAs met", "scorecards"),
    ("Breaches", "Open now", "breaches"),
    ("Journeys & stalls", "Stuck leads", "journeys"),
    ("Sources", "Rejected records", "sources"),
    ("SLA editor", "Valid: every file checks out together", "editor"),
    ("SLA history", "No versions saved yet", "history"),
]
WAIT_MS = 30_000
VIEWPORT = {"width": 1440, "height": 2000}  # Streamlit scrolls inside: no full-page shots

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs the Debian packages chromium and chromium-driver")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"baton ui exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"baton ui did not answer on {url} within {timeout:.0f}s")


@contextmanager
def serving_ui(folder: Path, url: str, config: Path, users: Path, port: int | None = None
               ) -> Iterator[str]:
    """`baton ui` on a loopback port (default: a free one), run in `folder` (where it finds
    `.streamlit/secrets.toml`, if any); yields its base URL, stops it after."""
    port = port or free_port()
    log = (folder / "ui.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--store", url, "--config", str(config), "ui",
         "--port", str(port), "--address", "127.0.0.1"],
        cwd=folder, env=dict(os.environ, BATON_USERS_FILE=str(users)), stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running `baton ui` on a populated SQLite store, with users."""
    folder = tmp_path_factory.mktemp("browser")
    config = copy_config(folder)
    url = f"sqlite:///{folder / 'baton.db'}"
    store = Store.open(url)
    populate(store, config)
    store.close()
    with serving_ui(folder, url, config, make_users(folder / "users.yaml")) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def settle(page: object) -> None:
    """Wait (bounded) until Streamlit has finished running the page's script."""
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached",  # type: ignore[attr-defined]
                           timeout=WAIT_MS)
    page.wait_for_timeout(800)  # type: ignore[attr-defined]  # let charts paint


def open_page(browser: object, url: str) -> Any:
    """A new page of `browser` at `url`, with the tests' timeout."""
    page = browser.new_page(viewport=VIEWPORT)  # type: ignore[attr-defined]
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    return page


def sign_in(page: object, name: str) -> None:
    page.get_by_role("textbox", name="User name").fill(name)  # type: ignore[attr-defined]
    page.get_by_role("textbox", name="Password").fill(PASSWORD)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
    page.get_by_text("Signed in as").wait_for()  # type: ignore[attr-defined]


def test_every_page_opens_in_a_real_browser_after_signing_in(dashboard, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = open_page(browser, f"{dashboard}/editor")  # a page's own URL, first thing
    page.get_by_text("Sign in to see the SLA dashboard.").wait_for()
    page.screenshot(path=str(ARTIFACTS / "dashboard-0-sign-in.png"))
    sign_in(page, "erin")
    for number, (link, expected, name) in enumerate(PAGES, start=1):
        page.get_by_role("link", name=link).first.click()
        page.get_by_text(expected).first.wait_for()
        settle(page)
        shot = ARTIFACTS / f"dashboard-{number}-{name}.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
    page.close()


@pytest.mark.parametrize(("path", "title"), [
    ("editor", "SLA editor"), ("sources", "Sources"), ("breaches", "Breaches")])
def test_a_link_to_a_page_opened_signed_out_signs_in_and_lands_on_that_page(
        dashboard, browser, path, title):
    page = open_page(browser, f"{dashboard}/{path}")
    page.get_by_text("Sign in to see the SLA dashboard.").wait_for()
    settle(page)
    assert page.get_by_text("Page not found").count() == 0
    sign_in(page, "victor")
    page.get_by_role("heading", name=title, exact=True).wait_for()
    settle(page)
    assert page.url == f"{dashboard}/{path}"
    assert page.get_by_text("Page not found").count() == 0
    page.close()


def table_overflow(page: Any) -> list[dict[str, int]]:
    """Per table on the page: how much wider its columns are than the room it has (0 when
    every column shows without a sideways scroll)."""
    return page.eval_on_selector_all(  # type: ignore[no-any-return]
        '[data-testid="stDataFrame"]', """tables => tables.map(t => {
            const s = t.querySelector('.dvn-scroller');
            return {scroll: s.scrollWidth, client: s.clientWidth,
                    over: s.scrollWidth - s.clientWidth};
        })""")


@pytest.mark.parametrize(("link", "expected"), [
    ("Scorecards", "SLAs met"), ("Breaches", "Open now")])
def test_the_scorecards_and_breaches_tables_show_every_column_at_1440_pixels(
        dashboard, browser, link, expected):
    page = open_page(browser, dashboard)
    sign_in(page, "victor")
    page.get_by_role("link", name=link).first.click()
    page.get_by_text(expected).first.wait_for()
    page.locator('[data-testid="stDataFrame"] .dvn-scroller').first.wait_for()
    settle(page)
    tables = table_overflow(page)
    assert tables and all(t["over"] <= 0 for t in tables), tables
    page.close()


def test_a_stuck_leads_timeline_opens_in_the_browser(dashboard, browser):
    page = open_page(browser, dashboard)
    sign_in(page, "victor")
    page.get_by_role("link", name="Journeys & stalls").first.click()
    page.get_by_text("Stuck leads").wait_for()
    settle(page)
    key_box = page.get_by_role("textbox", name="Lead key", exact=True)
    key_box.fill("L-0000001")
    key_box.press("Enter")
    page.get_by_text("Lead timeline").first.wait_for()
    page.get_by_text("completed the lead journey").first.wait_for()
    settle(page)
    page.get_by_text("Records (").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "dashboard-7-lead-timeline.png"))
    page.close()


def test_an_editor_validates_dry_runs_and_saves_an_sla_in_the_browser(dashboard, browser):
    page = open_page(browser, dashboard)
    sign_in(page, "erin")
    page.get_by_role("link", name="SLA editor").first.click()
    box = page.get_by_role("textbox", name="Definitions (YAML)")
    box.wait_for()
    original = box.input_value()
    box.fill(original.replace("threshold: 5m", "threshold: 5 minutes"))
    box.press("Control+Enter")
    page.get_by_text("a duration is a whole number").first.wait_for()
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "dashboard-8-editor-invalid.png"))
    box.fill(original.replace("threshold: 5m", "threshold: 30s"))
    box.press("Control+Enter")
    page.get_by_text("Valid: every file checks out together").wait_for()
    settle(page)
    page.get_by_role("tab", name="Dry run").first.click()
    page.get_by_role("button", name="Run dry run").click()
    page.get_by_text("Dry run: SLI over the stored history").first.wait_for()
    settle(page)
    page.get_by_text("Dry run: SLI over the stored history").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "dashboard-9-dry-run.png"))
    page.get_by_role("tab", name="Save").first.click()
    page.get_by_role("textbox", name="What changed, and why").fill("tighter routing")
    page.get_by_role("textbox", name="What changed, and why").press("Enter")
    settle(page)
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved leads.yaml").first.wait_for()
    page.get_by_role("link", name="SLA history").first.click()
    page.get_by_text("tighter routing").first.wait_for(state="attached")  # in the grid
    page.get_by_text("threshold: 30s").first.wait_for()  # the version's diff
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "dashboard-10-history.png"))
    page.close()
