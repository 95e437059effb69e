"""Each statement of ``annotations/loop_sql.py`` against its ORM twin, on the same rows.

On PostgreSQL (``make test``) every case runs the hand-written statement and the ORM twin
from the same state (each in a savepoint rolled back afterwards) and compares what they
return and what they leave; on SQLite the ORM twin runs alone (the embedded default's path,
also driven through HTTP by ``tests/test_embedded_http.py`` and ``test_embedded_jobs.py``).
"""

import uuid
from datetime import datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from annotations import loop_sql
from annotations.models import Label, Skip, Task, TaskStatus
from tests.factories import make_ready_donation

ON_POSTGRESQL = connection.vendor == "postgresql"


def run_both(twin, *, after=None, **kwargs) -> list:
    """``twin``'s fast and portable functions from the same state: [(result, left), ...]
    (``left``: what ``after()`` reads once it ran). Each run is rolled back."""
    functions = [twin.fast, twin.portable] if ON_POSTGRESQL else [twin.portable]
    outcomes = []
    for function in functions:
        with transaction.atomic():
            try:
                result = function(**kwargs)
            except Exception as exc:
                result = type(exc)
            outcomes.append((result, after() if after else None))
            transaction.set_rollback(True)
    return outcomes


def assert_alike(outcomes: list) -> None:
    first = outcomes[0]
    for other in outcomes[1:]:
        assert other == first


def task_rows() -> list[tuple]:
    return list(
        Task.objects.order_by("id").values_list(
            "id", "status", "leased_to_id", "lease_expires_at", "lease_blind", "labels_count"
        )
    )


@pytest.fixture
def queue(service_token, annotator, other_annotator):
    """Crops in every state a lease looks at: fresh ones (two priorities, equal
    confidences), begun ones (one the annotator labeled), a skipped one, a gold item, one
    held by someone else, one whose lease ran out, a done one."""
    donation = make_ready_donation(
        source=service_token, confidences=[0.9, 0.2, 0.5, 0.5, 0.3, 0.7, 0.1, 0.6, 0.4, 0.8]
    )
    tasks = list(Task.objects.filter(crop__donation=donation).order_by("crop__index"))
    now = timezone.now()
    Task.objects.filter(pk=tasks[0].pk).update(priority=5)
    Task.objects.filter(pk__in=[tasks[1].pk, tasks[2].pk]).update(labels_count=1, labels_needed=2)
    Label.objects.create(task=tasks[1], crop_id=tasks[1].crop_id, annotator=annotator, text="x")
    Label.objects.create(
        task=tasks[2], crop_id=tasks[2].crop_id, annotator=other_annotator, text="y"
    )
    Skip.objects.create(task=tasks[3], annotator=annotator)
    Task.objects.filter(pk=tasks[4].pk).update(status=TaskStatus.GOLD)
    Task.objects.filter(pk=tasks[5].pk).update(
        leased_to=other_annotator, lease_expires_at=now + timedelta(minutes=5)
    )
    Task.objects.filter(pk=tasks[6].pk).update(
        leased_to=other_annotator, lease_expires_at=now - timedelta(minutes=5)
    )
    Task.objects.filter(pk=tasks[7].pk).update(status=TaskStatus.DONE)
    return tasks


@pytest.mark.parametrize(
    ("count", "gold", "blind"), [(1, 0, False), (3, 1, False), (5, 1, True), (10, 2, False)]
)
def test_the_lease_statement_and_its_orm_twin_lease_the_same_tasks(
    annotator, queue, count, gold, blind
):
    now = timezone.now()
    # Given a task the annotator already holds (renewed first by both)
    Task.objects.filter(pk=queue[9].pk).update(
        leased_to=annotator, lease_expires_at=now + timedelta(seconds=30)
    )
    kwargs = {"user_id": annotator.pk, "now": now, "expires": now + timedelta(minutes=5)}
    outcomes = run_both(
        loop_sql.task_lease, after=task_rows, count=count, gold=gold, blind=blind, **kwargs
    )
    assert_alike(outcomes)
    leases, _ = outcomes[0]
    assert queue[9].pk in [lease.id for lease in leases]  # what they hold, renewed
    assert len(leases) == min(count, 6)  # held, gold, pending, 3 fresh (not skipped/held/done)
    assert queue[1].pk not in [lease.id for lease in leases]  # labeled by them
    assert all(isinstance(lease.prefill_char_confidences, list) for lease in leases)


