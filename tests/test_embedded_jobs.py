"""Every job `make run` offers, through HTTP, against the server `make run` starts.

The embedded default (SQLite, the local encrypted blob folder, the filesystem broker), the
real web server process and a real Celery worker: ``tests/live_server.py``. One flow, in
the order a new installation lives it: a donation arrives and is read by the worker;
two annotators lease, look, submit (with the page's client_key), skip, renew, undo; the
crops' consensus decides; a reviewer settles a disagreement and makes it gold; an ML
engineer exports and downloads, retrains for a few steps and promotes; the admin reads
the audit pages and ``audit_verify`` passes; the donation service withdraws.
"""

import io
import json
import tarfile
import time
import uuid

import pytest

from exports.selectors import split_of
from ocr_bridge.selectors import FROZEN_SPLIT
from tests.factories import synthetic_document_png
from tests.live_server import reauthenticate

API = "/api/v1"


@pytest.fixture(scope="module")
def server(embedded_server):
    return embedded_server


def wait_json(server, client, path, *, until, timeout=90.0, what=""):
    """GETs ``path`` until ``until(body)`` holds; the body."""

    def ready():
        answer = client.get(server.url(path), timeout=30)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        body = answer.json()
        return body if until(body) else None

    return server.wait_for(ready, timeout=timeout, what=what or path)


def submit(server, client, task_id, text, **fields):
    label = {"text": text, "client_key": str(uuid.uuid4()), "elapsed_ms": 1200, **fields}
    return client.post(server.url(f"{API}/tasks/{task_id}/submit/"), json=label, timeout=30)


def send_learnable_page(server, donor) -> str:
    """Sends a page the retraining below may learn from: the frozen test split (a stable
    hash of the server's random donation id, one page in ten) is never trained on, so a
    page that lands there is withdrawn and another sent."""
    for _ in range(20):
        sent = donor.post(
            server.url(f"{API}/donations/"),
            files={"image": ("page.png", synthetic_document_png(kind="receipt", seed=3))},
            data={"kind": "receipt"},
            timeout=60,
        )
        assert sent.status_code == 201, sent.text
        donation_id = sent.json()["id"]
        if split_of(uuid.UUID(donation_id)) != FROZEN_SPLIT:
            return donation_id
        gone = donor.delete(server.url(f"{API}/donations/{donation_id}/"), timeout=30)
        assert gone.status_code == 204, gone.text
    raise AssertionError("twenty pages in a row landed in the frozen test split")


