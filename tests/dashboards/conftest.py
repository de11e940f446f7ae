"""Dashboard test fixtures: a real server with the Panel apps mounted, a real browser.

- ``live_server``: the base URL of ``create_app`` (dashboards on, a temp SQLite file, the
  system clock, retries without waiting) under uvicorn in a thread: what ``cepkit
  serve`` runs. ``api`` is a :class:`cepkit.client.Client` on it; ``state_api`` is one on
  a server of its own without the dashboards (the state classes' tests, no browser).
- ``browser``: headless Debian Chromium (``shutil.which("chromium")``) driven by
  Playwright's sync API, one per test module; Playwright gives each launch a new, empty
  user-data-dir. Without Chromium the tests FAIL with the way to install it (``make
  test`` installs it when missing).
- ``page``: a fresh browser context and page per test (10 s default timeout); a
  screenshot of the last state is saved on teardown, and ``shot(page, name)`` saves one
  on the way, all under ``build/screenshots/`` (git-ignored; ``CEPKIT_SCREENSHOTS``
  moves it).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cepkit.client import Client
from server.app import create_app
from server.settings import Settings
from tests.server.conftest import no_sleep, serving

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("CEPKIT_SCREENSHOTS", REPO_ROOT / "build" / "screenshots"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: a browser test waits at most this long for one thing to appear (ms)
TIMEOUT_MS = 10_000
#: uvicorn's graceful shutdown for a server with the dashboards (s): a console's live
#: stream is held up to 5 s before it reconnects, and the tests need not wait for that
SHUTDOWN_SECONDS = 1


def chromium_path() -> str:
    """The Debian ``chromium`` binary; fails the test (never skips) when it is missing."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "chromium is not installed: the dashboard tests drive a real headless Chromium. "
            "Install it with `apt-get install -y chromium` (as root), or run `make test`, "
            "which installs it when missing.",
            pytrace=False,
        )
    return path


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    """Base URL of a real server with the dashboards mounted (temp SQLite, no ticker)."""
    settings = Settings(db=f"sqlite:///{tmp_path / 'cepkit.db'}", tick_seconds=0)
    app = create_app(settings, sleep=no_sleep)
    with serving(app, timeout_graceful_shutdown=SHUTDOWN_SECONDS) as base:
        yield base


@pytest.fixture
def api(live_server: str) -> Iterator[Client]:
    """A client of the live server (to arrange and to check what the UI did)."""
    with Client(live_server) as client:
        yield client


@pytest.fixture
def state_api(sqlite_url: str) -> Iterator[Client]:
    """A client of a real server without the dashboards (for the state classes' tests)."""
    settings = Settings(db=sqlite_url, tick_seconds=0, dashboards=False)
    with serving(create_app(settings, sleep=no_sleep)) as base, Client(base) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium for one test module.

    Not for the session: Playwright's sync API marks an asyncio loop as running in the
    main thread while it is started, so ``asyncio.run`` (doctests, other tests) fails
    until it stops; tests in a browser module must not call it either.
    """
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120]


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as ``build/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{_slug(name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A new context and page; its last state is saved as a screenshot on teardown."""
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    new_page = context.new_page()
    errors: list[str] = []
    new_page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield new_page
    finally:
        try:
            shot(new_page, f"{request.node.name}-last")
        finally:
            context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def screenshot(page: Any, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """``screenshot("step")`` saves ``<test name>-step.png``."""
    return lambda step: shot(page, f"{request.node.name}-{step}")


def select_row(row: Any) -> None:
    """Click a Tabulator row's first cell (a click on the row's own centre may land
    outside its cells, where Tabulator does not select) and wait until it is selected."""
    row.locator(".tabulator-cell >> visible=true").first.click()
    row.and_(row.page.locator(".tabulator-selected")).wait_for()
