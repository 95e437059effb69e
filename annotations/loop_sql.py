"""The annotator loop's statements: the lease, submit's lock and write-back, the image's
crop lookup. Each is one PostgreSQL statement prepared once per database session
(``dbkit.prepared``) with its ORM twin next to it, joined by ``dbkit.by_backend``; the
services call the joined function and never see SQL.

The rules come from one place and both twins are built from them: the queue's order
(``queues.QUEUE_ORDER``), which tasks are leasable (``queues.LEASABLE``), the begun
crops' queue (``queues.PENDING``, its window ``PENDING_WINDOW``). The twins return the
same values (the ORM's types); ``tests/annotations/test_loop_sql.py`` runs both on the same
rows and compares.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import OuterRef

from annotations import queues
from annotations.models import Donation, Label, Skip, Task, TaskStatus, WordCrop
from dbkit.prepared import Prepared, by_backend, decode_field, model_from_row

_TASK = Task._meta.db_table
_CROP = WordCrop._meta.db_table
_SKIP = Skip._meta.db_table
_LABEL = Label._meta.db_table
_DONATION = Donation._meta.db_table
_LEASABLE = ", ".join(f"'{status}'" for status in queues.LEASABLE)


def _order_sql(alias: str) -> str:
    """``queues.QUEUE_ORDER`` over rows ``alias``."""
    return ", ".join(
        f"{alias}.{name[1:]} DESC" if name.startswith("-") else f"{alias}.{name}"
        for name in queues.QUEUE_ORDER
    )


def _pending_sql(alias: str) -> str:
    """``queues.PENDING`` over rows ``alias``: begun crops that want more labels."""
    return f"{alias}.status = '{TaskStatus.OPEN}' AND {alias}.labels_count > 0"


@dataclass(frozen=True)
class Lease:
    """A leased task, as the annotator page gets it. Gold items look like any other; a
    blind lease carries no prefill."""

    id: int
    crop_id: int
    blind: bool
    prefill_text: str
    prefill_confidence: float | None
    prefill_char_confidences: list[float]
    width: int
    height: int
    lease_expires_at: datetime

    @property
    def pk(self) -> int:  # the task's
        return self.id


# --- The lease --------------------------------------------------------------------------

# A task the caller may take: free (or its lease ran out), not skipped nor labeled by them,
# so the k labels of a crop come from k different people. Each NOT EXISTS is one index
# probe per candidate row: OFFSET 0 keeps PostgreSQL from turning it into an anti-join,
# which, planned on stale statistics, read every label the caller ever gave at every lease.
_FREE_FOR_USER = f"""
    (t.leased_to_id IS NULL OR t.lease_expires_at < %(now)s)
    AND NOT EXISTS (SELECT 1 FROM {_SKIP} s
                    WHERE s.task_id = t.id AND s.annotator_id = %(user)s OFFSET 0)
    AND NOT EXISTS (SELECT 1 FROM {_LABEL} l
                    WHERE l.task_id = t.id AND l.annotator_id = %(user)s OFFSET 0)
"""  # noqa: S608  our own table names
_RETURNED = "RETURNING id, crop_id, priority, confidence, lease_blind"


def _take(*, where: str, limit: str, order: str = _order_sql("t"), window: str = "") -> str:
    """An UPDATE that leases the first ``limit`` free tasks matching ``where`` in ``order``
    (among the ``window`` of candidates when given)."""
    return f"""
    UPDATE {_TASK} SET leased_to_id = %(user)s, lease_expires_at = %(expires)s,
                       lease_blind = %(blind)s
    WHERE id = ANY(ARRAY(
        SELECT t.id FROM {_TASK} t
        WHERE {where} {window} AND {_FREE_FOR_USER}
        ORDER BY {order} LIMIT {limit}
        FOR UPDATE SKIP LOCKED
    ))
    {_RETURNED}"""  # noqa: S608  our own table names and constants


_HELD = "(SELECT count(*) FROM held)"
_GOLD = "(SELECT count(*) FROM gold)"
_PENDING = "(SELECT count(*) FROM pending)"
# The whole lease in one statement, one round trip: renew what the user holds; take up to
# %(gold)s gold items they never answered (partial index task_gold_idx); then crops that
# have labels and want more, which the user did not label (task_pending_idx, a bounded
# window of its head); fill the rest from the head of the crops nobody labeled
# (task_queue_idx); return all with their crops. FOR UPDATE SKIP LOCKED: concurrent callers
# never wait for each other nor get the same task. The CTEs share one snapshot (the rows
# come from RETURNING) and touch disjoint rows: held ones are not free, gold, pending and
# fresh ones differ in status or label count. ARRAY(...) makes each pick an init plan;
# without it the planner, not knowing the LIMIT, hashes the whole table.
LEASE = Prepared(
    "dropturk_task_lease",
    f"""
