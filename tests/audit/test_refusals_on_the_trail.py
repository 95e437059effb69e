"""Refusals are on the trail: a refused upload, a denied crop (or line context) read, and
a flood of fake service tokens from one address counted in one event per minute."""

import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent, Outcome
from tests import factories


def test_a_refused_upload_is_a_failure_on_the_trail(service_client):
    upload = SimpleUploadedFile("x.png", b"not an image at all", content_type="image/png")

    response = service_client.post("/api/v1/donations/", {"image": upload, "kind": "receipt"})

    assert response.status_code == 400
    event = AuditEvent.objects.get(action="annotations.donation_rejected")
    assert event.outcome == Outcome.FAILURE
    assert event.actor_type == "service"
    assert "not an image we accept" in event.data["reason"]


def test_a_denied_crop_read_is_on_the_trail(annotator_client, annotator, service_token):
    # Given a crop nobody leased to this annotator
    donation = factories.make_ready_donation(source=service_token, confidences=[0.5])
    crop = donation.crops.get()

    response = annotator_client.get(f"/api/v1/crops/{crop.pk}/image")

    assert response.status_code == 404
    event = AuditEvent.objects.get(action="annotations.crop_image_denied")
    assert event.outcome == Outcome.DENIED
    assert event.target_id == str(crop.pk)
    assert event.actor_id == str(annotator.pk)


def test_a_denied_line_context_read_is_on_the_trail(annotator_client, annotator, service_token):
    # Given a crop nobody leased to this annotator
    donation = factories.make_ready_donation(source=service_token, confidences=[0.5])
    crop = donation.crops.get()

    response = annotator_client.get(f"/api/v1/crops/{crop.pk}/context")

    assert response.status_code == 404
    event = AuditEvent.objects.get(action="annotations.crop_context_denied")
    assert event.outcome == Outcome.DENIED
    assert event.target_id == str(crop.pk)
    assert event.actor_id == str(annotator.pk)
    assert not AuditEvent.objects.filter(action="annotations.crop_context_view").exists()


def test_fake_tokens_from_one_address_are_one_event_a_minute(client, db):
    fake = {"HTTP_AUTHORIZATION": "Bearer dt_" + "x" * 40, "REMOTE_ADDR": "203.0.113.7"}
    with time_machine.travel("2026-01-05 10:00:05Z", tick=False):
        answers = {client.get("/api/v1/labels/mine/", **fake).status_code for _ in range(150)}
    with time_machine.travel("2026-01-05 10:00:55Z", tick=False):
        for _ in range(150):
            client.get("/api/v1/labels/mine/", **fake)
    with time_machine.travel("2026-01-05 10:01:10Z", tick=False):
        client.get("/api/v1/labels/mine/", **fake)

    assert answers == {401}
    events = list(
        AuditEvent.objects.filter(action="annotations.service_token_refused").order_by("id")
    )
    assert len(events) == 2  # one for each minute, not 301
    assert all(event.outcome == Outcome.DENIED for event in events)
    assert all(event.ip_address == "203.0.113.7" for event in events)
    assert events[1].data["attempts_previous_minute"] == 300


def test_an_upload_over_the_size_limit_is_a_failure_on_the_trail(service_client, settings):
    settings.DONATION_MAX_BYTES = 2000
    upload = SimpleUploadedFile("big.png", b"x" * 5000, content_type="image/png")

    response = service_client.post("/api/v1/donations/", {"image": upload, "kind": "receipt"})

    assert response.status_code == 413
    event = AuditEvent.objects.get(action="annotations.donation_rejected")
    assert event.outcome == Outcome.FAILURE
    assert "limit" in event.data["reason"]
