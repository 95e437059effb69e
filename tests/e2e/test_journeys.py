"""One journey per role, in a real browser, as issue 20 asks: each person's main job from
their first page to its result, by keyboard where the page is keyboard-first."""

import re

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

import audit
from annotations import roles
from annotations.models import Label, Skip, Task, TaskStatus
from audit.models import AuditEvent, Outcome
from ocr_bridge import learning, weights
from ocr_bridge.models import ModelStatus, ModelVersion
from quality.models import ConsensusState, CropConsensus, QualitySettings
from tests import factories
from tests.accounts.conftest import PASSWORD
from tests.e2e.conftest import WAIT_MS
from tests.e2e.test_label_page import (
    current_labels,
    label_current,
    queue_crops,
    shown_crop,
    wait_all_saved,
)
from tests.ocr_bridge.conftest import accept_all, make_word_donation

pytestmark = pytest.mark.postgres


def person(username: str, *role_names: str, **fields):
    user = factories.UserFactory(username=username, **fields)
    user.groups.set(Group.objects.filter(name__in=role_names))
    return user


def reauthenticate(page) -> None:
    """allauth's re-authentication form, in the app's look: the password again."""
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    expect(page.locator("body.account-page")).to_be_visible()
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").first.click()


def test_an_annotator_labels_20_crops_by_keyboard_with_every_flag_mark_undo_and_context(
    open_label_page,
):
    annotator = person("kim", roles.ANNOTATOR)
    order = queue_crops(*[round(0.05 + 0.01 * n, 2) for n in range(21)])
    page = open_label_page(annotator)

    # The line around the first word, on demand
    shown_crop(page)
    page.keyboard.press("Alt+l")
    expect(page.locator("#context")).to_be_visible()
    label_current(page, "first")
    # Rotated, not English, then unreadable (saves at once), then a skip
    label_current(page, "sideways", keys=("Alt+r",))
    label_current(page, "étranger", keys=("Alt+n",))
    unreadable_crop = shown_crop(page)
    page.keyboard.press("Alt+u")
    expect(page.locator("#stage")).not_to_have_attribute("data-crop-id", str(unreadable_crop))
    skipped_crop = shown_crop(page)
    page.keyboard.press("Alt+s")
    expect(page.locator("#stage")).not_to_have_attribute("data-crop-id", str(skipped_crop))
    # A crop cut off: marked bad with one key (a mark is a label)
    marked_crop = shown_crop(page)
    page.keyboard.press("Alt+c")
    expect(page.locator("#stage")).not_to_have_attribute("data-crop-id", str(marked_crop))
    # A typo, undone and corrected
    label_current(page, "tpyo")
    wait_all_saved(page)  # so the undo corrects a stored label
    page.keyboard.press("Alt+z")
    expect(page.locator("#mode-banner")).to_be_visible()
    expect(page.locator("#word-input")).to_have_value("tpyo")
    page.keyboard.press("Control+a")
    label_current(page, "typo")
    # Then the rest, Enter after Enter, until 20 words are labeled
    for n in range(14):
        label_current(page, f"word{n}")

    wait_all_saved(page)
    expect(page.locator("#session-count")).to_have_text("20 labeled")
    labels = current_labels()
    assert len(labels) == 20
    assert skipped_crop not in {label.crop_id for label in labels}
    skipped = Task.objects.get(crop_id=skipped_crop)  # back in the queue, for someone else
    assert (skipped.status, skipped.leased_to) == (TaskStatus.OPEN, None)
    assert Skip.objects.filter(task=skipped, annotator=annotator).exists()
    by_text = {label.text: label for label in labels}
    assert by_text["sideways"].rotated
    assert by_text["étranger"].non_english
    assert Label.objects.get(crop_id=unreadable_crop).unreadable
    assert Label.objects.get(crop_id=marked_crop).bad_reason == "cut_off"
    assert by_text["typo"].revises.text == "tpyo"
    assert AuditEvent.objects.filter(
        action="annotations.crop_context_view", target_id=str(order[0])
    ).exists()


def test_two_annotators_disagree_and_a_reviewer_settles_it(open_label_page):
    QualitySettings.objects.update_or_create(pk=1, defaults={"max_labels": 2})
    (crop,) = queue_crops(0.1)
    first = person("ann1", roles.ANNOTATOR)
    second = person("ann2", roles.ANNOTATOR)

    for who, text in ((first, "TOTAL"), (second, "T0TAL")):
        page = open_label_page(who)
        assert shown_crop(page) == crop
        page.keyboard.press("Control+a")
        label_current(page, text)
        wait_all_saved(page)
    assert CropConsensus.objects.get(crop_id=crop).state == ConsensusState.NEEDS_REVIEW

    reviewer = person("rev1", roles.REVIEWER)
    page = open_label_page(reviewer, path="/review/")
    expect(page.locator("#candidates li")).to_have_count(2)
    page.keyboard.press("l")  # the line, to decide O or 0
    expect(page.locator("#context")).to_be_visible()
    page.keyboard.press("1")
    expect(page.locator("#decided-count")).to_have_text("1 decided")

    settled = CropConsensus.objects.get(crop_id=crop)
    assert (settled.state, settled.text) == (ConsensusState.ACCEPTED, "TOTAL")


