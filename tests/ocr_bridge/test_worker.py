"""End to end: the API, the real Redis broker and a real Celery worker process."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from annotations.models import Donation, DonationStatus
from annotations.services import service_token_create
from dropturk.celery import app as celery_app
from tests.conftest import TEST_MASTER_KEY
from tests.factories import synthetic_document_png

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker_process(redis_url, transactional_db, tmp_path):
    """``celery worker`` in its own process, on the test database and this test's blob folder."""
    if connection.vendor != "postgresql":
        pytest.skip("a worker process shares the database only through a server (PostgreSQL)")
    celery_app.control.purge()  # messages other tests enqueued must not run here
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": redis_url,
        "DROPTURK_DATA_DIR": str(tmp_path),  # blobs in tmp_path/blobs, as the test's storage
        "DROPTURK_MASTER_KEY": TEST_MASTER_KEY,
        "DJANGO_SECRET_KEY": "worker-test",
    }
    log = tmp_path / "worker.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "dropturk",
                "worker",
                "-Q",
                "ocr,default",
                "--pool",
                "solo",
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=REPO,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
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
