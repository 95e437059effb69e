"""Each auditable act, done the way people and services do it, leaves exactly one event.

A table: act -> the action it must record and the target it must name. Acts of the
sign-in flow (MFA used/added/removed, lockout, sessions ended) are asserted in
tests/accounts, next to the flows that cause them.
"""

import io
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from annotations import roles, services
from annotations.models import Donation, ServiceToken, Task, TokenScope
from audit import chain
from audit.models import ActorType, AuditEvent
from quality.services import ReviewAnswer, gold_create
from tests import factories
from tests.ocr_bridge import acts as learning_acts

SECRET_WORD = "PRIVATE-TRANSCRIPTION-42"  # must never reach the trail


@dataclass
class World:
    service: Client
    service_token: ServiceToken
    annotator: Client
    annotator_user: object
    admin: Client
    anonymous: Client
    donation: Donation


@pytest.fixture
def world(db, service_token, annotator):
    service_token.scopes = [TokenScope.INGEST, TokenScope.WITHDRAW]
    service_token.save(update_fields=["scopes"])
    service = Client(HTTP_AUTHORIZATION=f"Bearer {service_token.raw}")
    annotator_client = Client()
    annotator_client.force_login(annotator)
    admin_user = factories.UserFactory(username="boss", is_staff=True, is_superuser=True)
    admin_user.groups.set(Group.objects.filter(name=roles.ADMIN))
    admin = Client()
    admin.force_login(admin_user)
    donation = factories.make_ready_donation(source=service_token, confidences=[0.1, 0.5, 0.9])
    return World(
        service=service,
        service_token=service_token,
        annotator=annotator_client,
        annotator_user=annotator,
        admin=admin,
        anonymous=Client(),
        donation=donation,
    )


def _lease(world: World) -> dict:
    response = world.annotator.post("/api/v1/tasks/next/")
    assert response.status_code == 200
    return response.json()["tasks"][0]


