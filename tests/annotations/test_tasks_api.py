import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from annotations.models import Label, Task, TaskStatus
from audit.models import AuditEvent
from tests.factories import make_ready_donation

NEXT = "/api/v1/tasks/next/"


def submit_url(task_id: int) -> str:
    return f"/api/v1/tasks/{task_id}/submit/"


@pytest.fixture
def queue(service_token):
    """Three open tasks whose prefill confidences are 0.9, 0.2 and 0.5."""
    donation = make_ready_donation(source=service_token, confidences=[0.9, 0.2, 0.5])
    return {task.confidence: task for task in Task.objects.filter(crop__donation=donation)}


def test_next_leases_the_least_confident_task_first(annotator_client, annotator, queue):
    response = annotator_client.post(NEXT)

    assert response.status_code == 200
    [task] = response.json()["tasks"]
    assert task["id"] == queue[0.2].pk
    assert task["prefill_text"] == "w1"
    assert task["prefill_confidence"] == 0.2
    assert task["image_url"] == f"/api/v1/crops/{queue[0.2].crop_id}/image"
    leased = Task.objects.get(pk=task["id"])
    assert leased.leased_to == annotator
    assert leased.lease_expires_at > timezone.now()


def test_priority_beats_confidence(annotator_client, queue):
    Task.objects.filter(pk=queue[0.9].pk).update(priority=5)
    assert annotator_client.post(NEXT).json()["tasks"][0]["id"] == queue[0.9].pk


def test_count_leases_several_in_queue_order(annotator_client, queue):
    tasks = annotator_client.post(f"{NEXT}?count=5").json()["tasks"]
    assert [t["id"] for t in tasks] == [queue[0.2].pk, queue[0.5].pk, queue[0.9].pk]


def test_a_task_has_one_holder_at_a_time(client, annotator, other_annotator, queue):
    client.force_login(annotator)
    mine = {t["id"] for t in client.post(f"{NEXT}?count=2").json()["tasks"]}
    client.force_login(other_annotator)
    theirs = {t["id"] for t in client.post(f"{NEXT}?count=5").json()["tasks"]}
    assert mine.isdisjoint(theirs)
    assert theirs == {queue[0.9].pk}
    assert client.post(NEXT).status_code == 200  # their own lease again, renewed


def test_empty_queue_answers_204(annotator_client, db):
    assert annotator_client.post(NEXT).status_code == 204


def test_expired_lease_returns_the_task_to_the_queue(client, annotator, other_annotator, queue):
    client.force_login(annotator)
    first = client.post(NEXT).json()["tasks"][0]["id"]
    Task.objects.filter(pk=first).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    client.force_login(other_annotator)
    assert client.post(NEXT).json()["tasks"][0]["id"] == first


