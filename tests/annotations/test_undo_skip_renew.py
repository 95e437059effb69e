import itertools
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from annotations import selectors
from annotations.models import Label, Task, TaskStatus
from audit.models import AuditEvent
from tests.factories import bulk_crops_with_tasks, bulk_labels, make_ready_donation

NEXT = "/api/v1/tasks/next/"
MINE = "/api/v1/labels/mine/"


def post(client, url, payload=None):
    return client.post(url, payload or {}, content_type="application/json")


@pytest.fixture
def queue(service_token):
    donation = make_ready_donation(source=service_token, confidences=[0.9, 0.2, 0.5])
    return {task.confidence: task for task in Task.objects.filter(crop__donation=donation)}


def test_equal_confidence_is_served_oldest_first(annotator_client, service_token):
    make_ready_donation(source=service_token, confidences=[0.4, 0.4, 0.4])
    ids = [t["id"] for t in post(annotator_client, f"{NEXT}?count=3").json()["tasks"]]
    assert ids == sorted(ids)


def test_skip_returns_the_task_to_others_but_not_to_me(client, annotator, other_annotator, queue):
    client.force_login(annotator)
    first = post(client, NEXT).json()["tasks"][0]["id"]
    assert first == queue[0.2].pk

    assert post(client, f"/api/v1/tasks/{first}/skip/").status_code == 204

    task = Task.objects.get(pk=first)
    assert task.leased_to is None
    assert task.status == TaskStatus.OPEN
    assert post(client, NEXT).json()["tasks"][0]["id"] == queue[0.5].pk
    client.force_login(other_annotator)
    assert post(client, NEXT).json()["tasks"][0]["id"] == first
    assert AuditEvent.objects.filter(action="annotations.task_skip", target_id=str(first)).exists()


def test_renew_extends_my_lease(annotator_client, queue):
    task = post(annotator_client, NEXT).json()["tasks"][0]
    Task.objects.filter(pk=task["id"]).update(
        lease_expires_at=timezone.now() + timedelta(seconds=5)
    )

    response = post(annotator_client, f"/api/v1/tasks/{task['id']}/renew/")

    assert response.status_code == 200
    assert Task.objects.get(pk=task["id"]).lease_expires_at > timezone.now() + timedelta(minutes=5)


def test_renew_after_someone_else_took_the_task_is_409(client, annotator, other_annotator, queue):
    client.force_login(annotator)
    task_id = post(client, NEXT).json()["tasks"][0]["id"]
    Task.objects.filter(pk=task_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(other_annotator)
    assert post(client, NEXT).json()["tasks"][0]["id"] == task_id

    client.force_login(annotator)
    response = post(client, f"/api/v1/tasks/{task_id}/renew/")
    assert response.status_code == 409
    assert "someone else" in response.json()["detail"]
    assert Task.objects.get(pk=task_id).leased_to == other_annotator


def test_undo_revises_my_last_label_and_keeps_the_old_one(annotator_client, annotator, queue):
    # Given two submitted labels
    for text in ("first", "second"):
        task_id = post(annotator_client, NEXT).json()["tasks"][0]["id"]
        assert (
            post(annotator_client, f"/api/v1/tasks/{task_id}/submit/", {"text": text}).status_code
            == 201
        )
    mine = annotator_client.get(f"{MINE}?limit=1").json()["labels"]
    assert [label["text"] for label in mine] == ["second"]
    last = mine[0]

    # When the annotator undoes it and types a correction
    image = annotator_client.get(last["image_url"])
    response = post(
        annotator_client,
        f"/api/v1/labels/{last['id']}/revise/",
        {"text": "Second", "rotated": True},
    )

    # Then the correction is the current label, and the original is kept
    assert image.status_code == 200
    assert response.status_code == 201
    assert response.json()["revises"] == last["id"]
    current = annotator_client.get(f"{MINE}?limit=5").json()["labels"]
    assert [label["text"] for label in current] == ["Second", "first"]
    assert Label.objects.filter(annotator=annotator).count() == 3
    assert AuditEvent.objects.filter(action="annotations.label_revise").count() == 1
    # Only the newest version can be corrected.
    again = post(annotator_client, f"/api/v1/labels/{last['id']}/revise/", {"text": "x"})
    assert again.status_code == 409


def test_revise_is_idempotent_by_client_key(annotator_client, queue):
    task_id = post(annotator_client, NEXT).json()["tasks"][0]["id"]
    label_id = post(annotator_client, f"/api/v1/tasks/{task_id}/submit/", {"text": "a"}).json()[
        "id"
    ]
    payload = {"text": "b", "client_key": "6f1c1e4e-2a59-4e0e-8c68-0e3f0d8b9a01"}
    first = post(annotator_client, f"/api/v1/labels/{label_id}/revise/", payload)
    again = post(annotator_client, f"/api/v1/labels/{label_id}/revise/", payload)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]


