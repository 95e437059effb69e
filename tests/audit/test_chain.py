"""The hash chain: sealing links every event once, and verification catches each kind of tampering.

Tampering is done the way an attacker with database access would: straight SQL, with the
append-only triggers switched off for the transaction (``session_replication_role``), as
only a superuser can.
"""

import hashlib
import itertools
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

import audit
from audit import anchors, chain
from audit.models import AuditEvent


def _record(n: int, *, actor=None) -> list[AuditEvent]:
    return [
        audit.record(actor=actor, action="ocr_bridge.document_read", target_id=f"d{i}")
        for i in range(n)
    ]


def _sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off
        cursor.execute(statement, params)


def _problem() -> str:
    report = chain.verify(anchors=anchors.read_anchors())
    assert not report.ok
    return str(report.problems[0])


@pytest.fixture
def sealed(db):
    _record(6)
    assert chain.seal() == 6
    return list(AuditEvent.objects.order_by("seq"))


def test_sealing_links_each_event_once_in_order(db):
    events = _record(5)
    assert AuditEvent.objects.filter(seq__isnull=True).count() == 5

    assert chain.seal() == 5
    assert chain.seal() == 0  # nothing left to seal

    sealed = list(AuditEvent.objects.order_by("seq"))
    assert [event.seq for event in sealed] == [1, 2, 3, 4, 5]
    assert [event.pk for event in sealed] == [event.pk for event in events]
    assert sealed[0].prev_hash == ""
    for before, after in itertools.pairwise(sealed):
        assert after.prev_hash == before.chain_hash
    report = chain.verify()
    assert report.ok
    assert report.checked == 5
    assert report.head_seq == 5


def test_events_recorded_later_continue_the_chain(sealed):
    _record(2)
    chain.seal()
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, 9)
    )
    assert chain.verify().ok


def test_content_hash_survives_the_database_round_trip(db, annotator):
    event = audit.record(
        actor=annotator,
        action="annotations.label_submit",
        target_id=7,
        data={"crop_id": 7, "ratio": 1e20, "nested": {"b": [1, 2.5], "a": None}},
        ip_address="2001:DB8::1",
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert chain.content_hash(stored) == event.content_hash
    assert stored.data["ratio"] == "1e+20"  # floats are kept as text: jsonb would reprint them


def test_personal_data_is_refused_in_details(db):
    with pytest.raises(ValueError, match="personal data"):
        audit.record(actor=None, action="annotations.label_submit", data={"text": "SECRET"})
    assert not AuditEvent.objects.exists()


def test_an_edited_event_is_named(sealed):
    _sql("UPDATE audit_auditevent SET actor_label = 'someone else' WHERE seq = 3")
    assert _problem().startswith(f"seq 3, event id {sealed[2].pk}: its content does not match")


def test_an_edited_hash_is_caught_by_the_next_link(sealed):
    forged = hashlib.sha256(b"forged").hexdigest()
    _sql("UPDATE audit_auditevent SET content_hash = %s WHERE seq = 3", [forged])
    assert "seq 3" in _problem()


def test_a_removed_event_is_named(sealed):
    _sql("DELETE FROM audit_auditevent WHERE seq = 3")
    assert "expected seq 3 here, found 4" in _problem()


def test_a_removed_first_event_is_named(sealed):
    _sql("DELETE FROM audit_auditevent WHERE seq = 1")
    assert "expected seq 1 here, found 2" in _problem()


def test_an_inserted_event_is_named(sealed):
    # Make room after seq 2 and slip in an event that links to seq 2 correctly.
    _sql("UPDATE audit_auditevent SET seq = seq + 1000 WHERE seq >= 3")
    _sql("UPDATE audit_auditevent SET seq = seq - 999 WHERE seq >= 1003")
    fake = AuditEvent(
        occurred_at=sealed[2].occurred_at,
        actor_type="system",
        actor_label="system",
        action="ocr_bridge.document_read",
    )
    fake.content_hash = chain.content_hash(fake)
    fake.seq, fake.prev_hash = 3, sealed[1].chain_hash
    fake.chain_hash = "0" * 64
    fake.save(force_insert=True)
    fake.chain_hash = chain.link_hash(
        seq=3, event_id=fake.pk, prev_hash=fake.prev_hash, content=fake.content_hash
    )
    _sql("UPDATE audit_auditevent SET chain_hash = %s WHERE id = %s", [fake.chain_hash, fake.pk])

    assert _problem().startswith(f"seq 4, event id {sealed[2].pk}: does not link")


def test_reordered_events_are_named(sealed):
    _sql("UPDATE audit_auditevent SET seq = -seq WHERE seq IN (3, 4)")
    _sql("UPDATE audit_auditevent SET seq = CASE seq WHEN -3 THEN 4 ELSE 3 END WHERE seq < 0")
    assert _problem().startswith(f"seq 3, event id {sealed[3].pk}: does not link")


def _rewrite_chain_from(seq: int) -> None:
    """What an attacker with full database access does: edit, then recompute every hash."""
    _sql("UPDATE audit_auditevent SET actor_label = 'nobody' WHERE seq = %s", [seq])
    prev = AuditEvent.objects.get(seq=seq - 1).chain_hash if seq > 1 else ""
    for event in AuditEvent.objects.filter(seq__gte=seq).order_by("seq"):
        content = chain.content_hash(event)
        link = chain.link_hash(seq=event.seq, event_id=event.pk, prev_hash=prev, content=content)
        _sql(
            "UPDATE audit_auditevent SET content_hash = %s, prev_hash = %s, chain_hash = %s "
            "WHERE id = %s",
            [content, prev, link, event.pk],
        )
        prev = link


def test_a_rewritten_chain_is_caught_by_its_anchor(sealed):
    assert anchors.write_anchor() == (6, sealed[-1].chain_hash)
    _rewrite_chain_from(2)

    assert chain.verify().ok  # consistent in itself: only the copy outside shows it
    assert "seq 6: the chain differs from its anchor" in _problem()


def test_removing_the_newest_events_is_caught_by_an_anchor(sealed):
    anchors.write_anchor()
    _sql("DELETE FROM audit_auditevent WHERE seq >= 5")
    assert "anchor records the chain up to seq 6, but it ends at 4" in _problem()


def test_audit_verify_command_reports_without_sealing(sealed):
    _record(2)
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "audit chain ok: 6 events checked up to seq 6" in out.getvalue()
    assert "2 not sealed yet" in out.getvalue()

    _sql("UPDATE audit_auditevent SET action = 'annotations.task_skip' WHERE seq = 5")
    with pytest.raises(CommandError, match=r"seq 5, event id \d+: its content does not match"):
        call_command("audit_verify", stdout=StringIO())


def test_anchors_are_written_once_per_head(sealed, audit_storage):
    assert anchors.write_anchor() is not None
    assert anchors.write_anchor() is None  # same head: nothing new
    _record(1)
    chain.seal()
    anchors.write_anchor()
    assert [seq for seq, _ in anchors.read_anchors()] == [6, 7]
    assert sorted(path.name for path in (audit_storage / "anchors").iterdir()) == [
        "000000000000006.json",
        "000000000000007.json",
    ]