def _submit(world: World, task: dict, text: str = SECRET_WORD) -> dict:
    response = world.annotator.post(
        f"/api/v1/tasks/{task['id']}/submit/",
        {"text": text, "client_key": str(uuid.uuid4())},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def donate(world: World):
    image = SimpleUploadedFile("scan.png", factories.word_png("SHOP"), content_type="image/png")
    response = world.service.post("/api/v1/donations/", {"image": image, "kind": "receipt"})
    assert response.status_code == 201
    return "annotations.donation", response.json()["id"]


def view_crop_image(world: World):
    task = _lease(world)
    assert world.annotator.get(task["image_url"]).status_code == 200
    return "annotations.wordcrop", task["crop_id"]


def submit_label(world: World):
    label = _submit(world, _lease(world))
    return "annotations.label", label["id"]


def revise_label(world: World):
    label = _submit(world, _lease(world))
    response = world.annotator.post(
        f"/api/v1/labels/{label['id']}/revise/",
        {"text": SECRET_WORD.lower()},
        content_type="application/json",
    )
    assert response.status_code == 201
    return "annotations.label", response.json()["id"]


def skip_task(world: World):
    task = _lease(world)
    assert world.annotator.post(f"/api/v1/tasks/{task['id']}/skip/").status_code == 204
    return "annotations.task", task["id"]


def withdraw_donation(world: World):
    response = world.service.delete(f"/api/v1/donations/{world.donation.pk}/")
    assert response.status_code == 204
    return "annotations.donation", world.donation.pk


def finish_processing(world: World):
    donation = factories.make_ready_donation(source=world.service_token, confidences=[0.3])
    return "annotations.donation", donation.pk


def use_service_token(world: World):
    assert world.service.get(f"/api/v1/donations/{world.donation.pk}/").status_code == 200
    return "accounts.servicetoken", world.service_token.pk


def refuse_service_token(world: World):
    forged = Client(HTTP_AUTHORIZATION="Bearer dt_not-a-real-token")
    assert forged.get(f"/api/v1/donations/{world.donation.pk}/").status_code == 401
    return None


def create_service_token(world: World):
    call_command("create_service_token", "scanner-app", stdout=io.StringIO())
    return "accounts.servicetoken", ServiceToken.objects.get(name="scanner-app").pk


def fail_sign_in(world: World):
    response = world.anonymous.post(
        "/accounts/login/", {"login": world.annotator_user.username, "password": "wrong" * 4}
    )
    assert response.status_code == 200  # the form again, with an error
    return None


def sign_out(world: World):
    assert world.annotator.post("/accounts/logout/").status_code == 302
    return "auth.user", world.annotator_user.pk


def add_in_django_admin(world: World):
    response = world.admin.post("/admin/auth/group/add/", {"name": "auditors"})
    assert response.status_code == 302, response.content[:500]
    return "auth.group", Group.objects.get(name="auditors").pk


def _crop_in_review(world: World):
    """Annotators who disagree until the crop goes to review (by the default settings)."""
    task = world.donation.crops.get(index=0).task
    for text in ("one", "two", "three", "four"):
        person = factories.UserFactory(username=f"qa-{text}")
        services.label_submit(user=person, task_id=task.pk, text=text)
        task.refresh_from_db()
        if task.status == "review":
            return task
    raise AssertionError("the labels never went to review")


def review_decision(world: World):
    task = _crop_in_review(world)
    reviewer = factories.UserFactory(username="reviewer")
    reviewer.groups.set(Group.objects.filter(name=roles.REVIEWER))
    client = Client()
    client.force_login(reviewer)
    response = client.post(
        f"/api/v1/review/{task.crop_id}/decide/",
        {"decision": "fix", "text": SECRET_WORD},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return "annotations.wordcrop", task.crop_id


def import_gold(world: World):
    crop = world.donation.crops.get(index=1)
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as handle:
        handle.write(f"{crop.pk}\t{SECRET_WORD}\n")
    call_command("import_gold", handle.name, stdout=io.StringIO())
    Path(handle.name).unlink()
    return None


def flag_annotator(world: World):
    from quality.services import annotator_stats_refresh

    careless = world.annotator_user
    tasks = list(Task.objects.filter(crop__donation=world.donation))
    extra = factories.make_ready_donation(source=world.service_token, confidences=[0.5] * 3)
    tasks += list(Task.objects.filter(crop__donation=extra))
    for task in tasks:
        gold_create(crop_id=task.crop_id, answer=ReviewAnswer(text="right"), source="import")
        services.label_submit(user=careless, task_id=task.pk, text="wrong")
    annotator_stats_refresh()
    return "auth.user", careless.pk


def requeue_lost_export(world: World):
    from datetime import timedelta

    from django.utils import timezone

    from exports import services as exports
    from exports.models import Export, ExportStatus
    from exports.selectors import ExportFilters

    engineer = factories.UserFactory(username="ml")
    engineer.groups.set(Group.objects.filter(name=roles.ML_ENGINEER))
    export = exports.export_request(user=engineer, format="jsonl", filters=ExportFilters())
    Export.objects.filter(pk=export.pk).update(
        status=ExportStatus.RUNNING, attempts=1, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert exports.exports_requeue_stalled() == (1, 0)
    return "exports.export", export.pk


ACTS: list[tuple[str, Callable[[World], tuple[str, object] | None]]] = [
    ("annotations.donation_create", donate),
    ("annotations.donation_ready", finish_processing),
    ("annotations.donation_withdraw", withdraw_donation),
    ("annotations.crop_image_view", view_crop_image),
    ("annotations.label_submit", submit_label),
    ("annotations.label_revise", revise_label),
    ("annotations.task_skip", skip_task),
    ("annotations.service_token_create", create_service_token),
    ("annotations.service_token_use", use_service_token),
    ("annotations.service_token_refused", refuse_service_token),
    ("accounts.sign_in_failed", fail_sign_in),
    ("accounts.sign_out", sign_out),
    ("admin.object_add", add_in_django_admin),
    ("quality.review_decide", review_decision),
    ("quality.gold_import", import_gold),
    ("quality.annotator_flagged", flag_annotator),
    ("ocr_bridge.model_retrain_request", learning_acts.request_retrain),
    ("ocr_bridge.training_crops_read", learning_acts.register_model),
    ("ocr_bridge.model_register", learning_acts.register_model),
    ("ocr_bridge.model_failed", learning_acts.fail_retrain),
    ("ocr_bridge.model_promote", learning_acts.promote_model),
    ("ocr_bridge.crops_reprefill", learning_acts.reprefill_crops),
    ("ocr_bridge.donation_recut", learning_acts.recut_donation),
    ("ocr_bridge.donation_text_read", learning_acts.read_page_text),
    ("exports.export_requeue", requeue_lost_export),
]


@pytest.mark.parametrize(("action", "act"), ACTS, ids=[action for action, _ in ACTS])
def test_each_act_records_exactly_one_event(world, action, act):
    before = AuditEvent.objects.filter(action=action).count()
    latest = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    target = act(world)

    events = list(AuditEvent.objects.filter(action=action, id__gt=latest))
    assert len(events) == 1, [str(event) for event in events]
    assert AuditEvent.objects.filter(action=action).count() == before + 1
    event = events[0]
    if target is not None:
        assert (event.target_type, event.target_id) == (target[0], str(target[1]))
    assert event.occurred_at is not None
    assert event.actor_type in ActorType.values
    # No transcription text anywhere in the trail.
    for any_event in AuditEvent.objects.all():
        assert (
            SECRET_WORD.lower()
            not in chain.canonical_fields(
                {name: getattr(any_event, name) for name in chain.CANONICAL_FIELDS}
            )
            .decode()
            .lower()
        )


def test_events_of_a_request_carry_its_id_and_address(world):
    task = _lease(world)
    response = world.annotator.get(
        task["image_url"], HTTP_X_REQUEST_ID="req-0123456789", REMOTE_ADDR="10.1.2.3"
    )
    assert response["X-Request-ID"] == "req-0123456789"
    event = AuditEvent.objects.get(action="annotations.crop_image_view")
    assert (event.request_id, event.ip_address) == ("req-0123456789", "10.1.2.3")


def test_a_request_id_that_is_not_one_is_replaced(world):
    response = world.anonymous.get("/healthz", HTTP_X_REQUEST_ID="<script>")
    assert response["X-Request-ID"] != "<script>"
    assert len(response["X-Request-ID"]) == 32


def test_bulk_deletes_in_the_admin_are_audited_one_event_per_object(world):
    groups = [Group.objects.create(name=f"g{i}") for i in range(3)]
    response = world.admin.post(
        "/admin/auth/group/",
        {"action": "delete_selected", "_selected_action": [g.pk for g in groups], "post": "yes"},
    )
    assert response.status_code == 302
    deleted = AuditEvent.objects.filter(action="admin.object_delete")
    assert sorted(deleted.values_list("target_id", flat=True)) == sorted(str(g.pk) for g in groups)


def test_celery_tasks_get_their_own_request_id(db):
    import audit
    from audit import receivers

    receivers.task_started(task_id="abc")
    try:
        event = audit.record(actor=None, action="ocr_bridge.document_read")
    finally:
        receivers.task_finished(task_id="abc")
    assert event.request_id == "task-abc"