WITH held AS (
    UPDATE {_TASK} SET lease_expires_at = %(expires)s
    WHERE status IN ({_LEASABLE}) AND leased_to_id = %(user)s
      AND lease_expires_at >= %(now)s
    {_RETURNED}
), gold AS ({
        _take(
            where=f"t.status = '{TaskStatus.GOLD}'",
            order="t.id",
            limit=f"LEAST(%(gold)s, GREATEST(%(count)s - {_HELD}, 0))",
        )
    }
), pending AS ({
        _take(
            where=_pending_sql("t"),
            window=f"AND t.id = ANY(ARRAY(SELECT w.id FROM {_TASK} w WHERE {_pending_sql('w')}"
            f" ORDER BY {_order_sql('w')} LIMIT {queues.PENDING_WINDOW}))",
            limit=f"GREATEST(%(count)s - {_HELD} - {_GOLD}, 0)",
        )
    }
), fresh AS ({
        _take(
            where=f"t.status = '{TaskStatus.OPEN}' AND t.labels_count = 0",
            limit=f"GREATEST(%(count)s - {_HELD} - {_GOLD} - {_PENDING}, 0)",
        )
    }
)
SELECT r.id, r.crop_id, r.lease_blind, c.prefill_text, c.prefill_confidence,
       c.prefill_char_confidences, c.width, c.height
FROM (SELECT * FROM held UNION ALL SELECT * FROM gold UNION ALL SELECT * FROM pending
      UNION ALL SELECT * FROM fresh) r
JOIN {_CROP} c ON c.id = r.crop_id
ORDER BY {_order_sql("r")}
LIMIT %(count)s
""",  # noqa: S608  our own table names; values are parameters
)


def task_lease_sql(
    *, user_id: int, now: datetime, expires: datetime, count: int, gold: int, blind: bool
) -> list[Lease]:
    """One statement, so atomic by itself: no BEGIN and COMMIT round trips around it."""
    params = {"user": user_id, "now": now, "expires": expires, "count": count}
    params.update(gold=gold, blind=blind)
    return [
        Lease(
            *row[:5],
            decode_field(WordCrop, "prefill_char_confidences", row[5]),
            *row[6:],
            lease_expires_at=expires,
        )
        for row in LEASE.fetchall(params)
    ]


def _lease_from(queue, *, user_id, now, expires, wanted: int, blind: bool) -> int:
    """Leases up to ``wanted`` tasks of ``queue`` in its order; returns how many."""
    ids = list(queue.values_list("id", flat=True)[:wanted])
    # The availability condition again: without row locks (SQLite) this is what stops
    # two concurrent callers from both taking a task.
    return (
        Task.objects.filter(id__in=ids)
        .filter(queues.task_available(now))
        .update(leased_to_id=user_id, lease_expires_at=expires, lease_blind=blind)
    )


def task_lease_orm(
    *, user_id: int, now: datetime, expires: datetime, count: int, gold: int, blind: bool
) -> list[Lease]:
    """``task_lease_sql`` through the ORM: the same picks, in the same order."""
    with transaction.atomic():
        held = Task.objects.filter(
            status__in=queues.LEASABLE, leased_to_id=user_id, lease_expires_at__gte=now
        ).update(lease_expires_at=expires)
        wanted = count - held
        for queue, most in (
            (queues.gold_queue, gold),
            (queues.pending_queue, count),
            (queues.task_queue, count),
        ):
            take = min(wanted, most)
            if take > 0:
                queue_now = queue(user=user_id, now=now)
                wanted -= _lease_from(
                    queue_now, user_id=user_id, now=now, expires=expires, wanted=take, blind=blind
                )
        tasks = (
            Task.objects.filter(
                status__in=queues.LEASABLE, leased_to_id=user_id, lease_expires_at=expires
            )
            .select_related("crop")
            .order_by(*queues.QUEUE_ORDER)[:count]
        )
        return [
            Lease(
                id=task.pk,
                crop_id=task.crop_id,
                blind=task.lease_blind,
                prefill_text=task.crop.prefill_text,
                prefill_confidence=task.crop.prefill_confidence,
                prefill_char_confidences=task.crop.prefill_char_confidences,
                width=task.crop.width,
                height=task.crop.height,
                lease_expires_at=expires,
            )
            for task in tasks
        ]


task_lease = by_backend(task_lease_sql, task_lease_orm)


# --- Submit -----------------------------------------------------------------------------

_TASK_FOR_SUBMIT_FIELDS = [
    "id",
    "crop_id",
    "status",
    "priority",
    "confidence",
    "leased_to_id",
    "lease_expires_at",
    "lease_blind",
    "labels_needed",
    "labels_count",
    "created_at",
]
# Submit's first statement: lock the task, find the label a retried request already
# stored (same client key), and whether this person labeled the task before: one round trip.
TASK_FOR_SUBMIT = Prepared(
    "dropturk_task_for_submit",
    f"""
    SELECT {", ".join(f"task.{column}" for column in _TASK_FOR_SUBMIT_FIELDS)},
           (SELECT label.id FROM {_LABEL} label
            WHERE label.annotator_id = %(user)s AND label.client_key = %(client_key)s
           ) AS replayed_id,
           EXISTS (SELECT 1 FROM {_LABEL} mine
                   WHERE mine.task_id = task.id AND mine.annotator_id = %(user)s
           ) AS labeled_by_me
    FROM {_TASK} task
    WHERE task.id = %(task)s
    FOR UPDATE OF task
