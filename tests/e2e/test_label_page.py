"""The annotator page in a real browser: the flows only a browser can show."""

import json
import os
import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from annotations import services
from annotations.models import Label, Task
from quality.models import QualitySettings
from tests import factories
from tests.e2e.conftest import WAIT_MS

pytestmark = pytest.mark.postgres

# Screenshots for people to look at, only when asked for: E2E_SCREENSHOT_DIR=/tmp/shots.
SCREENSHOT_DIR = os.environ.get("E2E_SCREENSHOT_DIR")


def snap(page, name: str) -> None:
    if SCREENSHOT_DIR:
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"label-{name}.png"))


def shown_crop(page) -> int:
    stage = page.locator("#stage[data-state=ready]")
    expect(stage).to_be_visible()
    return int(stage.get_attribute("data-crop-id"))


def label_current(page, text: str | None = None, *, keys: tuple[str, ...] = ()) -> int:
    """Types `text` over the pre-filled word (kept when None), presses `keys`, then Enter.

    Returns the crop that was labeled, once the page has moved on from it.
    """
    crop_id = shown_crop(page)
    word = page.locator("#word-input")
    expect(word).to_be_focused()
    if text is not None:
        page.keyboard.type(text)
    for key in keys:
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    expect(page.locator("#stage")).not_to_have_attribute("data-crop-id", str(crop_id))
    return crop_id


def wait_all_saved(page) -> None:
    expect(page.locator("#save-status")).to_have_text("All saved", timeout=3 * WAIT_MS)


def queue_crops(*confidences: float) -> list[int]:
    """Crops in the order the queue hands them out (least confident first)."""
    token, _ = services.service_token_create(name="e2e")
    donation = factories.make_ready_donation(source=token, confidences=list(confidences))
    return list(
        Task.objects.filter(crop__donation=donation)
        .order_by("-priority", "confidence", "id")
        .values_list("crop_id", flat=True)
    )


def current_labels() -> list[Label]:
    return list(Label.objects.filter(revision__isnull=True).order_by("id"))


def test_label_page_is_for_annotators_only(client, reviewer, annotator):
    client.force_login(reviewer)
    assert client.get("/label/").status_code == 403
    assert b'href="/label/"' not in client.get("/").content
    client.force_login(annotator)
    assert b'href="/label/"' in client.get("/").content
    client.logout()
    assert client.get("/label/").status_code == 302


def test_keyboard_only_run_is_stored_in_queue_order(open_label_page, annotator):
    # Given four crops, the least confident with two unsure characters
    order = queue_crops(0.9, 0.2, 0.55, 0.7)
    page = open_label_page(annotator)

    # The first word is the least confident; its characters are marked and announced
    assert shown_crop(page) == order[0]
    expect(page.locator("#word-confidence")).to_have_text("20%")
    expect(page.locator("#prefill-chars .low")).to_have_count(2)
    expect(page.locator("#prefill-spoken")).to_contain_text("Low confidence: characters 1 and 2")
    # each character says how sure the recognizer was
    expect(page.locator("#prefill-chars span").first).to_have_attribute(
        "title", re.compile("20% sure")
    )

    # When the person types each word and presses Enter, and nothing else
    labeled = [label_current(page, f"word{n}") for n in range(4)]

    # Then the queue-empty state shows, and the labels are stored in queue order
    expect(page.locator("#empty-state")).to_be_visible()
    wait_all_saved(page)
    expect(page.locator("#session-count")).to_have_text("4 labeled")
    expect(page.locator("#session-median")).to_contain_text(re.compile(r"median \d+\.\d s"))
    assert labeled == order
    # the session counter survives a reload
    page.reload()
    expect(page.locator("#session-count")).to_have_text("4 labeled")
    labels = current_labels()
    assert [label.crop_id for label in labels] == order
    assert [label.text for label in labels] == ["word0", "word1", "word2", "word3"]
    assert {label.annotator_id for label in labels} == {annotator.pk}


def test_undo_after_a_reload_corrects_the_newest_stored_label(open_label_page, annotator):
    order = queue_crops(0.1, 0.2)
    page = open_label_page(annotator)
    label_current(page, "fisrt")
    wait_all_saved(page)

    # The page's own history is gone; the server's list of my labels is used
    page.reload()
    assert shown_crop(page) == order[1]
    page.keyboard.press("Alt+z")
    expect(page.locator("#stage")).to_have_attribute("data-crop-id", str(order[0]))
    expect(page.locator("#word-input")).to_have_value("fisrt")
    label_current(page, "first")
    assert shown_crop(page) == order[1]
    wait_all_saved(page)
    assert [(label.crop_id, label.text) for label in current_labels()] == [(order[0], "first")]


