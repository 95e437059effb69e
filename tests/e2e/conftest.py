"""A headless Chromium against pytest-django's live server, signed in by session cookie.

Debian's chromium is driven by Playwright's sync API; nothing is downloaded.
"""

import os
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from annotations import roles
from tests import factories

CHROMIUM = Path(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Every wait in these tests is bounded by this (ms); no test sleeps.
WAIT_MS = 10_000


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing; install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread, which makes
    # Django refuse ORM calls from the test body; the calls here are synchronous.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            yield browser
            browser.close()


@pytest.fixture(autouse=True)
def _role_groups(transactional_db):
    """The live server needs real commits; flushing between tests drops migration data."""
    for name in roles.ALL_ROLES:
        Group.objects.get_or_create(name=name)


@pytest.fixture
def plain_http_cookies(settings):
    """The live server speaks plain HTTP: cookies as in a DEBUG set-up (no __Host-)."""
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.SESSION_COOKIE_NAME = "dropturk_session"
    settings.CSRF_COOKIE_NAME = "dropturk_csrf"


def _wait_for_requests(page, in_flight: dict) -> None:
    """Until the page's requests (background submissions, prefetch) have their answers,
    at most WAIT_MS: a request the live server is still serving holds row locks, and the
    test database's truncation at teardown would deadlock with it."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while in_flight[page] and time.monotonic() < deadline and not page.is_closed():
        page.wait_for_timeout(20)  # lets Playwright deliver the page's events


@pytest.fixture
def open_label_page(browser, live_server, settings, plain_http_cookies):
    """open_label_page(user, width=1280, height=720) -> a Playwright page on /label/
    (or on ``path=``, e.g. the review page).

    Signed in by session cookie, the session marked as after password + TOTP.
    """
    contexts, pages = [], []
    script_errors = []
    in_flight: dict[object, set] = {}

    def open_page(user, *, width: int = 1280, height: int = 720, path: str = "/label/"):
        client = Client()
        factories.sign_in_with_mfa(client, user)
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": width, "height": height}
        )
        context.set_default_timeout(WAIT_MS)
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: script_errors.append(str(error)))
        sent = in_flight.setdefault(page, set())
        page.on("request", lambda request: sent.add(request))
        page.on("requestfinished", lambda request: sent.discard(request))
        page.on("requestfailed", lambda request: sent.discard(request))
        pages.append(page)
        page.goto(path)
        return page

    yield open_page
    for context, page in zip(contexts, pages, strict=True):
        _wait_for_requests(page, in_flight)
        context.close()
    assert not script_errors, f"uncaught errors in the page: {script_errors}"
