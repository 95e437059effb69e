"""The review page in a real browser, driven by the keyboard alone."""

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from annotations import roles, services
from annotations.models import Task, TaskStatus
from audit.models import AuditEvent
from exports.selectors import accepted_labels
from quality.models import ConsensusState, CropConsensus, DetectorFeedback, GoldItem
from tests import factories

pytestmark = pytest.mark.postgres


def person(username: str, role: str):
    user = factories.UserFactory(username=username)
    user.groups.set(Group.objects.filter(name=role))
    return user


def disputed_crops(count: int) -> list[int]:
    """``count`` crops in review, each with four disagreeing labels (the default settings
    ask for two, then one more at a time up to four)."""
    token, _ = services.service_token_create(name="e2e-review")
    donation = factories.make_ready_donation(source=token, confidences=[0.1] * count)
    people = [person(f"ann{i}", roles.ANNOTATOR) for i in range(4)]
    crops = []
    for task in Task.objects.filter(crop__donation=donation).order_by("crop__index"):
        for annotator, text in zip(people, ["TOTAL", "T0TAL", "TOTA1", "70TAL"], strict=True):
            services.label_submit(user=annotator, task_id=task.pk, text=text)
            task.refresh_from_db()
            if task.status == TaskStatus.REVIEW:
                break
        crops.append(task.crop_id)
    assert CropConsensus.objects.filter(state=ConsensusState.NEEDS_REVIEW).count() == count
    return crops


def shown_crop(page) -> None:
    expect(page.locator("#stage[data-state=ready]")).to_be_visible()
    expect(page.locator("#crop")).to_be_visible()


def test_a_reviewer_settles_three_crops_by_keyboard(open_label_page):
    crops = disputed_crops(3)
    reviewer = person("rev", roles.REVIEWER)
    page = open_label_page(reviewer, path="/review/")

    # First crop: accept the second candidate with the key 2.
    shown_crop(page)
    expect(page.locator("#candidates li")).to_have_count(4)
    expect(page.locator("#candidates li").nth(1)).to_contain_text("T0TAL")
    expect(page.locator("#reason")).to_contain_text("disagree")
    # the same viewer as the label page: zoom, and the line around the word on demand
    page.keyboard.press("=")
    expect(page.locator("#stage")).to_have_attribute("data-zoom", "1")
    page.keyboard.press("l")
    expect(page.locator("#context")).to_be_visible()
    page.keyboard.press("2")
    expect(page.locator("#decided-count")).to_have_text("1 decided")

    # Second crop: F to fix, type the word, Alt+R flags it rotated, G makes it gold, Enter.
    shown_crop(page)
    page.keyboard.press("g")
    expect(page.locator("#gold-toggle")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("f")
    expect(page.locator("#fix-input")).to_be_focused()
    page.keyboard.press("Control+a")
    page.keyboard.type("TOTAL:")
    page.keyboard.press("Alt+r")
    page.keyboard.press("Enter")
    expect(page.locator("#decided-count")).to_have_text("2 decided")

    # Third crop: C marks it cut off.
    shown_crop(page)
    page.keyboard.press("c")
    expect(page.locator("#empty-state")).to_be_visible()
    expect(page.locator("#decided-count")).to_have_text("3 decided")

    decided = {c.crop_id: c for c in CropConsensus.objects.all()}
    first, second, third = (decided[crop] for crop in crops)
    assert (first.state, first.text) == (ConsensusState.ACCEPTED, "T0TAL")
    assert (second.state, second.text, second.rotated) == (ConsensusState.ACCEPTED, "TOTAL:", True)
    assert GoldItem.objects.get().crop_id == crops[1]
    assert third.state == ConsensusState.BAD
    assert DetectorFeedback.objects.get().reason == "cut_off"
    assert AuditEvent.objects.filter(action="quality.review_decide").count() == 3
    assert sorted(label.text for label in accepted_labels()) == ["T0TAL", "TOTAL:"]


def test_the_review_page_is_for_reviewers_only(client):
    annotator = person("ann", roles.ANNOTATOR)
    reviewer = person("rev", roles.REVIEWER)
    client.force_login(annotator)
    assert client.get("/review/").status_code == 404
    assert b'href="/review/"' not in client.get("/").content
    client.force_login(reviewer)
    assert b'href="/review/"' in client.get("/").content
    assert b'href="/quality/"' in client.get("/").content
