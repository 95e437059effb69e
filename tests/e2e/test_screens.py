"""`make screens`: a screenshot of each page, every role's, into SCREENS_DIR (docs/screens/).

Skipped unless SCREENS_DIR is set. The demo's own data (seed_demo) fills the pages. No
TOTP secret or QR code is ever in a picture: everything marked data-secret is masked.
"""

import io
import os
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from annotations.models import Task, TaskStatus
from audit.models import AuditEvent, Outcome
from ocr_bridge.models import ModelVersion
from tests import factories
from tests.accounts.conftest import PASSWORD
from tests.e2e.conftest import WAIT_MS

SCREENS_DIR = os.environ.get("SCREENS_DIR")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not SCREENS_DIR, reason="make screens sets SCREENS_DIR"),
]
WIDTH, HEIGHT = 1280, 800


def shoot(page, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(
        path=str(Path(SCREENS_DIR) / f"{name}.png"),
        full_page=True,
        mask=[page.locator("[data-secret]")],
        mask_color="#5a6470",
    )


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", stdout=io.StringIO())
    from django.contrib.auth import get_user_model

    people = get_user_model().objects.in_bulk(field_name="username")
    people["mlengineer"].set_password(PASSWORD)  # seed_demo's are random: re-auth needs one
    people["mlengineer"].save()
    return people


def test_every_page_has_a_screenshot(demo, open_label_page, browser, live_server, settings):
    Path(SCREENS_DIR).mkdir(parents=True, exist_ok=True)

    # Signed out: sign-in, password reset
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": WIDTH, "height": 640}
    )
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto("/accounts/login/")
    shoot(page, "sign-in")
    page.goto("/accounts/password/reset/")
    shoot(page, "password-reset")
    # A first sign-in: the authenticator set-up (QR code and secret masked), recovery codes
    newcomer = factories.UserFactory(username="newcomer")
    newcomer.groups.set(demo["annotator"].groups.all())
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill("newcomer")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("img.totp-qr")).to_be_visible()
    shoot(page, "totp-setup")
    secret = page.locator("#authenticator_secret").input_value()
    page.locator("input[name=code]").fill(factories.totp_code(secret))
    page.locator("input[name=code]").press("Enter")
    expect(page.locator("#recovery_codes")).to_be_visible()
    shoot(page, "recovery-codes")
    page.goto("/accounts/reauthenticate/")
    shoot(page, "reauthenticate")
    context.close()

    # The annotator: the label page (the README's picture), its line context, guidelines
    page = open_label_page(demo["annotator"], width=WIDTH, height=HEIGHT)
    expect(page.locator("#stage[data-state=ready]")).to_be_visible()
    shoot(page, "label")
    page.keyboard.press("Alt+l")
    expect(page.locator("#stage")).to_have_attribute("data-context", "on")
    shoot(page, "label-line-context")
    page.keyboard.press("Alt+l")
    page.keyboard.press("Alt+g")
    shoot(page, "label-guidelines")
    page.keyboard.press("Escape")
    page.keyboard.press("Alt+/")
    shoot(page, "label-keys")
    page.goto("/")
    shoot(page, "home-annotator")
    page.goto("/admin/")
    shoot(page, "error-403")
    page.goto("/no-such-page/")
    shoot(page, "error-404")

    # The reviewer: a disputed crop, the quality page, detector feedback
    assert Task.objects.filter(status=TaskStatus.REVIEW).exists()
    page = open_label_page(demo["reviewer"], width=WIDTH, height=HEIGHT, path="/review/")
    expect(page.locator("#candidates li").first).to_be_visible()
    shoot(page, "review")
    page.goto("/quality/")
    shoot(page, "quality")
    page.goto("/quality/detector-feedback/")
    shoot(page, "detector-feedback")

    # The ML engineer: exports, models, the regression warning
    page = open_label_page(demo["mlengineer"], width=WIDTH, height=HEIGHT, path="/exports/")
    shoot(page, "exports")
    page.goto("/models/")
    shoot(page, "models")
    worse = ModelVersion.objects.get(name="demo-worse")
    page.goto("/accounts/reauthenticate/?next=/models/")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/models/$"))
    page.locator(f"button[data-model='{worse.name}']").click()
    expect(page.locator("#promote-anyway")).to_be_visible()
    shoot(page, "models-promote-regression")

    # The admin: home, the audit trail's failures, an event
    page = open_label_page(demo["admin"], width=WIDTH, height=HEIGHT, path="/")
    shoot(page, "home-admin")
    page.goto("/audit/?outcome=failure")
    shoot(page, "audit-failures")
    failed = AuditEvent.objects.filter(outcome=Outcome.FAILURE).order_by("-id").first()
    page.goto(f"/audit/events/{failed.id}/")
    shoot(page, "audit-event")
