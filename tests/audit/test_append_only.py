"""On PostgreSQL the app's database role can only add to the trail (and seal it).

The test switches to a role set up the way README's "Audit trail" section says the app
runs in production: full DML on the tables, but not their owner.
"""

import pytest
from django.db import DatabaseError, connection, transaction

import audit
from audit import chain
from audit.models import AuditArchive, AuditEvent

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only triggers are PostgreSQL's"
)

APP_ROLE = "dropturk_audit_test_app"


@pytest.fixture
def as_app_role(db):
    """Inside the test's transaction (rolled back, role included): act as the app's role."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {APP_ROLE} NOLOGIN")
        cursor.execute(
            "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE "
            f"ON audit_auditevent, audit_auditarchive TO {APP_ROLE}"
        )
        cursor.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
        cursor.execute(f"SET LOCAL ROLE {APP_ROLE}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")


def _refused(statement: str, params=()) -> str:
    with (
        pytest.raises(DatabaseError) as refusal,
        transaction.atomic(),  # a savepoint: the test's transaction goes on
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, params)
    return str(refusal.value)


def test_the_app_role_can_write_and_seal(as_app_role):
    audit.record(actor=None, action="ocr_bridge.document_read", target_id="d1")
    audit.record(actor=None, action="ocr_bridge.document_read", target_id="d2")

    assert chain.seal() == 2
    assert chain.verify().ok


def test_the_app_role_cannot_change_remove_or_truncate(as_app_role):
    event = audit.record(actor=None, action="ocr_bridge.document_read", target_id="d1")
    chain.seal()

    assert "append-only" in _refused(
        "UPDATE audit_auditevent SET actor_label = 'x' WHERE id = %s", [event.pk]
    )
    assert "append-only" in _refused(
        "UPDATE audit_auditevent SET chain_hash = %s WHERE id = %s", ["0" * 64, event.pk]
    )
    assert "not archived" in _refused("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    assert "cannot be truncated" in _refused("TRUNCATE audit_auditevent")
    assert "must be owner" in _refused(
        "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_guard"
    )
    assert "permission denied" in _refused("SET session_replication_role = replica")
    assert AuditEvent.objects.get(pk=event.pk).actor_label == "system"


def test_an_unsealed_event_cannot_be_edited_on_its_way_to_the_chain(as_app_role):
    event = audit.record(actor=None, action="ocr_bridge.document_read", target_id="d1")

    message = _refused(
        "UPDATE audit_auditevent SET seq = 1, prev_hash = '', chain_hash = %s, "
        "target_id = 'other' WHERE id = %s",
        ["0" * 64, event.pk],
    )
    assert "append-only" in message


def test_archive_records_cannot_be_changed(as_app_role):
    archive = AuditArchive.objects.create(
        first_seq=1,
        last_seq=1,
        prev_hash="",
        last_chain_hash="0" * 64,
        events=1,
        file_name="archives/x.jsonl.gz",
        file_sha256="0" * 64,
    )
    assert "cannot be changed" in _refused(
        "UPDATE audit_auditarchive SET last_seq = 9 WHERE id = %s", [archive.pk]
    )
    assert "cannot be changed" in _refused(
        "DELETE FROM audit_auditarchive WHERE id = %s", [archive.pk]
    )
