"""An admin reads the audit trail in a browser: filters the list, opens an event, and
follows it to everything that happened to its target."""

import re

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

import audit
from annotations import roles
from tests import factories


def note_console(message, problems: list[str]) -> None:
    """A refused inline script or style (CSP) is reported as a console error."""
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        problems.append(message.text)


def note_response(response, problems: list[str]) -> None:
    # Chromium asks for /favicon.ico by itself; the site has none.
    if response.status >= 400 and not response.url.endswith("/favicon.ico"):
        problems.append(f"{response.status} {response.url}")


@pytest.fixture
def open_audit_page(open_label_page):
    """open_audit_page(user, path) -> a Playwright page there, signed in by session cookie
    (password + TOTP) by the shared fixture, that fails the test on a refused resource or
    a CSP refusal. The shared fixture opens /label/ first, which an admin is refused."""
    problems = []

    def open_page(user, path: str = "/audit/"):
        page = open_label_page(user)
        page.on("console", lambda message: note_console(message, problems))
        page.on("response", lambda response: note_response(response, problems))
        page.goto(path)
        return page

    yield open_page
    assert not problems, f"errors in the page: {problems}"


def test_an_admin_filters_opens_an_event_and_reads_its_targets_history(open_audit_page):
    # Given an admin and a trail where one crop was viewed twice among other events
    boss = factories.UserFactory(username="boss")
    boss.groups.set(Group.objects.filter(name=roles.ADMIN))
    alice = factories.UserFactory(username="alice")
    crop = {"target_type": "annotations.wordcrop", "target_id": 7}
    first_view = audit.record(actor=alice, action="annotations.crop_image_view", **crop)
    audit.record(
        actor=alice, action="annotations.task_skip", target_type="annotations.task", target_id=3
    )
    audit.record(
        actor=None,
        action="ocr_bridge.document_read",
        target_type="annotations.donation",
        target_id=5,
    )
    audit.record(
        actor=boss,
        action="annotations.crop_image_view",
        target_type="annotations.wordcrop",
        target_id=8,
    )
    second_view = audit.record(actor=boss, action="annotations.crop_image_view", **crop)

    page = open_audit_page(boss)
    rows = page.locator("table.audit-events tbody tr")
    expect(rows).to_have_count(5)

    # When they list only alice's image views
    page.get_by_label("Action").select_option("annotations.crop_image_view")
    page.get_by_label("Actor name").fill("alice")
    page.get_by_role("button", name="Filter").click()

    # Then one event is listed, in words
    expect(page).to_have_url(re.compile(r"action=annotations.crop_image_view"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("viewed the image of word crop 7")

    # When they open it
    rows.first.get_by_role("link", name=str(first_view.id)).click()

    # Then its fields are shown, with the way to the crop's history
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Event {first_view.id}: viewed the image of word crop 7"
    )
    expect(page.locator(".audit-fields")).to_contain_text(first_view.content_hash)
    page.get_by_role("link", name="Everything that happened to this word crop").click()

    # And the crop's history holds both views of crop 7, newest first, by both people
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Everything that happened to word crop 7"
    )
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("boss")
    expect(rows.nth(0).get_by_role("link", name=str(second_view.id))).to_be_visible()
    expect(rows.nth(1)).to_contain_text("alice")
