"""Exporting audit events: CSV and JSON lines, streamed, neutralised, audited, behind a
recent re-authentication."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext

from annotations import roles
from audit import export, selectors
from audit.models import AuditEvent
from tests.audit import admin_pages
from tests.audit.admin_pages import START, record_at, record_many

fast_password_hashing = admin_pages.fast_password_hashing

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


@pytest.fixture
def boss_user():
    return admin_pages.admin()


@pytest.fixture
def boss(boss_user):
    return admin_pages.signed_in(boss_user, recently_confirmed=True)


def body(response) -> str:
    assert response.status_code == 200, getattr(response, "content", b"")[:500]
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode()


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body(response))))


@pytest.fixture
def trickster():
    """Someone whose name and details a spreadsheet would run as formulas."""
    return admin_pages.person('=HYPERLINK("http://evil.example")', roles.ANNOTATOR)


def test_csv_holds_the_filtered_events_newest_first_with_formulas_defused(boss, trickster):
    signed_out = record_many(3, actor=trickster, action="accounts.sign_out")
    record_many(2, actor=None, action="accounts.sign_in_failed")  # filtered out
    failed = record_at(
        START + timedelta(hours=1),
        actor=trickster,
        action="accounts.mfa_failed",
        outcome="failure",
        target_type="@target",
        target_id="-1+2",
        data={"type": "+totp"},
    )

    rows = csv_rows(boss.get("/audit/export.csv", {"actor_label": trickster.username}))

    assert [int(row["id"]) for row in rows] == [failed.id] + [e.id for e in reversed(signed_out)]
    first = rows[0]
    assert first["actor_label"] == '\'=HYPERLINK("http://evil.example")'
    assert first["target_type"] == "'@target"
    assert first["target_id"] == "'-1+2"
    assert first["description"] == "gave a wrong +totp second factor"
    assert json.loads(first["data"]) == {"type": "+totp"}  # JSON starts with {: left as is
    assert first["outcome"] == "failure"
    assert first["content_hash"] == failed.content_hash
    assert first["occurred_at"] == (START + timedelta(hours=1)).isoformat()
    assert list(first) == list(export.COLUMNS)


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_neutralised(start):
    assert export.neutralise(f"{start}1+1") == f"'{start}1+1"


@pytest.mark.parametrize("cell", ["1+1", "alice", "", "'quoted", " =padded"])
def test_other_cells_are_left_as_they_are(cell):
    assert export.neutralise(cell) == cell


def test_jsonl_is_one_event_a_line_with_its_details_as_an_object(boss):
    events = record_many(4, actor=None, action="accounts.sign_out")

    lines = body(boss.get("/audit/export.jsonl", {"action": "accounts.sign_out"})).splitlines()

    exported = [json.loads(line) for line in lines]
    assert [row["id"] for row in exported] == [event.id for event in reversed(events)]
    assert exported[0]["data"] == {}
    assert exported[0]["description"] == "signed out"
    assert exported[0]["seq"] is None
    assert set(exported[0]) == set(export.COLUMNS)


def test_the_export_is_itself_audited_once_and_is_not_in_its_own_file(boss, boss_user):
    record_many(2, actor=None, action="accounts.sign_out")
    before = AuditEvent.objects.count()

    response = boss.get("/audit/export.csv", {"actor_type": "system", "outcome": "success"})
    exported = [int(row["id"]) for row in csv_rows(response)]

    recorded = AuditEvent.objects.get(action="audit.events_export")
    assert AuditEvent.objects.count() == before + 1
    assert (recorded.actor_type, recorded.actor_id) == ("user", str(boss_user.pk))
    assert recorded.data == {
        "format": "csv",
        "filters": {"actor_type": "system", "outcome": "success"},
    }
    assert recorded.request_id == response["X-Request-ID"]
    assert recorded.id not in exported


def test_a_history_can_be_exported(boss, service_token):
    donated = record_at(
        START,
        actor=service_token,
        action="annotations.donation_create",
        target_id=9,
        target_type="annotations.donation",
    )
    record_at(
        START,
        actor=None,
        action="ocr_bridge.document_read",
        target_type="annotations.donation",
        target_id=10,
    )

    response = boss.get(
        "/audit/export.jsonl", {"subject_type": "annotations.donation", "subject_id": "9"}
    )

    assert [json.loads(line)["id"] for line in body(response).splitlines()] == [donated.id]


def test_the_file_is_streamed_a_keyset_page_at_a_time(boss, monkeypatch):
    events = record_many(25, actor=None, action="accounts.sign_out")
    monkeypatch.setattr(selectors, "EXPORT_PAGE_SIZE", 10)

    response = boss.get("/audit/export.jsonl", {"action": "accounts.sign_out"})
    with CaptureQueriesContext(connection) as queries:
        lines = body(response).splitlines()

    assert len(lines) == 25 == len(events)
    pages = [q["sql"] for q in queries.captured_queries if "audit_auditevent" in q["sql"]]
    assert len(pages) == 3  # 10 + 10 + 5, each after the previous page's last id
    assert all("LIMIT 10" in sql and " OFFSET " not in sql for sql in pages)
    assert response["Content-Disposition"].startswith('attachment; filename="audit-events-')


def test_without_a_recent_confirmation_the_export_asks_for_one(boss_user):
    client = admin_pages.signed_in(boss_user)  # signed in, but no password confirmed just now
    record_many(1)

    refused = client.get("/audit/export.csv")

    assert refused.status_code == 302
    assert refused["Location"].startswith("/accounts/reauthenticate/")
    assert not AuditEvent.objects.filter(action="audit.events_export").exists()


def test_nonsense_filters_are_refused_and_nothing_is_recorded(boss):
    response = boss.get("/audit/export.csv", {"target_id": "3"})

    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="audit.events_export").exists()