""",  # noqa: S608  table names from our own models; values are parameters
)


def task_lock_for_submit_sql(*, task_id: int, user_id: int, client_key: uuid.UUID | None) -> Task:
    row = TASK_FOR_SUBMIT.fetchone({"user": user_id, "client_key": client_key, "task": task_id})
    if row is None:
        raise Task.DoesNotExist(f"no task {task_id}")
    task = model_from_row(Task, _TASK_FOR_SUBMIT_FIELDS, row[:-2])
    task.replayed_id, task.labeled_by_me = row[-2:]
    return task


def task_lock_for_submit_orm(*, task_id: int, user_id: int, client_key: uuid.UUID | None) -> Task:
    task = Task.objects.select_for_update().get(pk=task_id)
    mine = Label.objects.filter(annotator_id=user_id)
    task.replayed_id = (
        mine.filter(client_key=client_key).values_list("id", flat=True).first()
        if client_key is not None
        else None
    )
    task.labeled_by_me = mine.filter(task_id=task_id).exists()
    return task


# The task, row-locked (``Task.DoesNotExist`` if there is none), with ``replayed_id`` (the
# label a retried request already stored under ``client_key``, or None) and
# ``labeled_by_me``. Assumes the caller holds the transaction.
task_lock_for_submit = by_backend(task_lock_for_submit_sql, task_lock_for_submit_orm)

# Submit's last write to the task: its lease ends, its counts and state as decided.
TASK_AFTER_LABEL = Prepared(
    "dropturk_task_after_label",
    f"""
    UPDATE {_TASK} SET status = %(status)s, leased_to_id = NULL, lease_expires_at = NULL,
                       labels_count = %(labels_count)s, labels_needed = %(labels_needed)s
    WHERE id = %(task)s
""",  # noqa: S608  table names from our own models; values are parameters
)


def task_after_label_sql(*, task: Task) -> None:
    TASK_AFTER_LABEL.run(
        {
            "status": task.status,
            "labels_count": task.labels_count,
            "labels_needed": task.labels_needed,
            "task": task.pk,
        }
    )


def task_after_label_orm(*, task: Task) -> None:
    Task.objects.filter(pk=task.pk).update(
        status=task.status,
        leased_to=None,
        lease_expires_at=None,
        labels_count=task.labels_count,
        labels_needed=task.labels_needed,
    )


# Writes a labeled task back: its lease ends; its status and counts as ``task`` holds them.
task_after_label = by_backend(task_after_label_sql, task_after_label_orm)


# --- The image route's crop -------------------------------------------------------------


@dataclass(frozen=True)
class CropForViewer:
    """What the image route needs: the crop (id, donation id, image name; ``crop.donation``
    with its id and wrapped key) and its task's state."""

    crop: WordCrop
    task_status: str | None
    task_holder_id: int | None


# The image route's one query. Prepared, not the ORM: compiling the equivalent
# select_related() cost several times the query itself.
CROP_FOR_VIEWER = Prepared(
    "dropturk_crop_for_viewer",
    f"""
    SELECT crop.id, crop.donation_id, crop.image_name, donation.wrapped_key,
           task.status, task.leased_to_id
    FROM {_CROP} crop
    JOIN {_DONATION} donation ON donation.id = crop.donation_id
    LEFT JOIN {_TASK} task ON task.crop_id = crop.id
    WHERE crop.id = %(crop)s
    """,  # noqa: S608  table names from our own models; the id is a parameter
)


def _crop_for_viewer(crop_id, donation_id, image_name, wrapped_key, status, holder):
    crop = WordCrop.from_db(
        "default", ["id", "donation_id", "image_name"], [crop_id, donation_id, image_name]
    )
    crop.donation = Donation.from_db("default", ["id", "wrapped_key"], [donation_id, wrapped_key])
    return CropForViewer(crop=crop, task_status=status, task_holder_id=holder)


def crop_for_viewer_sql(*, crop_id: int) -> CropForViewer | None:
    row = CROP_FOR_VIEWER.fetchone({"crop": crop_id})
    return None if row is None else _crop_for_viewer(*row)


def crop_for_viewer_orm(*, crop_id: int) -> CropForViewer | None:
    task = Task.objects.filter(crop=OuterRef("pk"))
    row = (
        WordCrop.objects.filter(pk=crop_id)
        .annotate(
            task_status=task.values("status")[:1],
            task_holder=task.values("leased_to_id")[:1],
        )
        .values_list(
            "id", "donation_id", "image_name", "donation__wrapped_key", "task_status", "task_holder"
        )
        .first()
    )
    return None if row is None else _crop_for_viewer(*row)


crop_for_viewer = by_backend(crop_for_viewer_sql, crop_for_viewer_orm)