def test_submit_stores_the_label_and_closes_the_task(annotator_client, annotator, queue):
    task_id = annotator_client.post(NEXT).json()["tasks"][0]["id"]

    response = annotator_client.post(
        submit_url(task_id),
        {"text": "TOTAL", "rotated": True, "elapsed_ms": 1800},
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    label = Label.objects.get()
    assert (label.text, label.rotated, label.non_english, label.unreadable) == (
        "TOTAL",
        True,
        False,
        False,
    )
    assert label.annotator == annotator
    assert label.elapsed_ms == 1800
    task = Task.objects.get(pk=task_id)
    assert task.status == TaskStatus.DONE
    assert task.leased_to is None
    assert AuditEvent.objects.filter(
        action="annotations.label_submit", target_id=str(label.pk)
    ).exists()
    # The next lease moves on to the next task.
    assert annotator_client.post(NEXT).json()["tasks"][0]["id"] == queue[0.5].pk


def test_unreadable_stores_empty_text(annotator_client, queue):
    task_id = annotator_client.post(NEXT).json()["tasks"][0]["id"]
    response = annotator_client.post(
        submit_url(task_id), {"text": "xx", "unreadable": True}, content_type="application/json"
    )
    assert response.status_code == 201
    assert Label.objects.get().text == ""


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "a\x00b"}, "text"),
        ({"text": "x" * 201}, "text"),
        ({"text": "ok", "elapsed_ms": -1}, "elapsed_ms"),
        ({"text": "ok", "client_key": "not-a-uuid"}, "client_key"),
    ],
)
def test_bad_submissions_are_400_and_store_nothing(annotator_client, queue, payload, field):
    task_id = annotator_client.post(NEXT).json()["tasks"][0]["id"]
    response = annotator_client.post(submit_url(task_id), payload, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()
    assert Label.objects.count() == 0
    assert Task.objects.get(pk=task_id).status == TaskStatus.OPEN


def test_same_client_key_stores_one_label(annotator_client, queue):
    task_id = annotator_client.post(NEXT).json()["tasks"][0]["id"]
    payload = {"text": "TOTAL", "client_key": str(uuid.uuid4())}
    first = annotator_client.post(submit_url(task_id), payload, content_type="application/json")
    again = annotator_client.post(submit_url(task_id), payload, content_type="application/json")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert Label.objects.count() == 1


def test_lost_lease_label_is_kept_if_nobody_else_labeled(client, annotator, queue):
    client.force_login(annotator)
    task_id = client.post(NEXT).json()["tasks"][0]["id"]
    Task.objects.filter(pk=task_id).update(lease_expires_at=timezone.now() - timedelta(minutes=1))
    response = client.post(submit_url(task_id), {"text": "late"}, content_type="application/json")
    assert response.status_code == 201
    assert Label.objects.get().text == "late"


def test_lost_lease_label_conflicts_when_someone_else_labeled(
    client, annotator, other_annotator, queue
):
    client.force_login(annotator)
    task_id = client.post(NEXT).json()["tasks"][0]["id"]
    Task.objects.filter(pk=task_id).update(lease_expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(other_annotator)
    assert client.post(NEXT).json()["tasks"][0]["id"] == task_id
    assert (
        client.post(
            submit_url(task_id), {"text": "theirs"}, content_type="application/json"
        ).status_code
        == 201
    )

    client.force_login(annotator)
    response = client.post(submit_url(task_id), {"text": "mine"}, content_type="application/json")
    assert response.status_code == 409
    assert "someone else" in response.json()["detail"].lower()
    assert list(Label.objects.values_list("text", flat=True)) == ["theirs"]


def test_submit_for_a_task_another_annotator_holds_conflicts(
    client, annotator, other_annotator, queue
):
    client.force_login(annotator)
    task_id = client.post(NEXT).json()["tasks"][0]["id"]
    client.force_login(other_annotator)
    response = client.post(submit_url(task_id), {"text": "sneaky"}, content_type="application/json")
    assert response.status_code == 409
    assert Label.objects.count() == 0


def test_unknown_task_is_404(annotator_client, db):
    assert (
        annotator_client.post(
            submit_url(999999), {"text": "x"}, content_type="application/json"
        ).status_code
        == 404
    )


def test_people_without_the_annotator_role_cannot_lease_or_submit(
    client, reviewer, queue, service_token
):
    assert client.post(NEXT).status_code in (401, 403)
    client.force_login(reviewer)
    response = client.post(NEXT)
    assert response.status_code == 403
    assert "annotator role" in response.json()["detail"]
    assert (
        client.post(
            submit_url(queue[0.2].pk), {"text": "x"}, content_type="application/json"
        ).status_code
        == 403
    )
    client.logout()
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {service_token.raw}"
    assert client.post(NEXT).status_code == 403


def test_crop_image_for_the_lease_holder_only_and_audited(
    client, annotator, other_annotator, reviewer, queue
):
    client.force_login(annotator)
    task = client.post(NEXT).json()["tasks"][0]

    response = client.get(task["image_url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content.startswith(b"\x89PNG")
    assert (
        AuditEvent.objects.filter(
            action="annotations.crop_image_view",
            actor_id=str(annotator.pk),
            target_id=str(task["crop_id"]),
        ).count()
        == 1
    )

    client.force_login(other_annotator)
    assert client.get(task["image_url"]).status_code == 404
    client.force_login(reviewer)
    assert client.get(task["image_url"]).status_code == 200


def test_a_crop_image_that_cannot_be_read_is_not_recorded_as_seen(
    client, annotator, queue, monkeypatch
):
    from annotations import blobs

    client.force_login(annotator)
    task = client.post(NEXT).json()["tasks"][0]

    def unreadable(**kwargs):
        raise OSError("storage is down")

    monkeypatch.setattr(blobs, "blob_get", unreadable)
    client.raise_request_exception = False
    assert client.get(task["image_url"]).status_code == 500
    assert not AuditEvent.objects.filter(action="annotations.crop_image_view").exists()


def test_lease_and_submit_answers_have_the_serializers_shapes(annotator_client, queue):
    """The loop's answers are written by hand for speed; they must stay exactly what the
    documented serializers (the OpenAPI schema) say."""
    from rest_framework import serializers

    from annotations.api.views import LabelOutputSerializer

    task = annotator_client.post(NEXT).json()["tasks"][0]
    leased = Task.objects.get(pk=task["id"])
    assert task["lease_expires_at"] == serializers.DateTimeField().to_representation(
        leased.lease_expires_at
    )
    answer = annotator_client.post(
        submit_url(task["id"]), {"text": "TOTAL"}, content_type="application/json"
    ).json()
    assert answer == dict(LabelOutputSerializer(Label.objects.get()).data)


def test_the_loop_answers_json_whatever_the_accept_header(annotator_client, queue):
    response = annotator_client.post(NEXT, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["tasks"][0]["id"] == queue[0.2].pk
    refused = annotator_client.post(
        submit_url(queue[0.2].pk),
        {"text": ""},
        content_type="application/json",
        HTTP_ACCEPT="text/html",
    )
    assert refused.status_code == 400
    assert refused["Content-Type"] == "application/json"
    assert "text" in refused.json()
