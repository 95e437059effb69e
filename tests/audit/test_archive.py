"""Retention: archived events leave the table only behind a verified, signed, chained file."""

import gzip
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

import audit
from audit import anchors, archive, chain
from audit.models import AuditArchive, AuditEvent


def _record(n: int, *, days_ago: float = 0) -> None:
    for i in range(n):
        event = audit.record(actor=None, action="ocr_bridge.document_read", target_id=f"d{i}")
        if days_ago:
            _backdate(event, days_ago)


def _backdate(event: AuditEvent, days_ago: float) -> None:
    """Events are written 'now'; make one look old (its hash follows, before sealing)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        event.occurred_at = timezone.now() - timedelta(days=days_ago)
        cursor.execute(
            "UPDATE audit_auditevent SET occurred_at = %s, content_hash = %s WHERE id = %s",
            [event.occurred_at, chain.content_hash(event), event.pk],
        )


def test_old_events_move_to_a_verified_archive_and_the_chain_goes_on(db, audit_storage):
    _record(5, days_ago=40)
    _record(3)

    created = archive.archive_older_than(timedelta(days=30))

    assert [(item.first_seq, item.last_seq, item.events) for item in created] == [(1, 5, 5)]
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == [6, 7, 8]
    assert (audit_storage / created[0].file_name).exists()
    report = chain.verify()
    assert report.ok, report.problems
    assert (report.archived, report.checked) == (5, 3)

    # Later archives chain to the earlier file; the chain keeps verifying across both.
    _record(2)
    more = archive.archive_older_than(timedelta(days=0))
    assert [(item.first_seq, item.last_seq) for item in more] == [(6, 10)]
    assert more[0].prev_file_sha256 == created[0].file_sha256
    assert not AuditEvent.objects.exists()
    _record(1)
    chain.seal()
    assert AuditEvent.objects.get().seq == 11
    assert chain.verify().ok


def test_the_archive_file_holds_signed_events_with_their_hashes(db, audit_storage):
    _record(3)
    [item] = archive.archive_older_than(timedelta(days=0))

    lines = gzip.decompress((audit_storage / item.file_name).read_bytes()).splitlines()
    header, events, footer = json.loads(lines[0]), lines[1:-1], json.loads(lines[-1])
    assert header["first_seq"] == 1
    assert header["last_seq"] == 3
    assert [json.loads(line)["seq"] for line in events] == [1, 2, 3]
    assert set(json.loads(events[0])) >= {"content_hash", "chain_hash", "prev_hash", "action"}
    assert len(footer["signature"]) == 64


@pytest.mark.parametrize("damage", ["edit", "remove"])
def test_a_damaged_or_missing_archive_is_named(db, audit_storage, damage):
    _record(3)
    [item] = archive.archive_older_than(timedelta(days=0))
    path = audit_storage / item.file_name
    path.chmod(0o600)
    if damage == "edit":
        body = gzip.decompress(path.read_bytes()).replace(b"d1", b"d9")
        path.write_bytes(gzip.compress(body))
    else:
        path.unlink()

    report = chain.verify()

    expected = "was changed" if damage == "edit" else "is missing"
    assert expected in str(report.problems[0])


def test_archives_signed_with_another_key_are_refused_until_it_is_a_fallback(db, settings):
    _record(2)
    [item] = archive.archive_older_than(timedelta(days=0))
    signing_key = settings.SECRET_KEY

    settings.SECRET_KEY = "a different key, so the file's HMAC no longer matches"
    assert "bad signature" in str(archive.verify_file(item))

    settings.SECRET_KEY_FALLBACKS = [signing_key]  # a rotated key still verifies old files
    assert archive.verify_file(item) is None


def test_nothing_is_archived_or_removed_when_the_chain_is_broken(db):
    _record(3, days_ago=40)
    chain.seal()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE audit_auditevent SET actor_label = 'x' WHERE seq = 2")

    with pytest.raises(archive.ArchiveError, match="does not verify"):
        archive.archive_older_than(timedelta(days=30))
    assert AuditEvent.objects.count() == 3
    assert not AuditArchive.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_only_archived_events_can_be_deleted(db):
    from django.db import DatabaseError, transaction

    _record(2)
    chain.seal()
    with pytest.raises(DatabaseError, match="not archived"), transaction.atomic():
        AuditEvent.objects.filter(seq=1).delete()
    archive.archive_older_than(timedelta(days=0))  # deletes through the same trigger
    assert not AuditEvent.objects.exists()


def test_anchors_inside_archived_ranges_still_check(db):
    _record(3)
    chain.seal()
    anchors.write_anchor()
    archive.archive_older_than(timedelta(days=0))
    assert chain.verify(anchors=anchors.read_anchors()).ok


def test_archive_command(db):
    _record(2, days_ago=10)
    out = StringIO()
    call_command("audit_archive", "--older-than-days", "5", stdout=out)
    assert "archived seq 1-2" in out.getvalue()
    assert not AuditEvent.objects.exists()