def test_mouse_works_too(open_label_page, annotator):
    order = queue_crops(0.1, 0.2)
    page = open_label_page(annotator)
    shown_crop(page)

    page.get_by_role("button", name="Rotated").click()
    page.get_by_role("button", name="Not English").click()
    expect(page.get_by_role("button", name="Rotated")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("textbox", name="Word").fill("clicked")
    page.get_by_role("button", name="Save").click()
    assert shown_crop(page) == order[1]
    expect(page.locator("#word-input")).to_be_focused()  # back to typing after a click
    page.get_by_role("button", name="Skip").click()
    expect(page.locator("#empty-state")).to_be_visible()

    wait_all_saved(page)
    (label,) = current_labels()
    assert (label.crop_id, label.text, label.rotated, label.non_english) == (
        order[0],
        "clicked",
        True,
        True,
    )


def test_dropped_connection_loses_nothing(open_label_page, annotator):
    order = queue_crops(0.1, 0.2, 0.3, 0.4)
    page = open_label_page(annotator)
    label_current(page, "online")
    wait_all_saved(page)

    # When the connection drops and the person goes on labeling
    page.context.set_offline(True)
    label_current(page, "offline1")
    label_current(page, "offlnie2")
    # ...and undoes a label that never left the browser: it is taken back, not revised
    page.keyboard.press("Alt+z")
    expect(page.locator("#word-input")).to_have_value("offlnie2")
    label_current(page, "offline2")

    # Then the page says so, keeps them on this device, and nothing reached the server
    status = page.locator("#save-status")
    expect(status).to_have_attribute("data-state", "offline")
    expect(status).to_contain_text("2 waiting")
    snap(page, "offline")
    stored = json.loads(
        page.evaluate("key => localStorage.getItem(key)", f"dropturk.outbox.{annotator.pk}")
    )
    assert [entry["body"]["text"] for entry in stored] == ["offline1", "offline2"]
    assert [label.text for label in current_labels()] == ["online"]

    # When the connection is back, everything typed arrives, once
    page.context.set_offline(False)
    wait_all_saved(page)
    assert [(label.crop_id, label.text) for label in current_labels()] == [
        (order[0], "online"),
        (order[1], "offline1"),
        (order[2], "offline2"),
    ]
    assert Label.objects.count() == 3


def test_a_label_someone_else_beat_is_dropped_with_a_notice(
    open_label_page, annotator, other_annotator
):
    QualitySettings.objects.create(k_low=1)  # one label completes a crop
    order = queue_crops(0.1, 0.2)
    page = open_label_page(annotator)
    shown_crop(page)

    # Given a label that waits offline while the lease runs out and someone else labels it
    page.context.set_offline(True)
    label_current(page, "late")
    Task.objects.filter(crop_id=order[0]).update(lease_expires_at=timezone.now())
    services.label_submit(
        user=other_annotator, task_id=Task.objects.get(crop_id=order[0]).pk, text="early"
    )

    # When it is sent, the server refuses it: the page says so and does not retry
    page.context.set_offline(False)
    expect(page.locator(".notice")).to_contain_text("“late” was not saved")
    wait_all_saved(page)
    expect(page.locator("#session-count")).to_have_text("0 labeled")
    assert [label.text for label in current_labels()] == ["early"]


def test_lease_is_renewed_while_the_person_works(open_label_page, annotator, settings):
    settings.TASK_LEASE_SECONDS = 4  # renewed when less than half of it is left
    order = queue_crops(0.1)
    page = open_label_page(annotator)
    shown_crop(page)
    leased_until = Task.objects.get(crop_id=order[0]).lease_expires_at

    with page.expect_response(lambda response: "/renew/" in response.url) as renewal:
        pass
    assert renewal.value.status == 200
    assert Task.objects.get(crop_id=order[0]).lease_expires_at > leased_until


def test_two_browsers_never_see_the_same_task(open_label_page, annotator, other_annotator):
    # One label per crop: with two, the second person is meant to get the same word.
    QualitySettings.objects.create(k_low=1)
    queue_crops(*[n / 20 for n in range(14)])
    first = open_label_page(annotator)
    second = open_label_page(other_annotator)

    seen = {annotator.pk: [], other_annotator.pk: []}
    for round_ in range(5):
        for user, page in ((annotator, first), (other_annotator, second)):
            seen[user.pk].append(label_current(page, f"r{round_}"))
    wait_all_saved(first)
    wait_all_saved(second)

    assert not set(seen[annotator.pk]) & set(seen[other_annotator.pk])
    assert len(set(seen[annotator.pk])) == len(seen[annotator.pk]) == 5
    tasks = list(Label.objects.values_list("task_id", flat=True))
    assert len(tasks) == len(set(tasks)) == 10


def test_help_overlay_lists_the_keys(open_label_page, annotator):
    queue_crops(0.5)
    page = open_label_page(annotator)
    shown_crop(page)
    help_dialog = page.get_by_role("dialog", name="Keys")

    # In the word field, ? is a character people type
    page.keyboard.type("why?")
    expect(page.locator("#word-input")).to_have_value("why?")
    expect(help_dialog).to_be_hidden()

    # Outside it, ? opens the help; Escape closes it and returns to the word
    page.locator("#help-button").focus()
    page.keyboard.press("?")
    expect(help_dialog).to_be_visible()
    snap(page, "help")
    for keys in ("Enter", "Alt+R", "Alt+N", "Alt+U", "Alt+S", "Alt+Z", "Alt+=", "Alt+["):
        expect(help_dialog.locator("kbd", has_text=keys).first).to_be_visible()
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    expect(page.locator("#word-input")).to_be_focused()

    # Alt+/ opens it from anywhere, the word field included
    page.keyboard.press("Alt+/")
    expect(help_dialog).to_be_visible()
    page.keyboard.press("Alt+/")
    expect(help_dialog).to_be_hidden()


def test_empty_queue_says_so(open_label_page, annotator):
    page = open_label_page(annotator)
    expect(page.get_by_text("No words to label right now")).to_be_visible()
    expect(page.locator("#word-input")).to_be_disabled()
    snap(page, "empty")


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1920, 1080)])
def test_layout_fits_and_does_not_shift(open_label_page, annotator, width, height):
    # Crops of different sizes ("w0" is narrower than "w10")
    queue_crops(*[n / 20 for n in range(11)])
    page = open_label_page(annotator, width=width, height=height)
    first_crop = shown_crop(page)

    def geometry():
        return page.evaluate(
            """() => {
              const box = (id) => {
                const r = document.getElementById(id).getBoundingClientRect();
                return [r.x, r.y, r.width, r.height];
              };
              const crop = document.getElementById("crop");
              return {
                stage: box("stage"), input: box("word-input"), toolbar: box("skip-button"),
                crop: [crop.naturalWidth, crop.naturalHeight],
                scale: Number(document.getElementById("stage").dataset.scale),
                rendering: getComputedStyle(crop).imageRendering,
                horizontalScroll: document.documentElement.scrollWidth > innerWidth,
                verticalScroll: document.documentElement.scrollHeight > innerHeight,
              };
            }"""
        )

    before = geometry()
    snap(page, f"{width}x{height}")
    # Walk on until a crop of another size is on screen
    for _ in range(10):
        label_current(page, "x")
        after = geometry()
        if after["crop"] != before["crop"]:
            break
    assert after["crop"] != before["crop"], "the test needs crops of two sizes"
    assert shown_crop(page) != first_crop

    for shot in (before, after):
        assert not shot["horizontalScroll"]
        assert not shot["verticalScroll"]
        assert shot["scale"] >= 2  # a legible height
        assert shot["crop"][1] * shot["scale"] <= 260  # not blown up to the stage's height
        assert shot["rendering"] == "auto"  # smooth; Alt+P shows the pixels
    assert (before["stage"], before["input"], before["toolbar"]) == (
        after["stage"],
        after["input"],
        after["toolbar"],
    )
    # Zoom in real steps (x1.25), pixels on demand, pan by keys and by dragging, turn
    stage = page.locator("#stage")
    page.keyboard.press("Alt+=")
    page.keyboard.press("Alt+=")
    expect(stage).to_have_attribute("data-zoom", "2")
    assert float(stage.get_attribute("data-scale")) == pytest.approx(after["scale"] * 1.5625, 0.01)
    page.keyboard.press("Alt+p")
    expect(stage).to_have_attribute("data-pixels", "true")
    assert page.evaluate("getComputedStyle(document.getElementById('crop')).imageRendering") == (
        "pixelated"
    )
    page.keyboard.press("Alt+ArrowRight")
    expect(stage).not_to_have_attribute("data-pan", "0,0")
    box = stage.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 40, box["y"] + box["height"] / 2 + 10)
    page.mouse.up()
    expect(page.locator("#word-input")).to_be_focused()  # dragging keeps the word field's focus
    page.keyboard.press("Alt+]")
    expect(page.locator("#crop")).to_have_attribute("style", re.compile(r"rotate\(90deg\)"))
    page.keyboard.press("Alt+0")
    expect(stage).to_have_attribute("data-pan", "0,0")