def test_the_lease_keeps_the_queue_order_through_the_pending_window(annotator, queue):
    now = timezone.now()
    kwargs = {"user_id": annotator.pk, "now": now, "expires": now + timedelta(minutes=5)}
    outcomes = run_both(loop_sql.task_lease, count=3, gold=0, blind=False, **kwargs)
    assert_alike(outcomes)
    leases, _ = outcomes[0]
    # The begun crop (0.5) is taken before fresh ones less confident (0.1, 0.4): then the
    # fresh ones' head; all are returned in the queue's order (priority, least confident).
    assert [lease.id for lease in leases] == [queue[i].pk for i in (0, 6, 2)]


@pytest.mark.parametrize("case", ["fresh", "replayed", "labeled", "held", "missing"])
def test_submits_lock_statement_and_its_orm_twin_read_the_same_task(
    annotator, other_annotator, queue, case
):
    task = queue[{"fresh": 0, "replayed": 1, "labeled": 1, "held": 5, "missing": 0}[case]]
    key = uuid.uuid4()
    if case == "replayed":
        Label.objects.filter(task=task).update(client_key=key)
    task_id = -1 if case == "missing" else task.pk

    outcomes = run_both(
        loop_sql.task_lock_for_submit,
        task_id=task_id,
        user_id=annotator.pk,
        client_key=key if case != "fresh" else None,
    )
    seen = [
        result
        if isinstance(result, type)
        else (
            [getattr(result, name) for name in loop_sql._TASK_FOR_SUBMIT_FIELDS],
            result.replayed_id,
            result.labeled_by_me,
        )
        for result, _ in outcomes
    ]
    assert_alike([(value, None) for value in seen])
    if case == "missing":
        assert seen[0] is Task.DoesNotExist
        return
    fields, replayed_id, labeled_by_me = seen[0]
    values = dict(zip(loop_sql._TASK_FOR_SUBMIT_FIELDS, fields, strict=True))
    # the ORM's types: time-zone-aware datetimes
    assert isinstance(values["created_at"], datetime)
    assert values["created_at"].tzinfo is not None
    if case == "held":
        assert values["lease_expires_at"].tzinfo is not None
    assert (replayed_id is not None) == (case == "replayed")
    assert labeled_by_me == (case in ("replayed", "labeled"))


def test_submits_write_back_and_its_orm_twin_leave_the_same_row(annotator, queue):
    task = Task.objects.get(pk=queue[5].pk)
    task.status, task.labels_count, task.labels_needed = TaskStatus.DONE, 3, 3
    outcomes = run_both(loop_sql.task_after_label, after=task_rows, task=task)
    assert_alike(outcomes)
    row = next(row for row in outcomes[0][1] if row[0] == task.pk)
    assert row[1:4] == (TaskStatus.DONE, None, None)


@pytest.mark.parametrize("case", ["held", "free", "no crop"])
def test_the_image_routes_statement_and_its_orm_twin_find_the_same_crop(
    other_annotator, queue, case
):
    crop_id = {"held": queue[5].crop_id, "free": queue[0].crop_id, "no crop": 0}[case]
    outcomes = run_both(loop_sql.crop_for_viewer, crop_id=crop_id)
    seen = [
        None
        if found is None
        else (
            found.crop.pk,
            found.crop.donation_id,
            found.crop.image_name,
            found.crop.donation.pk,
            bytes(found.crop.donation.wrapped_key),
            found.task_status,
            found.task_holder_id,
        )
        for found, _ in outcomes
    ]
    assert_alike([(value, None) for value in seen])
    if case == "no crop":
        assert seen[0] is None
        return
    assert isinstance(seen[0][1], uuid.UUID)  # the ORM's type, on either database
    assert seen[0][6] == (other_annotator.pk if case == "held" else None)