def test_nobody_revises_or_lists_someone_elses_labels(client, annotator, other_annotator, queue):
    client.force_login(annotator)
    task_id = post(client, NEXT).json()["tasks"][0]["id"]
    label = post(client, f"/api/v1/tasks/{task_id}/submit/", {"text": "mine"}).json()

    client.force_login(other_annotator)
    assert (
        post(client, f"/api/v1/labels/{label['id']}/revise/", {"text": "theirs"}).status_code == 404
    )
    assert client.get(MINE).json()["labels"] == []
    assert client.get(label["image_url"]).status_code == 404
    assert Label.objects.count() == 1


@pytest.mark.parametrize("query", ["?limit=0", "?limit=500", "?limit=abc"])
def test_bad_limits_are_400(annotator_client, db, query):
    assert annotator_client.get(f"{MINE}{query}").status_code == 400


@pytest.mark.parametrize(
    ("queue_of", "index"),
    [(selectors.task_queue, "task_queue_idx"), (selectors.pending_queue, "task_pending_idx")],
)
def test_the_queue_query_walks_the_partial_index(annotator, queue, queue_of, index):
    if connection.vendor != "postgresql":
        pytest.skip("the partial index plan is PostgreSQL's; `make test` runs on it")
    with transaction.atomic(), connection.cursor() as cursor:
        # Three rows are cheaper to scan than to look up; ask the planner whether the
        # index *can* serve the query in order, which is what keeps it flat at 1M rows.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        plan = queue_of(user=annotator, now=timezone.now())[:5].explain()
    assert index in plan, plan
    assert "Sort" not in plan.split(index)[0]


def test_the_lease_statement_walks_only_partial_indexes(annotator, queue):
    if connection.vendor != "postgresql":
        pytest.skip("the lease statement is PostgreSQL's; `make test` runs on it")
    from annotations.loop_sql import LEASE as _LEASE

    now = timezone.now()
    params = {"user": annotator.pk, "now": now, "expires": now + timedelta(minutes=5)}
    params.update(count=5, gold=1, blind=False)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {_LEASE.sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for index in ("task_gold_idx", "task_pending_idx", "task_queue_idx"):
        assert index in plan, plan
    assert "Seq Scan" not in plan, plan


def test_the_lease_probes_a_long_history_even_on_stale_statistics(annotator, queue):
    """Whether the caller labeled or skipped a candidate is one index probe per candidate,
    however many labels they gave, and even when the planner still believes they gave
    none (statistics taken before their history): an anti-join over their whole history,
    which PostgreSQL chose on such statistics, grew with it at every lease."""
    if connection.vendor != "postgresql":
        pytest.skip("the lease statement is PostgreSQL's; `make test` runs on it")
    from annotations.loop_sql import LEASE as _LEASE

    history = 5000
    crop_id = queue[0.5].crop_id
    with transaction.atomic(), connection.cursor() as cursor:
        # A queue of 5,000 more open crops, and statistics taken while it was so and the
        # caller had labeled nothing...
        bulk_crops_with_tasks(cursor, beside_crop_id=crop_id, count=history, status="open")
        cursor.execute("ANALYZE")
        # ... then a history of 5,000 labels the statistics do not know of.
        bulk_labels(cursor, annotator_id=annotator.pk)
        now = timezone.now()
        params = {"user": annotator.pk, "now": now, "expires": now + timedelta(minutes=5)}
        params.update(count=5, gold=1, blind=False)
        cursor.execute(f"EXPLAIN {_LEASE.sql}", params)
        plan = [row[0] for row in cursor.fetchall()]

    reads = [line for line in plan if " on annotations_label " in line]
    assert reads, "\n".join(plan)
    for line in reads:
        assert "Scan using label_task_annotator_idx" in line, "\n".join(plan)
    probes = [
        next_line
        for line, next_line in itertools.pairwise(plan)
        if " on annotations_label " in line
    ]
    assert all("task_id = t" in probe for probe in probes), "\n".join(plan)


def test_the_apps_database_sessions_never_jit_compile(db):
    """PostgreSQL would JIT-compile the lease at every execution once its estimated cost
    passes jit_above_cost (it does at 1M tasks: 750 ms of compiling a 0.1 ms statement)."""
    if connection.vendor != "postgresql":
        pytest.skip("JIT is PostgreSQL's; `make test` runs on it")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


def test_a_correction_to_unreadable_stores_no_text(annotator_client, queue):
    task_id = post(annotator_client, NEXT).json()["tasks"][0]["id"]
    label_id = post(annotator_client, f"/api/v1/tasks/{task_id}/submit/", {"text": "a"}).json()[
        "id"
    ]
    response = post(
        annotator_client, f"/api/v1/labels/{label_id}/revise/", {"text": "b", "unreadable": True}
    )
    assert response.status_code == 201
    assert Label.objects.get(pk=response.json()["id"]).text == ""
