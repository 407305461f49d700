"""Browser tests: Playwright (sync API) driving Debian's chromium against pytest-django's
``live_server`` (transactional database). Every test in this directory is marked ``e2e``;
run them alone with ``pytest -m e2e``.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium``.
"""

import os
from pathlib import Path

import pytest
from django.conf import settings

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by the
# tests themselves (creating users) are still synchronous and safe.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
HERE = Path(__file__).resolve().parent


def _screenshot_dir() -> Path:
    path = Path(settings.BASE_DIR) / "var" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def screenshots() -> Path:
    """The directory for screenshots a test keeps: var/screenshots/ (created)."""
    return _screenshot_dir()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if HERE in item.path.parents:
        setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"browser tests: {CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def make_page(request, browser, live_server):
    """make_page(width=375) → a page in a fresh browser context on the live server.

    When the test fails, each page's last state is saved to var/screenshots/failed-*.png.
    """
    contexts = []

    def _make(*, width=1280, height=800):
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": width, "height": height}, locale="zh-CN"
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield _make

    failed = getattr(request.node, "report_call", None)
    for n, context in enumerate(contexts):
        if failed is not None and failed.failed:
            for page in context.pages:
                name = f"failed-{request.node.name}-{n}.png".replace("/", "_")
                page.screenshot(path=_screenshot_dir() / name, full_page=True)
        context.close()


@pytest.fixture
def page(make_page):
    """A desktop-sized page (1280×800) on the live server, in a context of its own."""
    return make_page()


@pytest.fixture
def login(make_user):
    """login(page, "clerk") → the user, after signing in through the real login form."""

    def _login(page, role, *, password="Passw0rd!2026"):
        user = make_user(role, password=password)
        page.goto("/accounts/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", password)
        page.click("form button[type=submit]")
        page.wait_for_load_state()
        return user

    return _login
