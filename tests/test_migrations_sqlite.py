"""Migrations on the embedded SQLite that `make run` uses, not only on PostgreSQL.

The suite itself runs on PostgreSQL, so SQL that only PostgreSQL speaks in a migration
would pass every other test and still break `make run` on a fresh machine. These run the
migrations in a child process configured for a scratch SQLite file.
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


def _run_on_sqlite(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_SETTINGS")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'dropturk.sqlite3'}",
        DROPTURK_DATA_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="dropturk.settings",
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
