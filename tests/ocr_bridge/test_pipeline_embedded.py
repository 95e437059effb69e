"""The pipeline on the embedded default `make run` uses: SQLite, the filesystem broker and
the local blob folder, with a real Celery worker process.

The suite runs on PostgreSQL and Redis; this runs in a child process configured as a
fresh laptop is (no DATABASE_URL, no REDIS_URL), so that a step only PostgreSQL or
Redis can do would fail here.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Uploads a receipt through the API, lets a worker on the filesystem broker read it, and
# prints what the donation became and its page text.
SCRIPT = r"""
import json, subprocess, sys, time
import django
django.setup()
from django.core.management import call_command
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from annotations.models import Donation
from annotations.services import service_token_create
from tests.factories import synthetic_document_png

call_command("migrate", verbosity=0)
_, raw = service_token_create(name="laptop")
client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
worker = subprocess.Popen(
    [sys.executable, "-m", "celery", "-A", "dropturk", "worker", "-Q", "ocr,default",
     "--pool", "solo", "--without-gossip", "--without-mingle", "-l", "WARNING"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
try:
    png = synthetic_document_png(kind="receipt", seed=21)
    response = client.post("/api/v1/donations/", {
        "image": SimpleUploadedFile("r.png", png, "image/png"), "kind": "receipt"})
    assert response.status_code == 201, response.content
    donation_id = response.json()["id"]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        donation = Donation.objects.get(pk=donation_id)
        if donation.status in ("ready", "failed"):
            break
        time.sleep(0.25)
    text = client.get(f"/api/v1/donations/{donation_id}/text")
    crops = list(donation.crops.values_list("line", "decision", "detector_version"))
    print(json.dumps({
        "status": donation.status,
        "reason": donation.failure_reason,
        "crops": len(crops),
        "lines_on_crops": len({line for line, _, _ in crops}),
        "decisions": sorted({decision for _, decision, _ in crops}),
        "text_status": text.status_code,
        "text_lines": len(text.json().get("lines", [])) if text.status_code == 200 else 0,
    }))
finally:
    worker.terminate()
    worker.wait(timeout=60)
"""


def test_an_upload_is_read_into_crops_and_text_on_sqlite_and_the_filesystem_broker(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DJANGO_SETTINGS") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        DROPTURK_DATA_DIR=str(tmp_path),
        DROPTURK_SECRETS_DIR=str(tmp_path / "secrets"),
        DJANGO_SETTINGS_MODULE="dropturk.settings",
        DJANGO_DEBUG="1",
        DROPTURK_MASTER_KEY=os.environ.get("DROPTURK_MASTER_KEY", "A" * 43 + "="),
        LOG_LEVEL="WARNING",
    )
    done = subprocess.run(  # noqa: S603  our own interpreter and arguments
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "ready", result["reason"]
    assert result["crops"] >= 5
    assert result["lines_on_crops"] >= 3
    assert result["decisions"]
    assert "" not in result["decisions"]
    assert result["text_status"] == 200
    assert result["text_lines"] >= 3
    # Nothing but the database, the broker's folders and ciphertext under the data folder.
    blobs = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert blobs
    assert all(p.name.endswith(".enc") for p in blobs)
