"""seed_demo gives every role work to see at once (issue 20)."""

import io

import pytest
from django.core.management import call_command

from annotations.models import Task, TaskStatus
from audit.models import AuditEvent, Outcome
from exports.models import Export, ExportStatus
from ocr_bridge.models import ModelVersion
from quality.models import AnnotatorStats, DetectorFeedback, QueueSnapshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_reaches_every_roles_work_and_prints_every_account():
    out = io.StringIO()

    call_command("seed_demo", stdout=out)

    printed = out.getvalue()
    for username in ("annotator", "annotator2", "annotator3", "reviewer", "mlengineer", "admin"):
        assert f"  {username} " in printed
    # the reviewer has disputed crops; the annotator has crops waiting
    assert Task.objects.filter(status=TaskStatus.REVIEW).count() >= 5
    assert Task.objects.filter(status=TaskStatus.OPEN, labels__isnull=True).exists()
    # the quality page has statistics (median seconds not 0)
    stats = list(AnnotatorStats.objects.all())
    assert len(stats) >= 2
    assert all(row.median_ms and row.median_ms > 1000 for row in stats)
    assert QueueSnapshot.objects.exists()
    # the detector feedback page has crops the annotators agreed are bad
    assert DetectorFeedback.objects.count() >= 2
    # the ML engineer has an export and a model history with a better and a worse child
    assert Export.objects.filter(status=ExportStatus.DONE).exists()
    names = set(ModelVersion.objects.values_list("name", flat=True))
    assert {"demo-better", "demo-worse"} <= names
    # the audit trail has failures to filter, of accounts that are not the demo's
    failed = AuditEvent.objects.filter(outcome=Outcome.FAILURE, action="accounts.sign_in_failed")
    assert failed.count() >= 3
    assert not {event.data["username"] for event in failed} & {"annotator", "admin", "reviewer"}

    again = io.StringIO()
    call_command("seed_demo", stdout=again)
    assert "exist already" in again.getvalue()
    assert "  annotator " in again.getvalue()