def test_line_context_is_shown_on_demand_and_audited(open_label_page, annotator):
    from audit.models import AuditEvent

    queue_crops(0.1, 0.2)
    page = open_label_page(annotator)
    crop_id = shown_crop(page)
    context = page.locator("#context")
    expect(context).to_be_hidden()
    assert not AuditEvent.objects.filter(action="annotations.crop_context_view").exists()

    page.keyboard.press("Alt+l")

    expect(page.locator("#stage")).to_have_attribute("data-context", "on")
    expect(context).to_be_visible()
    expect(page.locator("#word-input")).to_be_focused()
    event = AuditEvent.objects.get(action="annotations.crop_context_view")
    assert event.target_id == str(crop_id)
    page.keyboard.press("Alt+l")
    expect(context).to_be_hidden()
    # the next crop starts with the crop alone
    label_current(page, "x")
    expect(context).to_be_hidden()


def test_guidelines_are_one_key_away(open_label_page, annotator):
    queue_crops(0.1)
    page = open_label_page(annotator)
    shown_crop(page)
    guidelines = page.locator("#guidelines")

    page.keyboard.press("Alt+g")

    expect(guidelines).to_be_visible()
    for rule in ("Case", "Punctuation", "Spaces", "When to flag", "Examples"):
        expect(guidelines.get_by_role("heading", name=rule)).to_be_visible()
    page.keyboard.press("Escape")
    expect(guidelines).to_be_hidden()
    expect(page.locator("#word-input")).to_be_focused()
