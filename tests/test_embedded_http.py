"""The annotator's loop through the app's HTTP handler on the embedded SQLite (`make run`).

The suite runs on PostgreSQL; these run in a child process configured for a scratch SQLite
file, as ``tests/test_embedded_sqlite.py`` does, and send what the label page sends (a
``client_key`` with every label). ``tests/test_embedded_jobs.py`` drives every job through
a real server; these pin the answers that once were 500s.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Two annotators; prints one "name status" line per request.
LOOP_SCRIPT = r"""
import json, uuid
import django
django.setup()
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from annotations import roles
from annotations.models import Donation, Task, WordCrop
from quality.models import QualitySettings
from tests.factories import sign_in_with_mfa

call_command("migrate", verbosity=0)
QualitySettings.objects.create(k_low=1, k_high=1, audit_sample_rate=0.0, gold_rate=0.0)
donation = Donation.objects.create(kind="receipt", master_key_id="k", image_name="i",
                                   image_format="png", width=10, height=10)
for index in range(3):
    crop = WordCrop.objects.create(donation=donation, index=index, x=0, y=0, width=1,
                                   height=1, image_name=f"c{index}", prefill_text="TOTAL",
                                   prefill_confidence=0.5)
    Task.objects.create(crop=crop, confidence=0.5, labels_needed=1)

def client_for(name):
    user = User.objects.create(username=name)
    user.groups.add(Group.objects.get(name=roles.ANNOTATOR))
    client = Client(raise_request_exception=False)
    sign_in_with_mfa(client, user)
    return client

ann, bob = client_for("ann"), client_for("bob")

def post(client, path, body=None):
    return client.post(path, json.dumps(body or {}), content_type="application/json")

def show(name, response):
    print(name, response.status_code)

lease = post(ann, "/api/v1/tasks/next/")
show("lease", lease)
task = lease.json()["tasks"][0]
key = str(uuid.uuid4())
label = {"text": "TOTAL", "client_key": key, "elapsed_ms": 900}
show("submit", post(ann, f"/api/v1/tasks/{task['id']}/submit/", label))
show("replay", post(ann, f"/api/v1/tasks/{task['id']}/submit/", label))
held = post(ann, "/api/v1/tasks/next/").json()["tasks"][0]
other = {"text": "TOTAL", "client_key": str(uuid.uuid4())}
show("submit-held-by-other", post(bob, f"/api/v1/tasks/{held['id']}/submit/", other))
show("renew-held-by-other", post(bob, f"/api/v1/tasks/{held['id']}/renew/"))
big = 2**64
show("image-huge-id", ann.get(f"/api/v1/crops/{big}/image"))
show("submit-huge-id", post(ann, f"/api/v1/tasks/{big}/submit/", other))
show("skip-huge-id", post(ann, f"/api/v1/tasks/{big}/skip/"))
show("revise-huge-id", post(ann, f"/api/v1/labels/{big}/revise/", other))
show("image-max-id", ann.get(f"/api/v1/crops/{2**63 - 1}/image"))
"""


def _run_on_sqlite(tmp_path: Path, script: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_SETTINGS")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'dropturk.sqlite3'}",
        DROPTURK_DATA_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="dropturk.settings",
        DROPTURK_MASTER_KEY=os.environ.get("DROPTURK_MASTER_KEY", "A" * 43 + "="),
        REDIS_URL="",
    )
    return subprocess.run(  # noqa: S603  our own interpreter and arguments
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_label_pages_requests_answer_as_on_postgresql(tmp_path):
    # Given two annotators on the embedded SQLite, when they lease and submit as the page
    # does (client_key, a task the other holds, ids past what the database holds)
    done = _run_on_sqlite(tmp_path, LOOP_SCRIPT)
    assert done.returncode == 0, done.stderr[-4000:]
    answers = dict(line.split() for line in done.stdout.splitlines() if line.strip())
    # then each answer is the one PostgreSQL gives, never a 500
    assert answers == {
        "lease": "200",
        "submit": "201",
        "replay": "201",
        "submit-held-by-other": "409",
        "renew-held-by-other": "409",
        "image-huge-id": "404",
        "submit-huge-id": "404",
        "skip-huge-id": "404",
        "revise-huge-id": "404",
        "image-max-id": "404",
    }, json.dumps(answers)