def test_an_ml_engineer_exports_retrains_and_promotes_past_a_regression_warning(
    open_label_page, service_token, monkeypatch
):
    from exports.models import Export
    from exports.services import export_build
    from ocr_bridge.learning import evaluate as learning_evaluate

    monkeypatch.setattr(learning_evaluate, "SYNTHETIC_CHECK_SIZE", 16)
    labeler = person("lab", roles.ANNOTATOR)
    words = ["TOTAL", "CASH", "CHANGE", "ITEM", "PRICE", "TAX"]
    for split, seed in (("train", 1), ("test", 3)):
        accept_all(
            make_word_donation(source=service_token, words=words, split=split, seed=seed),
            annotator=labeler,
        )
    ml = person("mia", roles.ML_ENGINEER)
    page = open_label_page(ml, path="/exports/")

    # Export: request it, (the worker builds it), download it after re-authentication
    page.get_by_role("button", name="Request export").click()
    export = Export.objects.get(requester=ml)
    export_build(export_id=export.pk)
    page.goto("/exports/")
    page.get_by_role("link", name="Confirm it is you to download").click()
    reauthenticate(page)
    expect(page).to_have_url(re.compile(r"/exports/$"))
    with page.expect_download() as download:
        page.get_by_role("link", name="Download").click()
    assert download.value.suggested_filename

    # Retrain a few steps (the worker's part runs here)
    page.goto("/models/")
    expect(page.locator("#retrain-estimate")).to_contain_text("about")
    page.locator("#retrain-steps").fill("3")
    page.locator("#retrain-batch").fill("4")
    page.get_by_role("button", name="Start retraining").click()
    version = ModelVersion.objects.exclude(builtin=True).get()
    assert (version.config["steps"], version.config["batch_size"]) == (3, 4)
    learning.model_retrain(version_id=version.pk)
    version.refresh_from_db()
    assert version.status == ModelStatus.READY, version.reason

    # A regression made on purpose: the new model measured well below its parent
    shipped = weights.active_version()
    metrics = dict(version.metrics)
    metrics["frozen"] = {**metrics["frozen"], "accuracy": 0.1, "cer": 0.9}
    metrics["parent"] = {**metrics["parent"], "frozen": {"n": 6, "accuracy": 0.9, "cer": 0.05}}
    ModelVersion.objects.filter(pk=version.pk).update(metrics=metrics)
    page.goto("/models/")
    expect(page.locator(".model-regression")).to_contain_text("Worse than")
    page.locator(f"button[data-model='{version.name}']").click()  # confirmed minutes ago
    # The confirmation shows the regression; only "Promote anyway" promotes
    expect(page.get_by_role("heading", level=1)).to_contain_text("worse than the active model")
    expect(page.locator("#confirm-figures")).to_contain_text("10.0%")
    expect(page.locator("#confirm-figures")).to_contain_text("90.0%")
    assert ModelVersion.objects.get(pk=version.pk).status == ModelStatus.READY
    page.locator("#promote-anyway").click()
    expect(page).to_have_url(re.compile(r"/models/$"))
    assert ModelVersion.objects.get(pk=version.pk).status == ModelStatus.ACTIVE
    assert ModelVersion.objects.get(pk=shipped.pk).status == ModelStatus.RETIRED


def test_an_admin_filters_failed_sign_ins_and_exports_them_as_csv(open_label_page):
    boss = person("boss", roles.ADMIN)
    for username in ("intruder", "root"):
        audit.record(
            actor=None,
            action="accounts.sign_in_failed",
            data={"username": username},
            outcome=Outcome.FAILURE,
        )
    audit.record(actor=boss, action="accounts.sign_out")
    page = open_label_page(boss, path="/")
    page.get_by_role("main").get_by_role("link", name="Audit trail").click()

    page.get_by_label("Outcome").select_option("failure")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.audit-events tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("failed to sign in as root")

    # The export asks to confirm on the page, and comes back to the same filters
    page.locator("#confirm-to-export").click()
    reauthenticate(page)
    expect(page).to_have_url(re.compile(r"/audit/\?.*outcome=failure"))
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    content = open(download.value.path(), encoding="utf-8").read()  # noqa: SIM115
    assert "intruder" in content
    assert "sign_out" not in content


def test_a_new_accounts_first_sign_in_sets_up_totp_and_lands_on_its_work(
    browser, live_server, plain_http_cookies
):
    newcomer = person("newcomer", roles.ANNOTATOR)
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto("/")
    expect(page.get_by_role("link", name=re.compile("sign up", re.I))).to_have_count(0)
    page.locator("input[name=login]").fill(newcomer.username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()

    # Straight to the authenticator's QR code (no overview, no second password)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your authenticator app")
    expect(page.locator("img.totp-qr")).to_be_visible()
    secret = page.locator("#authenticator_secret").input_value()
    page.locator("input[name=code]").fill(factories.totp_code(secret))
    page.locator("input[name=code]").press("Enter")

    # The recovery codes once, then on to the person's work
    expect(page.locator("#recovery_codes")).to_be_visible()
    page.locator("#continue-to-work").click()
    expect(page).to_have_url(f"{live_server.url}/label/")
    expect(page.locator("#label-app")).to_be_visible()
    context.close()
    assert not errors, errors
