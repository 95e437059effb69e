"""End to end: the API, the real Redis broker and a real Celery worker process."""

import time

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.models import Donation, DonationStatus
from annotations.services import service_token_create
from tests.factories import synthetic_document_png
from tests.ocr_bridge.conftest import start_worker


@pytest.fixture
def worker_process(redis_url, transactional_db, tmp_path):
    """``celery worker`` in its own process, on the test database and this test's blob folder."""
    process, log = start_worker(redis_url, tmp_path, queues="ocr,default")
    try:
        yield log
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_posted_document_reaches_ready_through_a_worker_process(worker_process, client):
    _, raw = service_token_create(name="e2e")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
    png = synthetic_document_png(kind="receipt", seed=11)

    response = client.post(
        "/api/v1/donations/",
        {"image": SimpleUploadedFile("r.png", png, "image/png"), "kind": "receipt"},
    )
    assert response.status_code == 201
    donation_id = response.json()["id"]

    deadline = time.monotonic() + 120
    status = None
    while time.monotonic() < deadline:
        status = Donation.objects.get(pk=donation_id).status
        if status in (DonationStatus.READY, DonationStatus.FAILED):
            break
        time.sleep(0.25)  # the worker changes the row; there is nothing to block on instead
    detail = client.get(f"/api/v1/donations/{donation_id}/").json()
    assert status == DonationStatus.READY, (
        detail.get("failure_reason"),
        worker_process.read_text()[-3000:],
    )
    assert len(detail["crops"]) >= 5
    assert any(crop["prefill_text"] for crop in detail["crops"])
    assert {crop["prefill_engine"] for crop in detail["crops"]} == {settings.OCR_ENGINE}