def test_every_job_make_run_offers_works_through_http(server):
    started = time.monotonic()
    roles = {
        "ann": ["annotator"],
        "bob": ["annotator"],
        "rev": ["reviewer", "annotator"],
        "ml": ["ml_engineer"],
        "boss": ["admin"],
    }
    people = {name: server.create_person(name, roles=r) for name, r in roles.items()}
    server.django(
        "from quality.models import QualitySettings\n"
        "QualitySettings.objects.update_or_create(pk=1, defaults=dict(k_low=2, k_high=2,"
        " max_labels=2, audit_sample_rate=0.0, gold_rate=0.0))\n"
    )

    # The donation service sends a page; the worker reads it into crops.
    token = server.service_token("donor", scopes=("ingest", "withdraw"))
    donor = server._client()
    donor.headers["Authorization"] = f"Bearer {token}"
    donation_id = send_learnable_page(server, donor)
    donation = wait_json(
        server,
        donor,
        f"{API}/donations/{donation_id}/",
        until=lambda body: body["status"] in ("ready", "failed"),
        what="the donation to be read",
    )
    assert donation["status"] == "ready", donation
    assert len(donation["crops"]) >= 3

    # An annotator signs in (password, then TOTP) and works as the page does.
    ann = server.sign_in(people["ann"])
    assert ann.get(server.url("/label/"), timeout=30).status_code == 200
    leased = ann.post(server.url(f"{API}/tasks/next/?count=3"), timeout=30)
    assert leased.status_code == 200, leased.text
    first, second, third = leased.json()["tasks"]
    image = ann.get(server.url(first["image_url"]), timeout=30)
    assert image.status_code == 200
    assert image.content.startswith(b"\x89PNG")
    label = {"text": "TOTAL", "client_key": str(uuid.uuid4()), "elapsed_ms": 900}
    stored = ann.post(server.url(f"{API}/tasks/{first['id']}/submit/"), json=label, timeout=30)
    assert stored.status_code == 201, stored.text
    replayed = ann.post(server.url(f"{API}/tasks/{first['id']}/submit/"), json=label, timeout=30)
    assert (replayed.status_code, replayed.json()["id"]) == (201, stored.json()["id"])
    assert ann.post(server.url(f"{API}/tasks/{second['id']}/skip/"), timeout=30).status_code == 204
    renewed = ann.post(server.url(f"{API}/tasks/{third['id']}/renew/"), timeout=30)
    assert renewed.status_code == 200, renewed.text
    assert submit(server, ann, third["id"], "AMOUNT").status_code == 201

    # Undo: the annotator corrects their first label.
    mine = ann.get(server.url(f"{API}/labels/mine/"), timeout=30).json()["labels"]
    assert {item["id"] for item in mine} >= {stored.json()["id"]}
    revised = ann.post(
        server.url(f"{API}/labels/{stored.json()['id']}/revise/"),
        json={"text": "TOTAL:", "client_key": str(uuid.uuid4())},
        timeout=30,
    )
    assert revised.status_code == 201, revised.text

    # A second annotator: a task someone else holds is refused with 409, not a 500.
    bob = server.session("bob")
    held = ann.post(server.url(f"{API}/tasks/next/"), timeout=30).json()["tasks"][0]
    assert submit(server, bob, held["id"], "X").status_code == 409
    # The begun crops come first: bob agrees on one and disagrees on the other.
    begun = bob.post(server.url(f"{API}/tasks/next/?count=2"), timeout=30).json()["tasks"]
    assert {task["id"] for task in begun} == {first["id"], third["id"]}
    assert submit(server, bob, first["id"], "TOTAL:").status_code == 201
    assert submit(server, bob, third["id"], "AMOUNT DUE").status_code == 201

    # The reviewer settles the disagreement and makes the answer a gold item.
    rev = server.session("rev")
    assert rev.get(server.url("/review/"), timeout=30).status_code == 200
    item = rev.post(server.url(f"{API}/review/next/"), timeout=30)
    assert item.status_code == 200, item.text
    crop_id = item.json()["crop_id"]
    decided = rev.post(
        server.url(f"{API}/review/{crop_id}/decide/"),
        json={"decision": "fix", "text": "AMOUNT", "gold": True},
        timeout=30,
    )
    assert decided.status_code == 200, decided.text
    gold = server.django(
        "from quality.models import GoldItem\n"
        "print(list(GoldItem.objects.values_list('crop_id', 'text')))\n"
    )
    assert gold.strip() == f"[({crop_id}, 'AMOUNT')]"

    # The ML engineer exports the accepted labels and downloads the archive.
    ml = server.session("ml")
    requested = ml.post(server.url(f"{API}/exports/"), json={"format": "jsonl"}, timeout=30)
    assert requested.status_code == 201, requested.text
    export_id = requested.json()["id"]
    export = wait_json(
        server,
        ml,
        f"{API}/exports/{export_id}/",
        until=lambda body: body["status"] in ("done", "failed"),
        what="the export",
    )
    assert export["status"] == "done", export
    reauthenticate(server, ml, people["ml"])
    download = ml.get(server.url(f"{API}/exports/{export_id}/download"), timeout=60)
    assert download.status_code == 200, download.text[:300]
    with tarfile.open(fileobj=io.BytesIO(download.content)) as archive:
        assert archive.getnames()

    # ... retrains for a few steps, and promotes the new version.
    retrain = ml.post(
        server.url(f"{API}/models/retrain/"),
        json={"options": {"steps": 3, "batch_size": 4, "threads": 1}},
        timeout=30,
    )
    assert retrain.status_code == 202, retrain.text
    version_id = retrain.json()["id"]

    def trained(models):
        rows = models if isinstance(models, list) else models.get("models", models.get("results"))
        row = next(row for row in rows if row["id"] == version_id)
        return row["status"] not in ("queued", "training", "evaluating")

    models = wait_json(server, ml, f"{API}/models/", until=trained, timeout=180, what="retrain")
    reauthenticate(server, ml, people["ml"])
    promoted = ml.post(server.url(f"{API}/models/{version_id}/promote/"), timeout=30)
    row = next(row for row in models if row["id"] == version_id)  # the list, newest first
    assert row["status"] == "ready", (row["status"], row.get("reason"))
    assert promoted.status_code == 200, (promoted.text, json.dumps(models)[:2000])
    assert promoted.json()["status"] == "active"

    # The admin reads the audit trail; audit_verify finds it whole.
    boss = server.session("boss")
    events = boss.get(server.url("/audit/"), timeout=30)
    assert events.status_code == 200
    assert "label_submit" in events.text or "Label" in events.text
    assert boss.get(server.url("/audit/export.csv"), timeout=30).status_code == 200
    verified = server.manage("audit_verify", check=False)
    assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]

    # The donation service withdraws the page: its crops are gone for everyone.
    withdrawn = donor.delete(server.url(f"{API}/donations/{donation_id}/"), timeout=30)
    assert withdrawn.status_code == 204, withdrawn.text
    after = donor.get(server.url(f"{API}/donations/{donation_id}/"), timeout=30).json()
    assert after["status"] == "withdrawn"
    assert ann.get(server.url(first["image_url"]), timeout=30).status_code == 404

    # The filesystem broker keeps its exchange tables under the data folder.
    assert (server.data_dir / "broker" / "control").is_dir()
    assert time.monotonic() - started < 300
