"""The anchor window: every event older than AUDIT_ANCHOR_WINDOW_SECONDS (180 s) is sealed
and covered by an anchor, or ``audit_verify`` fails. Someone who can write the database
but not the anchor store can remove or rewrite only events newer than that.

Tampering is straight SQL with the append-only triggers off, as in ``test_chain.py``.
"""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

import audit
from audit import anchors, chain
from audit.models import AuditEvent
from tests.audit.test_chain import _sql


def _record(n: int) -> None:
    for i in range(n):
        audit.record(actor=None, action="ocr_bridge.document_read", target_id=f"d{i}")


def _verify(*, later: int = 0) -> str:
    """audit_verify's verdict, ``later`` seconds from now."""
    with time_machine.travel(timezone.now() + timedelta(seconds=later), tick=False):
        try:
            call_command("audit_verify", stdout=StringIO())
        except CommandError as error:
            return str(error)
    return "ok"


@pytest.fixture
def anchored(db, audit_storage):
    _record(4)
    chain.seal()
    anchors.write_anchor()


def test_the_window_is_three_minutes_and_anchors_come_every_minute():
    assert settings.AUDIT_ANCHOR_WINDOW_SECONDS == 180
    assert settings.AUDIT_ANCHOR_SECONDS == 60
    anchor_beat = settings.CELERY_BEAT_SCHEDULE["audit-anchor"]
    assert anchor_beat["task"] == "audit.write_anchor"
    assert anchor_beat["schedule"] == 60.0
    # An anchor, the seal before it and a late worker fit in the window.
    assert settings.AUDIT_ANCHOR_SECONDS * 2 + 10 < settings.AUDIT_ANCHOR_WINDOW_SECONDS


def test_audit_verify_only_reads(anchored):
    _record(2)
    before = list(AuditEvent.objects.order_by("id").values_list("id", "seq", "chain_hash"))
    out = StringIO()

    call_command("audit_verify", stdout=out)

    assert "2 not sealed yet" in out.getvalue()
    after = list(AuditEvent.objects.order_by("id").values_list("id", "seq", "chain_hash"))
    assert after == before


def test_fresh_events_beyond_the_newest_anchor_are_fine(anchored):
    _record(3)
    chain.seal()
    assert _verify() == "ok"


def test_events_older_than_the_window_without_an_anchor_are_an_error(anchored):
    # Given events sealed after the newest anchor (the sealer stopped anchoring, or the
    # anchor that covered them is gone)
    _record(3)
    chain.seal()

    assert _verify(later=170) == "ok"
    assert "not covered by an anchor" in _verify(later=181)


def test_removing_the_newest_anchored_events_is_caught(anchored):
    _sql("DELETE FROM audit_auditevent WHERE seq = 4")
    assert "anchor records the chain up to seq 4, but it ends at 3" in _verify()


def test_an_event_edited_rehashed_and_unsealed_is_caught_once_the_window_passes(anchored):
    _record(2)
    chain.seal()  # seq 5 and 6, not anchored yet
    # An attacker edits seq 6, gives it a matching content hash and takes it out of the
    # chain so that the sealer would link it again as if new.
    event = AuditEvent.objects.get(seq=6)
    event.target_id = "forged"
    from audit.chain import content_hash

    _sql(
        "UPDATE audit_auditevent SET target_id = 'forged', content_hash = %s, seq = NULL, "
        "prev_hash = '', chain_hash = '' WHERE id = %s",
        [content_hash(event), event.pk],
    )

    assert _verify() == "ok"  # inside the window: this is what the window gives away
    later = timezone.now() + timedelta(seconds=181)
    problems = anchors.coverage_problems(anchors.read_anchor_records(), now=later)
    assert any("not sealed 180 s after it was written" in str(p) for p in problems)
    assert "audit chain not protected" in _verify(later=181)


def test_a_removed_anchor_is_itself_an_error(anchored, audit_storage):
    _record(1)
    chain.seal()
    anchors.write_anchor()  # seq 5, following seq 4
    _record(1)
    chain.seal()
    anchors.write_anchor()  # seq 6, following seq 5
    (audit_storage / anchors.anchor_name(5)).unlink()

    assert "at seq 5, which is missing (an anchor was removed)" in _verify()


def test_the_window_can_be_narrowed_for_a_check(anchored):
    _record(1)
    chain.seal()
    with time_machine.travel(timezone.now() + timedelta(seconds=30), tick=False):
        call_command("audit_verify", stdout=StringIO())
        with pytest.raises(CommandError, match="not covered by an anchor"):
            call_command("audit_verify", "--window", "10", stdout=StringIO())
