"""End to end through a real Celery worker consuming from the real Redis broker."""

import time

import pytest
from celery.contrib.testing.worker import start_worker

from annotations.models import Donation, DonationStatus
from dropturk.celery import app as celery_app
from tests.factories import synthetic_document_png


@pytest.fixture
def worker(redis_url, transactional_db):
    assert celery_app.conf.broker_url.startswith("redis://"), celery_app.conf.broker_url
    celery_app.control.purge()  # messages other tests enqueued must not run here
    with start_worker(
        celery_app,
        pool="solo",
        concurrency=1,
        perform_ping_check=False,
        loglevel="WARNING",
        queues=["ocr", "default"],
        shutdown_timeout=30,
    ) as running:
        yield running


def test_posted_document_reaches_ready_through_the_worker(worker, client):
    from annotations.services import service_token_create

    _, raw = service_token_create(name="e2e")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(
        "r.png", synthetic_document_png(kind="receipt", seed=11), "image/png"
    )
    response = client.post("/api/v1/donations/", {"image": upload, "kind": "receipt"})
    assert response.status_code == 201
    donation_id = response.json()["id"]

    deadline = time.monotonic() + 90
    status = None
    while time.monotonic() < deadline:
        status = Donation.objects.get(pk=donation_id).status
        if status in (DonationStatus.READY, DonationStatus.FAILED):
            break
        time.sleep(0.2)  # polling a status the worker changes; nothing to wait on instead
    detail = client.get(f"/api/v1/donations/{donation_id}/").json()
    assert status == DonationStatus.READY, detail.get("failure_reason")
    assert len(detail["crops"]) >= 5
    assert any(crop["prefill_text"] for crop in detail["crops"])
    assert {crop["prefill_engine"] for crop in detail["crops"]} == {"tesseract"}
