"""The embedded SQLite that `make run` uses, not only PostgreSQL.

The suite itself runs on PostgreSQL, so SQL that only PostgreSQL speaks (in a migration,
or on the labeling path's hand-written statements) would pass every other test and still
break `make run` on a fresh machine. These run in a child process configured for a
scratch SQLite file.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Builds, at the migration state before the consensus backfill, done tasks with labels,
# then applies the backfill and prints each crop's consensus row.
BACKFILL_SCRIPT = r"""
import django
django.setup()
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

before = [("quality", "0001_initial"), ("annotations", "0006_quality_redundancy_gold")]
executor = MigrationExecutor(connection)
executor.migrate(before)
apps = MigrationExecutor(connection).loader.project_state(before).apps
User = apps.get_model("auth", "User")
Donation = apps.get_model("annotations", "Donation")
WordCrop = apps.get_model("annotations", "WordCrop")
Task = apps.get_model("annotations", "Task")
Label = apps.get_model("annotations", "Label")

ann, other = (User.objects.create(username=n) for n in ("ann", "bob"))
donation = Donation.objects.create(kind="receipt", master_key_id="k", image_name="i",
                                   image_format="png", width=10, height=10)

def crop(index, status):
    c = WordCrop.objects.create(donation=donation, index=index, x=0, y=0, width=1,
                                height=1, image_name=f"c{index}")
    return c, Task.objects.create(crop=c, status=status, labels_count=2)

def label(c, t, who, text, revises=None):
    return Label.objects.create(task=t, crop=c, annotator=who, text=text, revises=revises)

a, ta = crop(0, "done")            # two labels: the newer one counts
label(a, ta, ann, "old"); label(a, ta, other, "NEW")
b, tb = crop(1, "done")            # the newest was revised (undo): its revision counts
first = label(b, tb, ann, "TOTAL"); wrong = label(b, tb, other, "T0TAL")
label(b, tb, other, "TOTAL:", revises=wrong)
c, tc = crop(2, "open")            # not done: no consensus yet
label(c, tc, ann, "open")

MigrationExecutor(connection).migrate([("quality", "0002_backfill_consensus")])
with connection.cursor() as cursor:
    cursor.execute("SELECT crop_id, state, text, confidence FROM quality_cropconsensus "
                   "ORDER BY crop_id")
    for crop_id, state, text, confidence in cursor.fetchall():
        print(f"{crop_id - a.id}|{state}|{text}|{confidence}")
"""


# Two annotators label a crop that needs two labels, through the services the API calls.
LABELING_SCRIPT = r"""
import django
django.setup()
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from annotations import roles
from annotations.models import Donation, Task, WordCrop
from annotations.selectors import crop_get_for_viewer
from annotations.services import label_submit, task_lease_next
from quality.models import CropConsensus, QualitySettings

call_command("migrate", verbosity=0)
QualitySettings.objects.create(k_low=2, k_high=1, audit_sample_rate=0.0, gold_rate=0.0)
first, second = (User.objects.create(username=n) for n in ("ann", "bob"))
for person in (first, second):
    person.groups.add(Group.objects.get(name=roles.ANNOTATOR))
donation = Donation.objects.create(kind="receipt", master_key_id="k", image_name="i",
                                   image_format="png", width=10, height=10)
for index, confidence in enumerate((0.9, 0.1)):
    crop = WordCrop.objects.create(donation=donation, index=index, x=0, y=0, width=1,
                                   height=1, image_name=f"c{index}", prefill_text="TOTAL",
                                   prefill_confidence=confidence)
    k = 2 if confidence < 0.8 else 1
    Task.objects.create(crop=crop, confidence=confidence, labels_needed=k)

[lease] = task_lease_next(user=first)
label_submit(user=first, task_id=lease.id, text="TOTAL")
nxt = task_lease_next(user=first)
print("first", lease.prefill_confidence, [t.prefill_confidence for t in nxt])
[again] = task_lease_next(user=second)
seen = crop_get_for_viewer(user=second, crop_id=again.crop_id)
print("viewer", seen.donation.pk == donation.pk, seen.image_name,
      crop_get_for_viewer(user=second, crop_id=nxt[0].crop_id))
label_submit(user=second, task_id=again.id, text="TOTAL")
print("second", again.id == lease.id, Task.objects.get(pk=lease.id).status,
      CropConsensus.objects.get(crop_id=lease.crop_id).state)
"""


def _run_on_sqlite(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_SETTINGS")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'dropturk.sqlite3'}",
        DROPTURK_DATA_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="dropturk.settings",
        DROPTURK_MASTER_KEY=os.environ.get("DROPTURK_MASTER_KEY", "A" * 43 + "="),
    )
    return subprocess.run(  # noqa: S603  our own interpreter and arguments
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_every_migration_applies_to_a_fresh_sqlite_database(tmp_path):
    done = _run_on_sqlite(tmp_path, "manage.py", "migrate", "--noinput")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "quality.0002_backfill_consensus... OK" in done.stdout


def test_consensus_backfill_keeps_the_newest_current_label_of_done_tasks_on_sqlite(tmp_path):
    done = _run_on_sqlite(tmp_path, "-c", BACKFILL_SCRIPT)
    assert done.returncode == 0, done.stderr[-4000:]
    rows = done.stdout.split()
    assert rows == ["0|accepted|NEW|1.0", "1|accepted|TOTAL:|1.0"]


def test_leasing_and_submitting_work_on_sqlite(tmp_path):
    done = _run_on_sqlite(tmp_path, "-c", LABELING_SCRIPT)
    assert done.returncode == 0, done.stderr[-4000:]
    # The least confident crop first; after its first label the other crop (its labeler
    # may not give the second); the second person gets the begun crop, which is accepted
    # and the image route's read lets the holder, not the other, see a crop.
    assert done.stdout.splitlines() == [
        "first 0.1 [0.9]",
        "viewer True c1 None",
        "second True done accepted",
    ]
