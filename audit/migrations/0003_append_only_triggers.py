"""On PostgreSQL the audit tables become append-only for every role but their owner's TRUNCATE.

- An event may be UPDATEd once, by the sealer: from unsealed to sealed, changing only
  ``seq``, ``prev_hash`` and ``chain_hash``. Any other UPDATE is refused.
- An event may be DELETEd only if a verified archive covers it (retention).
- TRUNCATE is refused unless the caller owns the table (the owner can drop these triggers
  anyway; Django's test runner flushes tables with TRUNCATE as the owner). Run the app
  as a role that does not own the tables: see README, "Audit trail".
- Archive records can never be changed or removed.
"""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION audit_event_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.seq IS NULL AND NEW.seq IS NOT NULL
           AND NEW.id = OLD.id
           AND NEW.occurred_at = OLD.occurred_at
           AND NEW.actor_type = OLD.actor_type
           AND NEW.actor_id = OLD.actor_id
           AND NEW.actor_label = OLD.actor_label
           AND NEW.action = OLD.action
           AND NEW.target_type = OLD.target_type
           AND NEW.target_id = OLD.target_id
           AND NEW.outcome = OLD.outcome
           AND NEW.ip_address IS NOT DISTINCT FROM OLD.ip_address
           AND NEW.request_id = OLD.request_id
           AND NEW.data = OLD.data
           AND NEW.content_hash = OLD.content_hash THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'the audit trail is append-only: event % cannot be changed', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.seq IS NOT NULL
       AND OLD.seq <= (SELECT coalesce(max(last_seq), 0) FROM audit_auditarchive) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: event % is not archived and cannot be removed', OLD.id
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE FUNCTION audit_archive_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit archive records cannot be changed or removed'
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE FUNCTION audit_truncate_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit trail cannot be truncated'
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_event_guard BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_guard();
CREATE TRIGGER audit_event_truncate_guard BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_truncate_guard();
CREATE TRIGGER audit_archive_guard BEFORE UPDATE OR DELETE ON audit_auditarchive
    FOR EACH ROW EXECUTE FUNCTION audit_archive_guard();
CREATE TRIGGER audit_archive_truncate_guard BEFORE TRUNCATE ON audit_auditarchive
    FOR EACH STATEMENT EXECUTE FUNCTION audit_truncate_guard();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS audit_event_guard ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_event_truncate_guard ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_archive_guard ON audit_auditarchive;
DROP TRIGGER IF EXISTS audit_archive_truncate_guard ON audit_auditarchive;
DROP FUNCTION IF EXISTS audit_event_guard();
DROP FUNCTION IF EXISTS audit_archive_guard();
DROP FUNCTION IF EXISTS audit_truncate_guard();
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_chain_and_archives")]

    operations = [migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD))]
