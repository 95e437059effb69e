"""User B against user A's objects, on every detail route: 404, never the object.

The routes come from the resolver: a new route with an id in its path must get a case
here, or ``test_every_detail_route_has_a_case`` fails.
"""

import pytest
from django.test import Client
from django.urls import get_resolver

from annotations.models import DonationStatus, Label, ServiceToken, Task
from annotations.services import service_token_create
from tests import factories

pytestmark = pytest.mark.django_db


def detail_route_names() -> set[str]:
    names = set()
    for pattern in get_resolver("annotations.api.urls").url_patterns:
        if "<" in str(pattern.pattern):
            names.add(pattern.name)
    # Crop routes declared at the root (dropturk/urls.py) rather than in annotations.api.
    for pattern in get_resolver().url_patterns:
        route = str(pattern.pattern)
        if route.startswith("api/v1/crops/") and "<" in route:
            names.add(pattern.name)
    return names


@pytest.fixture
def owned(service_token, annotator):
    """A's things: a donation sent with A's token, a crop A holds, a crop A labeled."""
    donation = factories.make_ready_donation(source=service_token, confidences=[0.1, 0.2])
    held, labeled = donation.crops.order_by("index")
    held_task = Task.objects.get(crop=held)
    Task.objects.filter(pk=held_task.pk).update(
        leased_to=annotator, lease_expires_at=factories_now(minutes=10)
    )
    label = Label.objects.create(task=labeled.task, crop=labeled, annotator=annotator, text="mine")
    return {"donation": donation, "held": held, "held_task": held_task, "label": label}


def factories_now(*, minutes: int):
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() + timedelta(minutes=minutes)


def b_client(other_annotator) -> Client:
    client = Client()
    client.force_login(other_annotator)
    return client


def test_every_detail_route_has_a_case():
    assert detail_route_names() == {
        "donation-detail",
        "task-submit",
        "task-skip",
        "task-renew",
        "label-revise",
        "crop-image",
        "crop-context",
    }


def test_another_token_cannot_see_a_donation(client, owned):
    _, other_raw = service_token_create(name="someone-else")
    response = client.get(
        f"/api/v1/donations/{owned['donation'].pk}/", HTTP_AUTHORIZATION=f"Bearer {other_raw}"
    )
    assert response.status_code == 404
    assert str(owned["donation"].pk) not in response.content.decode()


def test_another_token_cannot_withdraw_a_donation(client, owned):
    other, other_raw = service_token_create(name="someone-else")
    ServiceToken.objects.filter(pk=other.pk).update(scopes=["ingest", "withdraw"])
    donation = owned["donation"]

    response = client.delete(
        f"/api/v1/donations/{donation.pk}/", HTTP_AUTHORIZATION=f"Bearer {other_raw}"
    )

    assert response.status_code == 404
    donation.refresh_from_db()
    assert donation.status == DonationStatus.READY


def test_withdrawing_needs_the_withdraw_scope(client, owned, service_token):
    response = client.delete(
        f"/api/v1/donations/{owned['donation'].pk}/",
        HTTP_AUTHORIZATION=f"Bearer {service_token.raw}",
    )
    assert response.status_code == 403
    assert "'withdraw' scope" in response.json()["detail"]


def test_an_annotator_cannot_see_a_donation(other_annotator, owned):
    response = b_client(other_annotator).get(f"/api/v1/donations/{owned['donation'].pk}/")
    assert response.status_code == 404


def test_another_annotator_gets_404_for_crops_held_or_labeled_by_someone(other_annotator, owned):
    client = b_client(other_annotator)
    for crop in (owned["held"], owned["label"].crop):
        for what in ("image", "context"):
            response = client.get(f"/api/v1/crops/{crop.pk}/{what}")
            assert response.status_code == 404
            assert response["Content-Type"] == "application/json"


def test_another_annotator_gets_404_revising_someones_label(other_annotator, owned):
    label = owned["label"]
    response = b_client(other_annotator).post(
        f"/api/v1/labels/{label.pk}/revise/", {"text": "stolen"}, content_type="application/json"
    )
    assert response.status_code == 404
    assert not Label.objects.filter(revises=label).exists()


def test_someone_elses_lease_is_neither_taken_nor_revealed(other_annotator, owned, annotator):
    """Tasks are slots of one shared queue, not anyone's data: a task held by someone else
    answers 409 (the protocol the annotator page relies on when its own lease ran out)
    with no content, and stays theirs."""
    client = b_client(other_annotator)
    task = owned["held_task"]

    submit = client.post(
        f"/api/v1/tasks/{task.pk}/submit/", {"text": "x"}, content_type="application/json"
    )
    renew = client.post(f"/api/v1/tasks/{task.pk}/renew/")
    skip = client.post(f"/api/v1/tasks/{task.pk}/skip/")

    assert (submit.status_code, renew.status_code, skip.status_code) == (409, 409, 204)
    assert "crop" not in submit.json()
    assert "crop" not in renew.json()
    task.refresh_from_db()
    assert task.leased_to_id == annotator.pk
    assert not Label.objects.filter(task=task).exists()


def test_unknown_ids_are_404_too(other_annotator, db):
    client = b_client(other_annotator)
    assert client.get("/api/v1/crops/999999/image").status_code == 404
    assert client.post("/api/v1/tasks/999999/renew/").status_code == 404
    assert client.post("/api/v1/labels/999999/revise/", {"text": "x"}).status_code == 404
